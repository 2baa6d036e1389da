import { InvalidParameterError } from "./errors.ts";

/** How activations are cut into proven chunks, and how many values each proof carries. */
export interface ToplocParams {
  /** Values per proof (top-k by magnitude). Reference default 128: 258-byte proofs. */
  topk: number;
  /** Decode steps per chunk after the prefill. Reference default 32. */
  decodeBatchSize: number;
  /** When true, activation 0 is a decode step like the others, not a prefill chunk of its own. */
  skipPrefill: boolean;
}

export const DEFAULT_TOPLOC_PARAMS: Readonly<ToplocParams> = Object.freeze({
  topk: 128,
  decodeBatchSize: 32,
  skipPrefill: false,
});

export const MAX_TOPK = 8192;
export const MAX_DECODE_BATCH_SIZE = 4096;

/** Fills defaults and checks ranges; throws InvalidParameterError naming the field. */
export function resolveParams(params: Partial<ToplocParams> = {}): ToplocParams {
  const resolved = { ...DEFAULT_TOPLOC_PARAMS, ...params };
  checkInteger("topk", resolved.topk, 1, MAX_TOPK);
  checkInteger("decodeBatchSize", resolved.decodeBatchSize, 1, MAX_DECODE_BATCH_SIZE);
  if (typeof resolved.skipPrefill !== "boolean") {
    throw new InvalidParameterError(`skipPrefill must be a boolean, got ${String(resolved.skipPrefill)}`, "skipPrefill");
  }
  return resolved;
}

function checkInteger(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidParameterError(`${field} must be an integer in ${min}..${max}, got ${String(value)}`, field);
  }
}

/** Proof size in bytes for a given k: 2-byte modulus + k 2-byte coefficients. */
export function proofByteLength(topk: number): number {
  return 2 + 2 * topk;
}
