import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ActivationTensorError, Engine, ExternalDataError, ModelFileNotFoundError, UnsupportedModelError } from "../../prover/engine/index.ts";
import { LLAMA_TINY_ONNX, tempCacheDir } from "../helpers/engine-fixtures.ts";
import { TINY_HIDDEN, TINY_VOCAB, writeTinyModel } from "../helpers/engine-models.ts";

const GREEDY = { temperature: 0, topP: 1, seed: 0n };

describe("prover/engine activation hook on any causal LM graph", () => {
  const cache = tempCacheDir("engine-graph");
  after(() => cache.cleanup());

  const cases = [
    { head: "matmul", expected: "hidden_state" },
    { head: "gemm-bias", expected: "hidden_2d_" }, // Reshape(hidden) feeds the Gemm: still one row per token
    { head: "tied", expected: "hidden_state" },
  ] as const;
  for (const { head, expected } of cases) {
    it(`finds the projection's input behind a ${head} head, generates and verifies`, async () => {
      const engine = await Engine.load({ modelPath: writeTinyModel(cache.dir, head), cacheDir: cache.dir });
      try {
        assert.ok(engine.info.activationTensor.startsWith(expected), engine.info.activationTensor);
        assert.equal(engine.info.hiddenSize, TINY_HIDDEN);
        assert.equal(engine.info.vocabSize, TINY_VOCAB);
        assert.equal(engine.info.hasKvCache, false);
        const generation = await engine.generate({ promptTokens: [1, 2, 3, 4, 5, 6, 7, 8, 9], maxTokens: 41, ...GREEDY });
        assert.equal(generation.outputTokens.length, 41);
        assert.equal(generation.proofs.length, 3);
        const verdict = await engine.verify(generation.promptTokens, generation.outputTokens, generation.proofs);
        assert.equal(verdict.accepted, true);
      } finally {
        await engine.close();
      }
    });
  }

  it("takes an activation tensor by name, and names a missing one in a typed error", async () => {
    const path = writeTinyModel(cache.dir, "gemm-bias");
    const engine = await Engine.load({ modelPath: path, cacheDir: cache.dir, activationTensor: "hidden_state" });
    try {
      assert.equal(engine.info.activationTensor, "hidden_state");
    } finally {
      await engine.close();
    }
    await assert.rejects(
      Engine.load({ modelPath: path, cacheDir: cache.dir, activationTensor: "no/such/tensor" }),
      (error: unknown) => error instanceof ActivationTensorError && error.field === "activationTensor" && /no\/such\/tensor/.test(error.message),
    );
    // A tensor that exists but is not one row per token (a weight) is refused at load, not at proof time.
    await assert.rejects(
      Engine.load({ modelPath: path, cacheDir: cache.dir, activationTensor: "lm_head.bias" }),
      (error: unknown) => error instanceof ActivationTensorError && /lm_head\.bias/.test(error.message),
    );
  });

  it("runs weights in an external data file as the same weights inline, and names missing or truncated data", async () => {
    const inline = await Engine.load({ modelPath: writeTinyModel(cache.dir, "matmul"), cacheDir: cache.dir });
    const external = await Engine.load({ modelPath: writeTinyModel(cache.dir, "matmul", { externalData: true }), cacheDir: cache.dir });
    try {
      assert.notEqual(external.info.weightsHash, inline.info.weightsHash, "the hash covers the external file through the manifest");
      const tokens = [1, 2, 3, 250];
      assert.deepEqual(await external.recompute(tokens, [7]), await inline.recompute(tokens, [7]));
    } finally {
      await inline.close();
      await external.close();
    }
    const dir = mkdtempSync(join(cache.dir, "missing-"));
    await assert.rejects(Engine.load({ modelPath: writeTinyModel(dir, "matmul", { externalData: "missing" }), cacheDir: cache.dir }), (error: unknown) =>
      error instanceof ExternalDataError && error.field === "weights.bin" && /weights\.bin: external data of tiny-matmul-128-external\.onnx .*embed\.weight.* is missing/.test(error.message),
    );
    await assert.rejects(Engine.load({ modelPath: writeTinyModel(dir, "matmul", { externalData: "truncated" }), cacheDir: cache.dir }), (error: unknown) =>
      error instanceof ExternalDataError && /weights\.bin is truncated: initializer "embed\.weight" needs bytes 0\.\.153600 but the file has 153596/.test(error.message),
    );
  });

  it("rejects a model without a logits output, or with inputs it cannot feed", async () => {
    await assert.rejects(Engine.load({ modelPath: writeTinyModel(cache.dir, "none"), cacheDir: cache.dir }), (error: unknown) =>
      error instanceof UnsupportedModelError && error.field === "modelPath" && /no output named logits/.test(error.message),
    );
    await assert.rejects(Engine.load({ modelPath: writeTinyModel(cache.dir, "matmul", { extraInput: true }), cacheDir: cache.dir }), (error: unknown) =>
      error instanceof UnsupportedModelError && /token_type_ids/.test(error.message),
    );
  });

  it("rejects a hidden state smaller than TOPLOC's k (one decode row could not be proven)", async () => {
    await assert.rejects(Engine.load({ modelPath: writeTinyModel(cache.dir, "matmul", { hidden: 64 }), cacheDir: cache.dir }), (error: unknown) =>
      error instanceof UnsupportedModelError && error.field === "activationTensor" && /64 values per token/.test(error.message),
    );
  });

  it("rejects a missing model file and a file that is not ONNX", async () => {
    await assert.rejects(Engine.load({ modelPath: join(cache.dir, "absent.onnx"), cacheDir: cache.dir }), (error: unknown) =>
      error instanceof ModelFileNotFoundError && error.field === "modelPath" && /absent\.onnx/.test(error.message) && /ENOENT/.test(error.message),
    );
    const notOnnx = join(cache.dir, "not-a-model.onnx");
    writeFileSync(notOnnx, "this is a text file, not a protobuf\n".repeat(20));
    await assert.rejects(Engine.load({ modelPath: notOnnx, cacheDir: cache.dir }), UnsupportedModelError);
  });

  it("hooks llama_tiny.onnx by rewriting its graph, and the rewrite is cached per tensor name", async () => {
    const first = await Engine.load({ modelPath: LLAMA_TINY_ONNX, cacheDir: cache.dir });
    const named = await Engine.load({ modelPath: LLAMA_TINY_ONNX, cacheDir: cache.dir, activationTensor: "/m/model/norm/Mul_output_0" });
    try {
      assert.equal(first.info.activationTensor, "/m/model/norm/Mul_1_output_0");
      assert.equal(named.info.activationTensor, "/m/model/norm/Mul_output_0");
      assert.equal(first.info.weightsHash, named.info.weightsHash);
      // Both hooked models generate the same tokens: the hook adds an output, it changes nothing else.
      const request = { promptTokens: [1, 50, 60, 70], maxTokens: 8, ...GREEDY };
      assert.deepEqual((await first.generate(request)).outputTokens, (await named.generate(request)).outputTokens);
    } finally {
      await first.close();
      await named.close();
    }
  });
});
