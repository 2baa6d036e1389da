/**
 * The temperature-scaled distribution and its nucleus (top-p set), shared by every sampler
 * version so that prover and verifier cut the same set from the same logits.
 *
 *   w_j   = exp((l_j - max l) / T)           in float64
 *   order = ids by w descending, lower id first on ties
 *   kept  = the shortest prefix of order whose mass reaches topP * sum(w) (at least one id);
 *           topP = 1 keeps every id, in id order
 *
 * The nucleus is found without sorting the whole vocabulary: only ids above a falling weight
 * cut are sorted, until they hold enough mass (ids below the cut weigh less than any of them,
 * so the prefix is the same as the full sort's).
 */
export interface Nucleus {
  /** Valid until the next nucleus() call. */
  weights: Float64Array;
  total: number;
  /** Kept ids in order (id order when every id is kept). */
  kept: Int32Array;
  /** Sum of the kept weights. */
  mass: number;
  /** Whether every id is kept (topP >= 1). */
  all: boolean;
}

// One scratch buffer for the weights: a vocabulary-sized allocation per token costs more than
// the exponentials. Valid until the next call (every caller uses it synchronously).
let scratch = new Float64Array(0);

export function weightsOf(logits: Float32Array, temperature: number): { weights: Float64Array; total: number } {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  if (scratch.length < n) scratch = new Float64Array(n);
  const weights = scratch.subarray(0, n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp((logits[i]! - max) / temperature);
    weights[i] = w;
    total += w;
  }
  return { weights, total };
}

/** The shortest prefix of (weight descending, id ascending) order with mass >= limit. */
function shortestPrefix(weights: Float64Array, limit: number): { kept: Int32Array; mass: number } {
  const n = weights.length;
  let cut = 1;
  for (let round = 0; ; round++) {
    cut = round === 0 ? Math.exp(-4) : cut * Math.exp(-4);
    if (cut < 1e-300) cut = 0;
    const candidates: number[] = [];
    let candidateMass = 0;
    for (let i = 0; i < n; i++) {
      if (weights[i]! >= cut) {
        candidates.push(i);
        candidateMass += weights[i]!;
      }
    }
    if (candidateMass < limit && cut > 0) continue;
    candidates.sort((a, b) => weights[b]! - weights[a]! || a - b);
    let count = 0;
    let mass = 0;
    while (count < candidates.length && (count === 0 || mass < limit)) mass += weights[candidates[count++]!]!;
    return { kept: Int32Array.from(candidates.slice(0, count)), mass };
  }
}

let allIds = new Int32Array(0);

export function nucleus(logits: Float32Array, temperature: number, topP: number): Nucleus {
  const { weights, total } = weightsOf(logits, temperature);
  const n = logits.length;
  if (topP >= 1) {
    if (allIds.length < n) allIds = Int32Array.from({ length: n }, (_, i) => i);
    return { weights, total, kept: allIds.subarray(0, n), mass: total, all: true };
  }
  const { kept, mass } = shortestPrefix(weights, topP * total);
  return { weights, total, kept, mass, all: false };
}

/**
 * The weight t at which the nucleus stops: the largest weight such that the ids weighing at
 * least t hold `limit` or more, found by a weighted quickselect (three-way partitions), with
 * how many ids at exactly t the nucleus takes. Expected linear time; `values` is reordered.
 */
function stoppingWeight(values: Float64Array, limit: number): { t: number; ties: number } {
  let lo = 0;
  let hi = values.length - 1;
  let above = 0; // mass of the ids known to weigh more than everything in [lo, hi]
  for (;;) {
    if (lo === hi) return { t: values[lo]!, ties: 1 };
    const pivot = values[(lo + hi) >>> 1]!;
    // [lo, gt) > pivot, [gt, i) == pivot, (lt, hi] < pivot
    let gt = lo;
    let i = lo;
    let lt = hi;
    let greater = 0;
    let equal = 0;
    while (i <= lt) {
      const v = values[i]!;
      if (v > pivot) {
        values[i] = values[gt]!;
        values[gt] = v;
        greater += v;
        gt++;
        i++;
      } else if (v < pivot) {
        values[i] = values[lt]!;
        values[lt] = v;
        lt--;
      } else {
        equal += v;
        i++;
      }
    }
    if (above + greater >= limit && gt > lo) {
      hi = gt - 1;
    } else if (above + greater + equal >= limit || lt >= hi) {
      // The nucleus stops among the ids at the pivot: take as many as the mass needs.
      const needed = Math.max(1, Math.ceil((limit - above - greater) / pivot));
      return { t: pivot, ties: Math.min(needed, i - gt) };
    } else {
      above += greater + equal;
      lo = i;
    }
  }
}

let sortScratch = new Float64Array(0);
let keptScratch = new Int32Array(0);

/**
 * The same kept set as nucleus() (valid until the next call), in id order rather than nucleus order, in linear time: every
 * id above the stopping weight t, and as many ids at t (lowest first) as the nucleus takes. For
 * samplers that need membership only (version 2); masses are summed in another order than the
 * nucleus order, which can only matter where the mass lands within rounding of the limit.
 */
export function nucleusSet(logits: Float32Array, temperature: number, topP: number): Nucleus {
  if (topP >= 1) return nucleus(logits, temperature, topP);
  const { weights, total } = weightsOf(logits, temperature);
  const n = weights.length;
  if (sortScratch.length < n) sortScratch = new Float64Array(n);
  const values = sortScratch.subarray(0, n);
  values.set(weights);
  const { t, ties } = stoppingWeight(values, topP * total);
  if (keptScratch.length < n) keptScratch = new Int32Array(n);
  let count = 0;
  let mass = 0;
  let tiesLeft = ties;
  for (let j = 0; j < n; j++) {
    const w = weights[j]!;
    if (w > t || (w === t && tiesLeft-- > 0)) {
      keptScratch[count++] = j;
      mass += w;
    }
  }
  return { weights, total, kept: keptScratch.subarray(0, count), mass, all: false };
}

/** The weight of every id ranked before `id` in nucleus order (weight descending, lower id first). */
export function weightBefore(weights: Float64Array, id: number): number {
  const w = weights[id]!;
  let before = 0;
  for (let j = 0; j < weights.length; j++) {
    const x = weights[j]!;
    if (x > w || (x === w && j < id)) before += x;
  }
  return before;
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
