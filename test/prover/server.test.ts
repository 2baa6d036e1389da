/**
 * The prover's OpenAI-compatible server against the real engine (embedded default model) on
 * 127.0.0.1, driven by the official `openai` client: completions and chat, with and without
 * streaming, usage, seeds, stop sequences, the proof extension (verified by recomputation with
 * Engine.verify), batching into Merkle trees, the data endpoint, and a restart.
 */
import assert from "node:assert/strict";
import { CURRENT_SAMPLER_VERSION } from "../../protocol/sampler/index.ts";
import { hashInferenceLeaf, hashModelId, verifyMerkleProof, type InferenceRecord } from "../../protocol/merkle/index.ts";
import type { Engine } from "../../prover/engine/index.ts";
import { PROOF_RECORD_HEADER } from "../../prover/server/index.ts";
import { getJson, loadDefaultEngine, startTestServer, tempDir, waitFor, type TestServer } from "../helpers/prover-server.ts";

const PROMPT = "The quick brown fox";

/** A leaf's record as the data endpoint serves it, decoded into the leaf's input. */
function inferenceRecordFromJson(record: any): InferenceRecord {
  return {
    model: record.model,
    promptTokens: record.prompt_tokens,
    outputTokens: record.output_tokens,
    sampling: {
      temperature: record.sampling.temperature,
      topP: record.sampling.top_p,
      maxTokens: record.sampling.max_tokens,
      ...(record.sampling.sampler === 1 ? {} : { sampler: record.sampling.sampler }),
    },
    seed: BigInt(record.seed),
    proofs: record.toploc.proofs.map((p: string) => new Uint8Array(Buffer.from(p, "base64"))),
    proofParams: { topk: record.toploc.topk, decodeBatchSize: record.toploc.decode_batch_size },
  };
}

/** The sampling settings of a proof record as the data endpoint serves it (snake_case JSON). */
export function recordSampling(record: { sampling: { temperature: number; top_p: number; sampler?: number }; seed: string }) {
  return { sampler: (record.sampling.sampler ?? 1) as 1 | 2, temperature: record.sampling.temperature, topP: record.sampling.top_p, seed: BigInt(record.seed) };
}

/** Longest common prefix length: the first token where two generations differ. */
function divergence(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe("prover server: OpenAI API on the real engine", () => {
  const cache = tempDir("server-cache");
  const data = tempDir("server-data");
  let engine: Engine;
  let server: TestServer;
  let model: string;

  before(async () => {
    engine = await loadDefaultEngine(cache);
    model = engine.info.modelId;
    server = await startTestServer({ engine, dataDir: data.dir, maxRecords: 1000 });
  });
  after(async () => {
    await server?.stop();
    await engine?.close();
    cache.cleanup();
    data.cleanup();
  });

  it("lists and retrieves the served model", async () => {
    const models = await server.client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      [model],
    );
    const one = await server.client.models.retrieve(model);
    assert.equal(one.id, model);
    assert.equal((one as any).weights_hash, engine.info.weightsHash);
    await assert.rejects(server.client.models.retrieve("no-such-model"), (error: any) => error.status === 404 && error.code === "model_not_found");
  });

  it("completes a prompt with usage, a proof record header, and proofs that verify by recomputation", async () => {
    const { data: completion, response } = await server.client.completions
      .create({ model, prompt: PROMPT, max_tokens: 40, temperature: 0.8, top_p: 0.95, seed: 11 })
      .withResponse();
    const proof = (completion as any).proof;
    assert.equal(response.headers.get(PROOF_RECORD_HEADER), proof.record_id);
    assert.match(proof.record_id, /^rec_[0-9a-f]{32}$/);
    assert.equal(completion.object, "text_completion");
    assert.equal(completion.model, model);

    const { status, json: record } = await getJson(server.address, `/v1/records/${proof.record_id}`);
    assert.equal(status, 200);
    assert.deepEqual(record.prompt_tokens, [engine.info.bosTokenId, ...engine.tokenizer.encode(PROMPT)]);
    assert.deepEqual(record.sampling, { temperature: 0.8, top_p: 0.95, max_tokens: 40, sampler: CURRENT_SAMPLER_VERSION });
    assert.equal(record.seed, "11");
    assert.equal(record.seed_source, "request");
    assert.equal(record.weights_hash, engine.info.weightsHash);
    assert.equal(record.batch, null);
    assert.deepEqual(completion.usage, {
      prompt_tokens: record.prompt_tokens.length,
      completion_tokens: record.output_tokens.length,
      total_tokens: record.prompt_tokens.length + record.output_tokens.length,
    });
    assert.equal(completion.choices[0]!.text, engine.tokenizer.decode(record.output_tokens));
    assert.equal(completion.choices[0]!.finish_reason, record.output_tokens.length === 40 ? "length" : "stop");
    assert.deepEqual(proof.toploc.proofs, record.toploc.proofs);
    // Prefill + one proof per started chunk of 32 decode steps (the last token is never fed back).
    assert.equal(proof.toploc.proofs.length, 1 + Math.ceil((record.output_tokens.length - 1) / 32));
    assert.equal(proof.leaf_hash, hashInferenceLeaf(inferenceRecordFromJson(record)));

    const verdict = await engine.verify(record.prompt_tokens, record.output_tokens, proof.toploc.proofs, { sampling: recordSampling(record) });
    assert.equal(verdict.accepted, true);
    // Negative control: the same proofs do not cover a different output.
    const forged = [...record.output_tokens];
    forged[1] = (forged[1] + 1) % 256;
    forged[2] = (forged[2] + 7) % 256;
    const rejected = await engine.verify(record.prompt_tokens, forged, proof.toploc.proofs);
    assert.equal(rejected.accepted, false);
  });

  it("replays a seeded sample exactly, differs for another seed, and records a drawn seed", async () => {
    const ask = (seed?: number) =>
      server.client.completions.create({ model, prompt: PROMPT, max_tokens: 30, temperature: 1, ...(seed !== undefined ? { seed } : {}) });
    const [a, b, c] = [await ask(5), await ask(5), await ask(6)];
    assert.equal(a.choices[0]!.text, b.choices[0]!.text);
    assert.deepEqual((a as any).proof.toploc.proofs, (b as any).proof.toploc.proofs);
    const tokens = async (id: string) => (await getJson(server.address, `/v1/records/${id}`)).json.output_tokens as number[];
    const [ta, tc] = [await tokens((a as any).proof.record_id), await tokens((c as any).proof.record_id)];
    assert.ok(divergence(ta, tc) < Math.min(ta.length, tc.length), "seeds 5 and 6 gave the same tokens");

    const drawn = await ask();
    const drawnRecord = (await getJson(server.address, `/v1/records/${(drawn as any).proof.record_id}`)).json;
    assert.equal(drawnRecord.seed_source, "drawn");
    assert.equal((drawn as any).proof.seed, drawnRecord.seed);
    const replay = await ask(Number(drawnRecord.seed));
    assert.equal(replay.choices[0]!.text, drawn.choices[0]!.text);
  });

  it("honours max_tokens and temperature 0 (greedy: the same text whatever the seed)", async () => {
    const a = await server.client.completions.create({ model, prompt: PROMPT, max_tokens: 7, temperature: 0, seed: 1 });
    const b = await server.client.completions.create({ model, prompt: PROMPT, max_tokens: 7, temperature: 0, seed: 2 });
    assert.equal(a.choices[0]!.text, b.choices[0]!.text);
    assert.ok(a.usage!.completion_tokens <= 7);
    if (a.usage!.completion_tokens === 7) assert.equal(a.choices[0]!.finish_reason, "length");
  });

  it("stops at the first stop sequence and leaves it out, streaming or not", async () => {
    const greedy = { model, prompt: PROMPT, max_tokens: 64, temperature: 0 };
    const full = (await server.client.completions.create(greedy)).choices[0]!.text;
    // Stop strings taken from the model's own greedy output (avoiding partial characters).
    const start = [...full.matchAll(/[^\uFFFD]{2}/gu)].map((m) => m.index!).find((i) => i >= 8);
    assert.ok(start !== undefined, `no usable stop string in ${JSON.stringify(full)}`);
    const stop = full.slice(start, start + 2);
    const expected = full.slice(0, full.indexOf(stop));

    const cut = await server.client.completions.create({ ...greedy, stop });
    assert.equal(cut.choices[0]!.text, expected);
    assert.equal(cut.choices[0]!.finish_reason, "stop");
    assert.ok(cut.usage!.completion_tokens < (await server.client.completions.create(greedy)).usage!.completion_tokens);

    // Of several stop strings, the earliest in the text wins.
    const later = full.slice(-2).includes("\uFFFD") ? "\u0000never" : full.slice(-2);
    const multi = await server.client.completions.create({ ...greedy, stop: [later, stop, "zzzz-unused"] });
    assert.equal(multi.choices[0]!.text, expected);

    let streamed = "";
    let finish: string | null | undefined;
    const stream = await server.client.completions.create({ ...greedy, stop: [stop], stream: true });
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.text ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(streamed, expected);
    assert.equal(finish, "stop");
  });

  it("streams a completion as SSE chunks whose final chunk carries the proof", async () => {
    const { data: stream, response } = await server.client.completions
      .create({ model, prompt: PROMPT, max_tokens: 40, temperature: 0.7, seed: 3, stream: true })
      .withResponse();
    assert.match(response.headers.get("content-type")!, /^text\/event-stream/);
    const chunks: any[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks[chunks.length - 1];
    assert.equal(response.headers.get(PROOF_RECORD_HEADER), last.proof.record_id, "the header names the record before it exists");
    assert.ok(chunks.length >= 2);
    assert.ok(chunks.slice(0, -1).every((c) => c.proof === undefined && c.choices[0].finish_reason === null));
    assert.ok(["stop", "length"].includes(last.choices[0].finish_reason));
    const text = chunks.map((c) => c.choices[0].text).join("");
    const plain = await server.client.completions.create({ model, prompt: PROMPT, max_tokens: 40, temperature: 0.7, seed: 3 });
    assert.equal(text, plain.choices[0]!.text);
    assert.deepEqual(last.proof.toploc.proofs, (plain as any).proof.toploc.proofs);
    assert.notEqual(last.proof.record_id, (plain as any).proof.record_id);
    const record = (await getJson(server.address, `/v1/records/${last.proof.record_id}`)).json;
    assert.equal((await engine.verify(record.prompt_tokens, record.output_tokens, last.proof.toploc.proofs, { sampling: recordSampling(record) })).accepted, true);
  });

  it("answers chat completions, streamed with include_usage and not, identically for one seed", async () => {
    const request = {
      model,
      messages: [
        { role: "system" as const, content: "You are terse." },
        { role: "user" as const, content: "Name a prime." },
      ],
      max_tokens: 48,
      temperature: 0.9,
      seed: 21,
    };
    const reply = await server.client.chat.completions.create(request);
    assert.equal(reply.object, "chat.completion");
    assert.equal(reply.choices[0]!.message.role, "assistant");
    const record = (await getJson(server.address, `/v1/records/${(reply as any).proof.record_id}`)).json;
    assert.equal(record.kind, "chat");
    assert.deepEqual(record.prompt_tokens, engine.tokenizer.chatPrompt(request.messages));
    assert.equal(reply.usage!.prompt_tokens, record.prompt_tokens.length);

    const stream = await server.client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    const chunks: any[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    const usageChunk = chunks[chunks.length - 1];
    assert.deepEqual(usageChunk.choices, []);
    assert.deepEqual(usageChunk.usage, reply.usage);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
    const finishChunk = chunks[chunks.length - 2];
    assert.equal(finishChunk.choices[0].finish_reason, reply.choices[0]!.finish_reason);
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    assert.equal(content, reply.choices[0]!.message.content);
    assert.deepEqual(usageChunk.proof.toploc.proofs, (reply as any).proof.toploc.proofs);

    // Content given as text parts is the same prompt as plain strings.
    const parts = await server.client.chat.completions.create({
      ...request,
      messages: [
        { role: "system", content: [{ type: "text", text: "You are " }, { type: "text", text: "terse." }] },
        { role: "user", content: "Name a prime." },
      ],
    });
    assert.equal(parts.choices[0]!.message.content, reply.choices[0]!.message.content);
  });

  it("cancels the generation of a stream the client drops, records nothing for it, and keeps serving", async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.address}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, prompt: PROMPT, max_tokens: 900, temperature: 0, stream: true }),
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    const recordId = response.headers.get(PROOF_RECORD_HEADER)!;
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /^data: \{/);
    controller.abort();
    // The engine stops at its next step; the queue is free again well before 900 tokens.
    await waitFor(async () => {
      const health = (await getJson(server.address, "/health")).json;
      return health.queue.active === 0 ? true : undefined;
    }, 5_000, "the aborted generation to leave the queue");
    assert.equal((await getJson(server.address, `/v1/records/${recordId}`)).status, 404);
    const next = await server.client.completions.create({ model, prompt: PROMPT, max_tokens: 5, temperature: 0 });
    assert.match((next as any).proof.record_id, /^rec_/);
  });
});

describe("prover server: batches, the data endpoint and restarts on the real engine", () => {
  const cache = tempDir("batch-cache");
  const data = tempDir("batch-data");
  let engine: Engine;
  let server: TestServer;

  before(async () => {
    engine = await loadDefaultEngine(cache);
  });
  after(async () => {
    await server?.stop();
    await engine?.close();
    cache.cleanup();
    data.cleanup();
  });

  it("closes a batch by count and serves every leaf with a Merkle proof that verifies against the root", async () => {
    server = await startTestServer({ engine, dataDir: data.dir, maxRecords: 3 });
    const model = engine.info.modelId;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = await server.client.completions.create({ model, prompt: `prompt number ${i}`, max_tokens: 20 + 10 * i, temperature: 0.8, seed: 100 + i });
      ids.push((reply as any).proof.record_id);
    }
    const list = await waitFor(async () => {
      const { json } = await getJson(server.address, "/v1/batches");
      return json.data.length === 1 ? json : undefined;
    }, 5_000, "batch 1");
    const batch = list.data[0];
    assert.equal(batch.id, 1);
    assert.equal(batch.leaf_count, 3);
    assert.equal(batch.data_uri, `${server.address}/v1/batches/1`);
    assert.equal(batch.model, model);
    assert.equal(batch.model_id, hashModelId(model));
    // Listed as soon as it is closed; the record-only committer marks it a moment later.
    const detail = await waitFor(async () => {
      const { json } = await getJson(server.address, "/v1/batches/1");
      return json.status === "pending-commitment" ? json : undefined;
    }, 5_000, "batch 1 handed to the committer");
    assert.equal(detail.root, batch.root);
    assert.equal(detail.commitment.committer, "record-only");

    for (let index = 0; index < 3; index++) {
      const { status, json: leaf } = await getJson(server.address, `/v1/batches/1/leaves/${index}`);
      assert.equal(status, 200);
      assert.equal(leaf.record.id, ids[index], "leaves are in the order records were written");
      assert.equal(leaf.root, batch.root);
      const leafHash = hashInferenceLeaf(inferenceRecordFromJson(leaf.record));
      assert.equal(leafHash, leaf.leaf_hash);
      assert.equal(verifyMerkleProof(leaf.merkle_proof, batch.root, leafHash), true);
      const verdict = await engine.verify(leaf.record.prompt_tokens, leaf.record.output_tokens, leaf.record.toploc.proofs, { sampling: recordSampling(leaf.record) });
      assert.equal(verdict.accepted, true);
      // A record changed after the fact no longer opens the committed leaf.
      const tampered = inferenceRecordFromJson({ ...leaf.record, seed: String(BigInt(leaf.record.seed) + 1n) });
      assert.equal(verifyMerkleProof(leaf.merkle_proof, batch.root, hashInferenceLeaf(tampered)), false);
      const record = (await getJson(server.address, `/v1/records/${ids[index]}`)).json;
      assert.deepEqual(record.batch, { id: 1, index });
    }
    assert.deepEqual(server.batchErrors, []);
  });

  it("loses nothing across a restart: records and batches reopen from disk, and waiting records get batched", async () => {
    const model = engine.info.modelId;
    // Two more records wait (maxRecords 3), then the server, batcher and store are closed.
    const waiting: string[] = [];
    for (let i = 0; i < 2; i++) {
      const reply = await server.client.chat.completions.create({ model, messages: [{ role: "user", content: `q${i}` }], max_tokens: 16, seed: i });
      waiting.push((reply as any).proof.record_id);
    }
    const before = (await getJson(server.address, `/v1/records/${waiting[0]}`)).json;
    const batchBefore = (await getJson(server.address, "/v1/batches/1")).json;
    await server.stop();

    // Restart with a short age limit: the two waiting records close into batch 2 on time.
    server = await startTestServer({ engine, dataDir: data.dir, maxRecords: 3, maxAgeMs: 200 });
    assert.deepEqual((await getJson(server.address, `/v1/records/${waiting[0]}`)).json.toploc, before.toploc);
    const batchAfter = (await getJson(server.address, "/v1/batches/1")).json;
    assert.equal(batchAfter.root, batchBefore.root);
    assert.equal(batchAfter.commitment.attempts, 2, "uncommitted batches are offered to the committer again on start");
    const batch2 = await waitFor(async () => {
      const { status, json } = await getJson(server.address, "/v1/batches/2");
      return status === 200 ? json : undefined;
    }, 5_000, "batch 2 closed by age");
    assert.equal(batch2.leaf_count, 2);
    for (let index = 0; index < 2; index++) {
      const leaf = (await getJson(server.address, `/v1/batches/2/leaves/${index}`)).json;
      assert.equal(leaf.record.id, waiting[index]);
      assert.equal(verifyMerkleProof(leaf.merkle_proof, batch2.root, hashInferenceLeaf(inferenceRecordFromJson(leaf.record))), true);
    }
    const page = (await getJson(server.address, "/v1/batches?order=desc&limit=1")).json;
    assert.deepEqual([page.data.map((b: any) => b.id), page.has_more], [[2], true]);
    const next = (await getJson(server.address, `/v1/batches?order=desc&limit=1&after=${page.last_id}`)).json;
    assert.deepEqual([next.data.map((b: any) => b.id), next.has_more], [[1], false]);
  });
});
