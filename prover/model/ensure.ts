import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DefaultModelMismatchError } from "../engine/errors.ts";
import { sha256Hex } from "../engine/hook.ts";
import { buildDefaultModel } from "./default-model.ts";
import { DEFAULT_MODEL_MANIFEST } from "./manifest.ts";

/**
 * Returns the path of the default model in `cacheDir`, generating it on first use (about 0.1 s)
 * and checking its hash against the manifest either way.
 */
export async function ensureDefaultModel(cacheDir: string): Promise<string> {
  const manifest = DEFAULT_MODEL_MANIFEST;
  const path = join(cacheDir, `${manifest.modelId}.onnx`);
  const existing = await readFile(path).catch(() => undefined);
  if (existing && sha256Hex(existing) === manifest.weightsHash) return path;
  const bytes = buildDefaultModel();
  const hash = sha256Hex(bytes);
  if (hash !== manifest.weightsHash) {
    throw new DefaultModelMismatchError(
      `the generated default model hashes to ${hash}, the manifest pins ${manifest.weightsHash}`,
      "weightsHash",
    );
  }
  await mkdir(cacheDir, { recursive: true });
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  await writeFile(join(cacheDir, `${manifest.modelId}.manifest.json`), `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}
