/**
 * The prover's client-facing defences on loopback: API keys (Authorization: Bearer), per-key
 * concurrency and rate limits (429 + Retry-After), OpenAI-shaped errors for what fastify and
 * Node's HTTP parser refuse before any route runs, and a full queue logged as a warning without
 * a stack. The scripted engine holds generations busy on demand; the server code is the real one.
 */
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import net from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import OpenAI from "openai";
import { ConfigError, loadConfig } from "../../prover/config.ts";
import { apiKeys } from "../../prover/main.ts";
import { ApiKeyConfigError, ApiKeys } from "../../prover/server/auth.ts";
import { createLogger } from "../../runtime/observability.ts";
import { getJson, postRaw, startTestServer, tempDir, waitFor, type TestServer } from "../helpers/prover-server.ts";
import { ScriptedEngine } from "../helpers/scripted-engine.ts";

const KEY_A = "sk-vb-alice-0123456789abcdef";
const KEY_B = "sk-vb-bob-0123456789abcdef00";
const limits = { maxConcurrent: 4, requestsPerMinute: 600 };

function assertOpenAIError(result: { status: number; json: any }, status: number, code: string | null): void {
  assert.equal(result.status, status, JSON.stringify(result.json));
  assert.deepEqual(Object.keys(result.json?.error ?? {}).sort(), ["code", "message", "param", "type"], JSON.stringify(result.json));
  assert.equal(result.json.error.code, code);
}

async function call(server: TestServer, key: string | undefined, body: unknown = { model: "scripted-test-engine", prompt: "hi", max_tokens: 2 }) {
  const response = await fetch(`${server.address}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined, text };
}

/** Sends raw bytes and returns the raw answer (status line, headers, body). */
function raw(address: string, text: string): Promise<string> {
  const { hostname, port } = new URL(address);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(text));
    let out = "";
    socket.on("data", (c) => (out += c));
    socket.on("close", () => resolve(out));
    socket.on("error", () => resolve(out));
    socket.setTimeout(5_000, () => socket.destroy());
  });
}

function parseRaw(answer: string): { status: number; json: any } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
  return { status, json: JSON.parse(body) };
}

describe("prover server: API keys, per-key limits, OpenAI-shaped errors everywhere (scripted engine, loopback)", function () {
  this.timeout(60_000);
  const dirs: ReturnType<typeof tempDir>[] = [];
  const servers: TestServer[] = [];
  const server = async (options: Parameters<typeof startTestServer>[0] extends infer O ? Partial<O> : never = {}) => {
    const dir = tempDir("auth");
    dirs.push(dir);
    const s = await startTestServer({ engine: new ScriptedEngine(), dataDir: dir.dir, ...options });
    servers.push(s);
    return s;
  };
  after(async () => {
    for (const s of servers) await s.stop();
    for (const d of dirs) d.cleanup();
  });

  it("refuses a missing or unknown key with 401 invalid_request_error, never echoing it, and serves a known one", async () => {
    const s = await server({ auth: ApiKeys.fromList([KEY_A], limits) });
    assertOpenAIError(await call(s, undefined), 401, "missing_api_key");
    const wrong = await call(s, "sk-vb-mallory-guess-000000");
    assertOpenAIError(wrong, 401, "invalid_api_key");
    assert.doesNotMatch(wrong.text, /mallory/);
    assert.equal(wrong.headers.get("www-authenticate")?.startsWith("Bearer"), true);
    assertOpenAIError(await call(s, KEY_A.toUpperCase()), 401, "invalid_api_key");
    assert.equal((await call(s, KEY_A)).status, 200);
    // The openai client's typed errors.
    const client = new OpenAI({ baseURL: `${s.address}/v1`, apiKey: "sk-vb-wrong-key-00000000000", maxRetries: 0 });
    await assert.rejects(client.models.list(), OpenAI.AuthenticationError);
    const good = new OpenAI({ baseURL: `${s.address}/v1`, apiKey: KEY_A, maxRetries: 0 });
    assert.equal((await good.models.list()).data[0]!.id, "scripted-test-engine");
  });

  it("keeps the data endpoint and /health public: operators and verifiers have no account", async () => {
    const s = await server({ auth: ApiKeys.fromList([KEY_A], limits) });
    assert.equal((await getJson(s.address, "/v1/batches")).status, 200);
    assert.equal((await getJson(s.address, "/health")).status, 200);
  });

  it("limits each key's requests in flight: 429 concurrency_limit_exceeded with Retry-After, others unaffected", async () => {
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const keys = ApiKeys.merge([ApiKeys.fromList([KEY_A], { maxConcurrent: 1, requestsPerMinute: 600 }), ApiKeys.fromList([KEY_B], limits)]);
    const s = await server({ engine: new ScriptedEngine({ hold: () => gate }), auth: keys, maxWaiting: 8 });
    const first = call(s, KEY_A);
    await waitFor(async () => ((await getJson(s.address, "/health")).json.queue.active === 1 ? true : undefined), 5_000, "the first request running");
    const second = await call(s, KEY_A);
    assertOpenAIError(second, 429, "concurrency_limit_exceeded");
    assert.equal(second.headers.get("retry-after"), "1");
    assert.equal(second.json.error.type, "rate_limit_error");
    const other = call(s, KEY_B); // another key waits in the queue instead
    gate = Promise.resolve();
    release();
    assert.deepEqual([(await first).status, (await other).status], [200, 200]);
    assert.equal((await call(s, KEY_A)).status, 200, "the slot is released when the response closes");
  });

  it("limits each key's rate: 429 rate_limit_exceeded with a Retry-After in seconds", async () => {
    const keys = ApiKeys.merge([ApiKeys.fromList([KEY_A], { maxConcurrent: 4, requestsPerMinute: 2 }), ApiKeys.fromList([KEY_B], limits)]);
    const s = await server({ auth: keys });
    assert.equal((await call(s, KEY_A)).status, 200);
    assert.equal((await call(s, KEY_A)).status, 200);
    const limited = await call(s, KEY_A);
    assertOpenAIError(limited, 429, "rate_limit_exceeded");
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 30, `retry-after ${retryAfter}`);
    assert.equal((await call(s, KEY_B)).status, 200, "another key has its own budget");
    const client = new OpenAI({ baseURL: `${s.address}/v1`, apiKey: KEY_A, maxRetries: 0 });
    await assert.rejects(client.completions.create({ model: "scripted-test-engine", prompt: "x", max_tokens: 1 }), OpenAI.RateLimitError);
  });

  it("reads a keys file (0600 only; keys or their sha256; per-key limits) and refuses bad ones with the field named", () => {
    const dir = tempDir("keys-file");
    dirs.push(dir);
    const file = join(dir.dir, "keys.json");
    const write = (content: unknown, mode = 0o600) => {
      writeFileSync(file, JSON.stringify(content));
      chmodSync(file, mode);
    };
    write({ keys: [{ name: "alice", key: KEY_A, maxConcurrent: 2 }, { name: "bob", sha256: createHash("sha256").update(KEY_B).digest("hex"), requestsPerMinute: 5 }] });
    const keys = ApiKeys.fromFile(file, limits);
    assert.deepEqual(keys.lookup(KEY_A) && { name: keys.lookup(KEY_A)!.name, c: keys.lookup(KEY_A)!.maxConcurrent }, { name: "alice", c: 2 });
    assert.equal(keys.lookup(KEY_B)?.requestsPerMinute, 5);
    assert.equal(keys.lookup("sk-vb-nobody-000000000000"), undefined);
    const refused = (content: unknown, field: RegExp, mode = 0o600) => {
      write(content, mode);
      assert.throws(() => ApiKeys.fromFile(file, limits), (e: unknown) => e instanceof ApiKeyConfigError && field.test(e.field), JSON.stringify(content));
    };
    refused({ keys: [{ name: "a", key: KEY_A }] }, /^auth\.keysFile$/, 0o644);
    refused({ keys: [] }, /^auth\.keysFile$/);
    refused({ keys: [{ name: "a", key: "short" }] }, /keys\[0\]\.key/);
    refused({ keys: [{ name: "a", key: KEY_A, sha256: "00" }] }, /keys\[0\]$/);
    refused({ keys: [{ name: "a", key: KEY_A, admin: true }] }, /keys\[0\]\.admin/);
    refused({ keys: [{ name: "a", key: KEY_A }, { name: "a", key: KEY_B }] }, /keys\[1\]\.name/);
    refused({ keys: [{ name: "a", key: KEY_A, maxConcurrent: 0 }] }, /keys\[0\]\.maxConcurrent/);
  });

  it("is off only where configured so on a loopback host, and needs keys otherwise", () => {
    assert.throws(() => loadConfig({ env: { PROVER_AUTH: "off", PROVER_HOST: "0.0.0.0" } }), (e: unknown) => e instanceof ConfigError && e.field === "auth.mode");
    assert.equal(loadConfig({ env: { PROVER_AUTH: "off" } }).auth.mode, "off");
    assert.equal(loadConfig({ env: { PROVER_AUTH: "off", PROVER_HOST: "::1" } }).auth.mode, "off");
    const keysByDefault = loadConfig({ env: {} });
    assert.equal(keysByDefault.auth.mode, "keys");
    assert.throws(() => apiKeys(keysByDefault.auth), (e: unknown) => e instanceof ConfigError && e.field === "auth.keysFile" && /no API keys/.test(e.message));
    const fromEnv = apiKeys(loadConfig({ env: { PROVER_API_KEYS: `${KEY_A},${KEY_B}` } }).auth);
    assert.ok(fromEnv !== "off" && fromEnv.lookup(KEY_B)?.name === "key-2");
    assert.throws(() => apiKeys(loadConfig({ env: { PROVER_API_KEYS: "tooshort" } }).auth), (e: unknown) => e instanceof ConfigError && e.field === "auth.keys[0]");
  });

  it("answers errors raised before routing and by the HTTP parser in OpenAI's shape", async () => {
    const s = await server();
    const get = (path: string, extra = "") => raw(s.address, `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
    assertOpenAIError(parseRaw(await get("/v1/records/%E0%A4%A")), 400, "invalid_url");
    assertOpenAIError(parseRaw(await get("/%zz")), 400, "invalid_url");
    assertOpenAIError(parseRaw(await get(`/v1/records/${"a".repeat(150)}`)), 414, "uri_too_long");
    assertOpenAIError(parseRaw(await get("/v1/models", `X-Big: ${"a".repeat(20_000)}\r\n`)), 431, "request_header_fields_too_large");
    assertOpenAIError(parseRaw(await raw(s.address, "HELLO WORLD\r\n\r\n")), 400, "invalid_http");
    assertOpenAIError(parseRaw(await raw(s.address, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")), 400, "invalid_http");
    // And the server still serves.
    assert.equal((await postRaw(s.address, "/v1/completions", JSON.stringify({ model: "scripted-test-engine", prompt: "hi", max_tokens: 1 }))).status, 200);
  });

  it("a client that goes away mid-generation is not a server error (it used to be logged with a stack)", async () => {
    const lines: string[] = [];
    const logger = createLogger("prover", "info", new Writable({ write(c, _e, done) { lines.push(String(c)); done(); } }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = await server({ engine: new ScriptedEngine({ hold: () => gate }), loggerInstance: logger });
    const { hostname, port } = new URL(s.address);
    const body = JSON.stringify({ model: "scripted-test-engine", prompt: "hi", max_tokens: 4 });
    const socket = net.connect(Number(port), hostname, () => socket.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    await waitFor(async () => ((await getJson(s.address, "/health")).json.queue.active === 1 ? true : undefined), 5_000, "the generation running");
    socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    release();
    await waitFor(async () => (lines.some((l) => /client closed the connection/.test(l)) ? true : undefined), 5_000, "the cancellation logged");
    assert.equal(lines.some((l) => JSON.parse(l).level >= 50), false, lines.join(""));
    assert.equal((await postRaw(s.address, "/v1/completions", body)).status, 200, "and the server serves on");
  });

  it("closes a stream's connection after [DONE] when the client asked for Connection: close", async () => {
    const s = await server();
    const body = JSON.stringify({ model: "scripted-test-engine", prompt: "hi", max_tokens: 3, stream: true });
    const started = Date.now();
    const answer = await raw(s.address, `POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assert.match(answer, /data: \[DONE\]/);
    assert.ok(Date.now() - started < 4_000, `the server kept the connection open (${Date.now() - started} ms)`);
  });

  it("logs a full queue as a warning, without a stack trace", async () => {
    const lines: string[] = [];
    const logger = createLogger("prover", "info", new Writable({ write(c, _e, done) { lines.push(String(c)); done(); } }));
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const s = await server({ engine: new ScriptedEngine({ hold: () => gate }), maxWaiting: 0, loggerInstance: logger });
    const body = JSON.stringify({ model: "scripted-test-engine", prompt: "hi", max_tokens: 2 });
    const running = postRaw(s.address, "/v1/completions", body);
    await waitFor(async () => ((await getJson(s.address, "/health")).json.queue.active === 1 ? true : undefined), 5_000, "a running request");
    assertOpenAIError(await postRaw(s.address, "/v1/completions", body), 429, "engine_overloaded");
    gate = Promise.resolve();
    release();
    await running;
    const refusals = lines.map((l) => JSON.parse(l)).filter((l) => /engine queue full/.test(l.msg));
    assert.equal(refusals.length, 1, lines.join(""));
    assert.equal(refusals[0].level, 40, "warn");
    assert.equal(JSON.stringify(refusals[0]).includes("stack"), false);
    assert.equal(lines.some((l) => JSON.parse(l).level >= 50), false, "nothing at error level");
  });
});
