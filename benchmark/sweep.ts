/**
 * Rate sweeps: `--rate 1,2,4,8` runs one open-loop point per rate; `--sweep N` first measures a
 * synchronous point (one request at a time) and a throughput point (closed loop at
 * --concurrency), then N open-loop rates evenly between their request rates, as GuideLLM's sweep
 * does. Every point is a full run with its own signed envelope, under OUT/point-II-LABEL/; the
 * probe runs once. OUT/sweep.json indexes the points (folder, content hash, key metrics),
 * OUT/sweep.csv holds the same as a table, and OUT/report.html draws the throughput-vs-latency
 * curve with every point's distributions.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SigningKeys } from "../protocol/envelope/verify.ts";
import { RunConfigError, RunFailedError } from "./errors.ts";
import { probeEndpoint } from "./probe.ts";
import { sweepReportHtml } from "./report/index.ts";
import { sweepCsv } from "./report/csv.ts";
import { loadDataset } from "./dataset.ts";
import { prepareOutputDir, runBenchmark, type RunOptions, type RunOutput } from "./run.ts";
import { formatNumber, table } from "./summary.ts";

export type SweepPlan = { kind: "rate"; rates: number[] } | { kind: "sweep"; points: number };

export interface SweepPointIndex {
  index: number;
  label: string;
  mode: "closed" | "open";
  concurrency: number;
  rate: number | null;
  dir: string;
  content_hash: string;
  metrics: Record<string, number | null>;
}

export interface SweepIndex {
  sweep_id: string;
  kind: "rate" | "sweep";
  points: SweepPointIndex[];
}

export interface SweepOutput {
  index: SweepIndex;
  points: RunOutput[];
  table: string;
}

const KEY_METRICS = ["req_per_s", "output_tok_per_s", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "e2e_p50_ms", "e2e_p99_ms", "ok_rate"];

const isPointDir = (name: string) => /^point-\d+/.test(name) || name === "sweep.json" || name === "sweep.csv";

export function sweepTable(index: SweepIndex): string {
  const rows = [["point", "mode", "rate", ...KEY_METRICS]];
  for (const p of index.points) rows.push([p.label, p.mode, p.rate === null ? `c=${p.concurrency}` : `${formatNumber(p.rate)}/s`, ...KEY_METRICS.map((k) => formatNumber(p.metrics[k]))]);
  return table(rows);
}

export async function runSweep(o: RunOptions, keys: SigningKeys, outDir: string, plan: SweepPlan): Promise<SweepOutput> {
  if (plan.kind === "rate") {
    if (plan.rates.length < 1 || plan.rates.some((r) => !(r > 0 && Number.isFinite(r)))) throw new RunConfigError(`--rate lists positive rates, got ${plan.rates.join(",")}`, "--rate");
  } else if (!Number.isInteger(plan.points) || plan.points < 1 || plan.points > 50) {
    throw new RunConfigError(`--sweep takes 1..50 points between synchronous and throughput, got ${plan.points}`, "--sweep");
  }
  prepareOutputDir(outDir, o.force === true, isPointDir);
  const probe = await probeEndpoint(
    { baseUrl: o.baseUrl, api: o.api, model: o.model, maxTokens: o.maxTokens, temperature: o.temperature, apiKey: o.apiKey, maxSockets: 1, timeoutMs: o.requestTimeoutMs },
    loadDataset(o.dataset === "synthetic" || o.inputTokens ? "synthetic" : o.dataset).prompts[0]!,
    Boolean(o.inputTokens) && !o.inputCalibration,
  );
  mkdirSync(outDir, { recursive: true });
  const id = randomUUID();
  const total = plan.kind === "rate" ? plan.rates.length : plan.points + 2;
  const points: RunOutput[] = [];
  const entries: SweepPointIndex[] = [];
  const base: RunOptions = { ...o, probe, inputCalibration: o.inputCalibration ?? probe.calibration ?? undefined, force: true };
  const runPoint = async (label: string, mode: "closed" | "open", concurrency: number, rate: number | null) => {
    const index = points.length;
    const dir = join(outDir, `point-${String(index).padStart(2, "0")}-${label}`);
    let out: RunOutput;
    try {
      out = await runBenchmark({ ...base, rate, concurrency, sweep: { id, index, points: total, kind: plan.kind } }, keys, dir);
    } catch (e) {
      if (e instanceof RunFailedError) {
        writeIndex(outDir, { sweep_id: id, kind: plan.kind, points: entries });
        throw new RunFailedError(`sweep point ${index} (${label}) failed; the ${entries.length} points before it are in ${outDir}: ${e.message}`, e.field, e.phase);
      }
      throw e;
    }
    points.push(out);
    const metrics: Record<string, number | null> = {};
    for (const k of KEY_METRICS) metrics[k] = out.envelope.metrics[k] ?? null;
    entries.push({ index, label, mode, concurrency, rate, dir: dir.slice(outDir.length + 1), content_hash: out.envelope.signature!.content_hash, metrics });
    return out;
  };
  if (plan.kind === "rate") {
    for (const r of plan.rates) await runPoint(`rate-${r}`, "open", o.concurrency, r);
  } else {
    const sync = await runPoint("synchronous", "closed", 1, null);
    const max = await runPoint(`throughput-c${o.concurrency}`, "closed", o.concurrency, null);
    const lo = sync.envelope.metrics.req_per_s ?? 0;
    const hi = max.envelope.metrics.req_per_s ?? 0;
    if (!(hi > 0) || !(lo > 0)) throw new RunFailedError("the sweep's synchronous or throughput point measured no request rate", "--sweep", "sweep");
    const [from, to] = hi > lo ? [lo, hi] : [hi, lo];
    for (let i = 1; i <= plan.points; i++) {
      const r = Number((from + ((to - from) * i) / (plan.points + 1)).toPrecision(4));
      await runPoint(`rate-${r}`, "open", Math.max(o.concurrency, 256), r);
    }
  }
  const index: SweepIndex = { sweep_id: id, kind: plan.kind, points: entries };
  writeIndex(outDir, index);
  writeFileSync(join(outDir, "sweep.csv"), sweepCsv(points.map((p) => p.envelope)));
  writeFileSync(join(outDir, "report.html"), sweepReportHtml(points.map((p, i) => ({ label: entries[i]!.label, path: entries[i]!.dir, envelope: p.envelope as unknown as Record<string, unknown>, traces: p.requests }))));
  return { index, points, table: sweepTable(index) };
}

function writeIndex(outDir: string, index: SweepIndex): void {
  writeFileSync(join(outDir, "sweep.json"), JSON.stringify(index, null, 2) + "\n");
}
