/**
 * The provers calibration plays: honest ones the profile must accept, cheating ones it must
 * reject. Model variants are precision rewrites of the model file (calibration/variants);
 * edits are honest responses with tokens replaced after proving.
 */
import type { GraphOptimization } from "../prover/engine/runner.ts";
import type { VariantSpec } from "./variants/index.ts";

export interface ModelVariant {
  name: string;
  honest: boolean;
  spec: VariantSpec;
  threads?: number;
  graphOptimization?: GraphOptimization;
  description: string;
}

export interface EditVariant {
  name: string;
  /** How many output tokens are replaced; "last" replaces only the last one. */
  edits: number | "last";
  description: string;
}

export const HONEST_VARIANTS: readonly ModelVariant[] = [
  { name: "fp32-1thread-basic", honest: true, spec: { weights: "fp32", activations: "fp32" }, threads: 1, graphOptimization: "basic", description: "fp32 on other hardware: one thread, basic graph optimisation (other summation orders)" },
  { name: "bf16", honest: true, spec: { weights: "bf16", activations: "bf16" }, description: "bf16 weights, every op's output rounded to bf16" },
  { name: "bf16-1thread-basic", honest: true, spec: { weights: "bf16", activations: "bf16" }, threads: 1, graphOptimization: "basic", description: "bf16 on other hardware: one thread, basic graph optimisation" },
];

export const CHEATING_VARIANTS: readonly ModelVariant[] = [
  { name: "int8", honest: false, spec: { weights: "int8", activations: "bf16" }, description: "per-channel int8 linear weights, bf16 compute" },
  { name: "fp8", honest: false, spec: { weights: "fp8", activations: "bf16" }, description: "float8 e4m3 linear weights (per-tensor scale), bf16 compute" },
  { name: "int4", honest: false, spec: { weights: "int4", activations: "bf16" }, description: "int4 linear weights in groups of 32, bf16 compute" },
  { name: "other-model", honest: false, spec: { weights: "shuffle", activations: "bf16", seed: 7 }, description: "another model of the same architecture (weights permuted)" },
];

export const EDIT_VARIANTS: readonly EditVariant[] = [
  { name: "edit-1", edits: 1, description: "one output token replaced after proving" },
  { name: "edit-2", edits: 2, description: "two output tokens replaced after proving" },
  { name: "edit-4", edits: 4, description: "four output tokens replaced after proving" },
  { name: "edit-last", edits: "last", description: "the last output token replaced after proving" },
];

/** Replaces tokens of an honest output (not the last one, unless "last"), seeded per request. */
export function editTokens(output: readonly number[], edits: number | "last", vocabSize: number, seed: number): number[] | undefined {
  const tokens = [...output];
  let state = (seed * 2654435761) >>> 0 || 1;
  const next = (n: number) => {
    // xorshift32: enough to pick positions and replacements reproducibly.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
  const replace = (position: number) => {
    let token = next(vocabSize - 1);
    if (token >= tokens[position]!) token++; // never the original
    tokens[position] = token;
  };
  if (edits === "last") {
    replace(tokens.length - 1);
    return tokens;
  }
  if (tokens.length - 1 < edits) return undefined; // not enough tokens before the last
  const positions = new Set<number>();
  while (positions.size < edits) positions.add(next(tokens.length - 1));
  for (const p of positions) replace(p);
  return tokens;
}
