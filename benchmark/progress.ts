/**
 * Progress on a terminal: one line per phase (probe, cold start, warm-up, convergence gate,
 * measurement, linking), redrawn in place at most ten times a second, with the phase's counts,
 * live TTFT p50/p99 over the requests completed so far and an ETA. Drawn only when the stream
 * is a terminal: logs and pipes get nothing (the summary is printed at the end either way).
 */
import { performance } from "node:perf_hooks";

const REDRAW_MS = 100;

/** Live percentiles over a growing sample: a sorted array with binary-search insertion. */
export class LiveQuantiles {
  private readonly sorted: number[] = [];

  add(x: number): void {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    this.sorted.splice(lo, 0, x);
  }

  get count(): number {
    return this.sorted.length;
  }

  /** Nearest-rank quantile, or null with no samples. */
  quantile(q: number): number | null {
    const n = this.sorted.length;
    return n === 0 ? null : this.sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  }
}

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.ceil(seconds - m * 60)).padStart(2, "0")}s`;
}

export interface PhaseUpdate {
  done: number;
  /** Planned count, when the phase has one (the gate has none: it ends on convergence). */
  total?: number;
  failed?: number;
  /** Phase-specific text, e.g. "window 12/30, CV 7.1%". */
  detail?: string;
  /** TTFT of a request that just completed (feeds the live percentiles). */
  ttftMs?: number | null;
  /** For runs bounded by --duration: the ETA is the time left. */
  deadlineMs?: number;
}

export class Progress {
  private readonly enabled: boolean;
  private phase = "";
  private phaseStart = 0;
  private last = 0;
  private ttft = new LiveQuantiles();
  private lastLine = "";

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    enabled = true,
  ) {
    this.enabled = enabled && Boolean(stream.isTTY);
  }

  /** Starts a phase (ends the previous one's line). */
  begin(phase: string, detail = ""): void {
    if (!this.enabled) return;
    this.end();
    this.phase = phase;
    this.phaseStart = performance.now();
    this.ttft = new LiveQuantiles();
    this.draw(`${phase} ${detail}`.trimEnd());
  }

  update(u: PhaseUpdate): void {
    if (!this.enabled || !this.phase) return;
    if (u.ttftMs !== undefined && u.ttftMs !== null) this.ttft.add(u.ttftMs);
    const now = performance.now();
    const final = u.total !== undefined && u.done >= u.total;
    if (!final && now - this.last < REDRAW_MS) return;
    this.last = now;
    const parts = [this.phase, u.total !== undefined ? `${u.done}/${u.total}` : `${u.done} requests`];
    if (u.failed) parts.push(`${u.failed} failed`);
    if (u.detail) parts.push(u.detail);
    const p50 = this.ttft.quantile(0.5);
    if (p50 !== null) parts.push(`TTFT p50 ${p50.toFixed(1)} ms p99 ${this.ttft.quantile(0.99)!.toFixed(1)} ms`);
    const elapsedS = (now - this.phaseStart) / 1000;
    if (u.deadlineMs !== undefined) parts.push(`ETA ${formatEta((u.deadlineMs - now) / 1000)}`);
    else if (u.total !== undefined && u.done > 0) parts.push(`ETA ${formatEta((elapsedS / u.done) * (u.total - u.done))}`);
    this.draw(parts.join("  "));
  }

  /** Ends the current phase's line. */
  end(): void {
    if (!this.enabled || !this.phase) return;
    this.stream.write("\n");
    this.phase = "";
    this.lastLine = "";
  }

  private draw(line: string): void {
    const padded = line.padEnd(this.lastLine.length);
    this.lastLine = line;
    this.stream.write(`\r${padded}`);
  }
}
