/**
 * The weights hash: the one identity of a model's weights that provers, operators, verification
 * profiles and the on-chain ModelRegistry agree on (engine.info.weightsHash, 64 hex digits).
 *
 * - A model in one file (the graph with its weights inside): sha256 of that file.
 * - A model with external data: sha256 of this manifest, UTF-8, one line per file, "\n" after each:
 *
 *       vb-weights/1
 *       graph <sha256 hex of the .onnx file> <size in bytes>
 *       data <sha256 hex> <size in bytes> <location>
 *       ...
 *
 *   with one `data` line per distinct external data file, `location` exactly as the graph's
 *   initializers name it (relative to the .onnx file, "/"-separated), lines sorted by location
 *   in byte order of its UTF-8. The graph's own file name is not part of it: renaming the folder
 *   or its .onnx file keeps the hash; changing any byte of any weights file changes it.
 *
 * Files are hashed as stored: an fp16 checkpoint has its own hash (the fp32 upcast the verifier
 * computes with is derived from it deterministically, so it needs none).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export const WEIGHTS_MANIFEST_VERSION = "vb-weights/1";

export interface WeightsFileDigest {
  sha256: string;
  size: number;
}

export interface WeightsDigestInput {
  graph: WeightsFileDigest;
  /** External data files by location. */
  data: ReadonlyMap<string, WeightsFileDigest> | readonly (WeightsFileDigest & { location: string })[];
}

const HEX64 = /^[0-9a-f]{64}$/;

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** The manifest text of a model with external data (see the module comment). */
export function weightsManifest(input: WeightsDigestInput): string {
  const entries = input.data instanceof Map ? [...input.data].map(([location, d]) => ({ location, ...d })) : [...(input.data as (WeightsFileDigest & { location: string })[])];
  for (const file of [input.graph, ...entries]) {
    if (!HEX64.test(file.sha256) || !Number.isSafeInteger(file.size) || file.size < 0) throw new TypeError(`bad file digest ${JSON.stringify(file)}`);
  }
  entries.sort((a, b) => compareUtf8(a.location, b.location));
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.location === entries[i - 1]!.location) throw new TypeError(`location ${entries[i]!.location} is listed twice`);
  }
  let text = `${WEIGHTS_MANIFEST_VERSION}\ngraph ${input.graph.sha256} ${input.graph.size}\n`;
  for (const entry of entries) {
    if (entry.location.length === 0 || /[\n\r]/.test(entry.location)) throw new TypeError(`bad location ${JSON.stringify(entry.location)}`);
    text += `data ${entry.sha256} ${entry.size} ${entry.location}\n`;
  }
  return text;
}

/** The weights hash: the graph file's sha256 when there is no external data, else the manifest's sha256. */
export function weightsHash(input: WeightsDigestInput): string {
  const count = input.data instanceof Map ? input.data.size : (input.data as unknown[]).length;
  if (count === 0) return input.graph.sha256;
  return createHash("sha256").update(weightsManifest(input), "utf8").digest("hex");
}

/** sha256 and size of a file, read in 4 MiB pieces (never held whole). */
export async function digestFile(path: string, onProgress?: (bytes: number) => void): Promise<WeightsFileDigest> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
    onProgress?.(size);
  }
  return { sha256: hash.digest("hex"), size };
}
