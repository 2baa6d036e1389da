import * as ort from "onnxruntime-node";

/**
 * Row operations on batched KV caches. Every cache tensor has the batch on axis 0, so one
 * sequence's cache is one contiguous block: keeping, dropping or appending sequences is a
 * block copy, whatever the layout of the other axes.
 */

type FloatData = Float32Array | Uint16Array;

function allocate(type: ort.Tensor.Type, size: number): FloatData {
  return type === "float16" ? new Uint16Array(size) : new Float32Array(size);
}

/** The rows `keep` (in that order) of a [rows, ...] tensor. */
export function selectRows(tensor: ort.Tensor, keep: readonly number[]): ort.Tensor {
  const rows = Number(tensor.dims[0]);
  const data = tensor.data as FloatData;
  const block = data.length / rows;
  const out = allocate(tensor.type, keep.length * block);
  keep.forEach((row, i) => out.set(data.subarray(row * block, (row + 1) * block), i * block));
  return new ort.Tensor(tensor.type as "float32", out as Float32Array, [keep.length, ...tensor.dims.slice(1)]);
}

/** [a rows; b rows]: two tensors that agree on every axis but the first. */
export function concatRows(a: ort.Tensor, b: ort.Tensor): ort.Tensor {
  const left = a.data as FloatData;
  const right = b.data as FloatData;
  const out = allocate(a.type, left.length + right.length);
  out.set(left, 0);
  out.set(right, left.length);
  return new ort.Tensor(a.type as "float32", out as Float32Array, [Number(a.dims[0]) + Number(b.dims[0]), ...a.dims.slice(1)]);
}

export function mapCaches(caches: ReadonlyMap<string, ort.Tensor>, f: (tensor: ort.Tensor, name: string) => ort.Tensor): Map<string, ort.Tensor> {
  const out = new Map<string, ort.Tensor>();
  for (const [name, tensor] of caches) out.set(name, f(tensor, name));
  return out;
}
