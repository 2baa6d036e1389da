/**
 * Fuzzing the prover's HTTP API in-process: the real server (fastify, API keys, the real engine
 * on the embedded default model, a level store) on 127.0.0.1, fed raw requests: methods, paths
 * (every route, bad percent-encoding, long parameters), headers (keys good, bad and malformed,
 * oversized, wrong content types and lengths), bodies (mutations of valid completion and chat
 * requests, streaming included) and bytes that are not HTTP at all. Every answer must be a
 * success or an error in OpenAI's shape, never a 5xx, within the hang bound; nothing may escape
 * as an uncaught exception.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import fc from "fast-check";
import { Batcher } from "../../prover/batch/index.ts";
import { Engine } from "../../prover/engine/index.ts";
import { ApiKeys } from "../../prover/server/auth.ts";
import { buildProverApp } from "../../prover/server/index.ts";
import { ProofStore } from "../../prover/store/index.ts";
import { createLogger } from "../../runtime/observability.ts";
import { count, newFigures, problem, type Figures } from "./figures.ts";
import { hostileValue, mutatedBytes, mutatedJson, sample } from "./generators.ts";
import { exchange, isOpenAIError } from "./raw-http.ts";

const KEY = "sk-vb-fuzz-0123456789abcdef";

interface Built {
  bytes: Uint8Array;
  method: string;
  /** The bytes are not a complete request by themselves: the client's FIN completes them. */
  incomplete: boolean;
}

export function requestArbitrary(model: string): fc.Arbitrary<Built> {
  const completion = { model, prompt: "fuzz me", max_tokens: 4, temperature: 0, seed: 1 };
  const chat = { model, messages: [{ role: "user", content: "fuzz me" }], max_tokens: 4, stream: true, stream_options: { include_usage: true } };
  const segment = fc.oneof(fc.constantFrom("1", "0", "-1", "01", "999999999999999999999", "rec_" + "0".repeat(32), "%E0%A4%A", "%zz", "%00", "..", "x".repeat(150), "", "leaves", "%2F"), fc.string({ maxLength: 12 }).map(encodeURIComponent));
  const path = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("/v1/completions", "/v1/chat/completions") },
    { weight: 1, arbitrary: fc.constantFrom("/v1/models", "/health", "/v1/batches", "/metrics", "/", "/v1") },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom("/v1/batches/", "/v1/records/", "/v1/models/"), segment).map(([a, b]) => a + b) },
    { weight: 1, arbitrary: fc.tuple(segment, segment).map(([a, b]) => `/v1/batches/${a}/leaves/${b}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("/v1/batches?", "/v1/completions?", "/health?"), fc.constantFrom("limit=5", "limit=%zz", "order=desc", "after=1&limit=1000", "a=1&a=2", "x".repeat(300))).map(([a, b]) => a + b) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `/${s}`) },
  );
  const method = fc.oneof({ weight: 8, arbitrary: fc.constant("POST") }, { weight: 3, arbitrary: fc.constant("GET") }, { weight: 1, arbitrary: fc.constantFrom("PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "POSTX", "get") });
  const auth = fc.oneof(
    { weight: 8, arbitrary: fc.constant(`Bearer ${KEY}`) },
    { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, "", "Bearer", "Bearer ", `bearer ${KEY}`, `Basic ${Buffer.from(`u:${KEY}`).toString("base64")}`, `Bearer ${KEY}x`, `Bearer ${KEY} ${KEY}`, "Bearer \u00ff") },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`) },
  );
  const contentType = fc.oneof({ weight: 8, arbitrary: fc.constant("application/json") }, { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, "text/plain", "application/json; charset=latin1", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json\u0000", "*/*") });
  const valid = fc.record({
    prompt: fc.string({ minLength: 1, maxLength: 30 }), max_tokens: fc.integer({ min: 1, max: 8 }), temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    top_p: fc.double({ min: 0.01, max: 1, noNaN: true }), seed: fc.nat(), stream: fc.boolean(), stop: fc.oneof(fc.constant(undefined), fc.string({ minLength: 1, maxLength: 3 })),
  }).map((v) => JSON.stringify({ model, ...v, ...(v.stream ? { stream_options: { include_usage: true } } : {}) }));
  const body = fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 5, arbitrary: mutatedJson(completion).map((d) => JSON.stringify(d) ?? "") },
    { weight: 3, arbitrary: mutatedJson(chat).map((d) => JSON.stringify(d) ?? "") },
    { weight: 1, arbitrary: mutatedBytes(new TextEncoder().encode(JSON.stringify(completion))).map((b) => Buffer.from(b).toString("latin1")) },
    { weight: 1, arbitrary: fc.constantFrom("", "{", "null", "[]", '{"model":', "\u0000\u0001", "x".repeat(70_000)) },
  );
  const lengthMode = fc.oneof({ weight: 10, arbitrary: fc.constant("exact" as const) }, { weight: 1, arbitrary: fc.constantFrom("none" as const, "short" as const, "long" as const, "garbage" as const, "chunked" as const, "both" as const) });
  const extraHeader = fc.oneof({ weight: 10, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom(`X-Big: ${"a".repeat(20_000)}\r\n`, "X-Bad Header: 1\r\n", "Host: a\r\n", "Expect: 100-continue\r\n", "Connection: keep-alive, close\r\n", `X-Null: a\u0000b\r\n`) }, { weight: 1, arbitrary: hostileValue.map((v) => `X-Fuzz: ${String(v).replace(/[\r\n]/g, "")}\r\n`) });
  const structured = fc.record({ method, path, auth, contentType, body, lengthMode, extraHeader }).map(({ method, path, auth, contentType, body, lengthMode, extraHeader }): Built => {
    const payload = Buffer.from(body, "latin1");
    let head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
    if (auth !== undefined) head += `Authorization: ${auth}\r\n`;
    if (contentType !== undefined) head += `Content-Type: ${contentType}\r\n`;
    head += extraHeader;
    let rest: Buffer = payload;
    if (lengthMode === "exact") head += `Content-Length: ${payload.length}\r\n`;
    else if (lengthMode === "short") head += `Content-Length: ${Math.max(0, payload.length - 3)}\r\n`;
    else if (lengthMode === "long") head += `Content-Length: ${payload.length + 10}\r\n`;
    else if (lengthMode === "garbage") head += "Content-Length: abc\r\n";
    else if (lengthMode === "both") head += `Content-Length: ${payload.length}\r\nTransfer-Encoding: chunked\r\n`;
    else if (lengthMode === "chunked") {
      head += "Transfer-Encoding: chunked\r\n";
      rest = Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from("\r\n0\r\n\r\n")]);
    }
    return { bytes: Buffer.concat([Buffer.from(`${head}\r\n`, "latin1"), rest]), method, incomplete: lengthMode === "long" || lengthMode === "both" };
  });
  const garbage = fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.constantFrom("HELLO\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n" + "X: y\r\n".repeat(3000) + "\r\n").map((s) => new TextEncoder().encode(s))).map((bytes): Built => ({ bytes, method: "?", incomplete: true }));
  return fc.oneof({ weight: 20, arbitrary: structured }, { weight: 1, arbitrary: garbage });
}

export interface ProverFuzzOptions {
  runs: number;
  seed: number;
  /** Answers slower than this count as hangs. */
  hangMs?: number;
  /** Where the default model is built and cached. */
  cacheDir?: string;
  /** Requests in flight at once (the queue is sized to hold them). */
  concurrency?: number;
}

export async function fuzzProverHttp(options: ProverFuzzOptions): Promise<Figures> {
  const figures = newFigures("prover HTTP");
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "vb-fuzz-prover-"));
  const errorLines: string[] = [];
  const logger = createLogger("prover", "error", new Writable({ write(c, _e, done) { errorLines.push(String(c)); done(); } }));
  const escaped: unknown[] = [];
  const onEscape = (error: unknown) => escaped.push(error);
  process.on("uncaughtException", onEscape);
  process.on("unhandledRejection", onEscape);
  const engine = await Engine.load({ ...(options.cacheDir ? { cacheDir: options.cacheDir } : { cacheDir: join(dir, "models") }) });
  const store = await ProofStore.open(join(dir, "store"), { sync: false });
  const batcher = new Batcher(store, { maxRecords: 64, maxAgeMs: 3_600_000 });
  const concurrency = options.concurrency ?? 4;
  const app = await buildProverApp({
    engine, store, batcher, auth: ApiKeys.fromList([KEY], { maxConcurrent: 10_000, requestsPerMinute: 10_000_000 }),
    defaultMaxTokens: 8, maxWaiting: concurrency * 2, bodyLimitBytes: 64 * 1024, loggerInstance: logger,
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  const port = Number(new URL(address).port);
  try {
    const inputs = sample(requestArbitrary(engine.info.modelId), options.runs, options.seed);
    let next = 0;
    const worker = async () => {
      while (next < inputs.length) {
        const input = inputs[next++]!;
        figures.inputs++;
        const answer = await exchange("127.0.0.1", port, input.bytes, options.hangMs ?? 30_000, input.incomplete);
        const shown = Buffer.from(input.bytes.subarray(0, 300)).toString("latin1");
        if (answer.hang) problem(figures, "hangs", shown, "no complete answer");
        else if (answer.status === undefined) count(figures, "closed without an answer");
        else {
          count(figures, String(answer.status));
          if (answer.status >= 500) problem(figures, "http5xx", shown, `${answer.status} ${answer.body.slice(0, 200)}`);
          else if (answer.status >= 400 && input.method !== "HEAD" && !isOpenAIError(answer.body)) problem(figures, "untyped", shown, `${answer.status} body not in OpenAI's shape: ${answer.body.slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const health = await fetch(`${address}/health`).then((r) => r.status, () => 0);
    if (health !== 200) problem(figures, "crashes", "GET /health after the run", `answered ${health}`);
    for (const error of escaped) problem(figures, "crashes", "(process)", `escaped: ${(error as Error)?.stack ?? String(error)}`);
    // An error-level line is a server fault by the server's own account: counted as untyped.
    for (const line of errorLines) problem(figures, "untyped", "(log)", `error logged: ${line.slice(0, 300)}`);
  } finally {
    process.off("uncaughtException", onEscape);
    process.off("unhandledRejection", onEscape);
    await app.close();
    await batcher.stop();
    await store.close();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
  figures.seconds = (performance.now() - started) / 1000;
  return figures;
}
