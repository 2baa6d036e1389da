/**
 * Incremental Server-Sent Events parser for OpenAI-style streams. Bytes arrive in arbitrary
 * chunks (a UTF-8 character or a line may be split across two); the parser keeps the partial
 * line and hands each complete event's data to `onData` as soon as its blank line arrives.
 * Only "data" fields matter for completions; "event", "id", "retry" and comments are skipped.
 */
import { StringDecoder } from "node:string_decoder";

export class SseParser {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  private data: string[] = [];
  /** Bytes accepted so far, to bound a runaway stream. */
  bytes = 0;

  constructor(
    private readonly onData: (data: string) => void,
    private readonly maxLineBytes = 1 << 20,
  ) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    const text = this.pending + this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.line(text, start, end);
      start = nl + 1;
    }
    this.pending = start === 0 ? text : text.slice(start);
    if (this.pending.length > this.maxLineBytes) throw new SseError(`SSE line longer than ${this.maxLineBytes} characters`);
  }

  /** Flushes a final event that was not followed by a blank line. */
  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = "";
    if (rest.length > 0) this.line(rest, 0, rest.length);
    this.dispatch();
  }

  private line(text: string, start: number, end: number): void {
    if (start === end) return this.dispatch();
    // "data:" (5 chars), with one optional space after the colon.
    if (text.startsWith("data:", start)) {
      const from = text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5;
      this.data.push(text.slice(from, end));
    }
  }

  private dispatch(): void {
    if (this.data.length === 0) return;
    const data = this.data.length === 1 ? this.data[0]! : this.data.join("\n");
    this.data = [];
    this.onData(data);
  }
}

export class SseError extends Error {
  override name = "SseError";
}
