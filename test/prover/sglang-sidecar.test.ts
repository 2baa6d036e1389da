/**
 * The proof sidecar (`npm run prover -- --upstream sglang --upstream-url URL`): the prover's
 * OpenAI API, store and batcher in front of an SGLang server, here the faithful stand-in
 * (test/helpers/sglang-standin.ts) backed by the project's own engine. Proofs come from the
 * hidden states SGLang returns; records are persisted and batched like the engine's own and
 * verify; every upstream fault is a typed error and no record.
 */
import assert from "node:assert/strict";
import { checkSamplerVersion } from "../../protocol/sampler/index.ts";
import { Engine } from "../../prover/engine/index.ts";
import { MalformedHiddenStatesError, UpstreamResponseError, UpstreamTimeoutError, UpstreamUnavailableError } from "../../prover/upstream/errors.ts";
import { readHiddenStates } from "../../prover/upstream/hidden-states.ts";
import { SglangUpstream } from "../../prover/upstream/sglang.ts";
import { tempCacheDir } from "../helpers/engine-fixtures.ts";
import { getJson, postRaw, startTestServer, tempDir, waitFor, type TestServer } from "../helpers/prover-server.ts";
import { startSglangStandin, type SglangStandin } from "../helpers/sglang-standin.ts";

describe("prover proof sidecar in front of SGLang (stand-in on loopback)", function () {
  this.timeout(60_000);
  const cache = tempCacheDir("sidecar");
  const dirs: ReturnType<typeof tempDir>[] = [];
  let gpu: Engine; // what the stand-in "GPU server" runs
  let local: Engine; // the prover's own copy: weights hash, tokenizer, hidden size; and the verifier
  let standin: SglangStandin;
  let server: TestServer;
  const extra: { close(): Promise<void> }[] = [];

  async function sidecarServer(url: string, options: { timeoutMs?: number; maxRecords?: number } = {}): Promise<TestServer> {
    const dir = tempDir("sidecar-data");
    dirs.push(dir);
    const upstream = new SglangUpstream(local, { url, stopTokenIds: local.info.stopTokenIds, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
    const s = await startTestServer({ engine: upstream, dataDir: dir.dir, maxRecords: options.maxRecords ?? 1000 });
    extra.push({ close: () => s.stop() });
    return s;
  }

  before(async () => {
    gpu = await Engine.load({ cacheDir: cache.dir });
    local = await Engine.load({ cacheDir: cache.dir, batching: false });
    standin = await startSglangStandin({ engine: gpu });
    server = await sidecarServer(standin.url, { maxRecords: 3 });
  });
  after(async () => {
    for (const e of extra.reverse()) await e.close();
    await standin?.close();
    await gpu?.close();
    await local?.close();
    cache.cleanup();
    for (const d of dirs) d.cleanup();
  });

  const model = () => local.info.modelId;

  async function verifyRecord(s: TestServer, recordId: string) {
    const record = (await s.store.getRecord(recordId))!;
    assert.ok(record, "the record is on disk");
    const verdict = await local.verify(record.promptTokens, record.outputTokens, record.proofs, { sampling: { ...record.sampling, sampler: checkSamplerVersion(record.sampling.sampler ?? 1), seed: BigInt(record.seed) } });
    return { record, verdict };
  }

  it("serves a chat completion from SGLang with proofs from its hidden states; the record verifies and has the engine's own tokens", async () => {
    const answer = await server.client.chat.completions.create({ model: model(), messages: [{ role: "user", content: "Hello from the sidecar" }], max_tokens: 40, temperature: 0 });
    const proof = (answer as unknown as { proof: { record_id: string; toploc: { proofs: string[] } } }).proof;
    const { record, verdict } = await verifyRecord(server, proof.record_id);
    assert.equal(verdict.accepted, true, JSON.stringify(verdict.failures));
    const own = await local.generate({ promptTokens: record.promptTokens, temperature: 0, topP: 1, maxTokens: 40, seed: 0n });
    assert.deepEqual(record.outputTokens, own.outputTokens, "greedy tokens equal the project's engine's");
    assert.deepEqual(proof.toploc.proofs, own.proofs.map((p) => Buffer.from(p).toString("base64")), "proofs equal those the engine makes itself");
    // Forwarded to SGLang's native /generate with the prover's token ids and hidden states asked for.
    const sent = standin.requests.at(-1) as { input_ids: number[]; return_hidden_states: boolean; sampling_params: { temperature: number; max_new_tokens: number } };
    assert.deepEqual(sent.input_ids, record.promptTokens);
    assert.equal(sent.return_hidden_states, true);
    assert.deepEqual([sent.sampling_params.temperature, sent.sampling_params.max_new_tokens], [0, 40]);
  });

  it("streams through, with the proof in the last chunk, and batches the records like the engine's", async () => {
    const stream = await server.client.completions.create({ model: model(), prompt: "stream me", max_tokens: 30, temperature: 0, stream: true });
    const texts: string[] = [];
    let last: any;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.text) texts.push(chunk.choices[0].text);
      last = chunk;
    }
    assert.ok(texts.length > 5, `text arrived in pieces (${texts.length})`);
    assert.ok(last.proof?.record_id, "the last chunk carries the proof");
    const { record, verdict } = await verifyRecord(server, last.proof.record_id);
    assert.equal(verdict.accepted, true);
    // A third record closes a batch of three (maxRecords 3), leaves and all.
    await server.client.completions.create({ model: model(), prompt: "third", max_tokens: 8, temperature: 0 });
    const batch = await waitFor(async () => ((await getJson(server.address, "/v1/batches")).json.data as any[])[0], 10_000, "a closed batch");
    assert.equal(batch.leaf_count, 3);
    // Leaf 1 is the streamed record (records are batched in arrival order), served with its Merkle proof.
    const leaf = (await getJson(server.address, `/v1/batches/${batch.id}/leaves/1`)).json;
    assert.deepEqual(leaf.record.output_tokens, record.outputTokens);
    assert.equal(leaf.leaf_hash ?? record.leafHash, record.leafHash);
    assert.ok(Array.isArray(leaf.merkle_proof) && leaf.merkle_proof.length > 0);
  });

  it("refuses sampled requests: SGLang's sampler cannot be replayed by operators", async () => {
    const result = await postRaw(server.address, "/v1/completions", JSON.stringify({ model: model(), prompt: "hi", max_tokens: 4, temperature: 0.7 }));
    assert.equal(result.status, 400);
    assert.equal(result.json.error.param, "temperature");
    assert.match(result.json.error.message, /SGLang samples with its own sampler/);
  });

  it("frees a client's slot at once when it disconnects mid-stream, and SGLang's with it", async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.address}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: model(), prompt: "a long one", max_tokens: 800, temperature: 0, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    for (let seen = 0; seen < 3; ) if ((await reader.read()).value) seen++;
    const abortedBefore = standin.aborted;
    const started = Date.now();
    controller.abort();
    await waitFor(async () => ((await getJson(server.address, "/health")).json.queue.active === 0 && standin.aborted === abortedBefore + 1 ? true : undefined), 5_000, "the slot freed");
    assert.ok(Date.now() - started < 2_000, `freed after ${Date.now() - started} ms`);
    assert.equal(standin.running, 0, "the upstream generation was aborted");
  });

  describe("upstream faults: a typed error, and no record", () => {
    const cases: [string, () => Promise<{ url: string; timeoutMs?: number; close?: () => Promise<void> }>, number, string][] = [
      ["down", async () => ({ url: "http://127.0.0.1:9" }), 502, "upstream_unavailable"],
      ["slow", async () => { const s = await startSglangStandin({ engine: gpu, delayMs: 3_000 }); return { url: s.url, timeoutMs: 300, close: () => s.close() }; }, 504, "upstream_timeout"],
      ["an HTTP 500", async () => { const s = await startSglangStandin({ engine: gpu, fault: "http-500" }); return { url: s.url, close: () => s.close() }; }, 502, "upstream_bad_response"],
      ["started without --enable-return-hidden-states", async () => { const s = await startSglangStandin({ engine: gpu, enableReturnHiddenStates: false }); return { url: s.url, close: () => s.close() }; }, 502, "upstream_bad_response"],
      ["hidden states missing", async () => { const s = await startSglangStandin({ engine: gpu, fault: "no-hidden-states" }); return { url: s.url, close: () => s.close() }; }, 502, "upstream_bad_hidden_states"],
      ["rows of the wrong width", async () => { const s = await startSglangStandin({ engine: gpu, fault: "wrong-width" }); return { url: s.url, close: () => s.close() }; }, 502, "upstream_bad_hidden_states"],
      ["decode rows missing", async () => { const s = await startSglangStandin({ engine: gpu, fault: "missing-rows" }); return { url: s.url, close: () => s.close() }; }, 502, "upstream_bad_hidden_states"],
      ["NaN in the hidden states", async () => { const s = await startSglangStandin({ engine: gpu, fault: "nan" }); return { url: s.url, close: () => s.close() }; }, 502, "upstream_bad_hidden_states"],
    ];
    for (const [what, start, status, code] of cases) {
      it(`${what}: ${status} ${code}`, async () => {
        const upstream = await start();
        if (upstream.close) extra.push({ close: upstream.close });
        const s = await sidecarServer(upstream.url, upstream.timeoutMs ? { timeoutMs: upstream.timeoutMs } : {});
        for (const stream of [false, true]) {
          const response = await fetch(`${s.address}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: model(), messages: [{ role: "user", content: "fault" }], max_tokens: 6, temperature: 0, stream }) });
          const text = await response.text();
          let error: { code: string; message: string };
          if (stream && response.status === 200) {
            // Text went out before the fault showed: the stream ends with an error event instead of a proof.
            const events = text.split("\n\n").filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)));
            assert.ok(events.every((e) => e.proof === undefined), "no proof was sent");
            error = events.at(-1).error;
          } else {
            assert.equal(response.status, status, text);
            error = JSON.parse(text).error;
          }
          assert.equal(error.code, code, text);
          assert.doesNotMatch(error.message, /127\.0\.0\.1/, "the upstream's address is not shown to clients");
        }
        assert.equal(s.store.pendingCount, 0, "no record");
      });
    }
  });

  it("reads SGLang's hidden-state layout strictly, naming the bad element", () => {
    const H = 4;
    const r = (v = 1) => Array(H).fill(v);
    const good = [[r(), r()], r(), r()];
    const rows = readHiddenStates(good, 2, 3, H);
    assert.equal(rows.prefill.length, 2 * H);
    assert.equal(rows.decode.length, 2);
    assert.equal(readHiddenStates(good, 2, 1, H).decode.length, 0, "a reply cut by a stop string keeps only the rows it needs");
    const bad: [unknown, RegExp][] = [
      [undefined, /missing: start SGLang with --enable-return-hidden-states/],
      [[], /non-empty array/],
      [[[r()], r(), r()], /hidden_states\[0\] must hold one row per prompt token \(2\)/],
      [[[r(), r()], r()], /has 1 decode rows; 3 output tokens need 2/],
      [[[r(), r()], r(), [1, 2, 3]], /hidden_states\[2\] has 3 values; the model's hidden size is 4/],
      [[[r(), [1, null, 3, 4]], r(), r()], /hidden_states\[0\]\[1\]\[1\] is null/],
      [[[r(), r()], "x", r()], /hidden_states\[1\] is not an array/],
    ];
    for (const [value, message] of bad) assert.throws(() => readHiddenStates(value, 2, 3, H), (e: Error) => e instanceof MalformedHiddenStatesError && message.test(e.message));
    assert.ok(new UpstreamUnavailableError("x", "upstream").statusCode === 502 && new UpstreamTimeoutError("x", "upstream").statusCode === 504 && new UpstreamResponseError("x", "upstream").code === "upstream_bad_response");
  });

  it("the stand-in's OpenAI endpoint returns only the last hidden-state row, as SGLang's does (why the sidecar uses /generate)", async () => {
    const response = await fetch(`${standin.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: model(), prompt: "one row", max_tokens: 5, temperature: 0, return_hidden_states: true }) });
    const body = (await response.json()) as { choices: { hidden_states: number[] }[] };
    assert.equal(body.choices[0]!.hidden_states.length, local.info.hiddenSize, "one row, not one per token");
  });
});
