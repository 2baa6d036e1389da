/**
 * Drivers. Closed loop: `concurrency` workers, each sending its next request as soon as its last
 * one finished. Open loop: requests leave at seeded Poisson arrival times whatever the server
 * does; a request's scheduled time is its arrival time, so a late timer or a full socket pool
 * shows up as client queueing (queue_ms), not as server latency.
 * Every loop is bounded by its job count and by an optional deadline.
 */
import { performance } from "node:perf_hooks";
import type { RequestResult, StreamingClient } from "./http-client.ts";
import { coefficientOfVariation } from "./stats.ts";

export interface Job {
  promptIndex: number;
  prompt: string;
  /** max_tokens for this request (a --max-tokens distribution draws one per job). */
  maxTokens: number;
}

export interface Trace extends RequestResult {
  seq: number;
  promptIndex: number;
}

/** Tags a result in place: a copy per request (object spread) is garbage the client can do without. */
function asTrace(r: RequestResult, seq: number, promptIndex: number): Trace {
  const t = r as Trace;
  t.seq = seq;
  t.promptIndex = promptIndex;
  return t;
}

export interface DriveOptions {
  /** performance.now() after which no new request starts. */
  deadline?: number;
  /**
   * Closed loop: start worker i after i / concurrency * rampUpMs, so that equal-length streams do
   * not all start, emit and end in lock-step waves.
   */
  rampUpMs?: number;
  /** Open loop: performance.now() that arrival offsets count from (default: the call). */
  startAt?: number;
  onDone?: (trace: Trace, done: number) => void;
  /** Checked before each new request: true stops the loop (requests in flight finish). */
  shouldStop?: () => boolean;
}

export async function closedLoop(client: StreamingClient, jobs: readonly Job[], concurrency: number, opts: DriveOptions = {}): Promise<Trace[]> {
  const traces: Trace[] = [];
  let next = 0;
  const workers = Math.min(concurrency, jobs.length);
  const worker = async (index: number) => {
    if (opts.rampUpMs) await new Promise((r) => setTimeout(r, (index / workers) * opts.rampUpMs!));
    for (;;) {
      if (next >= jobs.length || (opts.deadline !== undefined && performance.now() >= opts.deadline) || opts.shouldStop?.()) return;
      const seq = next++;
      const job = jobs[seq]!;
      const t = asTrace(await client.send(job.prompt, performance.now(), job.maxTokens), seq, job.promptIndex);
      traces.push(t);
      opts.onDone?.(t, traces.length);
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  return traces.sort((a, b) => a.seq - b.seq);
}

export function openLoop(client: StreamingClient, jobs: readonly Job[], arrivalsMs: Float64Array, opts: DriveOptions = {}): Promise<Trace[]> {
  return new Promise((resolve) => {
    const traces: Trace[] = [];
    const start = opts.startAt ?? performance.now();
    let dispatched = 0;
    let inFlight = 0;
    let stopped = false;
    const maybeDone = () => {
      if ((dispatched >= jobs.length || stopped) && inFlight === 0) resolve(traces.sort((a, b) => a.seq - b.seq));
    };
    const tick = () => {
      const now = performance.now();
      if ((opts.deadline !== undefined && now >= opts.deadline) || opts.shouldStop?.()) stopped = true;
      while (!stopped && dispatched < jobs.length && start + arrivalsMs[dispatched]! <= now) {
        const seq = dispatched++;
        const job = jobs[seq]!;
        inFlight++;
        void client.send(job.prompt, start + arrivalsMs[seq]!, job.maxTokens).then((r) => {
          inFlight--;
          const t = asTrace(r, seq, job.promptIndex);
          traces.push(t);
          opts.onDone?.(t, traces.length);
          maybeDone();
        });
      }
      if (!stopped && dispatched < jobs.length) setTimeout(tick, Math.max(0, start + arrivalsMs[dispatched]! - performance.now()));
      else maybeDone();
    };
    tick();
  });
}

export interface ConvergenceResult {
  converged: boolean;
  /** Requests the gate sent (successful or not). */
  requests: number;
  /** Successful requests in the window when the gate ended (the window's size when full). */
  windowFilled: number;
  cv: number | null;
  elapsedS: number;
  /** The first failed request's error, when the gate stopped on failures. */
  failure: string | null;
  failed: number;
}

export interface GateOptions {
  concurrency: number;
  window: number;
  cvThreshold: number;
  timeoutMs: number;
  /** Failed requests the gate tolerates before it gives up (the run's error budget). */
  maxFailures: number;
  onProgress?: (state: { requests: number; windowFilled: number; cv: number | null }) => void;
}

/**
 * Sends closed-loop requests (discarded) until the coefficient of variation of TTFT over the last
 * `window` successful requests is below `cvThreshold`, until `timeoutMs` passes, or until more
 * than `maxFailures` requests failed.
 */
export async function convergenceGate(client: StreamingClient, nextJob: (i: number) => Job, o: GateOptions): Promise<ConvergenceResult> {
  const start = performance.now();
  const deadline = start + o.timeoutMs;
  const ttfts: number[] = [];
  let requests = 0;
  let failed = 0;
  let failure: string | null = null;
  let cv: number | null = null;
  let converged = false;
  let issued = 0;
  const worker = async () => {
    while (!converged && failed <= o.maxFailures && performance.now() < deadline) {
      const job = nextJob(issued++);
      const r = await client.send(job.prompt, performance.now(), job.maxTokens);
      requests++;
      if (r.ok && r.firstTokenAt !== null) {
        ttfts.push(r.firstTokenAt - r.sentAt);
        if (ttfts.length > o.window) ttfts.shift();
        if (ttfts.length === o.window) {
          const c = coefficientOfVariation(ttfts);
          cv = Number.isFinite(c) ? c : null;
          if (cv !== null && cv < o.cvThreshold) converged = true;
        }
      } else if (!r.ok) {
        failed++;
        failure ??= r.error;
      }
      o.onProgress?.({ requests, windowFilled: ttfts.length, cv });
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return { converged, requests, windowFilled: ttfts.length, cv, elapsedS: (performance.now() - start) / 1000, failure: failed > o.maxFailures ? failure : null, failed };
}
