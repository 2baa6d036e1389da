/**
 * Is a change between two runs real, and beyond the tolerance? A two-sample bootstrap on the
 * runs' traces: each resample draws the requests of both runs again with replacement (requests,
 * not tokens: a request's inter-token gaps move together, so they are resampled as a cluster),
 * recomputes every metric on both and takes the relative change. The spread of those changes
 * gives the interval of the change and the p-value of "the change is within the tolerance" (the
 * share of resamples on the other side of the tolerance, doubled as the side is chosen after
 * looking); Holm's step-down procedure then keeps the chance of even one false alarm over all
 * the metrics of a diff at alpha. Testing against the tolerance rather than against zero is what
 * keeps small real drifts between two runs of the same server (a busy machine, a warmer cache)
 * from being called regressions, while a change well beyond the tolerance still is.
 *
 * Quantiles of a resample are read from each family's values sorted once, weighted by how often
 * the resample drew each request, in one pass (no sort per resample). Rates (throughput, goodput)
 * have one value per run, so the measured phase is cut into time windows and the windows are
 * resampled instead (a block bootstrap of the rate).
 */
import type { TraceLine } from "../protocol/envelope/traces.ts";
import { rng } from "./rng.ts";

export interface RunSample {
  traces: readonly TraceLine[];
  /** Measured wall time, seconds (the envelope's phases.measured.duration_s). */
  durationS: number;
}

export interface ChangeTest {
  /** The metric on each run, recomputed from its traces. */
  baseline: number;
  candidate: number;
  /** 95% bootstrap intervals of each run's value. */
  baselineCi: [number, number];
  candidateCi: [number, number];
  /** Percentile-bootstrap interval of (candidate - baseline) / baseline. */
  relCi: [number, number];
  /** Bootstrap p-value of "the relative change is within ±tolerance". */
  p: number;
}

type Stat = "mean" | "p50" | "p90" | "p99";
const QUANTILE: Record<Exclude<Stat, "mean">, number> = { p50: 0.5, p90: 0.9, p99: 0.99 };

/** A family of per-request values (one or many a request), sorted once with their owners. */
interface Family {
  values: Float64Array;
  owners: Int32Array;
}

function family(traces: readonly TraceLine[], name: string): Family {
  const pairs: [number, number][] = [];
  traces.forEach((t, i) => {
    if (name === "queue") return void pairs.push([t.queue_ms, i]);
    if (!t.ok) return;
    if (name === "itl") for (const v of t.itl_ms) pairs.push([v, i]);
    else {
      const v = name === "ttft" ? t.ttft_ms : name === "tpot" ? t.tpot_ms : name === "e2e" ? t.e2e_ms : name === "output_tokens" ? t.output_tokens : t.prompt_tokens;
      if (v !== null) pairs.push([v, i]);
    }
  });
  pairs.sort((a, b) => a[0] - b[0]);
  return { values: Float64Array.from(pairs, (p) => p[0]), owners: Int32Array.from(pairs, (p) => p[1]) };
}

/** The statistic over the multiset where request i appears weight[i] times (linear interpolation, as percentileSorted). */
function weighted(f: Family, weight: Int32Array, stat: Stat): number {
  const { values, owners } = f;
  let total = 0;
  for (let k = 0; k < owners.length; k++) total += weight[owners[k]!]!;
  if (total === 0) return NaN;
  if (stat === "mean") {
    let s = 0;
    for (let k = 0; k < values.length; k++) s += values[k]! * weight[owners[k]!]!;
    return s / total;
  }
  const pos = QUANTILE[stat] * (total - 1);
  const lo = Math.floor(pos);
  let seen = 0;
  let low = NaN;
  for (let k = 0; k < values.length; k++) {
    const w = weight[owners[k]!]!;
    if (w === 0) continue;
    if (Number.isNaN(low)) {
      if (seen + w > lo) {
        low = values[k]!;
        if (pos === lo) return low;
        if (seen + w > lo + 1) return low; // the next rank is the same value
      }
    } else return low + (values[k]! - low) * (pos - lo);
    seen += w;
  }
  return low;
}

/**
 * A percentile rests on the samples beyond it: with fewer than this many, its bootstrap interval
 * is too narrow to trust (p99 of 30 requests is the slowest one), so it is not tested.
 */
export const MIN_TAIL_SAMPLES = 5;

/** How a metric name is computed from traces, or null when it cannot be (or not reliably). */
export function traceStatistic(metric: string): ((s: RunSample) => ((weight: Int32Array | null) => number) | null) | null {
  const m = /^(ttft|tpot|itl|e2e|queue)_(mean|p50|p90|p99)_ms$/.exec(metric);
  if (m) {
    return (s) => {
      const f = family(s.traces, m[1]!);
      const stat = m[2] as Stat;
      if (stat !== "mean" && f.values.length * (1 - QUANTILE[stat]) < MIN_TAIL_SAMPLES) return null;
      const ones = new Int32Array(s.traces.length).fill(1);
      return (w) => weighted(f, w ?? ones, stat);
    };
  }
  if (metric === "output_tokens_mean" || metric === "prompt_tokens_mean") {
    return (s) => {
      const f = family(s.traces, metric === "output_tokens_mean" ? "output_tokens" : "prompt_tokens");
      const ones = new Int32Array(s.traces.length).fill(1);
      return (w) => weighted(f, w ?? ones, "mean");
    };
  }
  if (metric === "ok_rate" || metric === "slo_attainment") {
    return (s) => {
      const hit = s.traces.map((t) => (metric === "ok_rate" ? t.ok : t.slo_met));
      return (w) => {
        let n = 0;
        let k = 0;
        for (let i = 0; i < hit.length; i++) {
          const c = w ? w[i]! : 1;
          n += c;
          if (hit[i]) k += c;
        }
        return n ? k / n : NaN;
      };
    };
  }
  if (metric === "output_tok_per_s" || metric === "req_per_s" || metric === "goodput_req_per_s") return null; // windowed, see windowRates
  return null;
}

/** Throughput-like metrics: per-window rates over the measured phase (by request end time). */
export function windowRates(s: RunSample, metric: string): Float64Array | null {
  if (metric !== "output_tok_per_s" && metric !== "req_per_s" && metric !== "goodput_req_per_s") return null;
  const n = s.traces.length;
  const k = Math.max(4, Math.min(20, Math.floor(n / 5)));
  if (n < 8 || !(s.durationS > 0)) return null;
  // Launches each start their clock at 0: lay them end to end.
  const launchEnd = new Map<number, number>();
  for (const t of s.traces) launchEnd.set(t.launch, Math.max(launchEnd.get(t.launch) ?? 0, t.scheduled_ms + t.queue_ms + t.e2e_ms));
  const offsets = new Map<number, number>();
  let acc = 0;
  for (const l of [...launchEnd.keys()].sort((a, b) => a - b)) {
    offsets.set(l, acc);
    acc += launchEnd.get(l)!;
  }
  const span = Math.max(acc, s.durationS * 1000);
  const width = span / k;
  const sums = new Float64Array(k);
  for (const t of s.traces) {
    const w = metric === "output_tok_per_s" ? (t.ok ? t.output_tokens : 0) : metric === "req_per_s" ? (t.ok ? 1 : 0) : t.slo_met ? 1 : 0;
    const end = offsets.get(t.launch)! + t.scheduled_ms + t.queue_ms + t.e2e_ms;
    sums[Math.min(k - 1, Math.floor(end / width))]! += w;
  }
  // Rates per second; their mean is the run's overall rate over the span.
  return sums.map((x) => (x / width) * 1000);
}

const meanOf = (xs: Float64Array, w: Int32Array | null): number => {
  let s = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    const c = w ? w[i]! : 1;
    s += xs[i]! * c;
    n += c;
  }
  return n ? s / n : NaN;
};

function draw(weight: Int32Array, next: () => number): void {
  weight.fill(0);
  const n = weight.length;
  for (let i = 0; i < n; i++) weight[Math.floor(next() * n)]!++;
}

function quantileOf(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The bootstrap test of one metric between two runs; null when the traces cannot give it. */
export function testChange(metric: string, a: RunSample, b: RunSample, resamples: number, seed: number, tolerance = 0): ChangeTest | null {
  let evalA: (w: Int32Array | null) => number;
  let evalB: (w: Int32Array | null) => number;
  let nA: number;
  let nB: number;
  const stat = traceStatistic(metric);
  if (stat) {
    const fa = stat(a);
    const fb = stat(b);
    if (!fa || !fb) return null;
    evalA = fa;
    evalB = fb;
    nA = a.traces.length;
    nB = b.traces.length;
  } else {
    const ra = windowRates(a, metric);
    const rb = windowRates(b, metric);
    if (!ra || !rb) return null;
    evalA = (w) => meanOf(ra, w);
    evalB = (w) => meanOf(rb, w);
    nA = ra.length;
    nB = rb.length;
  }
  const baseline = evalA(null);
  const candidate = evalB(null);
  if (!Number.isFinite(baseline) || !Number.isFinite(candidate) || nA < 2 || nB < 2) return null;
  const next = rng(seed);
  const wA = new Int32Array(nA);
  const wB = new Int32Array(nB);
  const sa = new Float64Array(resamples);
  const sb = new Float64Array(resamples);
  const rel = new Float64Array(resamples);
  let valid = 0;
  for (let r = 0; r < resamples; r++) {
    draw(wA, next);
    draw(wB, next);
    const x = evalA(wA);
    const y = evalB(wB);
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    sa[valid] = x;
    sb[valid] = y;
    rel[valid] = x !== 0 ? (y - x) / Math.abs(x) : 0;
    valid++;
  }
  if (valid < resamples / 2) return null;
  const ci = (xs: Float64Array): [number, number] => {
    const s = xs.slice(0, valid).sort();
    return [quantileOf(s, 0.025), quantileOf(s, 0.975)];
  };
  // Resamples whose change is not beyond the tolerance on the observed side; doubled (the side
  // was picked by looking), with the +1 that keeps a bootstrap p-value from being 0.
  const observed = baseline !== 0 ? (candidate - baseline) / Math.abs(baseline) : 0;
  let inside = 0;
  for (let i = 0; i < valid; i++) if (observed >= 0 ? rel[i]! <= tolerance : rel[i]! >= -tolerance) inside++;
  const p = Math.min(1, (2 * (inside + 1)) / (valid + 1));
  return { baseline, candidate, baselineCi: ci(sa), candidateCi: ci(sb), relCi: ci(rel), p };
}

/** Holm-adjusted p-values (same order as given). */
export function holm(ps: readonly number[]): number[] {
  const order = ps.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const out = new Array<number>(ps.length);
  let running = 0;
  order.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (ps.length - rank) * p));
    out[i] = running;
  });
  return out;
}
