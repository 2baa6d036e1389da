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
}

export async function closedLoop(client: StreamingClient, jobs: readonly Job[], concurrency: number, opts: DriveOptions = {}): Promise<Trace[]> {
  const traces: Trace[] = [];
  let next = 0;
  const workers = Math.min(concurrency, jobs.length);
  const worker = async (index: number) => {
    if (opts.rampUpMs) await new Promise((r) => setTimeout(r, (index / workers) * opts.rampUpMs!));
    for (;;) {
      if (next >= jobs.length || (opts.deadline !== undefined && performance.now() >= opts.deadline)) return;
      const seq = next++;
      const job = jobs[seq]!;
      const t = asTrace(await client.send(job.prompt), seq, job.promptIndex);
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
      if (opts.deadline !== undefined && now >= opts.deadline) stopped = true;
      while (!stopped && dispatched < jobs.length && start + arrivalsMs[dispatched]! <= now) {
        const seq = dispatched++;
        const job = jobs[seq]!;
        inFlight++;
        void client.send(job.prompt, start + arrivalsMs[seq]!).then((r) => {
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
  requests: number;
  cv: number | null;
  elapsedS: number;
}

/**
 * Sends closed-loop requests (discarded) until the coefficient of variation of TTFT over the last
 * `window` successful requests is below `cvThreshold`, or until `timeoutMs` passes.
 */
export async function convergenceGate(
  client: StreamingClient,
  nextJob: (i: number) => Job,
  concurrency: number,
  window: number,
  cvThreshold: number,
  timeoutMs: number,
): Promise<ConvergenceResult> {
  const start = performance.now();
  const deadline = start + timeoutMs;
  const ttfts: number[] = [];
  let requests = 0;
  let cv: number | null = null;
  let converged = false;
  let issued = 0;
  const worker = async () => {
    while (!converged && performance.now() < deadline) {
      const r = await client.send(nextJob(issued++).prompt);
      requests++;
      if (r.ok && r.firstTokenAt !== null) {
        ttfts.push(r.firstTokenAt - r.sentAt);
        if (ttfts.length > window) ttfts.shift();
        if (ttfts.length === window) {
          const c = coefficientOfVariation(ttfts);
          cv = Number.isFinite(c) ? c : null;
          if (cv !== null && cv < cvThreshold) converged = true;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { converged, requests, cv, elapsedS: (performance.now() - start) / 1000 };
}
