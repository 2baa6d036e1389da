/**
 * Sampler version 2: Gumbel-max over the nucleus.
 *
 *   key      = sha256(uint64 big-endian seed || uint32 big-endian position)
 *   words    = key[0..16] as four little-endian uint32: the state of a xoshiro128** generator
 *              (an all-zero state has s0 set to 1)
 *   g_j      = -ln(-ln((w_j + 0.5) / 2^32)), where w_j is the generator's j-th output, for
 *              j = 0 .. vocabSize-1 in id order
 *   token    = argmax over the nucleus (protocol/sampler/nucleus.ts) of l_j / T + g_j,
 *              the lower id on ties
 *
 * Each position's noise depends on (seed, position) alone, so any token can be replayed on
 * its own; and the choice is an argmax, so a verifier can say by how many logits it missed.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { nucleus } from "./nucleus.ts";
import { Xoshiro128FromState } from "./xoshiro.ts";

export function gumbelNoise(seed: bigint, position: number, vocabSize: number): Float64Array {
  const message = new Uint8Array(12);
  const view = new DataView(message.buffer);
  view.setBigUint64(0, seed, false);
  view.setUint32(8, position, false);
  const key = sha256(message);
  const words = new DataView(key.buffer, key.byteOffset, 16);
  const rng = new Xoshiro128FromState([words.getUint32(0, true), words.getUint32(4, true), words.getUint32(8, true), words.getUint32(12, true)]);
  const noise = new Float64Array(vocabSize);
  for (let j = 0; j < vocabSize; j++) noise[j] = -Math.log(-Math.log((rng.nextUint32() + 0.5) / 4294967296));
  return noise;
}

function bestOf(logits: Float32Array, temperature: number, kept: Int32Array, noise: Float64Array): { token: number; score: number } {
  let token = -1;
  let score = -Infinity;
  for (let j = 0; j < kept.length; j++) {
    const id = kept[j]!;
    const s = logits[id]! / temperature + noise[id]!;
    if (s > score || (s === score && id < token)) {
      score = s;
      token = id;
    }
  }
  return { token, score };
}

export function chooseGumbel(logits: Float32Array, temperature: number, topP: number, seed: bigint, position: number): number {
  const { kept } = nucleus(logits, temperature, topP);
  return bestOf(logits, temperature, kept, gumbelNoise(seed, position, logits.length)).token;
}

/**
 * In logit units: how far the claimed token is from being version 2's choice under these
 * logits (0 when it is). Two parts, the larger counts:
 *   - the Gumbel-max gap: T * (best score - claimed score);
 *   - outside the nucleus, how far outside: the nucleus takes ids until their weight reaches
 *     topP * total, so the claimed id gets in only if the weight W ranked before it shrinks to
 *     topP * total, i.e. if those logits fall by T * ln(W / (topP * total)). At the boundary
 *     that is about the size of the logit noise that moved it; far outside it is large.
 */
export function gumbelMargin(logits: Float32Array, temperature: number, topP: number, seed: bigint, position: number, claimed: number): { chosen: number; margin: number } {
  const { kept, weights, total, order } = nucleus(logits, temperature, topP);
  const noise = gumbelNoise(seed, position, logits.length);
  const best = bestOf(logits, temperature, kept, noise);
  const claimedScore = logits[claimed]! / temperature + noise[claimed]!;
  let margin = Math.max(0, (best.score - claimedScore) * temperature);
  if (order && !kept.includes(claimed)) {
    let before = 0;
    for (let j = 0; j < order.length && order[j] !== claimed; j++) before += weights[order[j]!]!;
    margin = Math.max(margin, temperature * Math.log(before / (topP * total)));
  }
  return { chosen: best.token, margin };
}
