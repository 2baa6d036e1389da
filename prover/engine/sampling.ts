import type { Xoshiro256 } from "./prng.ts";

/** Index of the largest logit (the first on ties): greedy decoding. */
export function argmax(logits: Float32Array): number {
  let best = 0;
  let bestValue = logits[0]!;
  for (let i = 1; i < logits.length; i++) {
    const value = logits[i]!;
    if (value > bestValue) {
      bestValue = value;
      best = i;
    }
  }
  return best;
}

/**
 * Temperature and nucleus (top-p) sampling: softmax(logits / temperature) in float64, keep the
 * smallest set of most likely tokens whose mass reaches topP (ties by lower id), and draw one with
 * a single uniform from the seeded generator. Every step is deterministic given the seed.
 */
export function sampleToken(logits: Float32Array, temperature: number, topP: number, rng: Xoshiro256): number {
  if (temperature === 0) return argmax(logits);
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  const weights = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp((logits[i]! - max) / temperature);
    weights[i] = w;
    total += w;
  }
  const u = rng.nextDouble();
  if (topP >= 1) {
    let target = u * total;
    for (let i = 0; i < n; i++) {
      target -= weights[i]!;
      if (target < 0) return i;
    }
    return argmax(logits);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
  const limit = topP * total;
  let kept = 0;
  let mass = 0;
  while (kept < n && (kept === 0 || mass < limit)) mass += weights[order[kept++]!]!;
  let target = u * mass;
  for (let j = 0; j < kept; j++) {
    target -= weights[order[j]!]!;
    if (target < 0) return order[j]!;
  }
  return order[kept - 1]!;
}
