/**
 * The end-to-end check: a model folder generated here (fp16 weights in external data, a
 * SentencePiece-style tokenizer with Metaspace and byte fallback, a Jinja chat template) served
 * by the prover started as `npm run prover -- --model-dir DIR` starts it, used through the
 * official openai client, every response proven, and each proof record verified by a second
 * engine loaded from the same folder the way an operator loads it (float32 recomputation).
 */
import { UntrustedFetcher } from "../../runtime/untrusted-fetch.ts";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { loadConfig } from "../../prover/config.ts";
import { Engine, WeightsHashMismatchError } from "../../prover/engine/index.ts";
import { startProver, type RunningProver } from "../../prover/main.ts";
import { writeHfModelFolder } from "../../prover/model/hf-folder.ts";
import { LeafChecker } from "../../operator/leaf-check.ts";
import { hashModelId } from "../../protocol/merkle/index.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = JSON.parse(readFileSync(join(ROOT, "test/fixtures/hf/tokenizer_cases.json"), "utf8")) as {
  tokenizers: Record<
    string,
    {
      encode: { text: string; ids_with_special_tokens: number[] }[];
      chat: { messages: { role: "user" | "assistant" | "system"; content: string }[]; add_generation_prompt: boolean; ids?: number[]; error?: string }[];
    }
  >;
};
const REFERENCE = FIXTURES.tokenizers["sp-bpe-metaspace"]!;

interface RecordJson {
  model: string;
  weights_hash: string;
  prompt_tokens: number[];
  output_tokens: number[];
  sampling: { temperature: number; top_p: number; max_tokens: number; sampler: number };
  seed: string;
  toploc: { proofs: string[] };
}

describe("serving a generated Hugging Face folder (fp16 external weights, SentencePiece tokenizer, Jinja template) through the openai client", function () {
  this.timeout(180_000);
  const scratch = mkdtempSync(join(tmpdir(), "vb-folder-serve-"));
  const modelDir = join(scratch, "tiny-chat-fp16");
  let prover: RunningProver;
  let verifier: Engine;
  let client: OpenAI;

  before(async () => {
    await writeHfModelFolder({ dir: modelDir, tokenizerDir: join(ROOT, "test/fixtures/hf/tokenizers/sp-bpe-metaspace"), dtype: "float16", shards: 2 });
    const config = loadConfig({
      argv: ["--model-dir", modelDir, "--port", "0", "--data-dir", join(scratch, "data"), "--log-level", "silent"],
      env: { PROVER_MODEL_CACHE_DIR: join(scratch, "prover-cache"), PROVER_SYNC_WRITES: "false", PROVER_BATCH_MAX_RECORDS: "3", PROVER_AUTH: "off" },
    });
    prover = await startProver(config);
    // The operator's side: its own cache, float32 recomputation.
    verifier = await Engine.load({ modelDir, cacheDir: join(scratch, "operator-cache"), precision: "float32" });
    client = new OpenAI({ baseURL: `${prover.address}/v1`, apiKey: "unused", maxRetries: 0 });
  });

  after(async () => {
    await prover?.close();
    await verifier?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const record = async (id: string | null): Promise<RecordJson> => {
    assert.ok(id, "the response names its proof record");
    const response = await fetch(`${prover.address}/v1/records/${id}`);
    assert.equal(response.status, 200);
    return (await response.json()) as RecordJson;
  };

  const verify = async (r: RecordJson) =>
    verifier.verify(r.prompt_tokens, r.output_tokens, r.toploc.proofs, {
      sampling: { sampler: r.sampling.sampler as 1, temperature: r.sampling.temperature, topP: r.sampling.top_p, seed: BigInt(r.seed) },
    });

  it("lists the folder's model with its weights hash", async () => {
    const models = await client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      ["tiny-chat-fp16"],
    );
    assert.equal(prover.engine.info.dtype, "float16");
    assert.equal(prover.engine.info.weightsHash, verifier.info.weightsHash);
  });

  it("a chat completion: the prompt is Python's apply_chat_template for the same files, the reply is proven and verifies", async () => {
    const conversation = REFERENCE.chat.find((c) => c.add_generation_prompt && c.messages.length === 3)!;
    const { data, response } = await client.chat.completions
      .create({ model: "tiny-chat-fp16", messages: conversation.messages, max_tokens: 40, temperature: 0.7, top_p: 0.9, seed: 1234 })
      .withResponse();
    const r = await record(response.headers.get("x-proof-record"));
    assert.deepEqual(r.prompt_tokens, conversation.ids, "rendered and tokenized as transformers does");
    assert.equal(r.weights_hash, verifier.info.weightsHash);
    assert.equal(data.choices[0]!.message.content, verifier.tokenizer.decode(r.output_tokens));
    assert.equal(r.toploc.proofs.length, 1 + Math.ceil((r.output_tokens.length - 1) / 32), "the prefill and every 32 decode steps");
    const verdict = await verify(r);
    assert.equal(verdict.accepted, true, verdict.failures.join("; "));
    const tampered = { ...r, output_tokens: r.output_tokens.map((t, i) => (i >= 2 && i < 12 ? (t + 7) % 1000 : t)) };
    assert.equal((await verify(tampered)).accepted, false, "ten edited tokens are refused");
  });

  it("streams: the deltas join to the decoded output, and the record verifies", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "tiny-chat-fp16", messages: [{ role: "user", content: "Stream a reply, déjà vu 🤖" }], max_tokens: 48, temperature: 0.9, seed: 77, stream: true })
      .withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    const r = await record(response.headers.get("x-proof-record"));
    assert.equal(text, verifier.tokenizer.decode(r.output_tokens));
    assert.equal((await verify(r)).accepted, true);
  });

  it("a text completion starts with the tokenizer's BOS as its post-processor adds it", async () => {
    const reference = REFERENCE.encode.find((e) => e.text === "The quick brown fox jumps over the lazy dog.")!;
    const { response } = await client.completions.create({ model: "tiny-chat-fp16", prompt: reference.text, max_tokens: 8, temperature: 0 }).withResponse();
    const r = await record(response.headers.get("x-proof-record"));
    assert.deepEqual(r.prompt_tokens, reference.ids_with_special_tokens);
    assert.equal((await verify(r)).accepted, true);
  });

  it("the operator's leaf check opens the batch of those three responses and finds every leaf valid", async () => {
    const listed = await (await fetch(`${prover.address}/v1/batches`)).json() as { data: { root: `0x${string}`; leaf_count: number; data_uri: string }[] };
    assert.equal(listed.data.length, 1);
    const batch = listed.data[0]!;
    assert.equal(batch.leaf_count, 3);
    const checker = new LeafChecker(verifier, new UntrustedFetcher({ allowPrivateNetworks: ["127.0.0.1/32"], maxBytes: 16 << 20, timeoutMs: 10_000, maxRedirects: 3 }));
    for (let index = 0; index < 3; index++) {
      const result = await checker.check({ batchId: 1n, root: batch.root, modelId: hashModelId("tiny-chat-fp16"), leafCount: 3, dataURI: batch.data_uri }, index);
      assert.equal(result.outcome, "valid", result.reason);
    }
  });

  it("a conversation the template refuses is a 400 carrying the template's message", async () => {
    const refused = REFERENCE.chat.find((c) => c.error !== undefined)!;
    await assert.rejects(client.chat.completions.create({ model: "tiny-chat-fp16", messages: refused.messages, max_tokens: 4 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError, String(error));
      assert.match(error.message, /Conversation roles must alternate/);
      assert.equal((error.error as { param?: string }).param, "messages");
      return true;
    });
  });

  it("a weights hash other than the registered one: the prover refuses to start, nothing is served", async () => {
    const config = loadConfig({
      argv: ["--model-dir", modelDir, "--port", "0", "--data-dir", join(scratch, "data-2"), "--log-level", "silent"],
      env: { PROVER_MODEL_CACHE_DIR: join(scratch, "prover-cache"), PROVER_AUTH: "off" },
    });
    await assert.rejects(startProver(config, { registeredWeightsHash: async () => "ab".repeat(32) }), (error: unknown) => {
      assert.ok(error instanceof WeightsHashMismatchError);
      assert.match(error.message, /tiny-chat-fp16 is registered with weights abab.*nothing is served/);
      return true;
    });
    await assert.rejects(
      startProver(loadConfig({ argv: ["--model-dir", modelDir, "--port", "0", "--log-level", "silent", "--weights-hash", "cd".repeat(32)], env: { PROVER_DATA_DIR: join(scratch, "data-3"), PROVER_MODEL_CACHE_DIR: join(scratch, "prover-cache"), PROVER_AUTH: "off" } })),
      WeightsHashMismatchError,
    );
  });
});
