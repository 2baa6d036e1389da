/**
 * Bad input and failures: every kind gets a status code and an error in the OpenAI shape
 * { error: { message, type, param, code } }. Raw HTTP for what a client library would refuse
 * to send (broken JSON, wrong types, oversized bodies), the openai client for the typed errors
 * it raises. The real engine serves everything but the two failures it cannot be made to
 * produce on demand (an engine crash mid-stream, a slow engine filling the queue), which use
 * test/helpers/scripted-engine.ts.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import type { Engine } from "../../prover/engine/index.ts";
import { getJson, loadDefaultEngine, postRaw, startTestServer, tempDir, waitFor, type TestServer } from "../helpers/prover-server.ts";
import { ScriptedEngine } from "../helpers/scripted-engine.ts";

function assertOpenAIError(
  result: { status: number; json: any },
  status: number,
  expected: { type?: string; param?: string | null; code?: string | null; message?: RegExp },
): void {
  assert.equal(result.status, status, JSON.stringify(result.json));
  const error = result.json?.error;
  assert.ok(error, `no error object in ${JSON.stringify(result.json)}`);
  assert.deepEqual(Object.keys(error).sort(), ["code", "message", "param", "type"]);
  assert.equal(typeof error.message, "string");
  assert.ok(error.message.length > 0);
  if (expected.type !== undefined) assert.equal(error.type, expected.type);
  if (expected.param !== undefined) assert.equal(error.param, expected.param);
  if (expected.code !== undefined) assert.equal(error.code, expected.code);
  if (expected.message !== undefined) assert.match(error.message, expected.message);
}

describe("prover server: bad requests on the real engine", () => {
  const cache = tempDir("errors-cache");
  const data = tempDir("errors-data");
  let engine: Engine;
  let server: TestServer;
  let model: string;
  const post = (body: unknown, path = "/v1/completions") => postRaw(server.address, path, JSON.stringify(body));
  const completion = (extra: Record<string, unknown>) => post({ model, prompt: "hi", max_tokens: 4, ...extra });
  const chat = (extra: Record<string, unknown>) =>
    post({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 4, ...extra }, "/v1/chat/completions");

  before(async () => {
    engine = await loadDefaultEngine(cache);
    model = engine.info.modelId;
    server = await startTestServer({ engine, dataDir: data.dir, bodyLimitBytes: 8 * 1024, maxRecords: 2 });
  });
  after(async () => {
    await server?.stop();
    await engine?.close();
    cache.cleanup();
    data.cleanup();
  });

  it("rejects truncated, empty and non-JSON bodies with 400 / 415", async () => {
    assertOpenAIError(await postRaw(server.address, "/v1/completions", `{"model": "${model}", "prompt": "hi"`), 400, {
      type: "invalid_request_error",
      code: "invalid_json",
    });
    assertOpenAIError(await postRaw(server.address, "/v1/completions", ""), 400, { code: "invalid_json" });
    assertOpenAIError(await postRaw(server.address, "/v1/completions", "[1, 2]"), 400, { code: "invalid_value" });
    assertOpenAIError(await postRaw(server.address, "/v1/completions", "prompt=hi", "text/plain"), 415, { code: "unsupported_media_type" });
  });

  it("rejects a body over the size limit with 413", async () => {
    const result = await post({ model, prompt: "x".repeat(9 * 1024) });
    assertOpenAIError(result, 413, { type: "invalid_request_error", code: "request_too_large" });
  });

  it("names the parameter of every wrong type or out-of-range value", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ max_tokens: "10" }, "max_tokens"],
      [{ max_tokens: -1 }, "max_tokens"],
      [{ max_tokens: 0 }, "max_tokens"],
      [{ max_tokens: 2.5 }, "max_tokens"],
      [{ temperature: 2.5 }, "temperature"],
      [{ temperature: "hot" }, "temperature"],
      [{ top_p: 0 }, "top_p"],
      [{ top_p: 1.5 }, "top_p"],
      [{ seed: -1 }, "seed"],
      [{ seed: 1.5 }, "seed"],
      [{ seed: 2 ** 60 }, "seed"],
      [{ stop: ["a", "b", "c", "d", "e"] }, "stop"],
      [{ stop: "" }, "stop"],
      [{ stop: [1] }, "stop"],
      [{ stream: "yes" }, "stream"],
      [{ stream: true, stream_options: { include_usage: "yes" } }, "stream_options.include_usage"],
      [{ prompt: 42 }, "prompt"],
      [{ prompt: ["a", "b"] }, "prompt"],
      [{ prompt: [-1, 3] }, "prompt"],
      [{ model: 7 }, "model"],
    ];
    for (const [extra, param] of cases) {
      const escaped = param.replace(/[.[\]]/g, "\\$&");
      assertOpenAIError(await completion(extra), 400, { type: "invalid_request_error", param, message: new RegExp(escaped) });
    }
    assertOpenAIError(await chat({ messages: [{ role: "wizard", content: "hi" }] }), 400, {
      param: "messages[0].role",
      message: /must be one of "system", "developer", "user", "assistant", "tool"/,
    });
    assertOpenAIError(await chat({ messages: [] }), 400, { param: "messages" });
    assertOpenAIError(await chat({ messages: [{ role: "user", content: [{ type: "image_url", image_url: {} }] }] }), 400, {
      param: "messages[0].content",
    });
    assertOpenAIError(await chat({ max_tokens: null, max_completion_tokens: -3 }), 400, { param: "max_completion_tokens" });
  });

  it("rejects missing and unknown parameters", async () => {
    assertOpenAIError(await post({ model }), 400, { param: "prompt", code: "missing_required_parameter" });
    assertOpenAIError(await post({ prompt: "hi" }), 400, { param: "model", code: "missing_required_parameter" });
    assertOpenAIError(await post({ model }, "/v1/chat/completions"), 400, { param: "messages", code: "missing_required_parameter" });
    assertOpenAIError(await completion({ tools: [] }), 400, { param: "tools", code: "unknown_parameter" });
    assertOpenAIError(await chat({ messages: [{ role: "user", content: "hi", mood: "happy" }] }), 400, {
      param: "messages[0].mood",
      code: "unknown_parameter",
    });
  });

  it("refuses what the engine does not implement: n > 1, penalties, logprobs, echo, suffix", async () => {
    assertOpenAIError(await completion({ n: 2 }), 400, { param: "n" });
    assertOpenAIError(await chat({ n: 3 }), 400, { param: "n" });
    assertOpenAIError(await completion({ presence_penalty: 0.5 }), 400, { param: "presence_penalty" });
    assertOpenAIError(await completion({ logit_bias: { "65": 10 } }), 400, { param: "logit_bias" });
    assertOpenAIError(await completion({ logprobs: 2 }), 400, { param: "logprobs" });
    assertOpenAIError(await chat({ logprobs: true }), 400, { param: "logprobs" });
    assertOpenAIError(await completion({ echo: true }), 400, { param: "echo" });
    assertOpenAIError(await completion({ suffix: "end" }), 400, { param: "suffix" });
    assertOpenAIError(await completion({ stream_options: { include_usage: true } }), 400, { param: "stream_options" });
    assertOpenAIError(await chat({ max_tokens: 4, max_completion_tokens: 5 }), 400, { param: "max_completion_tokens" });
    // Neutral values of the same fields are accepted.
    const neutral = await completion({ n: 1, presence_penalty: 0, logprobs: null, echo: false, best_of: 1, user: "u1" });
    assert.equal(neutral.status, 200);
  });

  it("checks the context window and the vocabulary", async () => {
    const { maxContext, vocabSize } = engine.info;
    assertOpenAIError(await completion({ max_tokens: maxContext }), 400, { param: "max_tokens", code: "context_length_exceeded" });
    assertOpenAIError(await completion({ prompt: "y".repeat(maxContext) }), 400, { param: "prompt", code: "context_length_exceeded" });
    assertOpenAIError(await chat({ max_tokens: null, max_completion_tokens: maxContext }), 400, {
      param: "max_completion_tokens",
      code: "context_length_exceeded",
    });
    assertOpenAIError(await completion({ prompt: [1, vocabSize] }), 400, { param: "prompt", message: /vocabulary/ });
    assertOpenAIError(await completion({ prompt: "" }), 400, { param: "prompt" });
    // Token-id prompts within the vocabulary are served as given.
    const ok = await completion({ prompt: [engine.info.bosTokenId!, 72, 105] });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.usage.prompt_tokens, 3);
  });

  it("answers an unknown model with 404 model_not_found", async () => {
    assertOpenAIError(await completion({ model: "gpt-4o" }), 404, { param: "model", code: "model_not_found" });
    assertOpenAIError(await chat({ model: "gpt-4o", stream: true }), 404, { param: "model", code: "model_not_found" });
  });

  it("raises the openai client's typed errors with status, param and code", async () => {
    await assert.rejects(
      server.client.completions.create({ model, prompt: "hi", n: 2 }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === "n" && error.type === "invalid_request_error",
    );
    await assert.rejects(
      server.client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }], stream: true }),
      (error: unknown) => error instanceof OpenAI.NotFoundError && error.code === "model_not_found",
    );
    await assert.rejects(
      server.client.completions.create({ model, prompt: "hi", max_tokens: -5 }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === "max_tokens",
    );
  });

  it("validates the data endpoint's ids and indices (400) and reports what is missing (404)", async () => {
    // Two records close batch 1 (maxRecords 2), so there is something to look up.
    for (let i = 0; i < 2; i++) assert.equal((await completion({ seed: i })).status, 200);
    const deadline = Date.now() + 5_000;
    while ((await getJson(server.address, "/v1/batches/1")).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await getJson(server.address, "/v1/batches/1")).status, 200);

    assertOpenAIError(await getJson(server.address, "/v1/batches/0"), 400, { param: "id" });
    assertOpenAIError(await getJson(server.address, "/v1/batches/abc"), 400, { param: "id" });
    assertOpenAIError(await getJson(server.address, "/v1/batches/-1"), 400, { param: "id" });
    assertOpenAIError(await getJson(server.address, "/v1/batches/999"), 404, { param: "id", code: "batch_not_found" });
    assertOpenAIError(await getJson(server.address, "/v1/batches/1/leaves/x"), 400, { param: "index" });
    assertOpenAIError(await getJson(server.address, "/v1/batches/1/leaves/01"), 400, { param: "index" });
    assertOpenAIError(await getJson(server.address, "/v1/batches/1/leaves/2"), 404, { param: "index", code: "leaf_not_found" });
    assertOpenAIError(await getJson(server.address, "/v1/batches/7/leaves/0"), 404, { code: "batch_not_found" });
    assertOpenAIError(await getJson(server.address, "/v1/records/rec_123"), 400, { param: "id" });
    assertOpenAIError(await getJson(server.address, `/v1/records/rec_${"0".repeat(32)}`), 404, { code: "record_not_found" });
    assertOpenAIError(await getJson(server.address, "/v1/batches?limit=1000"), 400, { param: "limit" });
    assertOpenAIError(await getJson(server.address, "/v1/batches?order=sideways"), 400, { param: "order" });
    assertOpenAIError(await getJson(server.address, "/v1/batches?page=2"), 400, { param: "page", code: "unknown_parameter" });
    assertOpenAIError(await getJson(server.address, "/v1/no-such-route"), 404, { code: "unknown_url" });
  });
});

describe("prover server: engine failures and overload (scripted engine)", () => {
  const dirs = [tempDir("fail-data"), tempDir("slow-data"), tempDir("fail0-data")];
  const servers: TestServer[] = [];
  const model = new ScriptedEngine().info.modelId;

  after(async () => {
    for (const server of servers) await server.stop();
    for (const dir of dirs) dir.cleanup();
  });

  it("turns an engine failure into a 500 (before a stream starts) or an error event (mid-stream), records nothing, and stays up", async () => {
    const server = await startTestServer({ engine: new ScriptedEngine({ failAfterTokens: 5 }), dataDir: dirs[0]!.dir });
    servers.push(server);
    // Non-streaming: the engine throws after 5 tokens.
    assertOpenAIError(await postRaw(server.address, "/v1/completions", JSON.stringify({ model, prompt: "hi", max_tokens: 20 })), 500, {
      type: "server_error",
      code: "engine_error",
    });
    // Streaming: text went out already, so the failure arrives as an error event the client raises.
    const stream = await server.client.completions.create({ model, prompt: "hi", max_tokens: 20, stream: true });
    let text = "";
    await assert.rejects(
      async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
      },
      (error: unknown) => error instanceof OpenAI.APIError && /engine failed/.test(error.message),
    );
    assert.ok(text.length > 0 && text.length <= 5, `streamed ${JSON.stringify(text)} before the failure`);
    assert.equal(server.store.pendingCount, 0, "a failed generation leaves no record");
    // Requests that fit before the failure point still succeed on the same server.
    const ok = await server.client.completions.create({ model, prompt: "hi", max_tokens: 3 });
    assert.equal(ok.usage!.completion_tokens, 3);
    assert.equal(server.store.pendingCount, 1);
  });

  it("fails a stream whose engine dies before the first token with a plain 500", async () => {
    const server = await startTestServer({ engine: new ScriptedEngine({ failAfterTokens: 0 }), dataDir: dirs[2]!.dir });
    servers.push(server);
    const result = await postRaw(server.address, "/v1/completions", JSON.stringify({ model, prompt: "hi", max_tokens: 5, stream: true }));
    assertOpenAIError(result, 500, { code: "engine_error" });
  });

  it("bounds the engine queue: requests beyond it get 429 engine_overloaded with retry-after", async () => {
    // The engine is held busy until the test releases it, so the queue's state is exact.
    let release!: () => void;
    let gate = new Promise<void>((resolve) => (release = resolve));
    const server = await startTestServer({ engine: new ScriptedEngine({ hold: () => gate }), dataDir: dirs[1]!.dir, maxWaiting: 1 });
    servers.push(server);
    const queueIs = (active: number, waiting: number) =>
      waitFor(async () => {
        const { queue } = (await getJson(server.address, "/health")).json;
        return queue.active === active && queue.waiting === waiting ? true : undefined;
      }, 5_000, `queue active ${active}, waiting ${waiting}`);
    const body = JSON.stringify({ model, prompt: "hi", max_tokens: 4 });
    const running = postRaw(server.address, "/v1/completions", body);
    await queueIs(1, 0);
    const waiting = postRaw(server.address, "/v1/completions", body);
    await queueIs(1, 1);
    const refused = await Promise.all([1, 2].map(() => postRaw(server.address, "/v1/completions", body)));
    // A streaming request is refused the same way, before any event is sent.
    refused.push(await postRaw(server.address, "/v1/completions", JSON.stringify({ model, prompt: "hi", max_tokens: 4, stream: true })));
    for (const result of refused) {
      assertOpenAIError(result, 429, { type: "rate_limit_error", code: "engine_overloaded" });
      assert.equal(result.headers.get("retry-after"), "1");
    }
    gate = Promise.resolve();
    release();
    assert.deepEqual((await Promise.all([running, waiting])).map((r) => r.status), [200, 200]);
    await queueIs(0, 0);
    assert.equal((await postRaw(server.address, "/v1/completions", body)).status, 200, "served again once the queue drains");
  });
});
