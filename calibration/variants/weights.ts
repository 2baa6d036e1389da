/**
 * What a provider cutting corners does to the weights, and what an honest bf16 checkpoint is:
 * every float weight of the graph rewritten in place, then stored back as fp32 so that the
 * graph's arithmetic is unchanged.
 *
 * - bf16:  every float initializer rounded to bf16 (a bf16 checkpoint).
 * - int8:  linear-layer weights quantized per output channel, symmetric, 127 levels a side
 *          (scale = max |w| / 127), dequantized; other weights bf16.
 * - fp8:   linear-layer weights cast to float8 e4m3 (fn: no infinities, max 448) after one
 *          per-tensor scale (max |w| / 448), dequantized; other weights bf16.
 * - int4:  linear-layer weights quantized in groups of 32 consecutive inputs per output
 *          channel (16 where 32 does not divide the input size), symmetric, levels -8..7
 *          (scale = max |w| / 7), dequantized; other weights bf16.
 * - shuffle: every weight matrix's values permuted by a seeded generator: another model of the
 *          same architecture and weight distribution.
 * Linear-layer weights are the constant B operands of MatMul and Gemm, except the vocabulary
 * projection (commonly kept in full precision by quantization schemes).
 * Dequantized values are rounded to bf16, as a bf16 kernel would see them.
 */
import type { GraphProto, NodeProto, TensorProto } from "../../prover/engine/onnx-proto.ts";
import { float32ToBf16Bits, bf16BitsToFloat32 } from "../../protocol/toploc/bf16.ts";
import { Xoshiro128 } from "../../prover/engine/prng.ts";
import { ElemType } from "./elem-types.ts";
import { VariantModelError } from "./errors.ts";

export type WeightFormat = "fp32" | "bf16" | "int8" | "fp8" | "int4" | "shuffle";
export const WEIGHT_FORMATS: readonly WeightFormat[] = ["fp32", "bf16", "int8", "fp8", "int4", "shuffle"];

/** A linear weight and the axis its output channels run along. */
interface LinearWeight {
  tensor: TensorProto;
  rows: number;
  cols: number;
  /** true: W is [in, out] (MatMul, Gemm without transB); false: [out, in] (Gemm with transB). */
  inputsAlongRows: boolean;
}

export function readFloats(tensor: TensorProto): Float32Array {
  if (tensor.rawData && tensor.rawData.length > 0) {
    const raw = tensor.rawData;
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    return new Float32Array(copy.buffer);
  }
  return Float32Array.from(tensor.floatData ?? []);
}

export function writeFloats(tensor: TensorProto, values: Float32Array): void {
  tensor.rawData = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  tensor.floatData = [];
}

function roundBf16(x: number): number {
  return bf16BitsToFloat32(float32ToBf16Bits(x));
}

/** Round half to even, as torch.round. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The nearest float8 e4m3fn value (4 exponent bits, bias 7, 3 mantissa bits, max 448, subnormals). */
export function toFp8E4m3(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x === 0 ? 0 : Math.sign(x) * 448;
  const a = Math.abs(x);
  const exponent = Math.max(Math.floor(Math.log2(a)), -6);
  const step = 2 ** (exponent - 3);
  const q = Math.min(roundHalfEven(a / step) * step, 448);
  return Math.sign(x) * q;
}

function linearWeights(graph: GraphProto, excluded: ReadonlySet<string>): LinearWeight[] {
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t] as const));
  const seen = new Set<string>();
  const out: LinearWeight[] = [];
  for (const node of graph.node ?? []) {
    if (node.opType !== "MatMul" && node.opType !== "Gemm") continue;
    if ((node.output ?? []).some((o) => excluded.has(o))) continue;
    const name = node.input?.[1] ?? "";
    const tensor = initializers.get(name);
    if (!tensor || seen.has(name) || tensor.dataType !== ElemType.FLOAT || tensor.dims?.length !== 2) continue;
    seen.add(name);
    const transB = node.opType === "Gemm" && Number(attribute(node, "transB")?.i ?? 0) === 1;
    out.push({ tensor, rows: Number(tensor.dims[0]), cols: Number(tensor.dims[1]), inputsAlongRows: !transB });
  }
  return out;
}

function attribute(node: NodeProto, name: string) {
  return (node.attribute ?? []).find((a) => a.name === name);
}

/** Quantizes W in place; `groupSize` 0 means one group per output channel. */
function quantizeChannels(w: LinearWeight, values: Float32Array, levels: { min: number; max: number }, groupSize: number): void {
  const inputs = w.inputsAlongRows ? w.rows : w.cols;
  const outputs = w.inputsAlongRows ? w.cols : w.rows;
  const at = (input: number, output: number) => (w.inputsAlongRows ? input * w.cols + output : output * w.cols + input);
  const size = groupSize === 0 ? inputs : inputs % groupSize === 0 ? groupSize : inputs % 16 === 0 ? 16 : inputs;
  for (let o = 0; o < outputs; o++) {
    for (let start = 0; start < inputs; start += size) {
      let absMax = 0;
      for (let i = start; i < start + size; i++) absMax = Math.max(absMax, Math.abs(values[at(i, o)]!));
      const scale = Math.max(absMax, 1e-12) / levels.max;
      for (let i = start; i < start + size; i++) {
        const q = Math.min(Math.max(roundHalfEven(values[at(i, o)]! / scale), levels.min), levels.max);
        values[at(i, o)] = q * scale;
      }
    }
  }
}

function quantizeFp8(values: Float32Array): void {
  let absMax = 0;
  for (const v of values) absMax = Math.max(absMax, Math.abs(v));
  const scale = Math.max(absMax, 1e-12) / 448;
  for (let i = 0; i < values.length; i++) values[i] = toFp8E4m3(values[i]! / scale) * scale;
}

function shuffle(values: Float32Array, rng: Xoshiro128): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(((rng.nextSigned() + 1) / 2) * (i + 1));
    const t = values[i]!;
    values[i] = values[j]!;
    values[j] = t;
  }
}

/**
 * Rewrites the graph's weights to `format`. `projectionOutput` names the tensor the vocabulary
 * projection writes, whose weight quantization schemes leave alone.
 */
export function transformWeights(graph: GraphProto, format: WeightFormat, projectionOutputs: ReadonlySet<string>, seed = 1): { linear: number; total: number } {
  if (!WEIGHT_FORMATS.includes(format)) throw new VariantModelError(`weights must be one of ${WEIGHT_FORMATS.join(", ")}, got ${String(format)}`, "weights");
  const floats = (graph.initializer ?? []).filter((t) => t.dataType === ElemType.FLOAT);
  if (format === "fp32") return { linear: 0, total: 0 };
  if (format === "shuffle") {
    const rng = new Xoshiro128(seed);
    let count = 0;
    for (const t of floats) {
      if ((t.dims?.length ?? 0) < 2) continue;
      const values = readFloats(t);
      shuffle(values, rng);
      writeFloats(t, values);
      count++;
    }
    return { linear: count, total: count };
  }
  const linear = format === "bf16" ? [] : linearWeights(graph, projectionOutputs);
  for (const w of linear) {
    const values = readFloats(w.tensor);
    if (format === "int8") quantizeChannels(w, values, { min: -127, max: 127 }, 0);
    else if (format === "int4") quantizeChannels(w, values, { min: -8, max: 7 }, 32);
    else quantizeFp8(values);
    writeFloats(w.tensor, values);
  }
  for (const t of floats) {
    const values = readFloats(t);
    for (let i = 0; i < values.length; i++) values[i] = roundBf16(values[i]!);
    writeFloats(t, values);
  }
  return { linear: linear.length, total: floats.length };
}
