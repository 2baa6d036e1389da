/**
 * `vb report` and `vb diff --html`: one self-contained HTML file per report.
 *
 *   run    an envelope: context, metrics with 95% CIs, TTFT / ITL / e2e histograms, throughput over time
 *   sweep  a folder of envelopes (a sweep, or any runs): the throughput-vs-latency curve, a table
 *          of the points, and every point's distributions overlaid
 *   diff   two envelopes: the verdict table with intervals and the test, and both runs'
 *          distributions overlaid
 *
 * A report reads envelopes and traces as they are; it does not verify signatures (vb verify does).
 */
import type { DiffReport } from "../diff.ts";
import type { TraceLine } from "../../protocol/envelope/traces.ts";
import { latencyHistogram, sweepCurve, sweepThroughput, throughputOverTime, type NamedTraces } from "./charts.ts";
import { escapeHtml, htmlTable, page, type PageSection } from "./page.ts";

export interface ReportRun {
  label: string;
  path: string;
  envelope: Record<string, unknown>;
  traces: readonly TraceLine[] | null;
}

const fmt = (v: unknown): string => {
  if (typeof v !== "number" || !Number.isFinite(v)) return v === null || v === undefined ? "n/a" : String(v);
  if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential(2);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(2);
};
const ci = (c: unknown) => (Array.isArray(c) && c.length === 2 ? `[${fmt(c[0])}, ${fmt(c[1])}]` : "");

function get(o: unknown, ...path: string[]): unknown {
  let x = o;
  for (const k of path) x = x && typeof x === "object" ? (x as Record<string, unknown>)[k] : undefined;
  return x;
}

function context(env: Record<string, unknown>): string {
  if (env.envelope_version === "v1") return `InferenceBench v1: suite ${String(env.suite_id)}, model ${String(get(env, "model", "id"))}`;
  const d = (env.driver_options ?? {}) as Record<string, unknown>;
  return [
    `${String(env.envelope_version)} · suite ${String(get(env, "suite", "id"))}@${String(get(env, "suite", "version"))}`,
    `model ${String(get(env, "model", "id"))} · engine ${String(get(env, "engine", "name"))} ${String(get(env, "engine", "version"))}`,
    `${String(d.mode)}-loop, concurrency ${String(d.concurrency)}${d.rate !== null && d.rate !== undefined ? `, rate ${String(d.rate)}/s` : ""}`,
    `${String(get(env, "phases", "measured", "requests"))} requests in ${fmt(get(env, "phases", "measured", "duration_s"))} s`,
    `content hash ${String(get(env, "signature", "content_hash") ?? "(unsigned)")}`,
  ].join(" · ");
}

function metricsTable(env: Record<string, unknown>): string {
  const metrics = (env.metrics ?? {}) as Record<string, unknown>;
  const cis = (env.confidence_intervals ?? {}) as Record<string, unknown>;
  return htmlTable([["metric", "value", "95% CI"], ...Object.entries(metrics).map(([k, v]) => [k, fmt(v), ci(cis[k])])]);
}

function warnings(env: Record<string, unknown>): string {
  const w = Array.isArray(env.warnings) ? (env.warnings as unknown[]) : [];
  return w.length ? `<ul>${w.map((x) => `<li class="warn">${escapeHtml(x)}</li>`).join("")}</ul>` : "<p>none</p>";
}

function distributionCharts(prefix: string, runs: NamedTraces[]) {
  return [
    latencyHistogram(`${prefix}ttft`, "TTFT distribution", "ttft", runs),
    latencyHistogram(`${prefix}itl`, "Inter-token latency distribution", "itl", runs),
    latencyHistogram(`${prefix}e2e`, "End-to-end latency distribution", "e2e", runs),
    throughputOverTime(`${prefix}throughput`, runs),
  ];
}

const traced = (runs: ReportRun[]): NamedTraces[] => runs.filter((r) => r.traces !== null).map((r) => ({ label: r.label, traces: r.traces! }));

export function runReportHtml(run: ReportRun): string {
  const sections: PageSection[] = [
    { title: "Run", html: `<p>${escapeHtml(context(run.envelope))}</p><p class="meta">${escapeHtml(run.path)}</p>` },
    { title: "Metrics", html: metricsTable(run.envelope) },
    { title: "Warnings", html: warnings(run.envelope) },
  ];
  if (!run.traces) sections.push({ title: "Traces", html: "<p class=\"warn\">no traces next to the envelope: distributions are not drawn</p>" });
  return page(`Benchmark report: ${String(get(run.envelope, "suite", "id") ?? get(run.envelope, "suite_id"))}`, "vb report · not a verification: run vb verify to check signatures", sections, distributionCharts("", traced([run])));
}

export function sweepReportHtml(points: ReportRun[]): string {
  const rows = [["point", "mode", "rate", "req/s", "output tok/s", "TTFT p50", "TTFT p99", "e2e p50", "e2e p99", "ok rate"]];
  for (const p of points) {
    const m = (p.envelope.metrics ?? {}) as Record<string, unknown>;
    const d = (p.envelope.driver_options ?? {}) as Record<string, unknown>;
    rows.push([p.label, String(d.mode), d.rate === null || d.rate === undefined ? `c=${String(d.concurrency)}` : `${String(d.rate)}/s`, fmt(m.req_per_s), fmt(m.output_tok_per_s), fmt(m.ttft_p50_ms), fmt(m.ttft_p99_ms), fmt(m.e2e_p50_ms), fmt(m.e2e_p99_ms), fmt(m.ok_rate)]);
  }
  const curvePoints = points.map((p) => ({ label: p.label, metrics: (p.envelope.metrics ?? {}) as Record<string, number | null> }));
  const sections: PageSection[] = [
    { title: "Points", html: htmlTable(rows) + `<p class="meta">${escapeHtml(points.map((p) => `${p.label}: ${p.path}`).join(" · "))}</p>` },
  ];
  return page(`Sweep report: ${points.length} points`, "vb report · one signed envelope per point", sections, [
    sweepCurve("sweep-latency", curvePoints),
    sweepThroughput("sweep-throughput", curvePoints),
    ...distributionCharts("points-", traced(points)),
  ]);
}

export function diffReportHtml(d: { report: DiffReport; baseline: Omit<ReportRun, "label">; candidate: Omit<ReportRun, "label"> }): string {
  const r = d.report;
  const pct = (x: number | null) => (x === null ? "n/a" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`);
  const rows = [["metric", "baseline", "95% CI", "candidate", "95% CI", "rel delta", "delta 95% CI", "test", "p (Holm)", "verdict"]];
  for (const m of r.metrics) {
    rows.push([
      m.metric, fmt(m.baseline), ci(m.baseline_ci), fmt(m.candidate), ci(m.candidate_ci), pct(m.rel_delta),
      m.rel_ci ? `[${pct(m.rel_ci[0])}, ${pct(m.rel_ci[1])}]` : m.test === "intervals" ? (m.real ? "CIs apart" : "CIs overlap") : "",
      m.test, m.p_adjusted === null ? "" : m.p_adjusted < 0.001 ? "<0.001" : m.p_adjusted.toFixed(3), m.verdict,
    ]);
  }
  const runs: ReportRun[] = [{ ...d.baseline, label: "baseline" }, { ...d.candidate, label: "candidate" }];
  const sections: PageSection[] = [
    {
      title: "Verdict",
      html: `<p><strong>${r.regressions} regression(s)</strong>, ${r.improvements} improvement(s), ${r.noise} beyond tolerance but within noise. Tolerance ${escapeHtml((r.tolerance * 100).toFixed(1))}%, min delta ${escapeHtml(r.min_delta_ms)} ms, test: ${escapeHtml(r.test)}, family-wise alpha ${escapeHtml(r.alpha)}.</p>` +
        (r.context.warnings.length ? `<ul>${r.context.warnings.map((w) => `<li class="warn">${escapeHtml(w)}</li>`).join("")}</ul>` : ""),
    },
    { title: "Metrics", html: htmlTable(rows, r.metrics.map((m) => m.verdict)) },
    { title: "Runs", html: `<p>baseline: ${escapeHtml(context(d.baseline.envelope))}<br><span class="meta">${escapeHtml(d.baseline.path)}</span></p><p>candidate: ${escapeHtml(context(d.candidate.envelope))}<br><span class="meta">${escapeHtml(d.candidate.path)}</span></p>` },
  ];
  return page("Benchmark diff", "vb diff --html · not a verification: run vb verify to check signatures", sections, distributionCharts("", traced(runs)));
}
