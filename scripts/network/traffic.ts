/**
 * The traffic generator of `npm start`: a trickle of completion requests to each prover, like
 * clients of a real network, so that batches keep closing. Bounded: one request in flight per
 * prover, one every `intervalMs` at most, each with a timeout; a failed request is counted and
 * the next one comes at the next tick. A prover can be paused (the cheater, once it is slashed
 * and can no longer commit batches).
 */
import { DEFAULT_MODEL_MANIFEST } from "../../prover/model/manifest.ts";

const PROMPTS = [
  "Summarize why verifiable inference matters",
  "Write a haiku about Merkle trees",
  "Explain stake-weighted quorums to a five year old",
  "List three uses of a proof of inference",
  "What does an operator recompute",
  "Describe a dispute in one sentence",
  "Translate 'trust, but verify' into French",
  "Name a color and a number",
];

export interface TrafficTarget {
  name: string;
  url: string;
  /** Milliseconds between requests to this prover. */
  intervalMs: number;
}

export interface TrafficCounts {
  sent: number;
  ok: number;
  failed: number;
  paused: boolean;
}

export class TrafficGenerator {
  private readonly counts = new Map<string, TrafficCounts>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<string>();
  private readonly controllers = new Set<AbortController>();
  private stopped = false;
  private sequence = 0;

  constructor(
    private readonly targets: readonly TrafficTarget[],
    private readonly options: { maxTokens?: number; model?: string; timeoutMs?: number } = {},
  ) {
    for (const t of targets) this.counts.set(t.name, { sent: 0, ok: 0, failed: 0, paused: false });
  }

  start(): void {
    for (const target of this.targets) {
      const timer = setInterval(() => void this.send(target), target.intervalMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  pause(name: string): void {
    const c = this.counts.get(name);
    if (c) c.paused = true;
  }

  stats(): ReadonlyMap<string, TrafficCounts> {
    return this.counts;
  }

  /** Stops sending and aborts requests in flight. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.controllers) c.abort();
  }

  private async send(target: TrafficTarget): Promise<void> {
    const counts = this.counts.get(target.name)!;
    if (this.stopped || counts.paused || this.inFlight.has(target.name)) return;
    this.inFlight.add(target.name);
    const n = this.sequence++;
    const controller = new AbortController();
    this.controllers.add(controller);
    const timeout = setTimeout(() => controller.abort(), this.options.timeoutMs ?? 60_000);
    counts.sent += 1;
    try {
      const response = await fetch(`${target.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: this.options.model ?? DEFAULT_MODEL_MANIFEST.modelId,
          prompt: `${PROMPTS[n % PROMPTS.length]} (#${n})`,
          max_tokens: this.options.maxTokens ?? 24,
          temperature: n % 3 === 0 ? 0 : 0.7,
          seed: n,
        }),
        signal: controller.signal,
      });
      await response.arrayBuffer();
      if (response.ok) counts.ok += 1;
      else counts.failed += 1;
    } catch {
      if (!this.stopped) counts.failed += 1;
    } finally {
      clearTimeout(timeout);
      this.controllers.delete(controller);
      this.inFlight.delete(target.name);
    }
  }
}
