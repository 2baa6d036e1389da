/**
 * The load generator's HTTP client: one streamed completion per `send`, over raw keep-alive
 * sockets (`./http/connection-pool.ts`) with an incremental HTTP/1.1 response parser
 * (`./http/response-parser.ts`) and SSE parser (`./sse.ts`). Neither node:http, fetch, undici
 * nor the openai package is in the path: their per-request request/response streams, agents and
 * promise layers cost more than a millisecond at p99 with hundreds of streams (bench:client).
 * Timestamps are performance.now() in milliseconds.
 *
 * Timing model: `scheduledAt` is when the driver wanted the request out (a Poisson arrival, or a
 * closed-loop slot becoming free). `sentAt` is when the request had a connected socket and its
 * bytes were handed to the kernel. TTFT runs from sentAt, so time spent waiting for a free
 * connection in the client (queue_ms = sentAt - scheduledAt) is reported apart, not in TTFT.
 * Arrival times are read the moment a socket delivers bytes; parsing them (HTTP framing, SSE,
 * JSON) is deferred to after the event loop's poll phase, so that decoding one stream's chunk
 * never delays the timestamp of another stream's bytes that arrived in the same loop turn.
 */
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import type { ConnectionOptions } from "node:tls";
import { ClientClosedError, ConnectionPool, type Connection, type ConnectionOwner } from "./http/connection-pool.ts";
import { ResponseParser, type ResponseHandlers, type ResponseHead } from "./http/response-parser.ts";
import { SseParser } from "./sse.ts";

export type Api = "chat" | "completions";

export interface EndpointOptions {
  baseUrl: string;
  api: Api;
  model: string;
  maxTokens: number;
  temperature: number;
  apiKey?: string;
  /** Socket pool size; closed-loop drivers set it to the concurrency. */
  maxSockets: number;
  /** Idle limit per request in ms: it fails with "timeout" when no byte arrives for this long. */
  timeoutMs?: number;
  /** Extra body fields (e.g. seed), recorded in the envelope's driver options by the caller. */
  extraBody?: Record<string, unknown>;
  /** For https endpoints: extra TLS options (a private CA, for instance). */
  tls?: ConnectionOptions;
  /** Size of the arena that holds bytes between two flushes (default 1 MiB; a fuller one is replaced). */
  arenaBytes?: number;
}

export type TokenSource = "server_usage" | "stream_chunks";

export interface RequestResult {
  ok: boolean;
  status: number;
  error: string | null;
  scheduledAt: number;
  sentAt: number;
  firstTokenAt: number | null;
  endAt: number;
  /** Arrival times of every non-empty content chunk. */
  chunkTimes: number[];
  outputTokens: number;
  promptTokens: number | null;
  tokenSource: TokenSource;
  outputChars: number;
  /** The proof record the endpoint named (x-proof-record header or the stream's proof.record_id). */
  proofRecordId: string | null;
  /** The leaf hash of that record (the stream's proof.leaf_hash), when the endpoint sent one. */
  leafHash: string | null;
  /** max_tokens this request asked for. */
  maxTokens: number;
}

/** The longest error-response body kept for the error message. */
const ERROR_BODY_CHARS = 500;

type StreamEvent = {
  choices?: { delta?: { content?: string | null }; text?: string | null }[];
  usage?: { completion_tokens?: number; prompt_tokens?: number } | null;
  error?: unknown;
  /** The project's prover: the proof extension on the last chunk. */
  proof?: { record_id?: unknown; leaf_hash?: unknown } | null;
};

/** What a proof-record id and a leaf hash may look like; anything else from a server is dropped. */
const RECORD_ID = /^[A-Za-z0-9_-]{1,128}$/;
const LEAF_HASH = /^0x[0-9a-f]{64}$/;

/** Bytes (start..end of buffer) or a close (buffer null) that a socket delivered, waiting for the post-poll flush. */
interface Arrival {
  exchange: Exchange;
  now: number;
  buffer: Buffer | null;
  start: number;
  end: number;
  error: Error | null;
}

/** Bytes that arrive between two flushes are copied back to back into an arena of this size. */
const ARENA_BYTES = 1 << 20;

export class StreamingClient {
  private readonly pool: ConnectionPool;
  private readonly requestHead: string;
  private readonly bodyPrefix: string;
  /** Chat completions (delta.content) rather than completions (text). */
  readonly chat: boolean;
  private arrivals: Arrival[] = [];
  private flushScheduled = false;
  private arena: Buffer;
  private arenaUsed = 0;
  private readonly arenaBytes: number;

  constructor(readonly options: EndpointOptions) {
    const url = new URL(options.baseUrl.replace(/\/+$/, "") + (options.api === "chat" ? "/chat/completions" : "/completions"));
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`--base-url must be http(s), got ${url.protocol}`);
    const https = url.protocol === "https:";
    // URL keeps the brackets of an IPv6 literal in hostname; sockets want the bare address.
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port || (https ? 443 : 80));
    const tls = https ? { ...(isIP(host) ? {} : { servername: host }), ...options.tls } : undefined;
    this.pool = new ConnectionPool({ host, port, tls, maxSockets: options.maxSockets, connectTimeoutMs: options.timeoutMs });
    this.arenaBytes = options.arenaBytes ?? ARENA_BYTES;
    this.arena = Buffer.allocUnsafe(this.arenaBytes);
    this.chat = options.api === "chat";
    // Everything but the prompt and its length is the same for every request: build it once.
    this.requestHead =
      `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: verifiable-benchmarks\r\n` +
      `Content-Type: application/json\r\nAccept: text/event-stream\r\n` +
      (options.apiKey ? `Authorization: Bearer ${options.apiKey}\r\n` : "");
    // max_tokens is per request (a --max-tokens distribution); it goes first, before this prefix.
    const common = {
      model: options.model,
      temperature: options.temperature,
      stream: true,
      stream_options: { include_usage: true },
      ...options.extraBody,
    };
    this.bodyPrefix = JSON.stringify(common).slice(0, -1);
  }

  private request(prompt: string, maxTokens: number): string {
    const p = JSON.stringify(prompt);
    const head = `{"max_tokens":${maxTokens},${this.bodyPrefix.slice(1)}`;
    const body = this.chat ? `${head},"messages":[{"role":"user","content":${p}}]}` : `${head},"prompt":${p}}`;
    return `${this.requestHead}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  }

  /** Sends one streamed request; never rejects (failures come back with ok=false). */
  send(prompt: string, scheduledAt = performance.now(), maxTokens = this.options.maxTokens): Promise<RequestResult> {
    return new Promise((resolve) => new Exchange(this, this.request(prompt, maxTokens), scheduledAt, maxTokens, resolve).start());
  }

  /** @internal */
  acquire(cb: (error: Error | null, c: Connection | null) => void): void {
    this.pool.acquire(cb);
  }

  /** @internal */
  release(c: Connection, reusable: boolean): void {
    this.pool.release(c, reusable);
  }

  /** @internal Queues bytes a socket delivered (copied: the socket reuses its buffer); parsing waits until the poll phase is over. */
  arriveBytes(exchange: Exchange, now: number, buffer: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.arenaUsed + n > this.arena.length) {
      // Arrivals still queued keep the old arena alive until the flush.
      this.arena = Buffer.allocUnsafe(Math.max(this.arenaBytes, n));
      this.arenaUsed = 0;
    }
    buffer.copy(this.arena, this.arenaUsed, start, end);
    this.queue({ exchange, now, buffer: this.arena, start: this.arenaUsed, end: this.arenaUsed + n, error: null });
    this.arenaUsed += n;
  }

  /** @internal Queues the close of an exchange's connection, behind its bytes. */
  arriveClose(exchange: Exchange, now: number, error: Error | null): void {
    this.queue({ exchange, now, buffer: null, start: 0, end: 0, error });
  }

  private queue(a: Arrival): void {
    this.arrivals.push(a);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const batch = this.arrivals;
    this.arrivals = [];
    for (const a of batch) a.exchange.process(a);
    // Reads never happen inside this loop, so unless a close was queued meanwhile the arena is free again.
    if (this.arrivals.length === 0) this.arenaUsed = 0;
  };

  /** Closes every connection; requests still in flight fail with "client closed". */
  close(): void {
    this.pool.destroy();
  }
}

/** One request and its response on one connection. */
class Exchange implements ConnectionOwner, ResponseHandlers {
  private readonly r: RequestResult;
  private readonly parser: ResponseParser;
  private readonly sse: SseParser;
  private connection: Connection | null = null;
  /** The last connection this request went out on, even after it was handed back. */
  private carrier: Connection | null = null;
  private retried = false;
  private finished = false;
  private chunkNow = 0;
  private usageTokens: number | null = null;
  private sawDone = false;
  private errorBody = "";

  constructor(
    private readonly client: StreamingClient,
    private readonly wire: string,
    scheduledAt: number,
    maxTokens: number,
    private readonly resolve: (r: RequestResult) => void,
  ) {
    this.r = {
      ok: false, status: 0, error: null, scheduledAt, sentAt: scheduledAt, firstTokenAt: null, endAt: scheduledAt,
      chunkTimes: [], outputTokens: 0, promptTokens: null, tokenSource: "stream_chunks", outputChars: 0,
      proofRecordId: null, leafHash: null, maxTokens,
    };
    this.parser = new ResponseParser(this);
    this.sse = new SseParser((data) => this.onEvent(data));
  }

  start(): void {
    this.client.acquire((error, c) => {
      if (error || !c) return this.finish(error?.message ?? "no connection", performance.now());
      if (this.finished) return this.client.release(c, true);
      this.connection = c;
      this.carrier = c;
      c.owner = this;
      const timeout = this.client.options.timeoutMs;
      if (timeout) c.setIdleTimeout(timeout, () => this.fail(`timeout after ${timeout} ms without data`, performance.now()));
      this.r.sentAt = performance.now();
      c.write(this.wire);
    });
  }

  onData(buffer: Buffer, start: number, end: number, now: number): void {
    this.client.arriveBytes(this, now, buffer, start, end);
  }

  onClose(error: Error | null, now: number): void {
    this.client.arriveClose(this, now, error);
  }

  /** Runs in the client's flush, in arrival order. */
  process(a: Arrival): void {
    if (this.finished) {
      // Bytes after this response ended: the connection's framing can no longer be trusted.
      if (a.buffer && this.carrier && !this.carrier.closed) this.carrier.destroy();
      return;
    }
    this.chunkNow = a.now;
    try {
      if (a.buffer) this.parser.push(a.buffer, a.start, a.end);
      else return this.closed(a.error, a.now);
    } catch (e) {
      return this.fail((e as Error).message, a.now);
    }
    if (this.parser.done) this.complete(a.now);
  }

  private closed(error: Error | null, now: number): void {
    const c = this.connection;
    this.connection = null;
    if (error instanceof ClientClosedError) return this.finish(error.message, now);
    // A kept-alive connection the server closed before answering: send once more on a fresh one.
    if (!this.parser.started && c && c.served > 0 && !this.retried) {
      this.retried = true;
      return this.start();
    }
    try {
      this.parser.eof();
    } catch (e) {
      return this.finish(error ? `${(e as Error).message} (${error.message})` : (e as Error).message, now);
    }
    this.complete(now);
  }

  onHead(head: ResponseHead): void {
    this.r.status = head.status;
    const record = head.headers.get("x-proof-record");
    if (record !== undefined && RECORD_ID.test(record)) this.r.proofRecordId = record;
  }

  onBody(buffer: Buffer, start: number, end: number): void {
    if (this.r.status === 200) this.sse.push(buffer, start, end);
    else if (this.errorBody.length < ERROR_BODY_CHARS) this.errorBody += buffer.toString("utf8", start, end);
  }

  /** Completion is checked after each push (see process), not here. */
  onEnd(): void {}

  private onEvent(data: string): void {
    if (data === "[DONE]") {
      this.sawDone = true;
      return;
    }
    let msg: StreamEvent;
    try {
      msg = JSON.parse(data) as StreamEvent;
    } catch {
      throw new Error(`stream event is not JSON: ${data.slice(0, 80)}`);
    }
    if (msg.error) throw new Error(`server error in stream: ${JSON.stringify(msg.error).slice(0, 200)}`);
    const choice = msg.choices?.[0];
    const content = choice ? (this.client.chat ? choice.delta?.content : choice.text) : null;
    if (content) {
      if (this.r.firstTokenAt === null) this.r.firstTokenAt = this.chunkNow;
      this.r.chunkTimes.push(this.chunkNow);
      this.r.outputChars += content.length;
    }
    if (msg.proof && typeof msg.proof === "object") {
      const { record_id: id, leaf_hash: leaf } = msg.proof;
      if (typeof id === "string" && RECORD_ID.test(id)) this.r.proofRecordId ??= id;
      if (typeof leaf === "string" && LEAF_HASH.test(leaf)) this.r.leafHash = leaf;
    }
    if (msg.usage && typeof msg.usage.completion_tokens === "number") {
      this.usageTokens = msg.usage.completion_tokens;
      this.r.promptTokens = typeof msg.usage.prompt_tokens === "number" ? msg.usage.prompt_tokens : null;
    }
  }

  /** The whole response is in: hand the connection back and settle. */
  private complete(now: number): void {
    if (this.connection) {
      const c = this.connection;
      this.connection = null;
      c.owner = null;
      this.client.release(c, this.parser.reusable);
    }
    if (this.r.status !== 200) return this.finish(`HTTP ${this.r.status}: ${this.errorBody.slice(0, 200)}`, now);
    try {
      this.sse.end();
    } catch (e) {
      return this.finish((e as Error).message, now);
    }
    this.finish(this.sawDone ? null : "stream ended without [DONE]", now);
  }

  /** Fails the request and closes its connection (its state is unknown). */
  private fail(message: string, now: number): void {
    const c = this.connection;
    this.connection = null;
    if (c) {
      c.owner = null;
      c.destroy();
    }
    this.finish(message, now);
  }

  private finish(error: string | null, now: number): void {
    if (this.finished) return;
    this.finished = true;
    const r = this.r;
    r.endAt = now;
    r.error = error;
    r.ok = error === null;
    if (this.usageTokens !== null) {
      r.outputTokens = this.usageTokens;
      r.tokenSource = "server_usage";
    } else {
      r.outputTokens = r.chunkTimes.length;
    }
    this.resolve(r);
  }
}
