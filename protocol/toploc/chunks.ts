import { float32ArrayToBf16 } from "./bf16.ts";
import { InvalidParameterError } from "./errors.ts";
import type { ToplocParams } from "./params.ts";

/**
 * One activation: the hidden states of one forward step, flattened (rows x hidden). Either bf16
 * bit patterns, or float32 values that are rounded to bf16 before anything else happens.
 */
export type Activation = Uint16Array | Float32Array;

/** A chunk of activations that one proof covers, as bf16 bits, with its place in the sequence. */
export interface Chunk {
  /** Indices into the activations list that this chunk concatenates. */
  first: number;
  last: number;
  bits: Uint16Array;
}

function toBf16(activation: Activation, field: string): Uint16Array {
  if (activation instanceof Uint16Array) return activation;
  if (activation instanceof Float32Array) return float32ArrayToBf16(activation);
  throw new InvalidParameterError(`${field} must be a Uint16Array (bf16 bits) or Float32Array`, field);
}

/**
 * Splits activations as the reference does: activation 0 (the prefill) is a chunk of its own
 * unless skipPrefill; then every decodeBatchSize activations are concatenated into one chunk.
 */
export function chunkActivations(activations: readonly Activation[], params: ToplocParams): Chunk[] {
  if (!Array.isArray(activations)) {
    throw new InvalidParameterError("activations must be an array", "activations");
  }
  if (activations.length === 0) {
    throw new InvalidParameterError("activations is empty: nothing to prove", "activations");
  }
  const chunks: Chunk[] = [];
  let start = 0;
  if (!params.skipPrefill) {
    chunks.push({ first: 0, last: 0, bits: toBf16(activations[0]!, "activations[0]") });
    start = 1;
  }
  for (let first = start; first < activations.length; first += params.decodeBatchSize) {
    const last = Math.min(first + params.decodeBatchSize, activations.length) - 1;
    const parts: Uint16Array[] = [];
    let length = 0;
    for (let i = first; i <= last; i++) {
      const part = toBf16(activations[i]!, `activations[${i}]`);
      parts.push(part);
      length += part.length;
    }
    let bits: Uint16Array;
    if (parts.length === 1) {
      bits = parts[0]!;
    } else {
      bits = new Uint16Array(length);
      let offset = 0;
      for (const part of parts) {
        bits.set(part, offset);
        offset += part.length;
      }
    }
    chunks.push({ first, last, bits });
  }
  return chunks;
}
