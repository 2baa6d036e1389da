/**
 * Prepares a model for a session: its weights hash, its activation tensor made a graph output,
 * and (for half-precision weights computed in float32) its float32 form. The source is never
 * read whole into JavaScript: its structure is scanned around the weights (onnx-file/scan.ts),
 * the hash is streamed, and a rewrite is either a file copy plus an appended patch, the small
 * graph of an external-data model plus the patch (onnxruntime then reads the weights from the
 * source folder itself), or the streamed float32 upcast.
 */
import { createHash } from "node:crypto";
import { appendFile, copyFile, mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { digestFile, weightsHash } from "../../protocol/weights/index.ts";
import { ActivationTensorError, ModelFileNotFoundError } from "./errors.ts";
import { findActivationTensor, summarizeGraph, withExtraOutput, type GraphSummary } from "./graph.ts";
import { checkExternalData, type ExternalFile } from "./onnx-file/external-data.ts";
import { isHalfType } from "./onnx-file/half.ts";
import { scanOnnxFile } from "./onnx-file/scan.ts";
import { UPCAST_FORMAT, writeUpcastModel } from "./onnx-file/upcast.ts";

/** $XDG_CACHE_HOME (or ~/.cache) /verifiable-benchmarks/models. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "verifiable-benchmarks", "models");
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** How the weights are computed with: as stored, or float32 (the protocol's reference). */
export type Precision = "native" | "float32";

/** The float type the weights are stored in. */
export type WeightsDtype = "float32" | "float16" | "bfloat16" | "mixed";

/** What a session opens. */
export type SessionSource = { path: string } | { bytes: Uint8Array; externalFolder: string };

/** A model rewritten so that its activation tensor is a graph output, ready for a session. */
export interface HookedModel {
  source: SessionSource;
  /** The path of the file a session opens, or the source .onnx when it is opened from bytes. */
  path: string;
  /** The weights hash (protocol/weights): sha256 of a single-file model, else of its manifest. */
  sourceHash: string;
  activationTensor: string;
  summary: GraphSummary;
  weightsDtype: WeightsDtype;
  /** The graph computes in float32 although the weights are stored in half precision. */
  upcast: boolean;
  /** The external data files, by location. */
  externalFiles: ExternalFile[];
}

export interface PrepareOptions {
  activationTensor?: string;
  precision?: Precision;
  /** Told about long steps (hashing, upcasting), for progress output. */
  onProgress?: (message: string) => void;
}

export async function readModelFile(modelPath: string, field = "modelPath"): Promise<Uint8Array> {
  try {
    return await readFile(modelPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ModelFileNotFoundError(`${field} ${JSON.stringify(modelPath)} cannot be read (${code ?? (error as Error).message})`, field);
  }
}

function storedDtype(types: Iterable<number>): WeightsDtype {
  const set = new Set([...types].filter((t) => t === 1 || isHalfType(t)));
  if (set.size > 1) return "mixed";
  return set.has(10) ? "float16" : set.has(16) ? "bfloat16" : "float32";
}

/** A copy of `source` with the patch appended, written atomically into the cache. */
async function writeHookedCopy(sourcePath: string, patch: Uint8Array, target: string): Promise<void> {
  const expected = (await stat(sourcePath)).size + patch.length;
  const existing = await stat(target).catch(() => undefined);
  // The rewrite is the source plus a fixed patch (and the name holds the source's hash), so its length is a cheap integrity check.
  if (existing && existing.size === expected) return;
  await mkdir(dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.${Date.now()}.tmp`;
  try {
    await copyFile(sourcePath, temporary);
    await appendFile(temporary, patch);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Finds (or takes the caller's) activation tensor and prepares what a session opens; rewrites
 * go to the cache, keyed by the weights hash and the tensor name, and are reused.
 */
export async function prepareHookedModel(modelPath: string, cacheDir: string, activationTensorOrOptions?: string | PrepareOptions): Promise<HookedModel> {
  const options: PrepareOptions = typeof activationTensorOrOptions === "string" ? { activationTensor: activationTensorOrOptions } : (activationTensorOrOptions ?? {});
  const scanned = await scanOnnxFile(modelPath);
  const externalFiles = await checkExternalData(modelPath, scanned);
  const summary = summarizeGraph(scanned.model);

  options.onProgress?.(`hashing ${1 + externalFiles.length} weights file(s)`);
  const graphDigest = await digestFile(modelPath);
  const data = new Map<string, { sha256: string; size: number }>();
  for (const file of externalFiles) data.set(file.location, await digestFile(file.path));
  const sourceHash = weightsHash({ graph: graphDigest, data });

  let tensor: string;
  if (options.activationTensor !== undefined) {
    if (typeof options.activationTensor !== "string" || !summary.tensorNames.has(options.activationTensor)) {
      throw new ActivationTensorError(`activationTensor ${JSON.stringify(options.activationTensor)} is not a tensor of ${JSON.stringify(modelPath)}`, "activationTensor");
    }
    tensor = options.activationTensor;
  } else {
    tensor = findActivationTensor(scanned.model);
  }

  const graph = scanned.model.graph!;
  const floatTypes = [
    ...scanned.initializers.map((t) => t.dataType),
    ...[...(graph.input ?? []), ...(graph.output ?? [])].map((v) => v.type?.tensorType?.elemType ?? 0),
  ];
  const weightsDtype = storedDtype(floatTypes);
  const half = floatTypes.some(isHalfType);
  const tensorKey = sha256Hex(new TextEncoder().encode(tensor)).slice(0, 16);
  const base = { sourceHash, activationTensor: tensor, summary, weightsDtype, externalFiles };
  const isOutput = summary.outputs.includes(tensor);

  if (half && (options.precision ?? "float32") === "float32") {
    const dir = join(cacheDir, "fp32", `${sourceHash}-${tensorKey}-${UPCAST_FORMAT.replace(/[^a-z0-9]+/gi, "-")}`);
    options.onProgress?.(`writing the float32 form of the ${weightsDtype} weights to ${dir}`);
    const path = await writeUpcastModel({ graphPath: modelPath, scanned, externalPaths: new Map(externalFiles.map((f) => [f.location, f.path])) }, dir, isOutput ? undefined : tensor);
    return { ...base, source: { path }, path, upcast: true, summary: { ...summary, pastElemType: 1 } };
  }
  if (externalFiles.length > 0) {
    // The graph file of an external-data model is small; onnxruntime reads the weights from the source folder.
    const graphBytes = await readModelFile(modelPath);
    const bytes = isOutput ? graphBytes : withExtraOutput(graphBytes, tensor, half ? halfOutputType(weightsDtype) : 1);
    return { ...base, source: { bytes, externalFolder: dirname(modelPath) }, path: modelPath, upcast: false };
  }
  if (isOutput) return { ...base, source: { path: modelPath }, path: modelPath, upcast: false };
  const path = join(cacheDir, "hooked", `${sourceHash}-${tensorKey}.onnx`);
  const patch = withExtraOutput(new Uint8Array(0), tensor, half ? halfOutputType(weightsDtype) : 1);
  await writeHookedCopy(modelPath, patch, path);
  return { ...base, source: { path }, path, upcast: false };
}

/** The element type a half-precision graph computes its hidden state in (run natively, e.g. on CUDA). */
function halfOutputType(dtype: WeightsDtype): number {
  return dtype === "bfloat16" ? 16 : 10;
}
