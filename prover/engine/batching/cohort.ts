import type * as ort from "onnxruntime-node";
import type { GenerationState } from "../generation-state.ts";
import type { ModelRunner } from "../runner.ts";
import { concatRows, mapCaches, selectRows } from "./kv-rows.ts";

/** A request in a cohort: its decoding state and where its tokens start in the shared cache. */
export interface Member {
  state: GenerationState;
  /** Cache index (= position) of its first prompt token; indices before it are masked padding. */
  start: number;
  /** Bytes of cache memory admission set aside for it. */
  reservedBytes: number;
  /** Settled (resolved, rejected, aborted): its row is dropped before the next forward. */
  settled: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Requests that decode together in one batched forward per step. Every member's next token
 * sits at the same cache index, the cohort's `clock`: a request joins with its prompt placed
 * to end exactly there (masked zeros before it), so one [members, 1] forward feeds them all.
 *
 * Why aligned: graphs built the Hugging Face way take the causal mask from key index against
 * position id and rotate keys by position id, so a key's index must equal its position. The
 * price is that a member that joined late has its positions shifted by its start; rotary
 * attention depends on position differences only, so the shift changes nothing but float
 * rounding (measured in the engine README). A member alone, or every member of a cohort that
 * starts together with equal prompt lengths, has start 0: the very forward it would run alone.
 */
export class Cohort {
  clock = 0;
  members: Member[] = [];
  private past: Map<string, ort.Tensor> | undefined;

  constructor(private readonly runner: ModelRunner) {}

  get empty(): boolean {
    return this.members.length === 0;
  }

  /** Cache tokens this cohort holds now (members x clock). */
  get cachedTokens(): number {
    return this.members.length * this.clock;
  }

  /**
   * Prefills `joiners` in one forward, left-padded to end at the clock (a fresh cohort's clock
   * becomes `clock`, at least the longest prompt), samples each one's first token, and appends
   * their caches. Returns the forward's milliseconds.
   */
  async join(joiners: Member[], clock: number): Promise<number> {
    if (this.empty) this.clock = clock;
    const T = this.clock;
    const rows = joiners.length;
    const cols = Math.max(...joiners.map((m) => m.state.request.promptTokens.length));
    const base = T - cols;
    const inputIds = new BigInt64Array(rows * cols);
    const positionIds = new BigInt64Array(rows * cols);
    const attentionMask = new BigInt64Array(rows * T);
    joiners.forEach((member, r) => {
      const prompt = member.state.request.promptTokens;
      const pad = cols - prompt.length;
      member.start = T - prompt.length;
      for (let i = 0; i < cols; i++) {
        inputIds[r * cols + i] = i < pad ? 0n : BigInt(prompt[i - pad]!);
        positionIds[r * cols + i] = BigInt(base + i);
      }
      for (let k = member.start; k < T; k++) attentionMask[r * T + k] = 1n;
    });
    const started = performance.now();
    const out = await this.runner.forwardBatch({ rows, cols, inputIds, positionIds, attentionMask, past: this.runner.zeroPast(rows, base) });
    const ms = performance.now() - started;
    const H = this.runner.hiddenSize;
    const V = this.runner.vocabSize;
    joiners.forEach((member, r) => {
      if (member.settled) return;
      const prompt = member.state.request.promptTokens.length;
      const first = r * cols + (cols - prompt);
      const last = (r + 1) * cols - 1;
      guard(member, () => member.state.afterPrefill(out.hidden.subarray(first * H, (last + 1) * H), out.logits.subarray(last * V, (last + 1) * V), ms));
    });
    this.past = this.past ? mapCaches(this.past, (tensor, name) => concatRows(tensor, out.present.get(name)!)) : out.present;
    this.members.push(...joiners);
    return ms;
  }

  /** One decode step for every member: feeds each one's last token at the clock. */
  async step(): Promise<void> {
    const rows = this.members.length;
    const T = this.clock;
    const inputIds = new BigInt64Array(rows);
    const positionIds = new BigInt64Array(rows).fill(BigInt(T));
    const attentionMask = new BigInt64Array(rows * (T + 1));
    this.members.forEach((member, r) => {
      inputIds[r] = BigInt(member.state.lastToken);
      for (let k = member.start; k <= T; k++) attentionMask[r * (T + 1) + k] = 1n;
    });
    const out = await this.runner.forwardBatch({ rows, cols: 1, inputIds, positionIds, attentionMask, ...(this.past ? { past: this.past } : {}) });
    this.past = out.present;
    this.clock = T + 1;
    const H = this.runner.hiddenSize;
    const V = this.runner.vocabSize;
    this.members.forEach((member, r) => {
      if (member.settled) return;
      guard(member, () => member.state.afterStep(out.hidden.subarray(r * H, (r + 1) * H), out.logits.subarray(r * V, (r + 1) * V)));
    });
  }

  /** Resolves finished members and drops the rows of every settled one (their cache memory goes with them). */
  sweep(): void {
    for (const member of this.members) if (!member.settled && member.state.done) member.resolve();
    const keep: number[] = [];
    this.members.forEach((member, r) => {
      if (!member.settled) keep.push(r);
    });
    if (keep.length === this.members.length) return;
    if (keep.length === 0) {
      this.members = [];
      this.past = undefined;
      this.clock = 0;
    } else {
      this.past = mapCaches(this.past!, (tensor) => selectRows(tensor, keep));
      this.members = keep.map((r) => this.members[r]!);
    }
  }

  /** Rejects every member (a forward failed: the cohort's cache is no longer trustworthy) and empties the cohort. */
  fail(error: unknown): void {
    for (const member of this.members) {
      if (!member.settled) {
        member.settled = true;
        member.reject(error);
      }
    }
    this.members = [];
    this.past = undefined;
    this.clock = 0;
  }
}

/** A member's own callback (onToken, shouldStop) that throws fails that member alone. */
function guard(member: Member, f: () => void): void {
  try {
    f();
  } catch (error) {
    member.settled = true;
    member.reject(error);
  }
}
