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
 *
 * Evaluation: g is increasing in w, so the top 12 bits of w bound g from both sides (a table
 * of g at the 4096 bucket edges). An id whose upper bound is below the best lower bound cannot
 * be the argmax; the logarithms are taken only for the few that can. The result is exactly the
 * argmax of the definition above.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { nucleusSet, weightBefore } from "./nucleus.ts";
import { Xoshiro128FromState } from "./xoshiro.ts";

const BUCKET_BITS = 12;
const BUCKETS = 1 << BUCKET_BITS;
const SHIFT = 32 - BUCKET_BITS;

function gumbelOf(word: number): number {
  return -Math.log(-Math.log((word + 0.5) / 4294967296));
}

/** g at the lower edge of each bucket of words; EDGE[b + 1] bounds bucket b from above. */
const EDGE = (() => {
  const edge = new Float64Array(BUCKETS + 1);
  for (let b = 0; b <= BUCKETS; b++) edge[b] = gumbelOf(Math.min(b * 2 ** SHIFT, 4294967295) - (b === 0 ? 0 : 0.5));
  edge[0] = -Infinity;
  edge[BUCKETS] = gumbelOf(4294967295);
  return edge;
})();

function generator(seed: bigint, position: number): Xoshiro128FromState {
  const message = new Uint8Array(12);
  const view = new DataView(message.buffer);
  view.setBigUint64(0, seed, false);
  view.setUint32(8, position, false);
  const key = sha256(message);
  const words = new DataView(key.buffer, key.byteOffset, 16);
  return new Xoshiro128FromState([words.getUint32(0, true), words.getUint32(4, true), words.getUint32(8, true), words.getUint32(12, true)]);
}

let scratch = new Uint32Array(0);

/** The raw words w_j of one position, j = 0 .. vocabSize-1 (valid until the next call). */
export function noiseWords(seed: bigint, position: number, vocabSize: number): Uint32Array {
  const rng = generator(seed, position);
  if (scratch.length < vocabSize) scratch = new Uint32Array(vocabSize);
  const words = scratch.subarray(0, vocabSize);
  for (let j = 0; j < vocabSize; j++) words[j] = rng.nextUint32();
  return words;
}

/** Every g_j of one position (tests and reports; the sampler itself takes only what it needs). */
export function gumbelNoise(seed: bigint, position: number, vocabSize: number): Float64Array {
  const words = noiseWords(seed, position, vocabSize);
  const noise = new Float64Array(vocabSize);
  for (let j = 0; j < vocabSize; j++) noise[j] = gumbelOf(words[j]!);
  return noise;
}

/** argmax over `ids` (all ids when null) of l_j / T + g_j, the lower id on ties, and its score. */
function bestOf(logits: Float32Array, temperature: number, ids: Int32Array | null, words: Uint32Array): { token: number; score: number } {
  const count = ids ? ids.length : logits.length;
  let floor = -Infinity;
  for (let k = 0; k < count; k++) {
    const id = ids ? ids[k]! : k;
    const low = logits[id]! / temperature + EDGE[words[id]! >>> SHIFT]!;
    if (low > floor) floor = low;
  }
  let token = -1;
  let score = -Infinity;
  for (let k = 0; k < count; k++) {
    const id = ids ? ids[k]! : k;
    const z = logits[id]! / temperature;
    if (z + EDGE[(words[id]! >>> SHIFT) + 1]! < floor) continue; // cannot reach the best lower bound
    const s = z + gumbelOf(words[id]!);
    if (s > score || (s === score && id < token)) {
      score = s;
      token = id;
    }
  }
  return { token, score };
}

export function chooseGumbel(logits: Float32Array, temperature: number, topP: number, seed: bigint, position: number): number {
  const words = noiseWords(seed, position, logits.length);
  if (topP >= 1) return bestOf(logits, temperature, null, words).token;
  return bestOf(logits, temperature, nucleusSet(logits, temperature, topP).kept, words).token;
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
  const words = noiseWords(seed, position, logits.length);
  const cut = topP >= 1 ? undefined : nucleusSet(logits, temperature, topP);
  const best = bestOf(logits, temperature, cut ? cut.kept : null, words);
  const claimedScore = logits[claimed]! / temperature + gumbelOf(words[claimed]!);
  let margin = Math.max(0, (best.score - claimedScore) * temperature);
  if (cut && !cut.kept.includes(claimed)) {
    margin = Math.max(margin, temperature * Math.log(weightBefore(cut.weights, claimed) / (topP * cut.total)));
  }
  return { chosen: best.token, margin };
}
