/**
 * Checks where an ONNX model's weights are before anything loads them: every external data
 * location stays inside the model's folder, every file is there, and every initializer's bytes
 * (offset + the size its shape and type imply) lie inside its file. A missing or truncated file
 * is an ExternalDataError naming the file and the first initializer that lacks its bytes,
 * instead of an onnxruntime failure halfway through loading.
 */
import { stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, posix } from "node:path";
import { ExternalDataError } from "../errors.ts";
import type { InitializerInfo, ScannedModel } from "./scan.ts";

/** Bytes per element by onnx.TensorProto.DataType (0.5: 4-bit types, two per byte). */
const ELEMENT_BYTES: Readonly<Record<number, number>> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2,
  17: 1, 18: 1, 19: 1, 20: 1, 21: 0.5, 22: 0.5, 23: 0.5,
};

/** The byte size of an initializer's data from its shape and type; undefined for strings or unknown types. */
export function tensorByteLength(tensor: Pick<InitializerInfo, "dataType" | "dims">): number | undefined {
  const bytes = ELEMENT_BYTES[tensor.dataType];
  if (bytes === undefined) return undefined;
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  return Math.ceil(count * bytes);
}

export interface ExternalFile {
  /** As the graph names it. */
  location: string;
  /** Resolved against the graph file's folder. */
  path: string;
  size: number;
  /** Initializers stored in it. */
  tensors: number;
}

/** A location the graph may name: relative, inside the graph's folder, no NUL. */
function checkLocation(location: string, graphFile: string, tensor: string): string {
  const normalized = posix.normalize(location.replaceAll("\\", "/"));
  if (location.includes("\0") || isAbsolute(location) || normalized === ".." || normalized.startsWith("../") || normalized.startsWith("/")) {
    throw new ExternalDataError(`${graphFile}: initializer ${JSON.stringify(tensor)} names external data ${JSON.stringify(location)} outside the model's folder`, location);
  }
  return normalized;
}

/** Validates every initializer's data; returns the external files, sorted by location. */
export async function checkExternalData(graphPath: string, scanned: ScannedModel): Promise<ExternalFile[]> {
  const graphFile = basename(graphPath);
  const folder = dirname(graphPath);
  const files = new Map<string, ExternalFile>();
  for (const tensor of scanned.initializers) {
    const expected = tensorByteLength(tensor);
    if (tensor.data.kind === "inline") {
      if (expected !== undefined && tensor.data.length !== expected) {
        throw new ExternalDataError(`${graphFile}: initializer ${JSON.stringify(tensor.name)} holds ${tensor.data.length} bytes, its shape [${tensor.dims.join(", ")}] needs ${expected}`, graphFile);
      }
      continue;
    }
    if (tensor.data.kind !== "external") continue;
    const location = checkLocation(tensor.data.location, graphFile, tensor.name);
    let file = files.get(tensor.data.location);
    if (!file) {
      const path = join(folder, location);
      const info = await stat(path).catch(() => undefined);
      if (!info || !info.isFile()) {
        throw new ExternalDataError(`${location}: external data of ${graphFile} (initializer ${JSON.stringify(tensor.name)}) is missing from ${folder}`, location);
      }
      file = { location: tensor.data.location, path, size: info.size, tensors: 0 };
      files.set(tensor.data.location, file);
    }
    file.tensors++;
    const length = tensor.data.length ?? expected;
    if (expected !== undefined && tensor.data.length !== undefined && tensor.data.length !== expected) {
      throw new ExternalDataError(`${location}: initializer ${JSON.stringify(tensor.name)} declares ${tensor.data.length} bytes, its shape [${tensor.dims.join(", ")}] needs ${expected}`, location);
    }
    if (length === undefined) throw new ExternalDataError(`${location}: initializer ${JSON.stringify(tensor.name)} has no length and a type without a fixed size`, location);
    if (!Number.isSafeInteger(tensor.data.offset) || tensor.data.offset < 0 || tensor.data.offset + length > file.size) {
      throw new ExternalDataError(
        `${location} is truncated: initializer ${JSON.stringify(tensor.name)} needs bytes ${tensor.data.offset}..${tensor.data.offset + length} but the file has ${file.size}`,
        location,
      );
    }
  }
  return [...files.values()].sort((a, b) => Buffer.compare(Buffer.from(a.location), Buffer.from(b.location)));
}
