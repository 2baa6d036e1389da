/**
 * The float32 form of a half-precision (fp16 or bf16) model: what the CPU provider runs in full
 * (its fp16 kernels cover only part of the operator set, bf16 hardly any) and what the
 * protocol's reference recomputation is. Every fp16/bf16 initializer is widened exactly, every
 * fp16/bf16 graph input, output, value_info, Cast target, dtype attribute and constant becomes
 * float32, in subgraphs too; the arithmetic of the graph is otherwise unchanged.
 *
 * The weights are streamed, 4 MiB at a time, from the source (inline or external) into one
 * external data file next to the rewritten graph, each tensor at a 4 KiB-aligned offset so that
 * onnxruntime can map it instead of copying it. The result lives in the model cache under the
 * source's weights hash and is reused while its marker file says it is complete.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { onnx, type AttributeProto, type GraphProto, type ModelProto, type TensorProto } from "../onnx-proto.ts";
import { FLOAT, isHalfType, upcastBytes } from "./half.ts";
import type { ScannedModel } from "./scan.ts";

export const UPCAST_FORMAT = "vb-fp32-upcast/2";
const WEIGHTS_FILE = "model.fp32.bin";
const ALIGN = 4096;
const PIECE = 4 << 20;
/** Tensors smaller than this are written inline. */
const INLINE_BELOW = 4096;
const DATA_LOCATION_EXTERNAL = 1;

/** Attribute types (onnx.AttributeProto.AttributeType). */
const ATTR_TENSOR = 4;
const ATTR_GRAPH = 5;
const ATTR_TENSORS = 9;
const ATTR_GRAPHS = 10;

/** Widens a tensor held in the structure (a Constant's value, a typed-field initializer). */
function upcastEmbedded(tensor: TensorProto): void {
  if (!isHalfType(tensor.dataType)) return;
  let bytes: Uint8Array;
  if (tensor.rawData && tensor.rawData.length > 0) {
    bytes = tensor.rawData;
  } else {
    // Typed form: fp16/bf16 values sit in int32_data, one per entry.
    const values = tensor.int32Data ?? [];
    bytes = new Uint8Array(values.length * 2);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setUint16(i * 2, v & 0xffff, true));
  }
  tensor.rawData = upcastBytes(bytes, tensor.dataType!);
  tensor.int32Data = [];
  tensor.dataType = FLOAT;
}

function upcastAttribute(attribute: AttributeProto, op: string): void {
  if ((attribute.name === "to" && op === "Cast") || attribute.name === "dtype") {
    if (isHalfType(Number(attribute.i ?? 0))) attribute.i = FLOAT;
  }
  if (attribute.type === ATTR_TENSOR || attribute.t) if (attribute.t) upcastEmbedded(attribute.t);
  if (attribute.type === ATTR_TENSORS || (attribute.tensors?.length ?? 0) > 0) for (const t of attribute.tensors ?? []) upcastEmbedded(t);
  if (attribute.type === ATTR_GRAPH || attribute.g) if (attribute.g) upcastGraph(attribute.g);
  if (attribute.type === ATTR_GRAPHS || (attribute.graphs?.length ?? 0) > 0) for (const g of attribute.graphs ?? []) upcastGraph(g);
}

/** Everything of a graph but its top-level initializers' payloads (the caller streams those). */
export function upcastGraph(graph: GraphProto): void {
  for (const info of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const tensorType = info.type?.tensorType;
    if (tensorType && isHalfType(tensorType.elemType)) tensorType.elemType = FLOAT;
  }
  for (const node of graph.node ?? []) for (const attribute of node.attribute ?? []) upcastAttribute(attribute, node.opType ?? "");
}

export interface UpcastSource {
  graphPath: string;
  scanned: ScannedModel;
  /** Resolved paths of external data files by location. */
  externalPaths: ReadonlyMap<string, string>;
}

/** Whether `dir` holds a finished upcast of this format (its marker, and a weights file of the size the marker says). */
async function isComplete(dir: string): Promise<boolean> {
  const marker = await readFile(join(dir, "complete.json"), "utf8").catch(() => undefined);
  if (!marker) return false;
  let info: { format?: string; weightsBytes?: number };
  try {
    info = JSON.parse(marker) as typeof info;
  } catch {
    return false;
  }
  const size = (await stat(join(dir, WEIGHTS_FILE)).catch(() => undefined))?.size;
  return info.format === UPCAST_FORMAT && size === info.weightsBytes;
}

async function copyRange(source: FileHandle, offset: number, length: number, dataType: number, target: FileHandle, at: number): Promise<number> {
  const half = isHalfType(dataType);
  let written = 0;
  for (let done = 0; done < length; done += PIECE) {
    const size = Math.min(PIECE, length - done);
    const piece = Buffer.alloc(size);
    const { bytesRead } = await source.read(piece, 0, size, offset + done);
    if (bytesRead !== size) throw new RangeError(`short read at byte ${offset + done}`);
    const out = half ? upcastBytes(piece, dataType) : piece;
    await target.write(out, 0, out.length, at + written);
    written += out.length;
  }
  return written;
}

/**
 * Writes the float32 model (with `extraOutput` as a graph output, if given) into `dir`,
 * atomically: a reader sees either nothing or the complete folder. Returns the .onnx path.
 */
export async function writeUpcastModel(source: UpcastSource, dir: string, extraOutput?: string): Promise<string> {
  const modelPath = join(dir, "model.onnx");
  if (await isComplete(dir)) return modelPath;
  const staging = `${dir}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await mkdir(staging, { recursive: true });
  try {
    const model: ModelProto = onnx.ModelProto.decode(source.scanned.structure);
    const graph = model.graph!;
    const stubs = graph.initializer ?? [];
    const handles = new Map<string, FileHandle>();
    const target = await open(join(staging, WEIGHTS_FILE), "w");
    let offset = 0;
    try {
      const sourceHandle = async (path: string): Promise<FileHandle> => {
        let handle = handles.get(path);
        if (!handle) {
          handle = await open(path, "r");
          handles.set(path, handle);
        }
        return handle;
      };
      for (let i = 0; i < stubs.length; i++) {
        const stub = stubs[i]!;
        const info = source.scanned.initializers[i]!;
        if (info.data.kind === "embedded") {
          upcastEmbedded(stub);
          continue;
        }
        if (info.data.kind === "empty") continue;
        const from = info.data.kind === "inline" ? source.graphPath : source.externalPaths.get(info.data.location)!;
        const length = info.data.kind === "inline" ? info.data.length : (info.data.length ?? 0);
        if (length < INLINE_BELOW) {
          // Small tensors stay in the graph: onnxruntime's shape inference reads constant shapes and axes only inline.
          const bytes = Buffer.alloc(length);
          await (await sourceHandle(from)).read(bytes, 0, length, info.data.offset);
          stub.rawData = isHalfType(info.dataType) ? upcastBytes(bytes, info.dataType) : bytes;
          if (isHalfType(stub.dataType)) stub.dataType = FLOAT;
          stub.dataLocation = 0;
          stub.externalData = [];
          continue;
        }
        const at = Math.ceil(offset / ALIGN) * ALIGN;
        const written = await copyRange(await sourceHandle(from), info.data.offset, length, info.dataType, target, at);
        offset = at + written;
        if (isHalfType(stub.dataType)) stub.dataType = FLOAT;
        stub.rawData = new Uint8Array(0);
        stub.dataLocation = DATA_LOCATION_EXTERNAL;
        stub.externalData = [
          { key: "location", value: WEIGHTS_FILE },
          { key: "offset", value: String(at) },
          { key: "length", value: String(written) },
        ];
      }
    } finally {
      await target.close();
      for (const handle of handles.values()) await handle.close();
    }
    upcastGraph(graph);
    if (extraOutput && !(graph.output ?? []).some((o) => o.name === extraOutput)) {
      graph.output = [...(graph.output ?? []), { name: extraOutput, type: { tensorType: { elemType: FLOAT } } }];
    }
    await writeFile(join(staging, "model.onnx"), onnx.ModelProto.encode(model).finish());
    await writeFile(join(staging, "complete.json"), JSON.stringify({ format: UPCAST_FORMAT, weightsBytes: offset }));
    await mkdir(dirname(dir), { recursive: true });
    try {
      await rename(staging, dir);
    } catch (error) {
      // Another process finished the same upcast first (only complete folders are renamed into
      // place, so a complete one is as good as ours); anything else there is a leftover.
      if (await isComplete(dir)) {
        await rm(staging, { recursive: true, force: true });
        return modelPath;
      }
      if (!["ENOTEMPTY", "EEXIST"].includes((error as NodeJS.ErrnoException).code ?? "")) throw error;
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return modelPath;
}
