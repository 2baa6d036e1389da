/** Human-readable summary of an envelope: context lines and a metric table with 95% CIs. */
import type { VbEnvelope } from "../protocol/envelope/schema.ts";

export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) return "n/a";
  if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential(2);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(2);
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return lines.join("\n");
}

export function summaryTable(e: VbEnvelope): string {
  const head = [
    `suite ${e.suite.id}@${e.suite.version}   model ${e.model.id}@${e.model.revision}   engine ${e.engine.name} ${e.engine.version}   quant ${e.quantization ?? "none"}`,
    `dataset ${e.dataset.id} (sha256 ${e.dataset.sha256.slice(0, 12)}...)   seed ${e.seed}   ${e.driver_options.mode}-loop, concurrency ${e.driver_options.concurrency}${e.driver_options.rate !== null ? `, rate ${e.driver_options.rate}/s` : ""}, ${e.driver_options.launches} launch(es)`,
    `measured ${e.phases.measured.requests} requests in ${e.phases.measured.duration_s.toFixed(2)} s; convergence ${e.phases.convergence.converged ? "reached" : "NOT reached"}; tokens from ${e.token_count_source}`,
  ];
  const rows = [["metric", "value", "95% CI"]];
  for (const [k, v] of Object.entries(e.metrics)) {
    const ci = e.confidence_intervals[k];
    rows.push([k, formatNumber(v), ci ? `[${formatNumber(ci[0])}, ${formatNumber(ci[1])}]` : ""]);
  }
  const warn = e.warnings.map((w) => `warning: ${w}`);
  return [...head, "", table(rows), ...(warn.length ? ["", ...warn] : []), "", `content hash ${e.signature?.content_hash ?? "(unsigned)"}`].join("\n");
}
