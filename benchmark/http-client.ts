/**
 * The load generator's HTTP client: node:http with a keep-alive Agent and the SSE parser above,
 * no fetch/undici/openai in the hot path (each adds per-request promise and stream layers).
 * One call = one streamed completion; timestamps are performance.now() in milliseconds.
 *
 * Timing model: `scheduledAt` is when the driver wanted the request out (a Poisson arrival, or a
 * closed-loop slot becoming free). `sentAt` is when the request had a connected socket and its
 * bytes were handed to the kernel. TTFT runs from sentAt, so time spent waiting for a free
 * connection in the client (queue_ms = sentAt - scheduledAt) is reported apart, not in TTFT.
 */
import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
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
  /** Per-request limit in ms; the request fails with "timeout" after it. */
  timeoutMs?: number;
  /** Extra body fields (e.g. seed), recorded in the envelope's driver options by the caller. */
  extraBody?: Record<string, unknown>;
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
}

export class StreamingClient {
  readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly host: string;
  private readonly port: number;
  private readonly path: string;
  private readonly headersBase: Record<string, string>;
  private readonly bodyPrefix: string;

  constructor(readonly options: EndpointOptions) {
    const url = new URL(options.baseUrl.replace(/\/+$/, "") + (options.api === "chat" ? "/chat/completions" : "/completions"));
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`--base-url must be http(s), got ${url.protocol}`);
    this.transport = url.protocol === "https:" ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets, scheduling: "fifo" });
    this.host = url.hostname;
    this.port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    this.path = url.pathname + url.search;
    this.headersBase = { "content-type": "application/json", accept: "text/event-stream" };
    if (options.apiKey) this.headersBase.authorization = `Bearer ${options.apiKey}`;
    // Everything but the prompt is the same for every request: serialize it once.
    const common = {
      model: options.model,
      max_tokens: options.maxTokens,
      temperature: options.temperature,
      stream: true,
      stream_options: { include_usage: true },
      ...options.extraBody,
    };
    this.bodyPrefix = JSON.stringify(common).slice(0, -1);
  }

  private body(prompt: string): string {
    const p = JSON.stringify(prompt);
    return this.options.api === "chat" ? `${this.bodyPrefix},"messages":[{"role":"user","content":${p}}]}` : `${this.bodyPrefix},"prompt":${p}}`;
  }

  /** Sends one streamed request; never rejects (failures come back with ok=false). */
  send(prompt: string, scheduledAt = performance.now()): Promise<RequestResult> {
    const body = this.body(prompt);
    const chat = this.options.api === "chat";
    return new Promise((resolve) => {
      const r: RequestResult = {
        ok: false, status: 0, error: null, scheduledAt, sentAt: scheduledAt, firstTokenAt: null, endAt: scheduledAt,
        chunkTimes: [], outputTokens: 0, promptTokens: null, tokenSource: "stream_chunks", outputChars: 0,
      };
      let usageTokens: number | null = null;
      let done = false;
      let sawDone = false;
      let chunkNow = 0;
      const finish = (error: string | null) => {
        if (done) return;
        done = true;
        r.endAt = performance.now();
        r.error = error;
        r.ok = error === null;
        if (usageTokens !== null) {
          r.outputTokens = usageTokens;
          r.tokenSource = "server_usage";
        } else {
          r.outputTokens = r.chunkTimes.length;
        }
        resolve(r);
      };
      const parser = new SseParser((data) => {
        if (data === "[DONE]") {
          sawDone = true;
          return;
        }
        let msg: { choices?: { delta?: { content?: string | null }; text?: string | null }[]; usage?: { completion_tokens?: number; prompt_tokens?: number } | null; error?: unknown };
        try {
          msg = JSON.parse(data);
        } catch {
          throw new Error(`stream event is not JSON: ${data.slice(0, 80)}`);
        }
        if (msg.error) throw new Error(`server error in stream: ${JSON.stringify(msg.error).slice(0, 200)}`);
        const choice = msg.choices?.[0];
        const content = choice ? (chat ? choice.delta?.content : choice.text) : null;
        if (content) {
          if (r.firstTokenAt === null) r.firstTokenAt = chunkNow;
          r.chunkTimes.push(chunkNow);
          r.outputChars += content.length;
        }
        if (msg.usage && typeof msg.usage.completion_tokens === "number") {
          usageTokens = msg.usage.completion_tokens;
          r.promptTokens = typeof msg.usage.prompt_tokens === "number" ? msg.usage.prompt_tokens : null;
        }
      });
      const req = this.transport.request(
        {
          host: this.host,
          port: this.port,
          path: this.path,
          method: "POST",
          agent: this.agent,
          headers: { ...this.headersBase, "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          r.status = res.statusCode ?? 0;
          if (r.status !== 200) {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => {
              if (text.length < 500) text += c;
            });
            res.on("end", () => finish(`HTTP ${r.status}: ${text.slice(0, 200)}`));
            return;
          }
          res.on("data", (chunk: Buffer) => {
            chunkNow = performance.now();
            try {
              parser.push(chunk);
            } catch (e) {
              req.destroy();
              finish((e as Error).message);
            }
          });
          res.on("end", () => {
            try {
              parser.end();
            } catch (e) {
              return finish((e as Error).message);
            }
            finish(sawDone ? null : "stream ended without [DONE]");
          });
          res.on("error", (e) => finish(e.message));
        },
      );
      req.on("socket", (socket) => {
        const mark = () => {
          r.sentAt = performance.now();
        };
        // For TLS the request goes out after the handshake, not at TCP connect.
        if ((socket as { connecting?: boolean }).connecting) socket.once(this.transport === https ? "secureConnect" : "connect", mark);
        else mark();
      });
      req.on("error", (e) => finish(e.message));
      if (this.options.timeoutMs) {
        req.setTimeout(this.options.timeoutMs, () => {
          req.destroy();
          finish(`timeout after ${this.options.timeoutMs} ms`);
        });
      }
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
