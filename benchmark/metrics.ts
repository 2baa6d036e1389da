/**
 * From traces to metrics. Per request: TTFT (request on the wire to the first non-empty content),
 * e2e latency (on the wire to the end of the stream), TPOT ((e2e - TTFT) / (output tokens - 1)),
 * inter-token latencies (gaps between content chunks), client queueing (scheduled to on the
 * wire). Aggregated: p50/p90/p99 and mean with seeded 95% bootstrap CIs, throughput over the
 * measured wall time, ok_rate, and goodput (requests/s that met every SLO).
 */
import type { MetricValue } from "../protocol/envelope/schema.ts";
import type { TraceLine } from "../protocol/envelope/traces.ts";
import type { Trace } from "./loadgen.ts";
import { deriveSeed } from "./rng.ts";
import { bootstrapPercentileCI, mean, percentileSorted, sortedCopy } from "./stats.ts";

export interface Slo {
  ttft_ms: number | null;
  tpot_ms: number | null;
  e2e_ms: number | null;
}

/** One measured request as traces.jsonl holds it (the vb.traces/2 line). */
export type RequestMetrics = TraceLine;

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function perRequest(t: Trace, slo: Slo, launch = 0, phaseStart = t.scheduledAt): RequestMetrics {
  const ttft = t.firstTokenAt === null ? null : t.firstTokenAt - t.sentAt;
  const e2e = t.endAt - t.sentAt;
  const tpot = ttft !== null && t.outputTokens > 1 ? (e2e - ttft) / (t.outputTokens - 1) : null;
  const itl: number[] = [];
  for (let i = 1; i < t.chunkTimes.length; i++) itl.push(round3(t.chunkTimes[i]! - t.chunkTimes[i - 1]!));
  const sloMet =
    t.ok &&
    ttft !== null &&
    (slo.ttft_ms === null || ttft <= slo.ttft_ms) &&
    (slo.tpot_ms === null || tpot === null || tpot <= slo.tpot_ms) &&
    (slo.e2e_ms === null || e2e <= slo.e2e_ms);
  return {
    seq: t.seq,
    launch,
    prompt_index: t.promptIndex,
    ok: t.ok,
    status: t.status,
    error: t.error,
    scheduled_ms: round3(t.scheduledAt - phaseStart),
    queue_ms: round3(t.sentAt - t.scheduledAt),
    ttft_ms: ttft === null ? null : round3(ttft),
    e2e_ms: round3(e2e),
    tpot_ms: tpot === null ? null : round3(tpot),
    itl_ms: itl,
    output_tokens: t.outputTokens,
    prompt_tokens: t.promptTokens,
    token_source: t.tokenSource,
    slo_met: sloMet,
    max_tokens: t.maxTokens,
    proof: t.proofRecordId === null ? null : { record_id: t.proofRecordId, leaf_hash: t.leafHash, batch_id: null, leaf_index: null },
  };
}

export interface Aggregate {
  metrics: Record<string, MetricValue>;
  confidenceIntervals: Record<string, [number, number]>;
  tokenCountSource: "server_usage" | "stream_chunks" | "mixed" | "none";
}

export interface AggregateOptions {
  durationS: number;
  bootstrapSeed: number;
  resamples: number;
  level?: number;
}

const finiteOrNull = (x: number): MetricValue => (Number.isFinite(x) ? x : null);

export function aggregate(requests: readonly RequestMetrics[], opts: AggregateOptions): Aggregate {
  const metrics: Record<string, MetricValue> = {};
  const cis: Record<string, [number, number]> = {};
  const ok = requests.filter((r) => r.ok);
  const series: Record<string, number[]> = {
    ttft: ok.flatMap((r) => (r.ttft_ms === null ? [] : [r.ttft_ms])),
    tpot: ok.flatMap((r) => (r.tpot_ms === null ? [] : [r.tpot_ms])),
    itl: ok.flatMap((r) => r.itl_ms),
    e2e: ok.map((r) => r.e2e_ms),
    queue: requests.map((r) => r.queue_ms),
  };
  for (const [name, values] of Object.entries(series)) {
    const sorted = sortedCopy(values);
    metrics[`${name}_mean_ms`] = finiteOrNull(mean(sorted));
    for (const [label, q] of [["p50", 0.5], ["p90", 0.9], ["p99", 0.99]] as const) {
      const key = `${name}_${label}_ms`;
      metrics[key] = finiteOrNull(percentileSorted(sorted, q));
      const ci = bootstrapPercentileCI(sorted, q, { resamples: opts.resamples, seed: deriveSeed(opts.bootstrapSeed, key), level: opts.level ?? 0.95 });
      if (ci) cis[key] = ci;
    }
  }
  const outputTokens = ok.reduce((s, r) => s + r.output_tokens, 0);
  const d = opts.durationS;
  metrics.output_tok_per_s = d > 0 ? outputTokens / d : null;
  metrics.req_per_s = d > 0 ? ok.length / d : null;
  metrics.goodput_req_per_s = d > 0 ? requests.filter((r) => r.slo_met).length / d : null;
  metrics.ok_rate = requests.length ? ok.length / requests.length : null;
  metrics.slo_attainment = requests.length ? requests.filter((r) => r.slo_met).length / requests.length : null;
  metrics.output_tokens_mean = ok.length ? outputTokens / ok.length : null;
  const prompts = ok.flatMap((r) => (r.prompt_tokens === null ? [] : [r.prompt_tokens]));
  metrics.prompt_tokens_mean = prompts.length ? prompts.reduce((a, b) => a + b, 0) / prompts.length : null;

  const sources = new Set(ok.map((r) => r.token_source));
  const tokenCountSource = sources.size === 0 ? "none" : sources.size > 1 ? "mixed" : (([...sources][0] as "server_usage" | "stream_chunks"));
  return { metrics, confidenceIntervals: cis, tokenCountSource };
}
