/**
 * The evidence one verification prefill yields about a request, before any judgement:
 *
 * Activations, per TOPLOC chunk. At each of the k positions the verifier's own top-k picks,
 * the proof's polynomial gives the prover's bf16 value. Where the prover's top-k had that
 * position, the value is its activation; where it did not, the polynomial gives an unrelated
 * field element. So each position is either
 *   - close: |claimed - recomputed| is within `garbageUlps` bf16 units in the last place (ulps,
 *     of the recomputed value's bf16 exponent), and its error in ulps, r, is kept; or
 *   - garbage: further off, not finite, or of the other sign.
 * The squared error of the close positions measures precision (bf16 rounding gives about 0.1,
 * int8 weights several times that); the garbage share measures whether the two computations
 * even agree on the largest activations. TOPLOC's own statistics (exponent mismatches,
 * mantissa error mean and median) are computed alongside, for reports and the reference
 * profile.
 *
 * Tokens: the sampler replayed at every output position under the recomputed logits (see
 * protocol/sampler), each claimed token's margin from the replayed choice.
 */
import { bf16BitsToFloat32, chunkActivations, ProofCountMismatchError, resolveParams, ToplocProof, topKByMagnitude, type ToplocParams } from "../toploc/index.ts";
import { judgeTokens, type SamplingSettings, type TokenJudgement } from "../sampler/index.ts";
import { EvidenceError } from "./errors.ts";

export const DEFAULT_GARBAGE_ULPS = 8;

export interface ChunkEvidence {
  /** Activation indices (0 = the prefill) this chunk covers. */
  first: number;
  last: number;
  k: number;
  /** Positions more than garbageUlps off (see above). */
  garbage: number;
  /** k - garbage. */
  close: number;
  /** Sum of r^2 over close positions, r in bf16 ulps. */
  sqErrorSum: number;
  /** TOPLOC's reference statistics for the same chunk. */
  expMismatches: number;
  mantErrMean: number;
  mantErrMedian: number;
}

export interface RequestEvidence {
  chunks: ChunkEvidence[];
  tokens: TokenJudgement;
  outputLength: number;
}

export interface EvidenceInput {
  /** The recomputed activations: [prefill rows], then one row per fed output token. */
  activations: readonly Float32Array[];
  /** One proof per chunk, as bytes, base64 or decoded. */
  proofs: readonly (Uint8Array | string | ToplocProof)[];
  toploc?: Partial<ToplocParams>;
  /** Recomputed logits, one row per output token (row t predicts outputTokens[t]). */
  outputLogits: Float32Array;
  vocabSize: number;
  outputTokens: readonly number[];
  sampling: SamplingSettings;
  garbageUlps?: number;
}

const NO_MATCH = 2 ** 64;

function decodeProof(input: Uint8Array | string | ToplocProof, topk: number, field: string): ToplocProof {
  if (input instanceof ToplocProof) {
    if (input.k !== topk) throw new EvidenceError(`${field} has k = ${input.k}, expected ${topk}`, field);
    return input;
  }
  if (typeof input === "string") return ToplocProof.fromBase64(input, topk, field);
  if (input instanceof Uint8Array) return ToplocProof.fromBytes(input, topk, field);
  throw new EvidenceError(`${field} must be base64, bytes or a ToplocProof`, field);
}

/** 2^(e - 134): one unit in the last place of a bf16 with biased exponent e (subnormals as e = 1). */
function bf16Ulp(bits: number): number {
  const e = (bits >>> 7) & 0xff;
  return 2 ** (Math.max(e, 1) - 127 - 7);
}

function concatRows(rows: readonly Float32Array[]): Float32Array {
  if (rows.length === 1) return rows[0]!;
  let length = 0;
  for (const r of rows) length += r.length;
  const out = new Float32Array(length);
  let offset = 0;
  for (const r of rows) {
    out.set(r, offset);
    offset += r.length;
  }
  return out;
}

/** One chunk's evidence: `bits` are `values` rounded to bf16 (both flattened, the same length). */
export function chunkEvidence(bits: Uint16Array, values: Float32Array, proof: ToplocProof, topk: number, garbageUlps: number, first: number, last: number): ChunkEvidence {
  const { indices, values: recomputed } = topKByMagnitude(bits, topk, `chunk ${first}..${last}`);
  const claims = proof.valuesAt(indices);
  let garbage = 0;
  let sqErrorSum = 0;
  let matched = 0;
  let mantSum = 0;
  const mantErrors = new Uint8Array(topk);
  for (let i = 0; i < topk; i++) {
    const claimed = claims[i]!;
    const own = recomputed[i]!;
    // TOPLOC's statistics: exponent bits 7..14 and mantissa bits 0..6, sign not compared.
    if ((claimed & 0x7f80) === (own & 0x7f80)) {
      const err = Math.abs((claimed & 0x7f) - (own & 0x7f));
      mantErrors[matched++] = err;
      mantSum += err;
    }
    const claimedValue = bf16BitsToFloat32(claimed);
    const r = Math.abs(claimedValue - values[indices[i]!]!) / bf16Ulp(own);
    if (r <= garbageUlps) sqErrorSum += r * r;
    else garbage++;
  }
  let mantErrMean = NO_MATCH;
  let mantErrMedian = NO_MATCH;
  if (matched > 0) {
    mantErrMean = mantSum / matched;
    const sorted = mantErrors.subarray(0, matched).sort();
    const mid = matched >>> 1;
    mantErrMedian = matched % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }
  return { first, last, k: topk, garbage, close: topk - garbage, sqErrorSum, expMismatches: topk - matched, mantErrMean, mantErrMedian };
}

/** Everything one recomputation says about a request. Throws EvidenceError on shape mismatches. */
export function requestEvidence(input: EvidenceInput): RequestEvidence {
  const params = resolveParams(input.toploc ?? {});
  const garbageUlps = input.garbageUlps ?? DEFAULT_GARBAGE_ULPS;
  if (!(garbageUlps > 0)) throw new EvidenceError(`garbageUlps must be > 0, got ${garbageUlps}`, "garbageUlps");
  if (!Array.isArray(input.proofs)) throw new EvidenceError("proofs must be an array", "proofs");
  const chunks = chunkActivations(input.activations, params);
  if (input.proofs.length !== chunks.length) {
    throw new ProofCountMismatchError(`got ${input.proofs.length} proofs for ${chunks.length} chunks (${input.outputTokens.length} output tokens)`, "proofs");
  }
  const evidence = chunks.map((chunk, i) => {
    const proof = decodeProof(input.proofs[i]!, params.topk, `proofs[${i}]`);
    const values = concatRows(input.activations.slice(chunk.first, chunk.last + 1));
    return chunkEvidence(chunk.bits, values, proof, params.topk, garbageUlps, chunk.first, chunk.last);
  });
  const tokens = judgeTokens(input.sampling, input.outputLogits, input.vocabSize, input.outputTokens);
  return { chunks: evidence, tokens, outputLength: input.outputTokens.length };
}
