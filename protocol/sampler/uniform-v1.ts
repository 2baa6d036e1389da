/**
 * Sampler version 1: the n-th output token takes the n-th uniform u of one xoshiro256** stream
 * seeded by the request seed, and is the id where u * (kept mass) falls in the cumulative
 * weights of the nucleus, in nucleus order.
 */
import { argmax, nucleus, weightBefore, type Nucleus } from "./nucleus.ts";
import { Xoshiro256 } from "./xoshiro.ts";

export function chooseUniform(logits: Float32Array, temperature: number, topP: number, u: number): number {
  return chooseFrom(nucleus(logits, temperature, topP), logits, topP, u);
}

function chooseFrom({ weights, kept, mass }: Nucleus, logits: Float32Array, topP: number, u: number): number {
  let target = u * mass;
  for (let j = 0; j < kept.length; j++) {
    target -= weights[kept[j]!]!;
    if (target < 0) return kept[j]!;
  }
  // Only rounding leaves target >= 0 here; version 1 then took the argmax without a nucleus.
  return topP >= 1 ? argmax(logits) : kept[kept.length - 1]!;
}

/** The uniforms of positions 0, 1, 2, ... (one stream per request). */
export function uniformStream(seed: bigint): () => number {
  const rng = new Xoshiro256(seed);
  return () => rng.nextDouble();
}

/**
 * How far the claimed token is from being version 1's choice under these logits, as a share
 * of the distribution's mass: 0 when u falls in its interval; else the distance from u to the
 * interval, or past the nucleus boundary, whichever is larger.
 */
export function uniformMargin(logits: Float32Array, temperature: number, topP: number, u: number, claimed: number): { chosen: number; margin: number } {
  const n = nucleus(logits, temperature, topP);
  const { weights, kept, mass, total } = n;
  const chosen = chooseFrom(n, logits, topP, u);
  let start = 0;
  if (n.all) for (let j = 0; j < claimed; j++) start += weights[j]!;
  else start = weightBefore(weights, claimed);
  const end = start + weights[claimed]!;
  const inNucleus = n.all || kept.includes(claimed);
  // Outside the nucleus the claimed id is scored against an interval of the extended set.
  const scale = inNucleus ? mass : end;
  const target = u * scale;
  const distance = target < start ? start - target : target >= end ? target - end : 0;
  const beyond = inNucleus ? 0 : Math.max(0, start / total - topP);
  return { chosen, margin: Math.max(distance / total, beyond) };
}
