import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const HERE = new URL(".", import.meta.url).pathname;
export const LLAMA_TINY_ONNX = join(HERE, "..", "fixtures", "models", "llama_tiny.onnx");
export const LLAMA_TINY_CASES = join(HERE, "..", "fixtures", "models", "llama_tiny_cases.json");

export interface ReferenceVerification {
  exp_mismatches: number;
  mant_err_mean: number;
  mant_err_median: number;
}

export interface ReferenceCase {
  generated: number[];
  proofs_base64: string[];
  /** The reference's own recomputation of these proofs, per recomputing setup (gpu_bf16, gpu_fp32, cpu_fp32). */
  verify: Record<string, { results: ReferenceVerification[] }>;
}

/** The reference fixture: prompts, and per variant (gpu_bf16, gpu_fp32, cpu_fp32, gpu_bf16_other_model) one case per prompt. */
export interface ReferenceCases {
  prompts: number[][];
  max_new_tokens: number;
  topk: number;
  decode_batching_size: number;
  variants: Record<string, ReferenceCase[]>;
}

export function loadReferenceCases(): ReferenceCases {
  return JSON.parse(readFileSync(LLAMA_TINY_CASES, "utf8")) as ReferenceCases;
}

/** A fresh cache directory for one test file; removed by the returned cleanup. */
export function tempCacheDir(label: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `vb-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
