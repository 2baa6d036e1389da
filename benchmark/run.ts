/**
 * One benchmark run, end to end: for each process launch a cold-start request (its own phase),
 * the discarded warm-up runs, the convergence gate, then the measured phase; then metrics over all
 * launches, the envelope (with fingerprint and provenance), per-request traces and a summary.
 *
 * Seeds: the master seed is recorded; launch i runs from launchSeed_i (launch 0: the master seed,
 * later ones derived from it), and inside a launch the dataset order, Poisson arrivals and the
 * warm-up prompts each come from their own seed derived from launchSeed_i. Bootstrap CIs use a
 * seed derived from the master seed. All of them are written into the envelope.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { canonicalJson, prettyJson } from "../protocol/envelope/canonical-json.ts";
import { sha256Hex } from "../protocol/envelope/content-hash.ts";
import { ENVELOPE_VERSION, type Commitment, type DriverOptions, type VbEnvelope } from "../protocol/envelope/schema.ts";
import { validateVbEnvelope } from "../protocol/envelope/validate.ts";
import { signEnvelope, type SigningKeys } from "../protocol/envelope/verify.ts";
import { loadDataset, samplePromptIndices, type Dataset } from "./dataset.ts";
import { startEnergyMeter } from "./energy.ts";
import { hardwareFingerprint } from "./hardware.ts";
import { StreamingClient, type Api } from "./http-client.ts";
import { closedLoop, convergenceGate, openLoop, type Job } from "./loadgen.ts";
import { aggregate, perRequest, type RequestMetrics, type Slo } from "./metrics.ts";
import { ProgressBar } from "./progress.ts";
import { softwareProvenance } from "./provenance.ts";
import { deriveSeed, poissonArrivals } from "./rng.ts";
import { summaryTable } from "./summary.ts";
import { FieldError } from "../protocol/errors.ts";

export class RunConfigError extends FieldError {
  override name = "RunConfigError";
}

export interface RunOptions {
  suite: string;
  suiteVersion: string;
  model: string;
  modelRevision: string;
  engine: string;
  engineVersion: string;
  quant: string | null;
  baseUrl: string;
  apiKey?: string;
  api: Api;
  concurrency: number;
  /** Requests per second for open loop; null = closed loop. */
  rate: number | null;
  numRequests: number;
  durationS: number | null;
  /** Closed loop: spread the workers' first requests over this many ms. */
  rampUpMs?: number;
  maxTokens: number;
  temperature: number;
  seed: number;
  /** "synthetic" or a ShareGPT-style JSON path. */
  dataset: string;
  /** When set, the dataset must hash to this (replay). */
  expectDatasetSha256?: string;
  warmupRuns: number;
  convergence: { window: number; cvThreshold: number; timeoutS: number };
  slo: Slo;
  launches: number;
  resamples: number;
  requestTimeoutMs: number;
  commitment?: Commitment;
  replayOf?: string;
  progress: boolean;
}

export function checkRunOptions(o: RunOptions): void {
  const positiveInt = (v: number, field: string) => {
    if (!Number.isInteger(v) || v < 1) throw new RunConfigError(`${field} must be a positive integer, got ${v}`, field);
  };
  positiveInt(o.concurrency, "--concurrency");
  positiveInt(o.numRequests, "--num-requests");
  positiveInt(o.maxTokens, "--max-tokens");
  positiveInt(o.launches, "--launches");
  positiveInt(o.resamples, "--resamples");
  positiveInt(o.convergence.window, "--convergence-window");
  if (o.convergence.window < 2) throw new RunConfigError("--convergence-window must be at least 2", "--convergence-window");
  if (!Number.isInteger(o.warmupRuns) || o.warmupRuns < 0) throw new RunConfigError(`--warmup-runs must be a non-negative integer, got ${o.warmupRuns}`, "--warmup-runs");
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) throw new RunConfigError(`--seed must be an integer in [0, 2^32), got ${o.seed}`, "--seed");
  if (o.rate !== null && !(o.rate > 0 && Number.isFinite(o.rate))) throw new RunConfigError(`--rate must be a positive number, got ${o.rate}`, "--rate");
  if (o.rampUpMs !== undefined && !(o.rampUpMs >= 0 && Number.isFinite(o.rampUpMs))) throw new RunConfigError(`--ramp-up must be >= 0 ms, got ${o.rampUpMs}`, "--ramp-up");
  if (o.durationS !== null && !(o.durationS > 0)) throw new RunConfigError(`--duration must be positive, got ${o.durationS}`, "--duration");
  if (!(o.convergence.cvThreshold > 0)) throw new RunConfigError(`--convergence-cv must be positive, got ${o.convergence.cvThreshold}`, "--convergence-cv");
  if (!(o.convergence.timeoutS >= 0)) throw new RunConfigError(`--convergence-timeout must be >= 0, got ${o.convergence.timeoutS}`, "--convergence-timeout");
  if (!(o.temperature >= 0)) throw new RunConfigError(`--temperature must be >= 0, got ${o.temperature}`, "--temperature");
  if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(o.suiteVersion)) throw new RunConfigError(`--suite-version must be semver, got "${o.suiteVersion}"`, "--suite-version");
  let url: URL;
  try {
    url = new URL(o.baseUrl);
  } catch {
    throw new RunConfigError(`--base-url is not a URL: "${o.baseUrl}"`, "--base-url");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RunConfigError(`--base-url must be http or https, got ${url.protocol}`, "--base-url");
}

export interface LaunchResult {
  index: number;
  seed: number;
  coldStart: { ttft_ms: number | null; e2e_ms: number | null; ok: boolean };
  warmupRequests: number;
  convergence: { converged: boolean; requests: number; cv: number | null; elapsedS: number };
  requests: RequestMetrics[];
  durationS: number;
  energy: { source: "rapl" | "nvidia-smi" | null; joules: number | null };
  warnings: string[];
}

export function launchSeed(master: number, index: number): number {
  return index === 0 ? master : deriveSeed(master, `launch:${index}`);
}

/** Runs one launch in this process. */
export async function runLaunch(o: RunOptions, index: number, dataset: Dataset): Promise<LaunchResult> {
  const seed = launchSeed(o.seed, index);
  const warnings: string[] = [];
  const client = new StreamingClient({
    baseUrl: o.baseUrl, api: o.api, model: o.model, maxTokens: o.maxTokens, temperature: o.temperature, apiKey: o.apiKey,
    maxSockets: o.concurrency, timeoutMs: o.requestTimeoutMs, extraBody: { seed },
  });
  try {
    const warmOrder = samplePromptIndices(dataset, dataset.prompts.length, deriveSeed(seed, "warmup"));
    const warmJob = (i: number): Job => {
      const p = warmOrder[i % warmOrder.length]!;
      return { promptIndex: p, prompt: dataset.prompts[p]! };
    };
    // Cold start: the first request of a fresh process and connection, in its own phase.
    const cold = await client.send(warmJob(0).prompt);
    const coldStart = {
      ttft_ms: cold.firstTokenAt === null ? null : cold.firstTokenAt - cold.scheduledAt,
      e2e_ms: cold.ok ? cold.endAt - cold.scheduledAt : null,
      ok: cold.ok,
    };
    if (!cold.ok) warnings.push(`launch ${index}: cold-start request failed: ${cold.error}`);

    // Warm-up: `warmupRuns` closed-loop rounds of `concurrency` requests, discarded.
    const warmJobs = Array.from({ length: o.warmupRuns * o.concurrency }, (_, i) => warmJob(i + 1));
    await closedLoop(client, warmJobs, o.concurrency);

    const convergence = await convergenceGate(client, (i) => warmJob(i + 1 + warmJobs.length), o.concurrency, o.convergence.window, o.convergence.cvThreshold, o.convergence.timeoutS * 1000);
    if (!convergence.converged) {
      warnings.push(
        `launch ${index}: TTFT did not converge (CV ${convergence.cv === null ? "n/a" : (convergence.cv * 100).toFixed(1) + "%"} over the last ${o.convergence.window} requests, threshold ${(o.convergence.cvThreshold * 100).toFixed(1)}%) within ${o.convergence.timeoutS} s; measuring anyway`,
      );
    }

    const order = samplePromptIndices(dataset, o.numRequests, deriveSeed(seed, "dataset"));
    const jobs = order.map((p) => ({ promptIndex: p, prompt: dataset.prompts[p]! }));
    const bar = new ProgressBar(`launch ${index + 1}/${o.launches}`, jobs.length);
    const meter = startEnergyMeter();
    const start = performance.now();
    const deadline = o.durationS === null ? undefined : start + o.durationS * 1000;
    const onDone = o.progress ? (_t: unknown, done: number) => bar.update(done) : undefined;
    const traces = o.rate === null
      ? await closedLoop(client, jobs, o.concurrency, { deadline, onDone, rampUpMs: o.rampUpMs })
      : await openLoop(client, jobs, poissonArrivals(jobs.length, o.rate, deriveSeed(seed, "arrivals")), { deadline, onDone, startAt: start });
    const durationS = (performance.now() - start) / 1000;
    const energy = await meter.stop();
    if (o.progress) bar.finish();
    if (energy.warning) warnings.push(energy.warning);
    return {
      index, seed, coldStart, warmupRequests: warmJobs.length,
      convergence,
      requests: traces.map((t) => perRequest(t, o.slo, index, start)),
      durationS,
      energy: { source: energy.source, joules: energy.joules },
      warnings,
    };
  } finally {
    client.close();
  }
}

const CLI_PATH = fileURLToPath(new URL("../cli/vb.ts", import.meta.url));

/** Runs launch `index` in a separate Node process (same loader flags), for independent launches. */
async function runLaunchInChild(o: RunOptions, index: number, dir: string): Promise<LaunchResult> {
  const specFile = join(dir, `launch-${index}.spec.json`);
  const outFile = join(dir, `launch-${index}.result.json`);
  writeFileSync(specFile, JSON.stringify(o));
  const child = spawn(process.execPath, [...process.execArgv, CLI_PATH, "_launch", specFile, String(index), outFile], { stdio: ["ignore", "inherit", "inherit"] });
  const code: number = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`launch ${index} (child process) exited with code ${code}`);
  return JSON.parse(readFileSync(outFile, "utf8")) as LaunchResult;
}

/** Entry of the `_launch` child: reads the spec, runs one launch, writes its result. */
export async function childLaunchMain(specFile: string, index: number, outFile: string): Promise<void> {
  const o = JSON.parse(readFileSync(specFile, "utf8")) as RunOptions;
  const result = await runLaunch({ ...o, progress: false }, index, loadDataset(o.dataset));
  writeFileSync(outFile, JSON.stringify(result));
}

export interface RunOutput {
  envelope: VbEnvelope;
  requests: RequestMetrics[];
  summary: string;
  dir: string;
}

export function driverOptions(o: RunOptions): DriverOptions {
  return {
    api: o.api,
    mode: o.rate === null ? "closed" : "open",
    concurrency: o.concurrency,
    rate: o.rate,
    num_requests: o.numRequests,
    duration_s: o.durationS,
    ramp_up_ms: o.rampUpMs ?? 0,
    max_tokens: o.maxTokens,
    temperature: o.temperature,
    warmup_runs: o.warmupRuns,
    convergence: { window: o.convergence.window, cv_threshold: o.convergence.cvThreshold, timeout_s: o.convergence.timeoutS },
    slo: o.slo,
    launches: o.launches,
    // The endpoint itself may be private; its hash still lets a reader tell two endpoints apart.
    endpoint_sha256: sha256Hex(o.baseUrl.replace(/\/+$/, "")),
  };
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs the whole benchmark, writes envelope.json, traces.jsonl and summary.txt into `outDir`. */
export async function runBenchmark(o: RunOptions, keys: SigningKeys, outDir: string): Promise<RunOutput> {
  checkRunOptions(o);
  const dataset = loadDataset(o.dataset);
  if (o.expectDatasetSha256 !== undefined && dataset.sha256 !== o.expectDatasetSha256) {
    throw new RunConfigError(`dataset ${dataset.id} hashes to ${dataset.sha256}, the envelope recorded ${o.expectDatasetSha256}`, "dataset.sha256");
  }
  mkdirSync(outDir, { recursive: true });
  const launches: LaunchResult[] = [];
  if (o.launches === 1) {
    launches.push(await runLaunch(o, 0, dataset));
  } else {
    const tmp = mkdtempSync(join(tmpdir(), "vb-launch-"));
    try {
      // Sequential, so launches do not compete for the endpoint or this machine.
      for (let i = 0; i < o.launches; i++) {
        if (o.progress && process.stdout.isTTY) process.stdout.write(`launch ${i + 1}/${o.launches} (separate process)\n`);
        launches.push(await runLaunchInChild(o, i, tmp));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  const requests = launches.flatMap((l) => l.requests);
  const durationS = launches.reduce((s, l) => s + l.durationS, 0);
  const bootstrapSeed = deriveSeed(o.seed, "bootstrap");
  const agg = aggregate(requests, { durationS, bootstrapSeed, resamples: o.resamples });
  const warnings = launches.flatMap((l) => l.warnings);
  const metrics = agg.metrics;

  const coldTtfts = launches.flatMap((l) => (l.coldStart.ttft_ms === null ? [] : [l.coldStart.ttft_ms]));
  metrics.cold_start_ms = median(coldTtfts);
  const energyKnown = launches.every((l) => l.energy.joules !== null);
  const joules = energyKnown ? launches.reduce((s, l) => s + l.energy.joules!, 0) : null;
  const outTokens = requests.filter((r) => r.ok).reduce((s, r) => s + r.output_tokens, 0);
  metrics.energy_joules = joules;
  metrics.joules_per_token = joules !== null && outTokens > 0 ? joules / outTokens : null;
  if (agg.tokenCountSource === "stream_chunks" || agg.tokenCountSource === "mixed") {
    warnings.push(`token counts come from ${agg.tokenCountSource} (the server did not report usage for every request); counts are content chunks, not tokenizer tokens`);
  }
  if (metrics.ok_rate !== null && metrics.ok_rate !== undefined && metrics.ok_rate < 1) {
    const firstError = requests.find((r) => !r.ok)?.error;
    warnings.push(`${requests.filter((r) => !r.ok).length} of ${requests.length} requests failed (first error: ${firstError})`);
  }
  for (const [k, v] of Object.entries(metrics)) if (v !== null && !Number.isFinite(v)) metrics[k] = null;

  const tracesText = requests.map((r) => JSON.stringify(r)).join("\n") + "\n";
  writeFileSync(join(outDir, "traces.jsonl"), tracesText);
  const first = launches[0]!;
  const envelope: VbEnvelope = {
    envelope_version: ENVELOPE_VERSION,
    run_id: randomUUID(),
    created_at: new Date().toISOString(),
    suite: { id: o.suite, version: o.suiteVersion },
    model: { id: o.model, revision: o.modelRevision },
    engine: { name: o.engine, version: o.engineVersion },
    quantization: o.quant,
    dataset: { id: dataset.id, sha256: dataset.sha256, num_prompts: dataset.prompts.length },
    seed: o.seed,
    seeds: {
      dataset: deriveSeed(first.seed, "dataset"),
      arrivals: deriveSeed(first.seed, "arrivals"),
      bootstrap: bootstrapSeed,
      launch: launches.map((l) => l.seed),
    },
    driver_options: driverOptions(o),
    hardware_fingerprint: hardwareFingerprint(),
    software_provenance: softwareProvenance(),
    metrics,
    confidence_intervals: agg.confidenceIntervals,
    phases: {
      cold_start: first.coldStart,
      warmup: { runs: o.warmupRuns, requests: launches.reduce((s, l) => s + l.warmupRequests, 0) },
      convergence: {
        converged: launches.every((l) => l.convergence.converged),
        requests: launches.reduce((s, l) => s + l.convergence.requests, 0),
        cv: first.convergence.cv,
        elapsed_s: launches.reduce((s, l) => s + l.convergence.elapsedS, 0),
      },
      measured: { requests: requests.length, duration_s: durationS },
    },
    token_count_source: agg.tokenCountSource,
    launches: launches.map((l) => {
      const a = aggregate(l.requests, { durationS: l.durationS, bootstrapSeed, resamples: 1 });
      return { index: l.index, seed: l.seed, requests: l.requests.length, ttft_p50_ms: a.metrics.ttft_p50_ms ?? null, output_tok_per_s: a.metrics.output_tok_per_s ?? null };
    }),
    energy: { source: energyKnown ? first.energy.source : null, joules, joules_per_token: metrics.joules_per_token },
    traces: { file: "traces.jsonl", sha256: sha256Hex(tracesText), count: requests.length },
    warnings: [...new Set(warnings)],
  };
  if (o.replayOf) envelope.replay_of = o.replayOf;
  if (o.commitment) envelope.commitment = o.commitment;
  // Round-trip through the canonical form so that what we validate is what we sign and write.
  const plain = JSON.parse(canonicalJson(envelope)) as VbEnvelope;
  validateVbEnvelope(plain);
  const signed = await signEnvelope(plain, keys);
  validateVbEnvelope(signed);
  writeFileSync(join(outDir, "envelope.json"), prettyJson(signed));
  const summary = summaryTable(signed);
  writeFileSync(join(outDir, "summary.txt"), summary + "\n");
  return { envelope: signed, requests, summary, dir: outDir };
}
