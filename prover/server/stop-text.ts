/**
 * Turns the growing list of output tokens into text the way the OpenAI API does with `stop`:
 * generation ends as soon as the text contains a stop sequence, and the text returned (or
 * streamed) ends just before it. While streaming, the tail of the text that could still be the
 * start of a stop sequence, or an incomplete UTF-8 character (decoded as U+FFFD), is held back
 * until the next token settles it.
 */
import type { TokenizerLike } from "../inference-engine.ts";

const REPLACEMENT = "\uFFFD";
/** Longest UTF-8 character: at most 3 held-back replacement characters can still complete. */
const MAX_PARTIAL_CHARS = 3;

export class StopTextTracker {
  private seen = 0;
  private text = "";
  private emitted = 0;
  private stopIndex: number | undefined;

  private readonly stream: { push(tokens: readonly number[]): string; flush(): string } | undefined;

  constructor(
    private readonly tokenizer: Pick<TokenizerLike, "decode" | "streamDecoder">,
    private readonly stops: readonly string[],
  ) {
    // Incremental detokenization where the tokenizer has it (its pieces join to the whole decode).
    this.stream = tokenizer.streamDecoder?.();
  }

  /** Whether a stop sequence has appeared. */
  get stopped(): boolean {
    return this.stopIndex !== undefined;
  }

  /**
   * Catches up with the engine's output tokens (idempotent for a list already seen) and returns
   * the text that is now safe to send. Called from both onToken and shouldStop, whichever the
   * engine calls first.
   */
  update(outputTokens: readonly number[]): string {
    if (this.stopped || outputTokens.length === this.seen) return "";
    if (this.stream) {
      this.text += this.stream.push(outputTokens.slice(this.seen));
    } else {
      this.text = this.tokenizer.decode(outputTokens);
    }
    this.seen = outputTokens.length;
    const stopAt = this.firstStop();
    if (stopAt !== undefined) {
      this.stopIndex = stopAt;
      return this.take(stopAt);
    }
    return this.take(this.text.length - this.heldBack());
  }

  /** The rest of the text once generation has ended (nothing is held back any more). */
  finish(): string {
    if (this.stream && !this.stopped) {
      // What the decoder still held (an incomplete character at the very end); a stop sequence may be in it.
      this.text += this.stream.flush();
      const stopAt = this.firstStop();
      if (stopAt !== undefined) this.stopIndex = stopAt;
    }
    return this.take(this.stopIndex ?? this.text.length);
  }

  /** The whole text of the completion, cut before the stop sequence if one appeared. */
  get finalText(): string {
    return this.text.slice(0, this.stopIndex ?? this.text.length);
  }

  private take(end: number): string {
    if (end <= this.emitted) return "";
    const delta = this.text.slice(this.emitted, end);
    this.emitted = end;
    return delta;
  }

  private firstStop(): number | undefined {
    let first: number | undefined;
    for (const stop of this.stops) {
      const at = this.text.indexOf(stop);
      if (at >= 0 && (first === undefined || at < first)) first = at;
    }
    return first;
  }

  /** Characters at the end that must wait: a possible stop prefix or a partial character. */
  private heldBack(): number {
    let held = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, this.text.length); n > held; n--) {
        if (this.text.endsWith(stop.slice(0, n))) {
          held = n;
          break;
        }
      }
    }
    let partial = 0;
    while (partial < MAX_PARTIAL_CHARS && this.text[this.text.length - 1 - partial] === REPLACEMENT) partial++;
    return Math.max(held, partial);
  }
}
