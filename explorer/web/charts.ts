/**
 * The verification statistics of a batch, plotted against the profile's thresholds: one chart
 * per statistic (exponent mismatches, mantissa error mean and median), one point per chunk of
 * every recomputed leaf, green within the profile and red outside it, the threshold a dashed line.
 */
import uPlot from "uplot";
import type { Stats } from "./api.ts";
import { h } from "./dom.ts";

/** 2^64: the reference's "no exponent matched" value; drawn at the top of the chart instead. */
const NO_MATCH = 2 ** 64;

interface Metric {
  key: "expMismatches" | "mantErrMean" | "mantErrMedian";
  title: string;
  limit: number;
}

export function statsCharts(stats: Stats): HTMLElement {
  const metrics: Metric[] = [
    { key: "expMismatches", title: "exponent mismatches", limit: stats.profile.expMismatchesMax },
    { key: "mantErrMean", title: "mantissa error, mean", limit: stats.profile.mantErrMeanMax },
    { key: "mantErrMedian", title: "mantissa error, median", limit: stats.profile.mantErrMedianMax },
  ];
  const chunks = stats.leaves.flatMap((leaf) => leaf.chunks.map((c, j) => ({ leaf: leaf.index, chunk: j, ...c })));
  const wrap = h("div", { class: "charts" });
  if (chunks.length === 0) return wrap;
  const xs = chunks.map((_, i) => i + 1);
  for (const metric of metrics) {
    const finite = chunks.map((c) => c[metric.key]).filter((v) => v < NO_MATCH);
    const top = Math.max(metric.limit * 1.6, ...finite.map((v) => v * 1.1), 1);
    const value = (c: (typeof chunks)[number]) => (c[metric.key] >= NO_MATCH ? top : c[metric.key]);
    const within = chunks.map((c) => (c[metric.key] <= metric.limit ? value(c) : null));
    const outside = chunks.map((c) => (c[metric.key] > metric.limit ? value(c) : null));
    const box = h("figure", { class: "chart", "data-metric": metric.key }, h("figcaption", {}, `${metric.title} (threshold ${metric.limit})`));
    wrap.append(box);
    new uPlot(
      {
        width: 360,
        height: 200,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: false }, y: { range: [0, top] } },
        axes: [{ label: "chunk (leaf by leaf)" }, {}],
        series: [
          {},
          { label: "within", stroke: "#1a7f37", width: 0, points: { show: true, size: 7, fill: "#1a7f37" } },
          { label: "outside", stroke: "#cf222e", width: 0, points: { show: true, size: 7, fill: "#cf222e" } },
          { label: "threshold", stroke: "#cf222e", width: 1.5, dash: [6, 4], points: { show: false } },
        ],
      },
      [xs, within, outside, xs.map(() => metric.limit)],
      box,
    );
  }
  return wrap;
}
