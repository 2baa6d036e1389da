/**
 * Statistics for latency samples: percentiles (linear interpolation between closest ranks, the
 * numpy default), coefficient of variation, and seeded percentile-bootstrap confidence intervals.
 */
import { rng } from "./rng.ts";

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** q in [0, 1] of an ascending array. NaN for an empty one. */
export function percentileSorted(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return values.length ? s / values.length : NaN;
}

/** Sample standard deviation / mean; NaN with fewer than two values or a zero mean. */
export function coefficientOfVariation(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return NaN;
  const m = mean(values);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - m) ** 2;
  return m === 0 ? NaN : Math.sqrt(ss / (n - 1)) / Math.abs(m);
}

export interface BootstrapOptions {
  resamples: number;
  seed: number;
  /** Confidence level, 0.95 for a 95% interval. */
  level: number;
}

/**
 * Percentile-bootstrap CI for the q-quantile: resample with replacement `resamples` times (from a
 * seeded stream), take the quantile of each resample, and report the (1-level)/2 and (1+level)/2
 * quantiles of those. Returns null for fewer than two samples.
 */
export function bootstrapPercentileCI(values: ArrayLike<number>, q: number, opts: BootstrapOptions): [number, number] | null {
  const n = values.length;
  if (n < 2) return null;
  const next = rng(opts.seed);
  const stats = new Float64Array(opts.resamples);
  const sample = new Float64Array(n);
  for (let b = 0; b < opts.resamples; b++) {
    for (let i = 0; i < n; i++) sample[i] = values[Math.floor(next() * n)]!;
    stats[b] = percentileUnsorted(sample, q);
  }
  stats.sort();
  return [percentileSorted(stats, (1 - opts.level) / 2), percentileSorted(stats, (1 + opts.level) / 2)];
}

/** Hoare quickselect: puts the k-th smallest at a[k], smaller ones before, larger after. */
function select(a: Float64Array, k: number): void {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * The same value as percentileSorted(sort(a), q), in O(n) by selection (the bootstrap takes a
 * quantile of 1000 resamples, and ITL sample sets have one entry per token). Reorders `a`.
 */
export function percentileUnsorted(a: Float64Array, q: number): number {
  const n = a.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  select(a, lo);
  const low = a[lo]!;
  if (lo + 1 >= n || pos === lo) return low;
  let next = Infinity;
  for (let i = lo + 1; i < n; i++) if (a[i]! < next) next = a[i]!;
  return low + (next - low) * (pos - lo);
}
