/**
 * The temperature-scaled distribution and its nucleus (top-p set), shared by every sampler
 * version so that prover and verifier cut the same set from the same logits.
 *
 *   w_j   = exp((l_j - max l) / T)           in float64
 *   order = ids by w descending, lower id first on ties
 *   kept  = the shortest prefix of order whose mass reaches topP * sum(w) (at least one id);
 *           topP = 1 keeps every id, in id order
 */
export interface Nucleus {
  weights: Float64Array;
  total: number;
  /** Kept ids in order (id order when topP >= 1). */
  kept: Int32Array;
  /** Sum of the kept weights. */
  mass: number;
  /** Every id in nucleus order (kept first); only computed when topP < 1. */
  order?: Int32Array;
}

export function nucleus(logits: Float32Array, temperature: number, topP: number): Nucleus {
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
  if (topP >= 1) {
    const kept = new Int32Array(n);
    for (let i = 0; i < n; i++) kept[i] = i;
    return { weights, total, kept, mass: total };
  }
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
  const limit = topP * total;
  let count = 0;
  let mass = 0;
  while (count < n && (count === 0 || mass < limit)) mass += weights[order[count++]!]!;
  return { weights, total, kept: order.slice(0, count), mass, order };
}

/** Index of the largest logit (the first on ties): greedy decoding. */
export function argmax(logits: ArrayLike<number>): number {
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
