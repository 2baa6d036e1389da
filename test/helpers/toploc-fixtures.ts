import { readFileSync } from "node:fs";

/** One case of the reference TOPLOC vectors (made by toploc 0.1.6; see test/fixtures/toploc). */
export interface ReferenceCase {
  name: string;
  hidden: number;
  topk: number;
  decode_batching_size: number;
  skip_prefill: boolean;
  inputs: Record<"same" | "benign" | "foreign", string[]>;
  proofs_base64: string[];
  verify: Record<
    "same" | "benign" | "foreign",
    Partial<Record<"list_path" | "batched_path", { exp_mismatches: number; mant_err_mean: number; mant_err_median: number }[]>>
  >;
}

export interface ReferenceVectors {
  source: string;
  thresholds_bf16_k128: { exp_mismatches_max: number; mant_err_mean_max: number; mant_err_median_max: number };
  cases: ReferenceCase[];
}

export function loadReferenceVectors(): ReferenceVectors {
  const url = new URL("../fixtures/toploc/reference_vectors.json", import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as ReferenceVectors;
}

/** Fixture activations are bf16 bit patterns as little-endian int16, base64. */
export function decodeActivation(base64: string): Uint16Array {
  const bytes = Buffer.from(base64, "base64");
  const out = new Uint16Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readUInt16LE(2 * i);
  return out;
}
