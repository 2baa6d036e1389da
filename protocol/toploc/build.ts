import { chunkActivations, type Activation } from "./chunks.ts";
import { resolveParams, type ToplocParams } from "./params.ts";
import { ToplocProof } from "./proof.ts";
import { topKByMagnitude } from "./topk.ts";

/** Proves one chunk of bf16 bits: interpolate its top-k (index, value) pairs. */
export function proveChunk(bits: Uint16Array, topk: number, field = "chunk"): ToplocProof {
  const { indices, values } = topKByMagnitude(bits, topk, field);
  return ToplocProof.fromPoints(indices, values);
}

/**
 * Builds one proof per chunk (prefill, then every decodeBatchSize decode steps), byte for byte
 * as the reference library's build_proofs. Unlike the reference, bad input throws a typed error
 * instead of returning silent all-zero "null" proofs.
 */
export function buildProofs(activations: readonly Activation[], params: Partial<ToplocParams> = {}): ToplocProof[] {
  const resolved = resolveParams(params);
  return chunkActivations(activations, resolved).map((chunk, i) =>
    proveChunk(chunk.bits, resolved.topk, `chunk ${i} (activations ${chunk.first}..${chunk.last})`),
  );
}

export function buildProofsBase64(activations: readonly Activation[], params: Partial<ToplocParams> = {}): string[] {
  return buildProofs(activations, params).map((proof) => proof.toBase64());
}
