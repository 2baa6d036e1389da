/**
 * Compares two envelopes (vb.envelope/1 or /2, InferenceBench v1, in any mix): for every numeric
 * metric the absolute and relative delta, the intervals, and a direction-aware verdict that
 * calls a change a regression only when it is beyond the tolerance AND shown to be real:
 *
 *   no_change    within the tolerance (relative), or smaller than minDeltaMs for a latency
 *   regression / improvement   beyond it, in the worse / better direction, and real
 *   changed      beyond it and real, for a metric whose better direction is unknown
 *   noise        beyond it, but the test says the runs do not differ (what --strict ignores)
 *   unconfirmed  beyond it, but nothing can test it (a single value: cold start, energy)
 *   missing      only one envelope has it
 *
 * "Real": with both runs' traces (bootstrap test, significance.ts), the Holm-adjusted p-value of
 * "the change is within the tolerance" is below alpha over the whole table; with intervals only
 * (InferenceBench, traces not at hand), the two runs' 95% intervals do not overlap. Regressions are listed first. String
 * metric values (labels) are skipped.
 */
import type { TraceLine } from "../protocol/envelope/traces.ts";
import { deriveSeed } from "./rng.ts";
import { holm, MIN_TAIL_SAMPLES, testChange, type RunSample } from "./significance.ts";

export type Direction = "lower_is_better" | "higher_is_better" | "unknown";
export type Verdict = "regression" | "improvement" | "changed" | "noise" | "unconfirmed" | "no_change" | "missing";
export type TestKind = "bootstrap" | "intervals" | "none";

export interface MetricDelta {
  metric: string;
  direction: Direction;
  baseline: number | null;
  candidate: number | null;
  abs_delta: number | null;
  rel_delta: number | null;
  /** 95% intervals of each run's value (the bootstrap's, or the envelope's own). */
  baseline_ci: [number, number] | null;
  candidate_ci: [number, number] | null;
  /** 95% bootstrap interval of the relative change (bootstrap test only). */
  rel_ci: [number, number] | null;
  test: TestKind;
  /** Bootstrap p-value of "the change is within the tolerance", and Holm-adjusted over the table. */
  p_value: number | null;
  p_adjusted: number | null;
  /** Whether the test says the runs differ in this metric. */
  real: boolean | null;
  verdict: Verdict;
}

export interface DiffContext {
  suite: string;
  model: string;
  engine: string;
  quantization: string;
  hardware: string;
}

export interface DiffReport {
  tolerance: number;
  alpha: number;
  min_delta_ms: number;
  /** Which test decided: both runs' traces (bootstrap), the envelopes' intervals, or a mix. */
  test: string;
  context: { baseline: DiffContext; candidate: DiffContext; warnings: string[] };
  metrics: MetricDelta[];
  regressions: number;
  improvements: number;
  noise: number;
}

export interface DiffOptions {
  /** Relative change within which a metric is no_change (default 0.05). */
  tolerance?: number;
  /** Family-wise false-alarm rate of the whole table (default 0.05). */
  alpha?: number;
  /** Latency changes smaller than this many ms are no_change whatever their relative size (default 0.5). */
  minDeltaMs?: number;
  resamples?: number;
  seed?: number;
  /** Each run's traces and measured duration, for the bootstrap test. */
  baselineRun?: RunSample;
  candidateRun?: RunSample;
}

export const DEFAULT_TOLERANCE = 0.05;

const HIGHER = /(throughput|per_s|tok_per_s|req_per_s|goodput|ok_rate|compliance|attainment|accuracy|pass_at|score|chrf|bleu|consistency|success)/;
const LOWER = /(_ms$|_ms_|ttft|tpot|itl|latency|e2e|total_p|queue|joules|energy|power|cold_start|error_rate|fail|cost|drift)/;

export function metricDirection(name: string): Direction {
  if (HIGHER.test(name)) return "higher_is_better";
  if (LOWER.test(name)) return "lower_is_better";
  return "unknown";
}

function str(v: unknown): string {
  return v === undefined || v === null ? "none" : typeof v === "string" ? v : JSON.stringify(v);
}

/** The comparable context of either envelope format. */
export function diffContext(env: Record<string, unknown>): DiffContext {
  const g = (o: unknown, k: string): unknown => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined);
  if (env.envelope_version === "v1") {
    return {
      suite: `${str(env.suite_id)}@${str(env.suite_version)}`,
      model: `${str(g(env.model, "id"))}@${str(g(env.model, "revision"))}`,
      engine: `${str(g(env.engine, "name"))} ${str(g(env.engine, "version"))}`,
      quantization: str(env.quantization),
      hardware: str(g(env.hardware_fingerprint, "fingerprint_sha256")),
    };
  }
  return {
    suite: `${str(g(env.suite, "id"))}@${str(g(env.suite, "version"))}`,
    model: `${str(g(env.model, "id"))}@${str(g(env.model, "revision"))}`,
    engine: `${str(g(env.engine, "name"))} ${str(g(env.engine, "version"))}`,
    quantization: str(env.quantization),
    hardware: str(g(env.hardware_fingerprint, "sha256")),
  };
}

function numericMetrics(env: Record<string, unknown>): Map<string, number | null> {
  const out = new Map<string, number | null>();
  const m = env.metrics;
  if (m && typeof m === "object") {
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      // Non-finite values (Python's NaN/Infinity) have no meaningful delta: treat them as absent.
      if (v === null || (typeof v === "number" && !Number.isFinite(v))) out.set(k, null);
      else if (typeof v === "number") out.set(k, v);
    }
  }
  return out;
}

const ORDER: Record<Verdict, number> = { regression: 0, improvement: 1, changed: 2, noise: 3, unconfirmed: 4, missing: 5, no_change: 6 };

function intervals(env: Record<string, unknown>, metric: string): [number, number] | null {
  const ci = (env.confidence_intervals as Record<string, unknown> | undefined)?.[metric];
  return Array.isArray(ci) && ci.length === 2 && ci.every((x) => typeof x === "number" && Number.isFinite(x)) ? [ci[0], ci[1]] : null;
}

export function diffEnvelopes(baseline: Record<string, unknown>, candidate: Record<string, unknown>, options: DiffOptions | number = {}): DiffReport {
  const o = typeof options === "number" ? { tolerance: options } : options;
  const tolerance = o.tolerance ?? DEFAULT_TOLERANCE;
  const alpha = o.alpha ?? 0.05;
  const minDeltaMs = o.minDeltaMs ?? 0.5;
  if (!(tolerance >= 0)) throw new RangeError(`--tolerance must be >= 0, got ${tolerance}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`--alpha must be in (0, 1), got ${alpha}`);
  if (!(minDeltaMs >= 0)) throw new RangeError(`--min-delta-ms must be >= 0, got ${minDeltaMs}`);
  const resamples = o.resamples ?? 2000;
  const seed = o.seed ?? 0;
  const b = numericMetrics(baseline);
  const c = numericMetrics(candidate);
  const names = [...new Set([...b.keys(), ...c.keys()])];
  const traced = o.baselineRun !== undefined && o.candidateRun !== undefined;
  const metrics: MetricDelta[] = names.map((metric) => {
    const bv = b.has(metric) ? b.get(metric)! : null;
    const cv = c.has(metric) ? c.get(metric)! : null;
    const direction = metricDirection(metric);
    const base: MetricDelta = {
      metric, direction, baseline: bv, candidate: cv, abs_delta: null, rel_delta: null, baseline_ci: intervals(baseline, metric), candidate_ci: intervals(candidate, metric),
      rel_ci: null, test: "none", p_value: null, p_adjusted: null, real: null, verdict: "no_change",
    };
    if (bv === null || cv === null) return { ...base, verdict: bv === null && cv === null ? "no_change" : "missing" };
    const abs = cv - bv;
    const rel = bv !== 0 ? abs / Math.abs(bv) : abs === 0 ? 0 : null;
    const out = { ...base, abs_delta: abs, rel_delta: rel };
    const t = traced ? testChange(metric, o.baselineRun!, o.candidateRun!, resamples, deriveSeed(seed, metric), tolerance) : null;
    if (t) Object.assign(out, { test: "bootstrap", p_value: t.p, baseline_ci: t.baselineCi, candidate_ci: t.candidateCi, rel_ci: t.relCi });
    else if (out.baseline_ci && out.candidate_ci && !traced && tailSupported(baseline, metric) && tailSupported(candidate, metric)) {
      out.test = "intervals";
      out.real = out.baseline_ci[1] < out.candidate_ci[0] || out.candidate_ci[1] < out.baseline_ci[0];
    }
    return out;
  });
  // Holm over every metric the bootstrap tested: alpha is the chance of any false alarm in the table.
  const tested = metrics.filter((m) => m.p_value !== null);
  holm(tested.map((m) => m.p_value!)).forEach((p, i) => {
    tested[i]!.p_adjusted = p;
    tested[i]!.real = p < alpha;
  });
  for (const m of metrics) {
    if (m.verdict === "missing" || m.abs_delta === null) continue;
    // No baseline magnitude to be relative to (0 -> x): any change counts as beyond tolerance.
    const beyond = (m.rel_delta === null ? m.abs_delta !== 0 : Math.abs(m.rel_delta) > tolerance) && !(/_ms$/.test(m.metric) && Math.abs(m.abs_delta) < minDeltaMs);
    if (!beyond) m.verdict = "no_change";
    else if (m.real === null) m.verdict = "unconfirmed";
    else if (!m.real) m.verdict = "noise";
    else if (m.direction === "unknown") m.verdict = "changed";
    else m.verdict = (m.direction === "lower_is_better") === m.abs_delta < 0 ? "improvement" : "regression";
  }
  metrics.sort((x, y) => ORDER[x.verdict] - ORDER[y.verdict] || Math.abs(y.rel_delta ?? 0) - Math.abs(x.rel_delta ?? 0) || x.metric.localeCompare(y.metric));
  const bc = diffContext(baseline);
  const cc = diffContext(candidate);
  const labels: Record<keyof DiffContext, string> = { suite: "suite", model: "model", engine: "engine version", quantization: "quantization", hardware: "hardware fingerprint" };
  const warnings = (Object.keys(labels) as (keyof DiffContext)[])
    .filter((k) => bc[k] !== cc[k])
    .map((k) => `${labels[k]} differs: ${bc[k]} vs ${cc[k]} (deltas may reflect the setup, not a change)`);
  const kinds = new Set(metrics.map((m) => m.test).filter((t) => t !== "none"));
  return {
    tolerance,
    alpha,
    min_delta_ms: minDeltaMs,
    test: kinds.size === 0 ? "none" : [...kinds].join(" + "),
    context: { baseline: bc, candidate: cc, warnings },
    metrics,
    regressions: metrics.filter((m) => m.verdict === "regression").length,
    improvements: metrics.filter((m) => m.verdict === "improvement").length,
    noise: metrics.filter((m) => m.verdict === "noise").length,
  };
}

/**
 * Whether an envelope's interval for a percentile rests on enough samples beyond it
 * (MIN_TAIL_SAMPLES): p99 of 30 requests is the slowest request, and its interval means little.
 * Counted from the envelope (measured requests; tokens for ITL); unknown counts pass.
 */
function tailSupported(env: Record<string, unknown>, metric: string): boolean {
  const m = /^(ttft|tpot|itl|e2e|queue)_p(50|90|99)_ms$/.exec(metric);
  if (!m) return true;
  const requests = (env.phases as { measured?: { requests?: unknown } } | undefined)?.measured?.requests;
  if (typeof requests !== "number") return true;
  const tokens = (env.metrics as Record<string, unknown> | undefined)?.output_tokens_mean;
  const n = m[1] === "itl" ? requests * Math.max(0, (typeof tokens === "number" ? tokens : 1) - 1) : requests;
  return n * (1 - Number(m[2]) / 100) >= MIN_TAIL_SAMPLES;
}

/** Both runs' traces for the bootstrap test, from the lines readSignedTraces gave. */
export function runSample(env: Record<string, unknown>, traces: readonly TraceLine[]): RunSample {
  const measured = (env.phases as { measured?: { duration_s?: unknown } } | undefined)?.measured?.duration_s;
  return { traces, durationS: typeof measured === "number" ? measured : 0 };
}

const fmt = (v: number | null) => (v === null ? "n/a" : Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(2) : v.toFixed(3));

const ci = (c: [number, number] | null) => (c === null ? "" : `[${fmt(c[0])}, ${fmt(c[1])}]`);
const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;

export function formatDiff(r: DiffReport): string {
  const rows = [["metric", "baseline", "95% CI", "candidate", "95% CI", "rel delta", "delta 95% CI", "p (Holm)", "verdict"]];
  for (const m of r.metrics) {
    rows.push([
      m.metric, fmt(m.baseline), ci(m.baseline_ci), fmt(m.candidate), ci(m.candidate_ci),
      m.rel_delta === null ? "n/a" : pct(m.rel_delta),
      m.rel_ci ? `[${pct(m.rel_ci[0])}, ${pct(m.rel_ci[1])}]` : m.test === "intervals" ? (m.real ? "CIs apart" : "CIs overlap") : "",
      m.p_adjusted === null ? "" : m.p_adjusted < 0.001 ? "<0.001" : m.p_adjusted.toFixed(3),
      m.verdict,
    ]);
  }
  const last = rows[0]!.length - 1;
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((x) => x[c]!.length)));
  const lines = rows.map((x) => x.map((cell, c) => (c === 0 || c === last ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd());
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const head = r.context.warnings.map((w) => `context warning: ${w}`);
  const how =
    r.test === "none"
      ? "no intervals or traces: no change could be confirmed"
      : `test: ${r.test}; a change is a regression when it is beyond the tolerance and real (family-wise alpha ${r.alpha})`;
  return [
    ...head, ...(head.length ? [""] : []), lines.join("\n"), "",
    `${r.regressions} regression(s), ${r.improvements} improvement(s), ${r.noise} beyond tolerance but within noise; tolerance ${(r.tolerance * 100).toFixed(1)}%, min delta ${r.min_delta_ms} ms`,
    how,
  ].join("\n");
}
