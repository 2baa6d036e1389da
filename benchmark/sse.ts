/**
 * Incremental Server-Sent Events parser for OpenAI-style streams. Bytes arrive in arbitrary
 * chunks (a UTF-8 character or a line may be split across two); the parser keeps the partial
 * line as bytes and hands each complete event's data to `onData` as soon as its blank line
 * arrives. Lines are found in the bytes and only "data" values are decoded, once each, so a
 * stream costs one string per event: this runs for every chunk of every stream under load.
 * "event", "id", "retry" and comments are skipped.
 */

const LF = 10;
const CR = 13;
const DATA = Buffer.from("data:");

export class SseParser {
  /** A line not yet ended by LF. */
  private pending: Buffer | null = null;
  /** Data lines of the event being read (usually one). */
  private data: string | null = null;
  private more: string[] | null = null;
  /** Bytes accepted so far, to bound a runaway stream. */
  bytes = 0;

  constructor(
    private readonly onData: (data: string) => void,
    private readonly maxLineBytes = 1 << 20,
  ) {}

  /** Takes bytes `start` to `end` of `chunk` (the whole chunk by default). */
  push(chunk: Buffer, start = 0, end = chunk.length): void {
    this.bytes += end - start;
    if (this.pending) {
      // Rare: a line split across reads. Join it with the rest and go on from one buffer.
      chunk = Buffer.concat([this.pending, chunk.subarray(start, end)]);
      start = 0;
      end = chunk.length;
      this.pending = null;
    }
    let at = start;
    while (at < end) {
      const nl = chunk.indexOf(LF, at);
      if (nl < 0 || nl >= end) break;
      const stop = nl > at && chunk[nl - 1] === CR ? nl - 1 : nl;
      this.line(chunk, at, stop);
      at = nl + 1;
    }
    if (at < end) {
      if (end - at > this.maxLineBytes) throw new SseError(`SSE line longer than ${this.maxLineBytes} bytes`);
      // Copied: the caller's buffer may be reused.
      this.pending = Buffer.from(chunk.subarray(at, end));
    }
  }

  /** Flushes a final event that was not followed by a blank line. */
  end(): void {
    const rest = this.pending;
    this.pending = null;
    if (rest && rest.length > 0) this.line(rest, 0, rest[rest.length - 1] === CR ? rest.length - 1 : rest.length);
    this.dispatch();
  }

  private line(buf: Buffer, start: number, end: number): void {
    if (start === end) return this.dispatch();
    if (end - start < 5 || buf.compare(DATA, 0, 5, start, start + 5) !== 0) return;
    // "data:", with one optional space after the colon.
    const from = buf[start + 5] === 32 ? start + 6 : start + 5;
    const value = buf.toString("utf8", from, end);
    if (this.data === null) this.data = value;
    else (this.more ??= []).push(value);
  }

  private dispatch(): void {
    if (this.data === null) return;
    const data = this.more === null ? this.data : [this.data, ...this.more].join("\n");
    this.data = null;
    this.more = null;
    this.onData(data);
  }
}

export class SseError extends Error {
  override name = "SseError";
}
