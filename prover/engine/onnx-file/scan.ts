/**
 * Reads an .onnx file's structure without its weights: a streaming pass over the protobuf wire
 * format that keeps every field except the payloads of the graph's initializers, whose place in
 * the file (or in an external data file) is recorded instead. A multi-gigabyte single-file model
 * is read in 1 MiB pieces; what stays in memory is the graph (nodes, inputs, outputs, shapes).
 *
 * The result decodes with onnx-proto like any model: initializers are there with name, dims,
 * data type and external-data entries, only their data fields are empty.
 */
import { open, type FileHandle } from "node:fs/promises";
import { ModelFileNotFoundError, UnsupportedModelError } from "../errors.ts";
import { decodeModel } from "../graph.ts";
import type { ModelProto } from "../onnx-proto.ts";

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_DATA_TYPE = 2;
const TENSOR_DIMS = 1;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_DATA_LOCATION = 14;
const TENSOR_EXTERNAL_DATA = 13;
/** float_data, int32_data, string_data, int64_data, double_data, uint64_data. */
const TENSOR_TYPED_DATA = new Set([4, 5, 6, 7, 10, 11]);
/** A tensor stored in typed fields (not raw_data) above this size is refused: exports use raw_data. */
const MAX_TYPED_TENSOR_BYTES = 64 << 20;
const CHUNK = 1 << 20;

/** Where an initializer's bytes are. */
export type TensorData =
  | { kind: "inline"; offset: number; length: number }
  | { kind: "external"; location: string; offset: number; length: number | undefined }
  /** Kept whole in the structure (typed fields): decode it from the structure's initializer. */
  | { kind: "embedded" }
  | { kind: "empty" };

export interface InitializerInfo {
  name: string;
  dataType: number;
  dims: number[];
  data: TensorData;
}

export interface ScannedModel {
  /** The model without initializer payloads (embedded ones kept), as onnx-proto decodes it. */
  model: ModelProto;
  /** The same, serialized: what a rewrite of the structure starts from. */
  structure: Uint8Array;
  initializers: InitializerInfo[];
  fileSize: number;
}

/** Sequential reads of a file handle through a 1 MiB window. */
class FileCursor {
  private buffer = Buffer.alloc(0);
  private bufferStart = 0;
  position = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  private async ensure(count: number): Promise<void> {
    const offset = this.position - this.bufferStart;
    if (offset >= 0 && offset + count <= this.buffer.length) return;
    const length = Math.min(Math.max(count, CHUNK), this.size - this.position);
    if (length < count) throw new RangeError(`truncated at byte ${this.position}`);
    this.buffer = Buffer.alloc(length);
    await this.handle.read(this.buffer, 0, length, this.position);
    this.bufferStart = this.position;
  }

  async varint(): Promise<number> {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      await this.ensure(1);
      const byte = this.buffer[this.position - this.bufferStart]!;
      this.position++;
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new RangeError(`bad varint at byte ${this.position}`);
  }

  async bytes(count: number): Promise<Buffer> {
    if (count > this.size - this.position) throw new RangeError(`a field of ${count} bytes runs past the end at byte ${this.position}`);
    if (count > CHUNK) {
      const out = Buffer.alloc(count);
      await this.handle.read(out, 0, count, this.position);
      this.position += count;
      return out;
    }
    await this.ensure(count);
    const start = this.position - this.bufferStart;
    this.position += count;
    return Buffer.from(this.buffer.subarray(start, start + count));
  }

  skip(count: number): void {
    if (count > this.size - this.position) throw new RangeError(`a field of ${count} bytes runs past the end at byte ${this.position}`);
    this.position += count;
  }
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** One field as it is on the wire: its tag, then (length-delimited) its length and bytes. */
function frame(field: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(varintBytes(field * 8 + 2)), Buffer.from(varintBytes(body.length)), body]);
}

interface Field {
  field: number;
  wire: number;
  /** Start of the field's value (after tag and, for length-delimited, the length). */
  start: number;
  length: number;
}

/** Reads one tag and the extent of its value; leaves the cursor at the value. */
async function nextField(cursor: FileCursor, end: number): Promise<Field | undefined> {
  if (cursor.position >= end) return undefined;
  const tag = await cursor.varint();
  const field = Math.floor(tag / 8);
  const wire = tag & 7;
  if (wire === 2) {
    const length = await cursor.varint();
    if (cursor.position + length > end) throw new RangeError(`field ${field} runs past its message at byte ${cursor.position}`);
    return { field, wire, start: cursor.position, length };
  }
  const length = wire === 0 ? 0 : wire === 1 ? 8 : wire === 5 ? 4 : -1;
  if (length < 0) throw new RangeError(`unsupported wire type ${wire} at byte ${cursor.position}`);
  return { field, wire, start: cursor.position, length };
}

/** The raw wire bytes of a field whose tag was just read (tag re-encoded, value copied). */
async function rawField(cursor: FileCursor, f: Field): Promise<Buffer> {
  const tag = Buffer.from(varintBytes(f.field * 8 + f.wire));
  if (f.wire === 0) {
    const value = await cursor.varint();
    return Buffer.concat([tag, Buffer.from(varintBytes(value))]);
  }
  const body = await cursor.bytes(f.length);
  return f.wire === 2 ? Buffer.concat([tag, Buffer.from(varintBytes(f.length)), body]) : Buffer.concat([tag, body]);
}

async function scanTensor(cursor: FileCursor, end: number, messageLength: number): Promise<{ stub: Buffer; info: InitializerInfo }> {
  const kept: Buffer[] = [];
  let name = "";
  let dataType = 0;
  const dims: number[] = [];
  let raw: { offset: number; length: number } | undefined;
  let typed = false;
  let location = 0;
  const external = new Map<string, string>();
  for (let f = await nextField(cursor, end); f; f = await nextField(cursor, end)) {
    if (f.field === TENSOR_RAW_DATA && f.wire === 2) {
      raw = { offset: f.start, length: f.length };
      cursor.skip(f.length);
      continue;
    }
    if (TENSOR_TYPED_DATA.has(f.field)) typed = true;
    const bytes = await rawField(cursor, f);
    kept.push(bytes);
    if (f.field === TENSOR_NAME && f.wire === 2) name = bytes.subarray(bytes.length - f.length).toString("utf8");
    const tagLength = varintBytes(f.field * 8 + f.wire).length;
    if (f.field === TENSOR_DATA_TYPE && f.wire === 0) dataType = readVarint(bytes, tagLength);
    if (f.field === TENSOR_DATA_LOCATION && f.wire === 0) location = readVarint(bytes, tagLength);
    if (f.field === TENSOR_DIMS) dims.push(...readDims(bytes, f));
    if (f.field === TENSOR_EXTERNAL_DATA && f.wire === 2) {
      const [key, value] = readStringPair(bytes.subarray(bytes.length - f.length));
      external.set(key, value);
    }
  }
  if (typed && raw) throw new UnsupportedModelError(`initializer ${JSON.stringify(name)} has both raw_data and typed data fields`, "modelPath");
  let data: TensorData;
  if (location === 1 || external.size > 0) {
    const where = external.get("location");
    if (!where) throw new UnsupportedModelError(`initializer ${JSON.stringify(name)} is external but names no location`, "modelPath");
    const length = external.has("length") ? Number(external.get("length")) : undefined;
    data = { kind: "external", location: where, offset: Number(external.get("offset") ?? 0), length };
  } else if (raw) {
    data = { kind: "inline", offset: raw.offset, length: raw.length };
  } else if (typed) {
    if (messageLength > MAX_TYPED_TENSOR_BYTES) {
      throw new UnsupportedModelError(`initializer ${JSON.stringify(name)} keeps ${messageLength} bytes in typed fields; store it as raw_data`, "modelPath");
    }
    data = { kind: "embedded" };
  } else {
    data = { kind: "empty" };
  }
  return { stub: Buffer.concat(kept), info: { name, dataType, dims, data } };
}

function readVarint(bytes: Uint8Array, at: number): number {
  let result = 0;
  let scale = 1;
  for (let i = at; i < bytes.length; i++) {
    result += (bytes[i]! & 0x7f) * scale;
    if ((bytes[i]! & 0x80) === 0) break;
    scale *= 128;
  }
  return result;
}

function readDims(bytes: Buffer, f: Field): number[] {
  const tagLength = varintBytes(f.field * 8 + f.wire).length;
  if (f.wire === 0) return [readVarint(bytes, tagLength)];
  // Packed: the value bytes are consecutive varints.
  const body = bytes.subarray(bytes.length - f.length);
  const out: number[] = [];
  let i = 0;
  while (i < body.length) {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = body[i++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) break;
      scale *= 128;
    }
    out.push(value);
  }
  return out;
}

/** StringStringEntryProto: key = 1, value = 2. */
function readStringPair(body: Buffer): [string, string] {
  let key = "";
  let value = "";
  let i = 0;
  while (i < body.length) {
    const tag = body[i++]!;
    let length = 0;
    let scale = 1;
    for (;;) {
      const byte = body[i++]!;
      length += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) break;
      scale *= 128;
    }
    const text = body.subarray(i, i + length).toString("utf8");
    i += length;
    if (tag >> 3 === 1) key = text;
    else if (tag >> 3 === 2) value = text;
  }
  return [key, value];
}

/** Scans `path`; a file that cannot be read is a ModelFileNotFoundError, one that is not ONNX an UnsupportedModelError, each naming `field`. */
export async function scanOnnxFile(path: string, field = "modelPath"): Promise<ScannedModel> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw new ModelFileNotFoundError(`${field} ${JSON.stringify(path)} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, field);
  }
  try {
    const size = (await handle.stat()).size;
    const cursor = new FileCursor(handle, size);
    const top: Buffer[] = [];
    const initializers: InitializerInfo[] = [];
    let sawGraph = false;
    try {
      for (let f = await nextField(cursor, size); f; f = await nextField(cursor, size)) {
        if (f.field !== MODEL_GRAPH || f.wire !== 2) {
          top.push(await rawField(cursor, f));
          continue;
        }
        sawGraph = true;
        const graphEnd = f.start + f.length;
        const graphParts: Buffer[] = [];
        for (let g = await nextField(cursor, graphEnd); g; g = await nextField(cursor, graphEnd)) {
          if (g.field === GRAPH_INITIALIZER && g.wire === 2) {
            const { stub, info } = await scanTensor(cursor, g.start + g.length, g.length);
            if (info.data.kind === "embedded") {
              // Re-read it whole: typed fields stay in the structure.
              cursor.position = g.start;
              graphParts.push(frame(GRAPH_INITIALIZER, await cursor.bytes(g.length)));
            } else {
              graphParts.push(frame(GRAPH_INITIALIZER, stub));
            }
            initializers.push(info);
            continue;
          }
          graphParts.push(await rawField(cursor, g));
        }
        top.push(frame(MODEL_GRAPH, Buffer.concat(graphParts)));
      }
    } catch (error) {
      if (error instanceof UnsupportedModelError) throw error;
      throw new UnsupportedModelError(`${field} ${JSON.stringify(path)} is not an ONNX model: ${(error as Error).message}`, field);
    }
    if (!sawGraph) throw new UnsupportedModelError(`${field} ${JSON.stringify(path)} is not an ONNX model (no graph)`, field);
    const structure = Buffer.concat(top);
    return { model: decodeModel(structure, field), structure, initializers, fileSize: size };
  } finally {
    await handle.close();
  }
}
