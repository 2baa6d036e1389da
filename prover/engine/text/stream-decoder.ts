/**
 * Incremental detokenization for streaming. Decoding token by token does not work: a
 * SentencePiece decoder strips the space that starts a text, byte-level and byte-fallback
 * tokens can end inside a UTF-8 character. So each step decodes a short window that starts a
 * few tokens back (at the start of the text already sent) twice, without and with the new
 * tokens, and sends the difference once it no longer ends inside a character: both decodes see
 * the same leading context, and their difference is what the new tokens add to the whole text.
 * The window moves on with every piece sent, so the work per token stays constant.
 */

const REPLACEMENT = "\uFFFD";

export interface StreamDecoder {
  /** Adds output tokens; returns the text they complete (possibly empty while a character is incomplete). */
  push(tokens: readonly number[]): string;
  /** The text still held back (an incomplete character at the end): everything once the output is final. */
  flush(): string;
  /** Every piece returned so far, joined. */
  readonly text: string;
}

export class IncrementalDecoder implements StreamDecoder {
  private readonly tokens: number[] = [];
  /** Where the window starts: the first token of the piece sent last. */
  private prefixOffset = 0;
  /** Tokens before this are sent. */
  private readOffset = 0;
  private sent = "";

  /**
   * @param decode the tokenizer's decode of a token list
   * @param continuesRun true for a token whose text can still change with the tokens after it
   *   (a byte-fallback <0xNN> token: Rust's ByteFallback turns a whole run that is not valid
   *   UTF-8 into U+FFFDs, including bytes that were valid so far); nothing is sent while the
   *   output ends with one
   */
  constructor(
    private readonly decode: (tokens: readonly number[]) => string,
    private readonly continuesRun: (token: number) => boolean = () => false,
  ) {}

  get text(): string {
    return this.sent;
  }

  push(tokens: readonly number[]): string {
    for (const token of tokens) this.tokens.push(token);
    const last = this.tokens.at(-1);
    if (last !== undefined && this.continuesRun(last)) return "";
    const delta = this.pending();
    if (delta === undefined || delta.length === 0 || delta.endsWith(REPLACEMENT)) return "";
    this.prefixOffset = this.readOffset;
    this.readOffset = this.tokens.length;
    this.sent += delta;
    return delta;
  }

  flush(): string {
    // An unstable window at the very end: the whole text decides what is left to send.
    let delta = this.pending();
    if (delta === undefined) {
      const whole = this.decode(this.tokens);
      delta = whole.startsWith(this.sent) ? whole.slice(this.sent.length) : "";
    }
    this.prefixOffset = this.readOffset = this.tokens.length;
    this.sent += delta;
    return delta;
  }

  /** What the unsent tokens add to the text; undefined when the window's text is not yet stable. */
  private pending(): string | undefined {
    if (this.readOffset === this.tokens.length) return "";
    const window = this.tokens.slice(this.prefixOffset);
    const before = this.prefixOffset === this.readOffset ? "" : this.decode(window.slice(0, this.readOffset - this.prefixOffset));
    const after = this.decode(window);
    if (!after.startsWith(before)) return undefined;
    return after.slice(before.length);
  }
}
