/**
 * Incremental HTTP/1.1 response parser for the load generator: status line, headers, then the
 * body framed by chunked transfer coding, Content-Length, or the connection closing. Bytes are
 * pushed as they arrive, split anywhere. Body bytes are reported in place as (buffer, start, end),
 * neither copied nor wrapped in a subarray: one object fewer per read, at thousands of reads per
 * second. One parser per response; the client sends no pipelined requests, so any byte after the
 * end of a response is a protocol error, as is anything malformed or over a limit.
 */

export class HttpProtocolError extends Error {
  override name = "HttpProtocolError";
}

export interface ResponseHead {
  status: number;
  reason: string;
  /** Header names lowercased; repeated headers joined with ", ". */
  headers: Map<string, string>;
  /** Whether the connection may carry another request after this response. */
  keepAlive: boolean;
}

export interface ResponseHandlers {
  onHead(head: ResponseHead): void;
  /** Body bytes `start` to `end` of `buffer`, valid only during the call. */
  onBody(buffer: Buffer, start: number, end: number): void;
  onEnd(): void;
}

export interface ParserLimits {
  /** Status line plus headers (and, separately, chunked trailers). */
  maxHeadBytes: number;
  /** One chunk-size line, extensions included. */
  maxChunkLineBytes: number;
}

const DEFAULT_LIMITS: ParserLimits = { maxHeadBytes: 64 * 1024, maxChunkLineBytes: 4096 };

const enum State {
  Head,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  Fixed,
  UntilClose,
  Done,
}

const CRLFCRLF = Buffer.from("\r\n\r\n");
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEX = /^[0-9A-Fa-f]{1,12}$/;

export class ResponseParser {
  private state = State.Head;
  private head: Buffer | null = null;
  /** Partial chunk-size or trailer line, as latin1 text. */
  private line = "";
  private lineEnd = 0;
  private trailerBytes = 0;
  private remaining = 0;
  private crlfSeen = 0;
  private keepAlive = false;
  private readonly limits: ParserLimits;

  constructor(
    private readonly handlers: ResponseHandlers,
    limits: Partial<ParserLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Whether the whole response has been read. */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** Whether any byte of the response has arrived. */
  get started(): boolean {
    return this.state !== State.Head || this.head !== null;
  }

  /** Takes bytes `start` to `end` of `chunk` (all of it by default); they are not kept. */
  push(chunk: Buffer, start = 0, end = chunk.length): void {
    let at = start;
    while (at < end) {
      switch (this.state) {
        case State.Head:
          at = this.readHead(chunk, at, end);
          break;
        case State.ChunkSize: {
          const line = this.readLine(chunk, at, end, this.limits.maxChunkLineBytes);
          at = this.lineEnd;
          if (line !== null) this.chunkSize(line);
          break;
        }
        case State.ChunkData:
        case State.Fixed: {
          const n = Math.min(this.remaining, end - at);
          this.handlers.onBody(chunk, at, at + n);
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            if (this.state === State.Fixed) this.finish();
            else this.state = State.ChunkDataEnd;
          }
          break;
        }
        case State.ChunkDataEnd: {
          // The CRLF after a chunk's data, possibly split across reads.
          const want = this.crlfSeen === 0 ? 13 : 10;
          if (chunk[at] !== want) throw new HttpProtocolError("chunk data is longer than its declared size");
          at++;
          if (++this.crlfSeen === 2) {
            this.crlfSeen = 0;
            this.state = State.ChunkSize;
          }
          break;
        }
        case State.Trailers: {
          const line = this.readLine(chunk, at, end, this.limits.maxHeadBytes);
          at = this.lineEnd;
          if (line === null) break;
          this.trailerBytes += line.length + 2;
          if (this.trailerBytes > this.limits.maxHeadBytes) throw new HttpProtocolError(`chunked trailers larger than ${this.limits.maxHeadBytes} bytes`);
          if (line === "") this.finish();
          break;
        }
        case State.UntilClose:
          this.handlers.onBody(chunk, at, end);
          at = end;
          break;
        case State.Done:
          throw new HttpProtocolError(`${end - at} bytes after the end of the response`);
      }
    }
  }

  /** The connection ended (the peer closed it). Completes a close-delimited body; anything else was cut short. */
  eof(): void {
    if (this.state === State.Done) return;
    if (this.state === State.UntilClose) return this.finish();
    const where = this.state === State.Head ? (this.head ? "in the response head" : "before any response") : "in the response body";
    throw new HttpProtocolError(`connection closed ${where}`);
  }

  private readHead(chunk: Buffer, at: number, stop: number): number {
    const prior = this.head?.length ?? 0;
    const buf = prior === 0 ? chunk.subarray(at, stop) : Buffer.concat([this.head!, chunk.subarray(at, stop)]);
    // Search from a little before the new bytes: the CRLFCRLF may straddle the two.
    const end = buf.indexOf(CRLFCRLF, Math.max(0, prior - 3));
    if (end < 0) {
      if (buf.length > this.limits.maxHeadBytes) throw new HttpProtocolError(`response head larger than ${this.limits.maxHeadBytes} bytes`);
      // Copy: the socket may reuse its buffer.
      this.head = Buffer.from(buf);
      return stop;
    }
    if (end + 4 > this.limits.maxHeadBytes) throw new HttpProtocolError(`response head larger than ${this.limits.maxHeadBytes} bytes`);
    this.head = null;
    const consumed = end + 4 - prior;
    this.startBody(this.parseHead(buf.toString("latin1", 0, end)));
    return at + consumed;
  }

  private parseHead(text: string): ResponseHead {
    const lines = text.split("\r\n");
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) throw new HttpProtocolError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon) : "";
      if (!TOKEN.test(name)) throw new HttpProtocolError(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
      const key = name.toLowerCase();
      const value = line.slice(colon + 1).trim();
      const had = headers.get(key);
      headers.set(key, had === undefined ? value : `${had}, ${value}`);
    }
    const http10 = m[1] === "0";
    const connection = (headers.get("connection") ?? "").toLowerCase();
    const keepAlive = http10 ? /\bkeep-alive\b/.test(connection) : !/\bclose\b/.test(connection);
    return { status: Number(m[2]), reason: m[3] ?? "", headers, keepAlive };
  }

  private startBody(head: ResponseHead): void {
    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (head.status >= 100 && head.status < 200) {
      if (head.status === 101) throw new HttpProtocolError("unexpected protocol upgrade (101)");
      return;
    }
    this.handlers.onHead(head);
    this.keepAlive = head.keepAlive;
    const encoding = head.headers.get("content-encoding");
    if (encoding && encoding.toLowerCase() !== "identity") throw new HttpProtocolError(`compressed response (content-encoding: ${encoding}) not supported`);
    const te = head.headers.get("transfer-encoding");
    const cl = head.headers.get("content-length");
    if (head.status === 204 || head.status === 304) return this.finish();
    if (te !== undefined) {
      const codings = te.toLowerCase().split(",").map((s) => s.trim());
      if (codings[codings.length - 1] === "chunked") {
        if (codings.length > 1) throw new HttpProtocolError(`transfer-encoding ${te} not supported`);
        // A message with both is a smuggling risk: never reuse its connection.
        if (cl !== undefined) this.keepAlive = false;
        this.state = State.ChunkSize;
        return;
      }
      this.keepAlive = false;
      this.state = State.UntilClose;
      return;
    }
    if (cl !== undefined) {
      const values = new Set(cl.split(",").map((s) => s.trim()));
      const only = values.size === 1 ? [...values][0]! : "";
      if (!/^\d{1,15}$/.test(only)) throw new HttpProtocolError(`invalid content-length: ${JSON.stringify(cl)}`);
      this.remaining = Number(only);
      if (this.remaining === 0) return this.finish();
      this.state = State.Fixed;
      return;
    }
    this.keepAlive = false;
    this.state = State.UntilClose;
  }

  private chunkSize(line: string): void {
    const semi = line.indexOf(";");
    const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
    if (!HEX.test(hex)) throw new HttpProtocolError(`invalid chunk size line: ${JSON.stringify(line.slice(0, 40))}`);
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = State.Trailers;
      this.trailerBytes = 0;
      return;
    }
    this.remaining = size;
    this.state = State.ChunkData;
  }

  /**
   * Accumulates one CRLF-terminated line (at most `max` bytes before the CRLF). Returns it once
   * complete, else null; `lineEnd` is where reading stopped either way.
   */
  private readLine(chunk: Buffer, at: number, stop: number, max: number): string | null {
    let lf = chunk.indexOf(10, at);
    if (lf >= stop) lf = -1;
    const upto = lf < 0 ? stop : lf;
    this.line = this.line === "" ? chunk.toString("latin1", at, upto) : this.line + chunk.toString("latin1", at, upto);
    if (this.line.length > max + 1) throw new HttpProtocolError(`line longer than ${max} bytes in the chunked body`);
    this.lineEnd = lf < 0 ? stop : lf + 1;
    if (lf < 0) return null;
    const line = this.line;
    this.line = "";
    if (line.charCodeAt(line.length - 1) !== 13) throw new HttpProtocolError("bare LF in the chunked body framing");
    return line.slice(0, -1);
  }

  private finish(): void {
    this.state = State.Done;
    this.handlers.onEnd();
  }

  /** After onEnd: whether the connection can be reused. */
  get reusable(): boolean {
    return this.state === State.Done && this.keepAlive;
  }
}
