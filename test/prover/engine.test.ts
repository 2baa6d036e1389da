import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildProofs } from "../../protocol/toploc/index.ts";
import { DEFAULT_MODEL_MANIFEST, Engine, GenerationAbortedError, type GenerateRequest } from "../../prover/engine/index.ts";
import { buildDefaultModel } from "../../prover/model/default-model.ts";
import { sha256Hex } from "../../prover/engine/hook.ts";
import { tempCacheDir } from "../helpers/engine-fixtures.ts";

const SAMPLED = { temperature: 0.8, topP: 0.95, maxTokens: 40, seed: 1234n };

describe("prover/engine on the embedded default model", () => {
  const cache = tempCacheDir("engine");
  let engine: Engine;
  let prompt: number[];

  before(async () => {
    engine = await Engine.load({ cacheDir: cache.dir });
    prompt = engine.tokenizer.chatPrompt([{ role: "user", content: "Tell me about verifiable inference." }]);
  });
  after(async () => {
    await engine?.close();
    cache.cleanup();
  });

  const generate = (overrides: Partial<GenerateRequest> = {}) => engine.generate({ promptTokens: prompt, ...SAMPLED, ...overrides });

  it("generates the default model into the cache with the manifest's hash, and reports it", () => {
    const file = join(cache.dir, `${DEFAULT_MODEL_MANIFEST.modelId}.onnx`);
    assert.ok(existsSync(file));
    assert.equal(sha256Hex(readFileSync(file)), DEFAULT_MODEL_MANIFEST.weightsHash);
    const manifest = JSON.parse(readFileSync(join(cache.dir, `${DEFAULT_MODEL_MANIFEST.modelId}.manifest.json`), "utf8"));
    assert.deepEqual(manifest, JSON.parse(JSON.stringify(DEFAULT_MODEL_MANIFEST)));
    assert.deepEqual(
      { ...engine.info },
      {
        modelId: DEFAULT_MODEL_MANIFEST.modelId,
        weightsHash: DEFAULT_MODEL_MANIFEST.weightsHash,
        dtype: "float32",
        computeDtype: "float32",
        device: "cpu",
        hiddenSize: 256,
        vocabSize: 258,
        activationTensor: "final_norm_output",
        hasKvCache: true,
        maxContext: 1024,
        toploc: { topk: 128, decodeBatchSize: 32, skipPrefill: false },
        bosTokenId: 256,
        eosTokenId: 257,
        stopTokenIds: [257],
      },
    );
  });

  it("regenerates a damaged cached default model instead of serving it", async () => {
    const file = join(cache.dir, `${DEFAULT_MODEL_MANIFEST.modelId}.onnx`);
    writeFileSync(file, "truncated");
    const again = await Engine.load({ cacheDir: cache.dir });
    try {
      assert.equal(sha256Hex(readFileSync(file)), DEFAULT_MODEL_MANIFEST.weightsHash);
      assert.equal(again.info.weightsHash, DEFAULT_MODEL_MANIFEST.weightsHash);
    } finally {
      await again.close();
    }
  });

  it("builds byte-identical weights on every call (the hash is a property of the code)", () => {
    assert.equal(sha256Hex(buildDefaultModel()), DEFAULT_MODEL_MANIFEST.weightsHash);
  });

  it("caches the hooked rewrite on disk and reuses it on the next load", async () => {
    const hooked = readdirSync(join(cache.dir, "hooked"));
    assert.equal(hooked.length, 1);
    assert.match(hooked[0]!, new RegExp(`^${DEFAULT_MODEL_MANIFEST.weightsHash}-[0-9a-f]{16}\\.onnx$`));
    const before = readFileSync(join(cache.dir, "hooked", hooked[0]!));
    const again = await Engine.load({ cacheDir: cache.dir });
    try {
      assert.deepEqual(readdirSync(join(cache.dir, "hooked")), hooked);
      assert.ok(before.equals(readFileSync(join(cache.dir, "hooked", hooked[0]!))));
      assert.equal(again.info.weightsHash, engine.info.weightsHash);
    } finally {
      await again.close();
    }
  });

  it("same request and seed give the same tokens and proofs; another seed gives other tokens", async () => {
    const a = await generate();
    const b = await generate();
    const c = await generate({ seed: 99n });
    assert.deepEqual(a.outputTokens, b.outputTokens);
    assert.deepEqual(a.proofs, b.proofs);
    assert.notDeepEqual(a.outputTokens, c.outputTokens);
  });

  it("greedy decoding ignores the seed and is not stuck on one token", async () => {
    const a = await generate({ temperature: 0, seed: 1n, maxTokens: 64 });
    const b = await generate({ temperature: 0, seed: 2n, maxTokens: 64 });
    assert.deepEqual(a.outputTokens, b.outputTokens);
    assert.ok(new Set(a.outputTokens).size >= 8, `only ${new Set(a.outputTokens).size} distinct tokens`);
  });

  it("proves the prefill and every 32 decode steps, and one verifier prefill accepts them", async () => {
    const generation = await generate({ maxTokens: 70, shouldStop: undefined });
    assert.equal(generation.finishReason, generation.outputTokens.length === 70 ? "length" : "stop");
    const fed = generation.outputTokens.length - 1; // the last token is never fed back
    assert.equal(generation.proofs.length, 1 + Math.ceil(fed / 32));
    for (const proof of generation.proofs) assert.equal(proof.length, 258);
    const verdict = await engine.verify(generation.promptTokens, generation.outputTokens, generation.proofs, { sampling: generation.sampling });
    assert.equal(verdict.accepted, true, verdict.failures.join("; "));
    assert.equal(verdict.profileHash, engine.profile!.contentHash, "the default model is judged by its own profile");
    // The KV-cache decode and the verifier's single prefill compute the same hidden states up to float rounding.
    for (const chunk of verdict.evidence.chunks) assert.ok(chunk.expMismatches <= 2 && chunk.mantErrMean <= 1, JSON.stringify(chunk));
    assert.ok(generation.timings.prefillMs > 0 && generation.timings.decodeMs > 0 && generation.timings.proofMs > 0);
  });

  it("its proofs are protocol/toploc's buildProofs over the activations a verifier recomputes", async () => {
    // One output token: nothing is fed back, the only chunk is the prefill, which the verifier's
    // forward computes on exactly the same inputs: the proofs must be equal byte for byte.
    const single = await generate({ maxTokens: 1 });
    const activations = await engine.recompute(single.promptTokens, single.outputTokens);
    assert.equal(activations.length, 1);
    assert.equal(activations[0]!.length, prompt.length * 256);
    assert.deepEqual(single.proofs, buildProofs(activations).map((p) => p.toBytes()));
    // Longer: same chunking (prefill, 32, 32, rest) and the same prefill proof; the decode
    // chunks come from KV-cache steps, so they agree within TOPLOC's tolerance only.
    const long = await generate({ maxTokens: 80 });
    const recomputed = await engine.recompute(long.promptTokens, long.outputTokens);
    assert.equal(recomputed.length, 1 + long.outputTokens.length - 1);
    const rebuilt = buildProofs(recomputed).map((p) => p.toBytes());
    assert.equal(rebuilt.length, long.proofs.length);
    assert.deepEqual(rebuilt[0], long.proofs[0]);
  });

  it("verifies proofs made with other TOPLOC parameters when told which", async () => {
    const generation = await generate({ maxTokens: 40 });
    const activations = await engine.recompute(generation.promptTokens, generation.outputTokens);
    const toploc = { topk: 64, decodeBatchSize: 16 };
    const proofs = buildProofs(activations, toploc).map((p) => p.toBytes());
    assert.equal(proofs.length, 1 + Math.ceil(activations.slice(1).length / 16));
    const profile = { name: "test-k64", topk: 64, expMismatchesMax: 0, mantErrMeanMax: 0, mantErrMedianMax: 0 };
    const verdict = await engine.verify(generation.promptTokens, generation.outputTokens, proofs, { toploc, profile });
    assert.equal(verdict.accepted, true);
    assert.equal(verdict.profile, "test-k64");
    await assert.rejects(engine.verify(generation.promptTokens, generation.outputTokens, proofs), /proofs/);
  });

  it("rejects proofs checked against other output tokens or another prompt", async () => {
    const generation = await generate({ maxTokens: 48 });
    // TOPLOC checks the top-k of a 32-row chunk, so one swapped token can stay under the bf16
    // thresholds (see the README); a rewritten stretch of the reply cannot.
    const tampered = generation.outputTokens.slice();
    for (let i = 5; i < 21; i++) tampered[i] = (tampered[i]! + 1) % 256;
    const wrongOutput = await engine.verify(generation.promptTokens, tampered, generation.proofs, { sampling: generation.sampling });
    assert.equal(wrongOutput.accepted, false);
    assert.equal(wrongOutput.evidence.chunks[0]!.expMismatches, 0, "the prefill chunk does not depend on the output");
    const otherPrompt = engine.tokenizer.chatPrompt([{ role: "user", content: "Something else entirely, quite different." }]);
    const wrongPrompt = await engine.verify(otherPrompt, generation.outputTokens, generation.proofs, { sampling: generation.sampling });
    assert.equal(wrongPrompt.accepted, false);
    assert.ok(wrongPrompt.evidence.chunks[0]!.expMismatches > 38, "another prompt's prefill is another chunk");
    const base64 = await engine.verify(generation.promptTokens, generation.outputTokens, generation.proofs.map((p) => Buffer.from(p).toString("base64")), { sampling: generation.sampling });
    assert.equal(base64.accepted, true);
  });

  it("stops when shouldStop says so, streams every token through onToken, and stops at EOS", async () => {
    const streamed: [number, number][] = [];
    const stopped = await generate({ maxTokens: 50, onToken: (t, i) => streamed.push([t, i]), shouldStop: (out) => out.length === 7 });
    assert.equal(stopped.finishReason, "stop");
    assert.equal(stopped.outputTokens.length, 7);
    assert.deepEqual(streamed, stopped.outputTokens.map((t, i) => [t, i]));
    const full = await generate({ maxTokens: 50 });
    assert.equal(full.finishReason, full.outputTokens.includes(257) ? "stop" : "length");

    // EOS: find a seed whose sampled reply ends with EOS within a short budget (bounded search).
    let eos: Awaited<ReturnType<typeof generate>> | undefined;
    for (let seed = 0n; seed < 40n && !eos; seed++) {
      const g = await generate({ temperature: 2, topP: 1, seed, maxTokens: 24 });
      if (g.outputTokens.includes(257)) eos = g;
    }
    assert.ok(eos, "no sampled reply reached EOS in 40 tries");
    assert.equal(eos.finishReason, "stop");
    assert.equal(eos.outputTokens.at(-1), 257);
    assert.equal(eos.outputTokens.indexOf(257), eos.outputTokens.length - 1);
  });

  it("honours AbortSignal before and during generation", async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(generate({ signal: controller.signal }), GenerationAbortedError);
    const during = new AbortController();
    await assert.rejects(
      generate({ signal: during.signal, maxTokens: 200, onToken: (_, i) => i === 3 && during.abort() }),
      (error: unknown) => error instanceof GenerationAbortedError && error.field === "signal",
    );
  });

  it("serialises concurrent requests: results equal the same requests run one by one", async () => {
    const seeds = [11n, 12n, 13n, 14n];
    const order: number[] = [];
    const concurrent = await Promise.all(
      seeds.map((seed, k) => generate({ seed, maxTokens: 20, onToken: (_, i) => i === 0 && order.push(k) })),
    );
    assert.deepEqual(order, [0, 1, 2, 3], "requests ran in arrival order, one at a time");
    for (let k = 0; k < seeds.length; k++) {
      const alone = await generate({ seed: seeds[k]!, maxTokens: 20 });
      assert.deepEqual(concurrent[k]!.outputTokens, alone.outputTokens);
      assert.deepEqual(concurrent[k]!.proofs, alone.proofs);
    }
  });

  it("skips proofs when asked (benchmarks) without changing the tokens", async () => {
    const withProofs = await generate({ maxTokens: 40 });
    const without = await generate({ maxTokens: 40, prove: false });
    assert.deepEqual(without.outputTokens, withProofs.outputTokens);
    assert.deepEqual(without.proofs, []);
    assert.equal(without.timings.proofMs, 0);
  });
});
