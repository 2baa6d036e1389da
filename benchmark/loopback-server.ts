/**
 * A minimal OpenAI-compatible streaming server (POST /v1/chat/completions and /v1/completions),
 * for the load generator's own checks: the tests and `npm run bench:client` drive it on
 * 127.0.0.1. It streams `tokens` content chunks (or max_tokens, if smaller), optionally after a
 * first-token delay and with inter-token delays, and ends with a usage chunk when the client asks
 * for one (stream_options.include_usage) unless `usage` is off. It is no model: the content is
 * the word "tok" repeated.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface LoopbackServerOptions {
  port?: number;
  tokens?: number;
  firstTokenDelayMs?: number;
  interTokenDelayMs?: number;
  usage?: boolean;
  /** Request n streams tokens + (n mod (tokenJitter + 1)) chunks, so equal requests do not stay in lock-step. */
  tokenJitter?: number;
  /** Every n-th request (1-based) answers HTTP 500. */
  failEvery?: number;
  /** Model id the server claims to serve (any id is accepted). */
  model?: string;
  /**
   * When set, the only models served: a request for another answers 404 as OpenAI-compatible
   * servers do ("The model `x` does not exist."), and GET /v1/models lists these.
   */
  models?: string[];
}

export interface LoopbackServer {
  url: string;
  port: number;
  requests: { path: string; body: Record<string, unknown> }[];
  /** Keep request bodies (off in benchmarks). */
  record: boolean;
  close(): Promise<void>;
}

export async function startLoopbackServer(opts: LoopbackServerOptions = {}): Promise<LoopbackServer> {
  const tokens = opts.tokens ?? 16;
  const first = opts.firstTokenDelayMs ?? 0;
  const gap = opts.interTokenDelayMs ?? 0;
  const withUsage = opts.usage ?? true;
  let count = 0;
  const state: LoopbackServer = { url: "", port: 0, requests: [], record: true, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const n = ++count;
      const chat = req.url === "/v1/chat/completions";
      if (req.method === "GET" && req.url === "/v1/models" && opts.models) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data: opts.models.map((id) => ({ id, object: "model" })) }));
        return;
      }
      if (req.method !== "POST" || (!chat && req.url !== "/v1/completions")) {
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
        return;
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end('{"error":{"message":"body is not JSON"}}');
        return;
      }
      if (state.record) state.requests.push({ path: req.url!, body });
      if (opts.models && !opts.models.includes(String(body.model))) {
        const message = `The model \`${String(body.model).slice(0, 100)}\` does not exist.`;
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message, type: "NotFoundError", param: "model", code: 404 } }));
        return;
      }
      if (opts.failEvery && n % opts.failEvery === 0) {
        res.writeHead(500, { "content-type": "application/json" }).end('{"error":{"message":"injected failure"}}');
        return;
      }
      const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : tokens;
      const k = Math.max(1, Math.min(tokens + (n % ((opts.tokenJitter ?? 0) + 1)), maxTokens));
      const usage = withUsage && (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      const event = chat ? '{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"tok "}}]}' : '{"object":"text_completion","choices":[{"index":0,"text":"tok "}]}';
      // Prompt "tokens": its words, plus 8 for a chat template (a stand-in tokenizer, so input-length calibration has a rate to find).
      const text = chat ? ((body.messages as { content?: unknown }[] | undefined) ?? []).map((m) => String(m.content ?? "")).join(" ") : String(body.prompt ?? "");
      const promptTokens = 8 + (text.match(/\S+/g)?.length ?? 0);
      const tail = (usage ? `data: {"choices":[],"usage":{"prompt_tokens":${promptTokens},"completion_tokens":${k},"total_tokens":${promptTokens + k}}}\n\n` : "") + "data: [DONE]\n\n";
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      if (gap === 0) {
        const send = () => res.end(`data: ${event}\n\n`.repeat(k) + tail);
        if (first > 0) setTimeout(send, first);
        else send();
        return;
      }
      let sent = 0;
      const next = () => {
        res.write(`data: ${event}\n\n`);
        if (++sent < k) setTimeout(next, gap);
        else res.end(tail);
      };
      setTimeout(next, first);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  state.port = port;
  state.url = `http://127.0.0.1:${port}/v1`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
