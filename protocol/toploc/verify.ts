import { chunkActivations, type Activation } from "./chunks.ts";
import { InvalidParameterError, ProofCountMismatchError } from "./errors.ts";
import { resolveParams, type ToplocParams } from "./params.ts";
import { ToplocProof } from "./proof.ts";
import { chunkFailures, REFERENCE_BF16_K128, type ThresholdProfile } from "./thresholds.ts";
import { topKByMagnitude } from "./topk.ts";

/**
 * The two median conventions of the reference library:
 * - "mean-of-middle": Python's statistics.median, used by its list path (verify_proofs with a
 *   list of tensors). The default here, since it is what a verifier calling the Python API gets.
 * - "upper-middle": sorted[n / 2], used by its C++ batched path (a stacked tensor with
 *   skip_prefill).
 */
export type MedianConvention = "mean-of-middle" | "upper-middle";
export const DEFAULT_MEDIAN_CONVENTION: MedianConvention = "mean-of-middle";

/** Error of one chunk's recomputed activations against its proof (larger is worse). */
export interface ChunkVerification {
  /** Top-k positions whose bf16 exponent differs from the proof's. */
  expMismatches: number;
  /** Mean |mantissa difference| over positions whose exponents match; 2^64 when none match. */
  mantErrMean: number;
  /** Median of the same; 2^64 when none match. */
  mantErrMedian: number;
}

/** What the reference reports when no exponent matches at all. */
export const NO_MATCH_ERROR = 2 ** 64;

export type ProofInput = ToplocProof | Uint8Array | string;

export interface VerifyOptions extends Partial<ToplocParams> {
  median?: MedianConvention;
}

/** Compares one chunk of recomputed bf16 activations against its proof. */
export function verifyChunk(
  bits: Uint16Array,
  proof: ToplocProof,
  topk: number,
  median: MedianConvention = DEFAULT_MEDIAN_CONVENTION,
  field = "chunk",
): ChunkVerification {
  const { indices, values } = topKByMagnitude(bits, topk, field);
  const claims = proof.valuesAt(indices);
  const errors = new Uint8Array(topk);
  let matched = 0;
  let sum = 0;
  for (let i = 0; i < topk; i++) {
    // Field elements are < 65497, so they fit the 16 bits of a bf16 pattern as the reference casts them.
    const claimed = claims[i]!;
    const actual = values[i]!;
    // Exponent bits 7..14 and mantissa bits 0..6 of the bf16 patterns; the sign is not compared.
    if ((claimed & 0x7f80) !== (actual & 0x7f80)) continue;
    const err = Math.abs((claimed & 0x7f) - (actual & 0x7f));
    errors[matched++] = err;
    sum += err;
  }
  if (matched === 0) {
    return { expMismatches: topk, mantErrMean: NO_MATCH_ERROR, mantErrMedian: NO_MATCH_ERROR };
  }
  return { expMismatches: topk - matched, mantErrMean: sum / matched, mantErrMedian: medianOf(errors.subarray(0, matched), median) };
}

function medianOf(values: Uint8Array, convention: MedianConvention): number {
  values.sort();
  const n = values.length;
  const mid = n >>> 1;
  if (convention === "upper-middle" || n % 2 === 1) return values[mid]!;
  return (values[mid - 1]! + values[mid]!) / 2;
}

function toProof(input: ProofInput, topk: number, field: string): ToplocProof {
  if (input instanceof ToplocProof) {
    if (input.k !== topk) {
      throw new InvalidParameterError(`${field} has k = ${input.k}, expected ${topk}`, field);
    }
    return input;
  }
  if (typeof input === "string") return ToplocProof.fromBase64(input, topk, field);
  if (input instanceof Uint8Array) return ToplocProof.fromBytes(input, topk, field);
  throw new InvalidParameterError(`${field} must be base64, bytes or a ToplocProof`, field);
}

/**
 * Recomputes every chunk's error against its proof, as the reference's verify_proofs does.
 * Throws ProofCountMismatchError when the proofs and chunks differ in number (the reference
 * silently ignores the surplus).
 */
export function verifyProofs(
  activations: readonly Activation[],
  proofs: readonly ProofInput[],
  options: VerifyOptions = {},
): ChunkVerification[] {
  const { median = DEFAULT_MEDIAN_CONVENTION, ...rest } = options;
  if (median !== "mean-of-middle" && median !== "upper-middle") {
    throw new InvalidParameterError(`median must be "mean-of-middle" or "upper-middle", got ${String(median)}`, "median");
  }
  const params = resolveParams(rest);
  const chunks = chunkActivations(activations, params);
  if (!Array.isArray(proofs) || proofs.length !== chunks.length) {
    throw new ProofCountMismatchError(
      `got ${Array.isArray(proofs) ? proofs.length : "no"} proofs for ${chunks.length} chunks`,
      "proofs",
    );
  }
  const decoded = proofs.map((p, i) => toProof(p, params.topk, `proofs[${i}]`));
  return chunks.map((chunk, i) => verifyChunk(chunk.bits, decoded[i]!, params.topk, median, `chunk ${i}`));
}

export interface ChunkVerdict extends ChunkVerification {
  accepted: boolean;
  failures: string[];
}

export interface Verdict {
  accepted: boolean;
  profile: string;
  median: MedianConvention;
  chunks: ChunkVerdict[];
}

/** verifyProofs plus an accept/reject decision: every chunk must be within the profile. */
export function verifyAndJudge(
  activations: readonly Activation[],
  proofs: readonly ProofInput[],
  options: VerifyOptions & { profile?: ThresholdProfile } = {},
): Verdict {
  const { profile = REFERENCE_BF16_K128, ...verifyOptions } = options;
  const topk = verifyOptions.topk ?? 128;
  if (profile.topk !== topk) {
    throw new InvalidParameterError(
      `threshold profile ${profile.name} is calibrated for k = ${profile.topk}, proofs use k = ${topk}`,
      "profile",
    );
  }
  const chunks = verifyProofs(activations, proofs, verifyOptions).map((result) => {
    const failures = chunkFailures(result, profile);
    return { ...result, accepted: failures.length === 0, failures };
  });
  return {
    accepted: chunks.every((c) => c.accepted),
    profile: profile.name,
    median: verifyOptions.median ?? DEFAULT_MEDIAN_CONVENTION,
    chunks,
  };
}
