/**
 * CSV export of traces, metrics and sweeps (RFC 4180: comma-separated, CRLF, fields with a comma,
 * quote or line break quoted). Error messages come from servers: a field that a spreadsheet would
 * run as a formula (= + - @ at the start, or a tab or CR) gets a leading apostrophe.
 */
import type { TraceLine } from "../../protocol/envelope/traces.ts";

function field(v: unknown): string {
  if (v === null || v === undefined) return "";
  let s = typeof v === "number" ? (Number.isFinite(v) ? String(v) : "") : String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csv(rows: unknown[][]): string {
  return rows.map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

export function tracesCsv(traces: readonly TraceLine[]): string {
  const head = ["seq", "launch", "prompt_index", "ok", "status", "error", "scheduled_ms", "queue_ms", "ttft_ms", "e2e_ms", "tpot_ms", "itl_mean_ms", "itl_count", "output_tokens", "prompt_tokens", "max_tokens", "token_source", "slo_met", "record_id", "leaf_hash", "batch_id", "leaf_index"];
  return csv([
    head,
    ...traces.map((t) => [
      t.seq, t.launch, t.prompt_index, t.ok, t.status, t.error, t.scheduled_ms, t.queue_ms, t.ttft_ms, t.e2e_ms, t.tpot_ms, mean(t.itl_ms), t.itl_ms.length,
      t.output_tokens, t.prompt_tokens, t.max_tokens || null, t.token_source, t.slo_met, t.proof?.record_id, t.proof?.leaf_hash, t.proof?.batch_id, t.proof?.leaf_index,
    ]),
  ]);
}

export function metricsCsv(env: Record<string, unknown>): string {
  const metrics = (env.metrics ?? {}) as Record<string, unknown>;
  const cis = (env.confidence_intervals ?? {}) as Record<string, [number, number] | undefined>;
  return csv([["metric", "value", "ci95_low", "ci95_high"], ...Object.entries(metrics).map(([k, v]) => [k, v, cis[k]?.[0], cis[k]?.[1]])]);
}

export function sweepCsv(envelopes: readonly { metrics: Record<string, number | null>; driver_options: { mode: string; rate: number | null; concurrency: number }; signature?: { content_hash: string } }[]): string {
  const names = [...new Set(envelopes.flatMap((e) => Object.keys(e.metrics)))].sort();
  return csv([
    ["point", "mode", "rate", "concurrency", "content_hash", ...names],
    ...envelopes.map((e, i) => [i, e.driver_options.mode, e.driver_options.rate, e.driver_options.concurrency, e.signature?.content_hash, ...names.map((n) => e.metrics[n])]),
  ]);
}
