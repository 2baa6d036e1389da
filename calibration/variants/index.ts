/**
 * Precision variants of a model, made from its ONNX file alone: what an honest provider on other
 * hardware may serve (bf16 weights and activations) and what a cheating one may (quantized or
 * other weights). Calibration measures both against the fp32 recomputation; tests use them as
 * provers.
 */
import { mkdir, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeModel, findActivationTensor } from "../../prover/engine/graph.ts";
import { readModelFile, sha256Hex } from "../../prover/engine/hook.ts";
import { onnx } from "../../prover/engine/onnx-proto.ts";
import { roundActivationsToBf16 } from "./bf16-activations.ts";
import { VariantModelError } from "./errors.ts";
import { transformWeights, WEIGHT_FORMATS, type WeightFormat } from "./weights.ts";

export { VariantModelError } from "./errors.ts";
export { WEIGHT_FORMATS, toFp8E4m3, type WeightFormat } from "./weights.ts";
export { roundActivationsToBf16 } from "./bf16-activations.ts";
export { inferElemTypes } from "./elem-types.ts";

export interface VariantSpec {
  weights: WeightFormat;
  /** "bf16": every activation rounded to bf16 after each op (bf16 inference); "fp32": unchanged. */
  activations: "fp32" | "bf16";
  /** Seed of the "shuffle" weights. */
  seed?: number;
}

export function variantName(spec: VariantSpec): string {
  return `w-${spec.weights}${spec.weights === "shuffle" ? `-${spec.seed ?? 1}` : ""}.a-${spec.activations}`;
}

/** The rewritten model's bytes. */
export function buildVariantModel(source: Uint8Array, spec: VariantSpec): Uint8Array {
  if (!WEIGHT_FORMATS.includes(spec.weights)) throw new VariantModelError(`weights must be one of ${WEIGHT_FORMATS.join(", ")}`, "weights");
  if (spec.activations !== "fp32" && spec.activations !== "bf16") throw new VariantModelError(`activations must be "fp32" or "bf16"`, "activations");
  const model = decodeModel(source);
  const graph = model.graph!;
  const activation = findActivationTensor(model);
  const projection = new Set<string>();
  for (const node of graph.node ?? []) {
    if ((node.opType === "MatMul" || node.opType === "Gemm") && node.input?.includes(activation)) for (const o of node.output ?? []) projection.add(o);
  }
  transformWeights(graph, spec.weights, projection, spec.seed);
  if (spec.activations === "bf16") roundActivationsToBf16(graph);
  return onnx.ModelProto.encode(model).finish();
}

/** Writes the variant next to the cache's other rewrites (once per source and spec); returns its path. */
export async function prepareVariantModel(modelPath: string, spec: VariantSpec, cacheDir: string): Promise<string> {
  const source = await readModelFile(modelPath);
  const dir = join(cacheDir, "variants");
  const path = join(dir, `${sha256Hex(source).slice(0, 32)}.${variantName(spec)}.onnx`);
  if (await stat(path).catch(() => undefined)) return path;
  const bytes = buildVariantModel(source, spec);
  await mkdir(dir, { recursive: true });
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  return path;
}
