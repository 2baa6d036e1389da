import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { ActivationTensorError, ModelFileNotFoundError } from "./errors.ts";
import { decodeModel, findActivationTensor, summarizeGraph, withExtraOutput, type GraphSummary } from "./graph.ts";

/** $XDG_CACHE_HOME (or ~/.cache) /verifiable-benchmarks/models. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "verifiable-benchmarks", "models");
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A model rewritten so that its activation tensor is a graph output, ready for a session. */
export interface HookedModel {
  /** The file to open: the cached rewrite, or the source when the tensor already is an output. */
  path: string;
  /** sha256 hex of the source file: graph and weights, as they were given. */
  sourceHash: string;
  activationTensor: string;
  summary: GraphSummary;
}

export async function readModelFile(modelPath: string, field = "modelPath"): Promise<Uint8Array> {
  try {
    return await readFile(modelPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ModelFileNotFoundError(`${field} ${JSON.stringify(modelPath)} cannot be read (${code ?? (error as Error).message})`, field);
  }
}

/**
 * Finds (or takes the caller's) activation tensor and writes the rewritten model to the cache,
 * keyed by the source's hash and the tensor name, so that the next load reuses it.
 */
export async function prepareHookedModel(modelPath: string, cacheDir: string, activationTensor?: string): Promise<HookedModel> {
  const bytes = await readModelFile(modelPath);
  const sourceHash = sha256Hex(bytes);
  const model = decodeModel(bytes);
  const summary = summarizeGraph(model);
  let tensor: string;
  if (activationTensor !== undefined) {
    if (typeof activationTensor !== "string" || !summary.tensorNames.has(activationTensor)) {
      throw new ActivationTensorError(
        `activationTensor ${JSON.stringify(activationTensor)} is not a tensor of ${JSON.stringify(modelPath)}`,
        "activationTensor",
      );
    }
    tensor = activationTensor;
  } else {
    tensor = findActivationTensor(model);
  }
  if (summary.outputs.includes(tensor)) {
    return { path: modelPath, sourceHash, activationTensor: tensor, summary };
  }
  const hooked = withExtraOutput(bytes, tensor);
  const tensorKey = sha256Hex(new TextEncoder().encode(tensor)).slice(0, 16);
  const dir = join(cacheDir, "hooked");
  const path = join(dir, `${sourceHash}-${tensorKey}.onnx`);
  const existing = await stat(path).catch(() => undefined);
  // The rewrite is the source plus a fixed patch, so its length is a cheap integrity check.
  if (!existing || existing.size !== hooked.length) {
    await mkdir(dir, { recursive: true });
    const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temporary, hooked);
    await rename(temporary, path);
  }
  return { path, sourceHash, activationTensor: tensor, summary };
}
