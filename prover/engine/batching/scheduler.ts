import { EngineBusyError, EngineClosedError, GenerationAbortedError } from "../errors.ts";
import { GenerationState, type GenerationResult } from "../generation-state.ts";
import type { GenerateRequest } from "../request.ts";
import type { ModelRunner } from "../runner.ts";
import type { ToplocParams } from "../../../protocol/toploc/index.ts";
import { Cohort, type Member } from "./cohort.ts";

export interface BatchingOptions {
  /** Most requests decoding at once, all cohorts together (default 64). */
  maxBatch?: number;
  /** Most requests waiting for a slot; one more is an EngineBusyError (default 256). */
  maxWaiting?: number;
  /** KV cache memory admission may hand out, in bytes (default 1 GiB). */
  kvCacheBytes?: number;
  /** Most cohorts (one decode forward each per step) at once (default 16). */
  maxCohorts?: number;
  /**
   * Most cache tokens (members x final clock) one cohort's forward carries (default 512).
   * Each decode step copies its whole cache (the graph concatenates past and new keys, and
   * onnxruntime-node copies every output into JavaScript), so forwards grow faster than their
   * rows: on the default model 16 rows x 150 positions took 12x one row, 8 rows x 150 2.6x.
   * 16 concurrent requests through the engine, against one at a time in the same process:
   * bound 256 1.6x, 512 1.4x, 768 1.1x, 1536 1.1x, 4096 0.7x (.scratch measurements on this
   * 2-core machine, noisy: the machine was shared).
   */
  cohortTokens?: number;
}

export const DEFAULT_BATCHING = Object.freeze({ maxBatch: 64, maxWaiting: 256, kvCacheBytes: 1 << 30, maxCohorts: 16, cohortTokens: 512 });

export interface SchedulerModel {
  hiddenSize: number;
  maxContext: number;
  toploc: ToplocParams;
  stopTokenIds: readonly number[];
}

/** Running figures, for /health, metrics and benchmarks. */
export interface SchedulerStats {
  running: number;
  waiting: number;
  cohorts: number;
  reservedBytes: number;
  kvCacheBytes: number;
  /** Forwards run so far and the rows they carried (rows / forwards = mean batch). */
  forwards: number;
  rows: number;
}

/**
 * Continuous batching: every request decoding at the same time shares one forward per step
 * (per cohort, see cohort.ts), and a new request's prefill runs at the next step boundary
 * and joins the running ones without waiting for them to finish.
 *
 * Admission is sized by memory and context: a request is admitted when the running set has a
 * slot (maxBatch), a cohort whose clock leaves its prompt room and its maxTokens inside the
 * context (or a new cohort), and cache memory for its row up to its last position (x2: a
 * forward holds the past and the present at once). Until then it waits, in arrival order, up
 * to maxWaiting; beyond that submit() throws EngineBusyError with an estimate of when a slot
 * frees. A request alone in the engine is always admitted, whatever its size.
 *
 * Every forward runs through `exclusive`, the engine's one-forward-at-a-time queue, so
 * verifications interleave between steps.
 */
export class BatchScheduler {
  private readonly waiting: Member[] = [];
  private readonly cohorts: Cohort[] = [];
  private readonly stopTokens: ReadonlySet<number>;
  private readonly options: Required<BatchingOptions>;
  private reserved = 0;
  /** Submitted since the last admission pass. */
  private unseen = 0;
  private running = 0;
  private looping = false;
  private closed = false;
  private forwards = 0;
  private rows = 0;
  /** Exponential moving average of one step's milliseconds (all forwards of an iteration). */
  private stepMs = 10;

  constructor(
    private readonly runner: ModelRunner,
    private readonly model: SchedulerModel,
    private readonly exclusive: <T>(job: () => Promise<T>) => Promise<T>,
    options: BatchingOptions = {},
  ) {
    this.options = { ...DEFAULT_BATCHING, ...options };
    this.stopTokens = new Set(model.stopTokenIds);
  }

  get maxBatch(): number {
    return this.options.maxBatch;
  }

  stats(): SchedulerStats {
    return {
      running: this.running,
      waiting: this.waiting.length,
      cohorts: this.cohorts.filter((c) => !c.empty).length,
      reservedBytes: this.reserved,
      kvCacheBytes: this.options.kvCacheBytes,
      forwards: this.forwards,
      rows: this.rows,
    };
  }

  /** Seconds until a slot likely frees: the running request nearest its end, at the measured step time. */
  retryAfterSeconds(): number {
    let fewest = Infinity;
    for (const cohort of this.cohorts) {
      for (const member of cohort.members) fewest = Math.min(fewest, member.state.request.maxTokens - member.state.output.length);
    }
    if (!Number.isFinite(fewest)) fewest = 1;
    return Math.min(60, Math.max(1, Math.ceil(((fewest + this.waiting.length / Math.max(1, this.options.maxBatch)) * this.stepMs) / 1000)));
  }

  submit(request: GenerateRequest): Promise<GenerationResult> {
    if (this.closed) return Promise.reject(new EngineClosedError("the engine is closed", "engine"));
    if (request.signal?.aborted) return Promise.reject(new GenerationAbortedError("generation was aborted by the caller", "signal"));
    // Requests that arrived since the last admission pass, up to the free slots, are admitted at
    // the next step boundary: they do not count as waiting. Those a pass has held back do.
    const freeSlots = Math.max(0, this.options.maxBatch - this.running);
    if (this.waiting.length - Math.min(this.unseen, freeSlots) >= this.options.maxWaiting) {
      return Promise.reject(
        new EngineBusyError(`the engine is full: ${this.running} requests decoding and ${this.waiting.length} waiting (at most ${this.options.maxWaiting})`, this.retryAfterSeconds()),
      );
    }
    return new Promise<GenerationResult>((resolve, reject) => {
      const state = new GenerationState(request, this.model.hiddenSize, this.model.toploc, this.stopTokens);
      let finished = false;
      const member: Member = {
        state,
        start: 0,
        reservedBytes: 0,
        settled: false,
        resolve: () => finish(() => resolve(state.result())),
        reject: (error) => finish(() => reject(error)),
      };
      const finish = (settle: () => void): void => {
        if (finished) return;
        finished = true;
        member.settled = true;
        request.signal?.removeEventListener("abort", onAbort);
        if (member.reservedBytes > 0) {
          // Admitted: its slot and its memory are free from now on; its row goes at the next step boundary.
          this.reserved -= member.reservedBytes;
          member.reservedBytes = 0;
          this.running--;
        }
        settle();
        this.kick();
      };
      const onAbort = (): void => {
        const at = this.waiting.indexOf(member);
        if (at >= 0) this.waiting.splice(at, 1);
        member.reject(new GenerationAbortedError("generation was aborted by the caller", "signal"));
      };
      request.signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(member);
      this.unseen++;
      this.kick();
    });
  }

  private kick(): void {
    if (this.looping || this.closed) return;
    if (this.waiting.length === 0 && this.cohorts.every((c) => c.empty)) return;
    this.looping = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (!this.closed && (this.waiting.length > 0 || this.cohorts.some((c) => !c.empty))) {
        await this.exclusive(() => this.iteration());
      }
    } finally {
      this.looping = false;
    }
  }

  /** One step boundary: drop settled rows, admit and prefill joiners, one decode forward per cohort. */
  private async iteration(): Promise<void> {
    const started = performance.now();
    for (const cohort of this.cohorts) cohort.sweep();
    for (const [cohort, joiners, clock] of this.admit()) {
      try {
        await cohort.join(joiners, clock);
        this.count(joiners.length);
      } catch (error) {
        for (const member of joiners) member.reject(error);
        cohort.fail(error);
        continue;
      }
      cohort.sweep();
    }
    let stepped = false;
    for (const cohort of this.cohorts) {
      if (cohort.empty) continue;
      try {
        await cohort.step();
        this.count(cohort.members.length);
        stepped = true;
      } catch (error) {
        cohort.fail(error);
        continue;
      }
      cohort.sweep();
    }
    for (let i = this.cohorts.length - 1; i >= 0; i--) if (this.cohorts[i]!.empty) this.cohorts.splice(i, 1);
    if (stepped) this.stepMs = 0.8 * this.stepMs + 0.2 * (performance.now() - started);
  }

  private count(rows: number): void {
    this.forwards++;
    this.rows += rows;
  }

  /**
   * Moves waiting requests into cohorts, in arrival order; stops at the first that does not
   * fit (no overtaking: a long request is not starved by short ones).
   */
  private admit(): [Cohort, Member[], number][] {
    this.unseen = 0;
    const plans = new Map<Cohort, { joiners: Member[]; clock: number }>();
    const bytesPerToken = this.runner.kvBytesPerToken;
    const maxContext = this.model.maxContext;
    while (this.waiting.length > 0 && this.running < this.options.maxBatch) {
      const member = this.waiting[0]!;
      const prompt = member.state.request.promptTokens.length;
      const maxTokens = member.state.request.maxTokens;
      let placed: { cohort: Cohort; clock: number; bytes: number } | undefined;
      for (const cohort of this.cohorts) {
        const plan = plans.get(cohort);
        const members = cohort.members.length + (plan?.joiners.length ?? 0) + 1;
        if (!cohort.empty) {
          if (cohort.clock >= prompt && cohort.clock + maxTokens <= maxContext && members * (cohort.clock + maxTokens) <= this.options.cohortTokens) {
            placed = { cohort, clock: cohort.clock, bytes: 2 * (cohort.clock + maxTokens) * bytesPerToken };
            break;
          }
        } else if (plan) {
          // A cohort forming in this round: its clock is its longest prompt so far.
          const clock = Math.max(plan.clock, prompt);
          const ends = [...plan.joiners.map((m) => clock + m.state.request.maxTokens), clock + maxTokens];
          if (ends.every((end) => end <= maxContext) && members * Math.max(...ends) <= this.options.cohortTokens) {
            const grow = (clock - plan.clock) * plan.joiners.length * 2 * bytesPerToken;
            placed = { cohort, clock, bytes: 2 * (clock + maxTokens) * bytesPerToken + grow };
            break;
          }
        }
      }
      if (!placed && this.cohorts.length < this.options.maxCohorts) {
        placed = { cohort: new Cohort(this.runner), clock: prompt, bytes: 2 * (prompt + maxTokens) * bytesPerToken };
      }
      if (!placed) break;
      if (this.running > 0 && this.reserved + placed.bytes > this.options.kvCacheBytes) break;
      this.waiting.shift();
      if (!this.cohorts.includes(placed.cohort)) this.cohorts.push(placed.cohort);
      const plan = plans.get(placed.cohort) ?? { joiners: [], clock: placed.clock };
      plan.clock = placed.clock;
      plan.joiners.push(member);
      plans.set(placed.cohort, plan);
      member.reservedBytes = placed.bytes;
      this.reserved += placed.bytes;
      this.running++;
    }
    return [...plans].map(([cohort, plan]) => [cohort, plan.joiners, plan.clock]);
  }

  /** Refuses new work and rejects everything waiting or running. */
  close(): void {
    this.closed = true;
    const error = new EngineClosedError("the engine is closed", "engine");
    for (const member of this.waiting.splice(0)) member.reject(error);
    for (const cohort of this.cohorts) cohort.fail(error);
  }
}
