/**
 * One benchmark run, end to end: the probe (the endpoint and model answer a streamed request,
 * else a ProbeError and nothing is written), then for each process launch a cold-start request
 * (its own phase), the discarded warm-up runs, the convergence gate, then the measured phase;
 * then metrics over all launches, optionally the link of every response to the on-chain batch it
 * went into, the envelope (with fingerprint and provenance), per-request traces and a summary.
 *
 * A run fails (RunFailedError, exit 1, no envelope) as soon as more requests failed than
 * --max-error-rate allows (default 0: any failure), in any phase; the server going away mid-run
 * is one such failure, named in the error. Traces up to that point are kept for inspection.
 *
 * Seeds: the master seed is recorded; launch i runs from launchSeed_i (launch 0: the master seed,
 * later ones derived from it), and inside a launch the dataset order, Poisson arrivals, warm-up
 * prompts and max-tokens draws each come from their own seed derived from launchSeed_i. Bootstrap
 * CIs and the length-controlled prompts use seeds derived from the master seed. All of them are
 * written into the envelope.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { canonicalJson, prettyJson } from "../protocol/envelope/canonical-json.ts";
import { sha256Hex } from "../protocol/envelope/content-hash.ts";
import {
  ENVELOPE_VERSION,
  type CommitmentV2,
  type Distribution,
  type DriverOptionsV2,
  type InputTokens,
  type SweepMembership,
  type VbEnvelope,
} from "../protocol/envelope/schema.ts";
import { TRACES_FORMAT } from "../protocol/envelope/traces.ts";
import { validateVbEnvelope } from "../protocol/envelope/validate.ts";
import { signEnvelope, type SigningKeys } from "../protocol/envelope/verify.ts";
import { linkResponses } from "./chain-link.ts";
import { loadDataset, samplePromptIndices, type Dataset } from "./dataset.ts";
import { startEnergyMeter } from "./energy.ts";
import { OutputExistsError, ProbeError, RunConfigError, RunFailedError } from "./errors.ts";
import { hardwareFingerprint } from "./hardware.ts";
import { StreamingClient, type Api, type EndpointOptions } from "./http-client.ts";
import { closedLoop, convergenceGate, openLoop, type Job, type Trace } from "./loadgen.ts";
import { aggregate, perRequest, type RequestMetrics, type Slo } from "./metrics.ts";
import { probeEndpoint, type ProbeResult } from "./probe.ts";
import { Progress } from "./progress.ts";
import { softwareProvenance } from "./provenance.ts";
import { deriveSeed, poissonArrivals } from "./rng.ts";
import { summaryTable } from "./summary.ts";
import { describeDistribution, fixedDistribution, lengthControlledDataset, sampleCounts } from "./workload.ts";

export { RunConfigError } from "./errors.ts";

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
  /** max_tokens of every request, or the largest a distribution draws. */
  maxTokens: number;
  /** A distribution of max_tokens, one draw per request (default: maxTokens fixed). */
  maxTokensDist?: Distribution;
  /** Synthetic prompts with this input-length distribution (tokens), instead of `dataset`. */
  inputTokens?: Distribution | null;
  /** The prompt-length calibration to use (a replay reuses the source's; else the probe fits it). */
  inputCalibration?: InputTokens["calibration"];
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
  /** Share of failed requests above which the run fails (default 0). */
  maxErrorRate?: number;
  /** Link every traced response to its on-chain batch through the prover's data endpoint. */
  linkBatches?: { dataUrl?: string; timeoutS: number };
  replayOf?: string;
  /** Replace an existing output folder's run files instead of refusing. */
  force?: boolean;
  /** A probe already made (sweep points after the first). */
  probe?: ProbeResult;
  sweep?: SweepMembership;
  progress: boolean;
  /** Where progress is drawn (default stderr; only a terminal gets it). */
  progressStream?: NodeJS.WriteStream;
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
  const maxErrorRate = o.maxErrorRate ?? 0;
  if (!(maxErrorRate >= 0 && maxErrorRate <= 1)) throw new RunConfigError(`--max-error-rate must be in [0, 1], got ${maxErrorRate}`, "--max-error-rate");
  if (o.linkBatches && !(o.linkBatches.timeoutS > 0)) throw new RunConfigError(`--link-timeout must be positive, got ${o.linkBatches.timeoutS}`, "--link-timeout");
  if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(o.suiteVersion)) throw new RunConfigError(`--suite-version must be semver, got "${o.suiteVersion}"`, "--suite-version");
  if (o.inputTokens && o.dataset !== "synthetic") throw new RunConfigError(`--input-tokens makes its own synthetic prompts; it does not go with --dataset ${o.dataset}`, "--input-tokens");
  for (const [flag, value] of [["--base-url", o.baseUrl], ["--data-url", o.linkBatches?.dataUrl]] as const) {
    if (value === undefined) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new RunConfigError(`${flag} is not a URL: "${value}"`, flag);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new RunConfigError(`${flag} must be http or https, got ${url.protocol}`, flag);
  }
}

/** The files a run writes into its folder (what --force replaces). */
export const RUN_FILES = ["envelope.json", "traces.jsonl", "summary.txt", "report.html", "traces.csv", "metrics.csv", "FAILED.txt"];

/**
 * Refuses a folder that already holds anything, unless `force`: then the run files in it are
 * removed (other files are left alone). Sweeps add their point folders and sweep files.
 */
export function prepareOutputDir(dir: string, force: boolean, extra: (name: string) => boolean = () => false): void {
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir);
  if (entries.length === 0) return;
  if (!force) throw new OutputExistsError(`the output folder ${dir} is not empty (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", ..." : ""}); pass --force to replace the run in it, or choose another --output`, "--output");
  for (const name of entries) if (RUN_FILES.includes(name) || extra(name)) rmSync(join(dir, name), { recursive: true, force: true });
}

export interface LaunchResult {
  index: number;
  seed: number;
  coldStart: { ttft_ms: number | null; e2e_ms: number | null; ok: boolean };
  warmupRequests: number;
  convergence: { converged: boolean; requests: number; windowFilled: number; cv: number | null; elapsedS: number; skippedReason: string | null };
  requests: RequestMetrics[];
  durationS: number;
  energy: { source: "rapl" | "nvidia-smi" | null; joules: number | null };
  warnings: string[];
}

export function launchSeed(master: number, index: number): number {
  return index === 0 ? master : deriveSeed(master, `launch:${index}`);
}

/** How many failures a phase of `planned` requests may have under --max-error-rate. */
export function allowedFailures(maxErrorRate: number, planned: number): number {
  return Math.floor(maxErrorRate * planned + 1e-9);
}

const GONE = /ECONNREFUSED|ECONNRESET|EPIPE|connection closed|socket hang up|ETIMEDOUT|connect timeout/;

/** The message of a phase that ran out of error budget, naming the error and a server that went away. */
function failureMessage(phase: string, results: { ok: boolean; error: string | null }[], planned: number, maxErrorRate: number): string {
  const failed = results.filter((r) => !r.ok);
  const allowed = allowedFailures(maxErrorRate, planned);
  const firstOk = results.findIndex((r) => r.ok);
  const gone = failed.find((r) => r.error !== null && GONE.test(r.error));
  const head =
    `${phase}: ${failed.length} of ${results.length} requests failed, more than --max-error-rate ${maxErrorRate} allows (${allowed} of ${planned}); ` +
    `first error: ${failed[0]?.error ?? "unknown"}`;
  if (gone && firstOk >= 0) return `${head}; the server went away mid-run (${gone.error})`;
  return head;
}

/** Runs one launch in this process. Throws RunFailedError (with the traces so far) on failures. */
export async function runLaunch(o: RunOptions, index: number, dataset: Dataset, progress: Progress = new Progress(undefined, false)): Promise<LaunchResult> {
  const seed = launchSeed(o.seed, index);
  const warnings: string[] = [];
  const maxErrorRate = o.maxErrorRate ?? 0;
  const maxDist = o.maxTokensDist ?? fixedDistribution(o.maxTokens);
  const client = new StreamingClient({
    baseUrl: o.baseUrl, api: o.api, model: o.model, maxTokens: o.maxTokens, temperature: o.temperature, apiKey: o.apiKey,
    maxSockets: o.concurrency, timeoutMs: o.requestTimeoutMs, extraBody: { seed },
  });
  const label = o.launches > 1 ? `launch ${index + 1}/${o.launches}: ` : "";
  try {
    const warmOrder = samplePromptIndices(dataset, dataset.prompts.length, deriveSeed(seed, "warmup"));
    const warmTokens = sampleCounts(maxDist, 64, deriveSeed(seed, "warmup-max-tokens"));
    const warmJob = (i: number): Job => {
      const p = warmOrder[i % warmOrder.length]!;
      return { promptIndex: p, prompt: dataset.prompts[p]!, maxTokens: warmTokens[i % warmTokens.length]! };
    };
    // Cold start: the first request of a fresh process and connection, in its own phase.
    progress.begin(`${label}cold start`);
    const cold = await client.send(warmJob(0).prompt, performance.now(), warmJob(0).maxTokens);
    const coldStart = {
      ttft_ms: cold.firstTokenAt === null ? null : cold.firstTokenAt - cold.scheduledAt,
      e2e_ms: cold.ok ? cold.endAt - cold.scheduledAt : null,
      ok: cold.ok,
    };
    if (!cold.ok) {
      if (allowedFailures(maxErrorRate, 1) < 1) throw new RunFailedError(`${label}cold start: the request failed: ${cold.error}`, "--base-url", "cold start");
      warnings.push(`launch ${index}: cold-start request failed: ${cold.error}`);
    }

    // Warm-up: `warmupRuns` closed-loop rounds of `concurrency` requests, discarded.
    const warmJobs = Array.from({ length: o.warmupRuns * o.concurrency }, (_, i) => warmJob(i + 1));
    const warmAllowed = allowedFailures(maxErrorRate, warmJobs.length);
    let warmFailed = 0;
    progress.begin(`${label}warm-up`);
    const warm = await closedLoop(client, warmJobs, o.concurrency, {
      shouldStop: () => warmFailed > warmAllowed,
      onDone: (t, done) => {
        if (!t.ok) warmFailed++;
        progress.update({ done, total: warmJobs.length, failed: warmFailed });
      },
    });
    if (warmFailed > warmAllowed) throw new RunFailedError(label + failureMessage("warm-up", warm, warmJobs.length, maxErrorRate), "--max-error-rate", "warm-up");

    const convergence = await gate(o, client, (i) => warmJob(i + 1 + warmJobs.length), progress, label);
    if (convergence.failure !== null) {
      throw new RunFailedError(`${label}convergence gate: ${convergence.failed} requests failed, more than --max-error-rate ${maxErrorRate} allows; first error: ${convergence.failure}`, "--max-error-rate", "convergence gate");
    }
    if (convergence.warning) warnings.push(`launch ${index}: ${convergence.warning}`);

    const order = samplePromptIndices(dataset, o.numRequests, deriveSeed(seed, "dataset"));
    const tokens = sampleCounts(maxDist, o.numRequests, deriveSeed(seed, "max-tokens"));
    const jobs: Job[] = order.map((p, i) => ({ promptIndex: p, prompt: dataset.prompts[p]!, maxTokens: tokens[i]! }));
    const allowed = allowedFailures(maxErrorRate, jobs.length);
    const meter = startEnergyMeter();
    const start = performance.now();
    const deadline = o.durationS === null ? undefined : start + o.durationS * 1000;
    let failed = 0;
    progress.begin(`${label}measurement`);
    const onDone = (t: Trace, done: number) => {
      if (!t.ok) failed++;
      progress.update({ done, total: jobs.length, failed, ttftMs: t.firstTokenAt === null ? null : t.firstTokenAt - t.sentAt, ...(deadline !== undefined ? { deadlineMs: deadline } : {}) });
    };
    const shouldStop = () => failed > allowed;
    const traces = o.rate === null
      ? await closedLoop(client, jobs, o.concurrency, { deadline, onDone, rampUpMs: o.rampUpMs, shouldStop })
      : await openLoop(client, jobs, poissonArrivals(jobs.length, o.rate, deriveSeed(seed, "arrivals")), { deadline, onDone, startAt: start, shouldStop });
    const durationS = (performance.now() - start) / 1000;
    const energy = await meter.stop();
    progress.end();
    const requests = traces.map((t) => perRequest(t, o.slo, index, start));
    if (failed > allowed) {
      const error = new RunFailedError(label + failureMessage("measurement", traces, jobs.length, maxErrorRate), "--max-error-rate", "measurement");
      throw Object.assign(error, { traces: requests });
    }
    if (energy.warning) warnings.push(energy.warning);
    return {
      index, seed, coldStart, warmupRequests: warmJobs.length,
      convergence: { converged: convergence.converged, requests: convergence.requests, windowFilled: convergence.windowFilled, cv: convergence.cv, elapsedS: convergence.elapsedS, skippedReason: convergence.skippedReason },
      requests,
      durationS,
      energy: { source: energy.source, joules: energy.joules },
      warnings,
    };
  } finally {
    progress.end();
    client.close();
  }
}

/**
 * The convergence gate, or why it did not run: a run that measures no more requests than the
 * gate's window would be judged by a window longer than itself, so the gate is skipped (and
 * says so); a timeout of 0 skips it too. Its warning says how many requests it had.
 */
async function gate(o: RunOptions, client: StreamingClient, nextJob: (i: number) => Job, progress: Progress, label: string) {
  const { window, cvThreshold, timeoutS } = o.convergence;
  const skipped = (reason: string) => ({ converged: false, requests: 0, windowFilled: 0, cv: null, elapsedS: 0, failure: null, failed: 0, skippedReason: reason, warning: null });
  if (o.numRequests <= window) return skipped(`the run measures ${o.numRequests} requests, not more than the gate's window of ${window}`);
  if (timeoutS === 0) return skipped("--convergence-timeout is 0");
  progress.begin(`${label}convergence gate`);
  const r = await convergenceGate(client, nextJob, {
    concurrency: o.concurrency, window, cvThreshold, timeoutMs: timeoutS * 1000,
    maxFailures: allowedFailures(o.maxErrorRate ?? 0, window),
    onProgress: (s) => progress.update({ done: s.requests, detail: `window ${s.windowFilled}/${window}${s.cv === null ? "" : `, TTFT CV ${(s.cv * 100).toFixed(1)}% (target < ${(cvThreshold * 100).toFixed(1)}%)`}` }),
  });
  progress.end();
  let warning: string | null = null;
  if (!r.converged && r.failure === null) {
    warning = r.windowFilled < window
      ? `convergence gate: only ${r.windowFilled} of the ${window} successful requests its window needs completed in ${timeoutS} s (${r.requests} sent); measuring anyway`
      : `convergence gate: TTFT did not converge in ${timeoutS} s: CV ${r.cv === null ? "undefined" : `${(r.cv * 100).toFixed(1)}%`} over the last ${window} of ${r.requests} requests (threshold ${(cvThreshold * 100).toFixed(1)}%); measuring anyway`;
  }
  return { ...r, skippedReason: null, warning };
}

const CLI_PATH = fileURLToPath(new URL("../cli/vb.ts", import.meta.url));

/** Runs launch `index` in a separate Node process (same loader flags), for independent launches. */
async function runLaunchInChild(o: RunOptions, index: number, dir: string): Promise<LaunchResult> {
  const specFile = join(dir, `launch-${index}.spec.json`);
  const outFile = join(dir, `launch-${index}.result.json`);
  const { progressStream: _stream, probe: _probe, ...spec } = o;
  writeFileSync(specFile, JSON.stringify(spec));
  const child = spawn(process.execPath, [...process.execArgv, CLI_PATH, "_launch", specFile, String(index), outFile], { stdio: ["ignore", "inherit", "inherit"] });
  const code: number = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (c) => resolve(c ?? 1));
  });
  if (!existsSync(outFile)) throw new Error(`launch ${index} (child process) exited with code ${code} and no result`);
  const result = JSON.parse(readFileSync(outFile, "utf8")) as LaunchResult | { failed: { message: string; field: string; phase: string; traces?: RequestMetrics[] } };
  if ("failed" in result) throw Object.assign(new RunFailedError(result.failed.message, result.failed.field, result.failed.phase), { traces: result.failed.traces });
  return result;
}

/** Entry of the `_launch` child: reads the spec, runs one launch, writes its result (or its failure). */
export async function childLaunchMain(specFile: string, index: number, outFile: string): Promise<void> {
  const o = JSON.parse(readFileSync(specFile, "utf8")) as RunOptions;
  try {
    const result = await runLaunch({ ...o, progress: false }, index, runDataset(o));
    writeFileSync(outFile, JSON.stringify(result));
  } catch (e) {
    if (!(e instanceof RunFailedError)) throw e;
    writeFileSync(outFile, JSON.stringify({ failed: { message: e.message, field: e.field, phase: e.phase, traces: (e as { traces?: RequestMetrics[] }).traces } }));
  }
}

export interface RunOutput {
  envelope: VbEnvelope;
  requests: RequestMetrics[];
  summary: string;
  dir: string;
}

export function driverOptions(o: RunOptions): DriverOptionsV2 {
  const maxDist = o.maxTokensDist ?? fixedDistribution(o.maxTokens);
  return {
    api: o.api,
    mode: o.rate === null ? "closed" : "open",
    concurrency: o.concurrency,
    rate: o.rate,
    num_requests: o.numRequests,
    duration_s: o.durationS,
    ramp_up_ms: o.rampUpMs ?? 0,
    max_tokens: maxDist.max,
    temperature: o.temperature,
    warmup_runs: o.warmupRuns,
    convergence: { window: o.convergence.window, cv_threshold: o.convergence.cvThreshold, timeout_s: o.convergence.timeoutS },
    slo: o.slo,
    launches: o.launches,
    // The endpoint itself may be private; its hash still lets a reader tell two endpoints apart.
    endpoint_sha256: sha256Hex(o.baseUrl.replace(/\/+$/, "")),
    max_tokens_dist: maxDist,
    input_tokens: o.inputTokens && o.inputCalibration ? { dist: o.inputTokens, calibration: o.inputCalibration } : null,
    max_error_rate: o.maxErrorRate ?? 0,
  };
}

/** The prompts of a run: length-controlled synthetic ones, or the named dataset. */
function runDataset(o: RunOptions): Dataset {
  if (o.inputTokens) {
    if (!o.inputCalibration) throw new RunConfigError("--input-tokens needs a calibration (the probe fits one)", "--input-tokens");
    return lengthControlledDataset({ dist: o.inputTokens, calibration: o.inputCalibration }, Math.max(256, o.numRequests), deriveSeed(o.seed, "input-lengths"));
  }
  return loadDataset(o.dataset);
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function tracesText(requests: readonly RequestMetrics[]): string {
  return requests.map((r) => JSON.stringify(r)).join("\n") + "\n";
}

/** Keeps what a failed run measured, and says why there is no envelope. */
function writeFailure(outDir: string, error: RunFailedError): void {
  const traces = (error as { traces?: RequestMetrics[] }).traces;
  if (traces?.length) writeFileSync(join(outDir, "traces.jsonl"), tracesText(traces));
  writeFileSync(join(outDir, "FAILED.txt"), `run failed in its ${error.phase} phase; no envelope was signed.\n${error.message}\n`);
}

/** Runs the whole benchmark, writes envelope.json, traces.jsonl and summary.txt into `outDir`. */
export async function runBenchmark(o: RunOptions, keys: SigningKeys, outDir: string): Promise<RunOutput> {
  checkRunOptions(o);
  prepareOutputDir(outDir, o.force === true);
  if (o.dataset !== "synthetic" && !o.inputTokens) loadDataset(o.dataset); // a bad file fails before the probe
  const progress = new Progress(o.progressStream ?? process.stderr, o.progress);
  const endpoint: EndpointOptions = { baseUrl: o.baseUrl, api: o.api, model: o.model, maxTokens: o.maxTokens, temperature: o.temperature, apiKey: o.apiKey, maxSockets: 1, timeoutMs: o.requestTimeoutMs, extraBody: { seed: o.seed } };
  let probe = o.probe;
  if (!probe) {
    progress.begin("probe", `${o.api === "chat" ? "POST /chat/completions" : "POST /completions"} for model ${o.model}`);
    try {
      probe = await probeEndpoint(endpoint, loadDataset(o.dataset === "synthetic" || o.inputTokens ? "synthetic" : o.dataset).prompts[0]!, Boolean(o.inputTokens) && !o.inputCalibration);
    } finally {
      progress.end();
    }
  }
  if (o.linkBatches && !probe.proofRecords) {
    throw new ProbeError(`--link-batches needs an endpoint that names each response's proof record (the x-proof-record header of the project's prover); ${o.baseUrl} sent none`, "--link-batches");
  }
  const warnings: string[] = [];
  if (o.inputTokens && !o.inputCalibration) {
    o = { ...o, inputCalibration: probe.calibration! };
    if (probe.calibration!.source === "assumed") warnings.push(`the endpoint's prompt usage is missing or does not grow with the prompt: input lengths assume ${probe.calibration!.tokens_per_word} tokens a word`);
  }
  const dataset = runDataset(o);
  if (o.expectDatasetSha256 !== undefined && dataset.sha256 !== o.expectDatasetSha256) {
    throw new RunConfigError(`dataset ${dataset.id} hashes to ${dataset.sha256}, the envelope recorded ${o.expectDatasetSha256}`, "dataset.sha256");
  }
  mkdirSync(outDir, { recursive: true });
  const launches: LaunchResult[] = [];
  try {
    if (o.launches === 1) {
      launches.push(await runLaunch(o, 0, dataset, progress));
    } else {
      const tmp = mkdtempSync(join(tmpdir(), "vb-launch-"));
      try {
        // Sequential, so launches do not compete for the endpoint or this machine.
        for (let i = 0; i < o.launches; i++) {
          progress.begin(`launch ${i + 1}/${o.launches} (separate process)`);
          progress.end();
          launches.push(await runLaunchInChild(o, i, tmp));
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  } catch (e) {
    if (e instanceof RunFailedError) writeFailure(outDir, e);
    throw e;
  }

  const requests = launches.flatMap((l) => l.requests);
  const durationS = launches.reduce((s, l) => s + l.durationS, 0);
  const bootstrapSeed = deriveSeed(o.seed, "bootstrap");
  const agg = aggregate(requests, { durationS, bootstrapSeed, resamples: o.resamples });
  warnings.push(...launches.flatMap((l) => l.warnings));
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
    warnings.push(`${requests.filter((r) => !r.ok).length} of ${requests.length} requests failed, within --max-error-rate ${o.maxErrorRate ?? 0} (first error: ${firstError})`);
  }
  if (o.inputTokens && metrics.prompt_tokens_mean !== null && metrics.prompt_tokens_mean !== undefined) {
    const off = Math.abs(metrics.prompt_tokens_mean - o.inputTokens.mean) / o.inputTokens.mean;
    if (off > 0.1) warnings.push(`prompts averaged ${metrics.prompt_tokens_mean.toFixed(1)} tokens, ${(off * 100).toFixed(0)}% off the asked ${describeDistribution(o.inputTokens)}`);
  }
  for (const [k, v] of Object.entries(metrics)) if (v !== null && !Number.isFinite(v)) metrics[k] = null;

  let commitment: CommitmentV2 | undefined;
  if (o.linkBatches) {
    progress.begin("linking responses to on-chain batches");
    try {
      commitment = await linkResponses(requests, {
        dataUrl: o.linkBatches.dataUrl ?? o.baseUrl,
        timeoutMs: o.linkBatches.timeoutS * 1000,
        onProgress: (linked, total) => progress.update({ done: linked, total }),
      });
    } catch (e) {
      if (e instanceof RunFailedError) writeFailure(outDir, Object.assign(e, { traces: requests }));
      throw e;
    } finally {
      progress.end();
    }
  }

  const traces = tracesText(requests);
  writeFileSync(join(outDir, "traces.jsonl"), traces);
  const first = launches[0]!;
  const envelope: VbEnvelope = {
    envelope_version: ENVELOPE_VERSION,
    run_id: randomUUID(),
    created_at: new Date().toISOString(),
    suite: { id: o.suite, version: o.suiteVersion },
    model: { id: o.model, revision: o.modelRevision },
    engine: { name: o.engine, version: o.engineVersion },
    quantization: o.quant,
    dataset: { id: dataset.id, sha256: dataset.sha256, num_prompts: dataset.prompts.length, source: dataset.source },
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
      probe: probe.phase,
      cold_start: first.coldStart,
      warmup: { runs: o.warmupRuns, requests: launches.reduce((s, l) => s + l.warmupRequests, 0) },
      convergence: {
        converged: launches.every((l) => l.convergence.converged),
        requests: launches.reduce((s, l) => s + l.convergence.requests, 0),
        cv: first.convergence.cv,
        elapsed_s: launches.reduce((s, l) => s + l.convergence.elapsedS, 0),
        window_filled: first.convergence.windowFilled,
        skipped_reason: first.convergence.skippedReason,
      },
      measured: { requests: requests.length, duration_s: durationS },
    },
    token_count_source: agg.tokenCountSource,
    launches: launches.map((l) => {
      const a = aggregate(l.requests, { durationS: l.durationS, bootstrapSeed, resamples: 1 });
      return { index: l.index, seed: l.seed, requests: l.requests.length, ttft_p50_ms: a.metrics.ttft_p50_ms ?? null, output_tok_per_s: a.metrics.output_tok_per_s ?? null };
    }),
    energy: { source: energyKnown ? first.energy.source : null, joules, joules_per_token: metrics.joules_per_token },
    traces: { file: "traces.jsonl", sha256: sha256Hex(traces), count: requests.length, format: TRACES_FORMAT },
    warnings: [...new Set(warnings)],
  };
  if (o.replayOf) envelope.replay_of = o.replayOf;
  if (commitment) envelope.commitment = commitment;
  if (o.sweep) envelope.sweep = o.sweep;
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
