/**
 * What a report draws, computed here and handed to the page as data: each chart is a title, an
 * x axis and named series, so the page's script only draws (uPlot) and holds no statistics.
 */
import type { TraceLine } from "../../protocol/envelope/traces.ts";

export interface ChartSpec {
  id: string;
  title: string;
  /** hist: bars (one series) or steps (several) over bin starts; line: lines with points. */
  kind: "hist" | "line";
  xLabel: string;
  yLabel: string;
  x: number[];
  series: { label: string; values: (number | null)[] }[];
}

export interface NamedTraces {
  label: string;
  traces: readonly TraceLine[];
}

function values(traces: readonly TraceLine[], metric: "ttft" | "itl" | "e2e"): number[] {
  const ok = traces.filter((t) => t.ok);
  if (metric === "itl") return ok.flatMap((t) => t.itl_ms);
  return ok.flatMap((t) => (metric === "ttft" ? (t.ttft_ms === null ? [] : [t.ttft_ms]) : [t.e2e_ms]));
}

/** Histograms of one latency over every run, on shared bins (the 0.5th to 99.5th percentile, 40 bins). */
export function latencyHistogram(id: string, title: string, metric: "ttft" | "itl" | "e2e", runs: readonly NamedTraces[]): ChartSpec | null {
  const all = runs.map((r) => values(r.traces, metric));
  const pooled = all.flat().sort((a, b) => a - b);
  if (pooled.length === 0) return null;
  const lo = pooled[Math.floor(pooled.length * 0.005)]!;
  const hi = pooled[Math.min(pooled.length - 1, Math.ceil(pooled.length * 0.995) - 1)]!;
  const bins = 40;
  const width = hi > lo ? (hi - lo) / bins : 1;
  const x = Array.from({ length: bins }, (_, i) => lo + i * width);
  const series = runs.map((r, k) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of all[k]!) counts[Math.max(0, Math.min(bins - 1, Math.floor((v - lo) / width)))]!++;
    // Shares, so runs of different sizes compare.
    const n = all[k]!.length || 1;
    return { label: r.label, values: counts.map((c) => c / n) };
  });
  return { id, title, kind: "hist", xLabel: `${metric.toUpperCase()} (ms)`, yLabel: "share of samples", x, series };
}

/** Output tokens per second over the measured phase, by request end time, in about 40 buckets. */
export function throughputOverTime(id: string, runs: readonly NamedTraces[]): ChartSpec | null {
  const ends = runs.map((r) => r.traces.map((t) => ({ end: t.scheduled_ms + t.queue_ms + t.e2e_ms, tokens: t.ok ? t.output_tokens : 0, launch: t.launch })));
  const span = Math.max(0, ...ends.flat().map((e) => e.end));
  if (!(span > 0)) return null;
  const buckets = 40;
  const width = span / buckets;
  const x = Array.from({ length: buckets }, (_, i) => ((i + 0.5) * width) / 1000);
  const series = runs.map((r, k) => {
    const sums = new Array<number>(buckets).fill(0);
    for (const e of ends[k]!) sums[Math.min(buckets - 1, Math.floor(e.end / width))]! += e.tokens;
    return { label: r.label, values: sums.map((s) => (s / width) * 1000) };
  });
  return { id, title: "Throughput over time (output tokens/s, by request end)", kind: "line", xLabel: "seconds into the measured phase", yLabel: "output tokens/s", x, series };
}

/** The sweep's curve: latency percentiles against the request rate each point achieved. */
export function sweepCurve(id: string, points: readonly { label: string; metrics: Record<string, number | null | undefined> }[]): ChartSpec | null {
  const sorted = points.filter((p) => typeof p.metrics.req_per_s === "number").slice().sort((a, b) => a.metrics.req_per_s! - b.metrics.req_per_s!);
  if (sorted.length === 0) return null;
  const pick = (k: string) => sorted.map((p) => (typeof p.metrics[k] === "number" ? (p.metrics[k] as number) : null));
  return {
    id,
    title: "Latency against achieved throughput (one point per sweep run)",
    kind: "line",
    xLabel: "achieved requests/s",
    yLabel: "latency (ms)",
    x: sorted.map((p) => p.metrics.req_per_s!),
    series: [
      { label: "TTFT p50", values: pick("ttft_p50_ms") },
      { label: "TTFT p99", values: pick("ttft_p99_ms") },
      { label: "e2e p50", values: pick("e2e_p50_ms") },
      { label: "e2e p99", values: pick("e2e_p99_ms") },
    ],
  };
}

/** The sweep's throughput: output tokens/s against achieved requests/s. */
export function sweepThroughput(id: string, points: readonly { label: string; metrics: Record<string, number | null | undefined> }[]): ChartSpec | null {
  const sorted = points.filter((p) => typeof p.metrics.req_per_s === "number").slice().sort((a, b) => a.metrics.req_per_s! - b.metrics.req_per_s!);
  if (sorted.length === 0) return null;
  return {
    id, title: "Output tokens/s against achieved requests/s", kind: "line", xLabel: "achieved requests/s", yLabel: "output tokens/s",
    x: sorted.map((p) => p.metrics.req_per_s!),
    series: [{ label: "output tok/s", values: sorted.map((p) => (typeof p.metrics.output_tok_per_s === "number" ? p.metrics.output_tok_per_s : null)) }],
  };
}
