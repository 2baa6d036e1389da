/**
 * The verification statistics of a batch, plotted against the profile's thresholds: one chart
 * per request statistic (garbage share, squared error, largest token margin, mean token margin),
 * one point per recomputed leaf, green within the profile and red outside it, and each leaf's
 * threshold (it depends on the request's size) as a dashed line.
 */
import uPlot from "uplot";
import type { Stats } from "./api.ts";
import { h } from "./dom.ts";

const METRICS: { key: string; title: string }[] = [
  { key: "garbage_rate", title: "top-k positions that do not match" },
  { key: "sq_error", title: "squared error, bf16 ulps²" },
  { key: "token_max_margin", title: "largest token margin, logits" },
  { key: "token_divergence", title: "mean token margin, logits" },
];

export function statsCharts(stats: Stats): HTMLElement {
  const wrap = h("div", { class: "charts" });
  const leaves = stats.leaves.filter((l) => l.statistics.length > 0);
  if (leaves.length === 0) return wrap;
  const xs = leaves.map((l) => l.index);
  for (const metric of METRICS) {
    const points = leaves.map((l) => l.statistics.find((s) => s.name === metric.key));
    if (points.every((p) => p === undefined)) continue;
    const thresholds = points.map((p) => p?.threshold ?? null);
    const finite = points.flatMap((p) => (p && p.value !== null ? [p.value] : []));
    const top = Math.max(...thresholds.map((t) => (t ?? 0) * 1.6), ...finite.map((v) => v * 1.1), 1e-6);
    // A value with no finite form (nothing matched at all) is drawn at the top.
    const value = (p: (typeof points)[number]) => (p ? (p.value === null ? top : Math.min(p.value, top)) : null);
    const within = points.map((p) => (p?.passed ? value(p) : null));
    const outside = points.map((p) => (p && !p.passed ? value(p) : null));
    const shown = thresholds.filter((t): t is number => t !== null);
    const caption = shown.length ? `${metric.title} (threshold ${Math.min(...shown).toPrecision(3)}${Math.max(...shown) !== Math.min(...shown) ? ` to ${Math.max(...shown).toPrecision(3)}` : ""})` : metric.title;
    const box = h("figure", { class: "chart", "data-metric": metric.key }, h("figcaption", {}, caption));
    wrap.append(box);
    new uPlot(
      {
        width: 360,
        height: 200,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: false }, y: { range: [0, top] } },
        axes: [{ label: "leaf" }, {}],
        series: [
          {},
          { label: "within", stroke: "#1a7f37", width: 0, points: { show: true, size: 7, fill: "#1a7f37" } },
          { label: "outside", stroke: "#cf222e", width: 0, points: { show: true, size: 7, fill: "#cf222e" } },
          { label: "threshold", stroke: "#cf222e", width: 1.5, dash: [6, 4], points: { show: false } },
        ],
      },
      [xs, within, outside, thresholds],
      box,
    );
  }
  return wrap;
}
