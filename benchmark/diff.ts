/**
 * Compares two envelopes (vb.envelope/1 or InferenceBench v1, in any mix): for every numeric
 * metric the absolute and relative delta and a direction-aware verdict. A metric whose relative
 * change is within the tolerance is "no_change"; otherwise lower-is-better metrics (latencies,
 * energy, queueing) that went down are an "improvement" and up a "regression", and the reverse
 * for higher-is-better ones (throughput, rates, accuracy). A metric whose direction is unknown
 * gets "changed". Regressions are listed first. String metric values (labels) are skipped.
 */
export type Direction = "lower_is_better" | "higher_is_better" | "unknown";
export type Verdict = "regression" | "improvement" | "changed" | "no_change" | "missing";

export interface MetricDelta {
  metric: string;
  direction: Direction;
  baseline: number | null;
  candidate: number | null;
  abs_delta: number | null;
  rel_delta: number | null;
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
  context: { baseline: DiffContext; candidate: DiffContext; warnings: string[] };
  metrics: MetricDelta[];
  regressions: number;
  improvements: number;
}

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

const ORDER: Record<Verdict, number> = { regression: 0, improvement: 1, changed: 2, missing: 3, no_change: 4 };

export function diffEnvelopes(baseline: Record<string, unknown>, candidate: Record<string, unknown>, tolerance = 0.02): DiffReport {
  if (!(tolerance >= 0)) throw new RangeError(`--tolerance must be >= 0, got ${tolerance}`);
  const b = numericMetrics(baseline);
  const c = numericMetrics(candidate);
  const names = [...new Set([...b.keys(), ...c.keys()])];
  const metrics: MetricDelta[] = names.map((metric) => {
    const bv = b.has(metric) ? b.get(metric)! : null;
    const cv = c.has(metric) ? c.get(metric)! : null;
    const direction = metricDirection(metric);
    if (bv === null || cv === null) {
      return { metric, direction, baseline: bv, candidate: cv, abs_delta: null, rel_delta: null, verdict: bv === null && cv === null ? "no_change" : "missing" };
    }
    const abs = cv - bv;
    const rel = bv !== 0 ? abs / Math.abs(bv) : abs === 0 ? 0 : null;
    let verdict: Verdict;
    // No baseline magnitude to be relative to (0 -> x): any change counts as beyond tolerance.
    const beyond = rel === null ? abs !== 0 : Math.abs(rel) > tolerance;
    if (!beyond) verdict = "no_change";
    else if (direction === "unknown") verdict = "changed";
    else verdict = (direction === "lower_is_better") === abs < 0 ? "improvement" : "regression";
    return { metric, direction, baseline: bv, candidate: cv, abs_delta: abs, rel_delta: rel, verdict };
  });
  metrics.sort((x, y) => ORDER[x.verdict] - ORDER[y.verdict] || Math.abs(y.rel_delta ?? 0) - Math.abs(x.rel_delta ?? 0) || x.metric.localeCompare(y.metric));
  const bc = diffContext(baseline);
  const cc = diffContext(candidate);
  const labels: Record<keyof DiffContext, string> = { suite: "suite", model: "model", engine: "engine version", quantization: "quantization", hardware: "hardware fingerprint" };
  const warnings = (Object.keys(labels) as (keyof DiffContext)[])
    .filter((k) => bc[k] !== cc[k])
    .map((k) => `${labels[k]} differs: ${bc[k]} vs ${cc[k]} (deltas may reflect the setup, not a change)`);
  return {
    tolerance,
    context: { baseline: bc, candidate: cc, warnings },
    metrics,
    regressions: metrics.filter((m) => m.verdict === "regression").length,
    improvements: metrics.filter((m) => m.verdict === "improvement").length,
  };
}

const fmt = (v: number | null) => (v === null ? "n/a" : Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(2) : v.toFixed(3));

export function formatDiff(r: DiffReport): string {
  const rows = [["metric", "baseline", "candidate", "abs delta", "rel delta", "verdict"]];
  for (const m of r.metrics) {
    rows.push([m.metric, fmt(m.baseline), fmt(m.candidate), fmt(m.abs_delta), m.rel_delta === null ? "n/a" : `${(m.rel_delta * 100).toFixed(1)}%`, m.verdict]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((x) => x[c]!.length)));
  const lines = rows.map((x) => x.map((cell, c) => (c === 0 || c === 5 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const head = r.context.warnings.map((w) => `context warning: ${w}`);
  return [...head, ...(head.length ? [""] : []), lines.join("\n"), "", `${r.regressions} regression(s), ${r.improvements} improvement(s), tolerance ${(r.tolerance * 100).toFixed(1)}%`].join("\n");
}
