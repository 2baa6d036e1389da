import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../../prover/engine/index.ts";
import { buildDefaultModel } from "../../prover/model/default-model.ts";
import { tempCacheDir } from "../helpers/engine-fixtures.ts";

/**
 * Both export shapes on the same weights: the default model as exported (KV cache, decode feeds
 * one token) and rebuilt without past/present tensors (decode re-runs the sequence). They must
 * generate the same tokens and accept each other's proofs.
 */
describe("prover/engine with and without a KV cache on the same weights", () => {
  const cache = tempCacheDir("engine-kv");
  let cached: Engine;
  let recomputed: Engine;

  before(async () => {
    cached = await Engine.load({ cacheDir: cache.dir });
    const path = join(cache.dir, "byte-llama-no-cache.onnx");
    writeFileSync(path, buildDefaultModel({ kvCache: false }));
    recomputed = await Engine.load({ modelPath: path, cacheDir: cache.dir });
  });
  after(async () => {
    await cached?.close();
    await recomputed?.close();
    cache.cleanup();
  });

  it("detects which shape each export has and hooks the same tensor", () => {
    assert.equal(cached.info.hasKvCache, true);
    assert.equal(recomputed.info.hasKvCache, false);
    assert.equal(recomputed.info.activationTensor, cached.info.activationTensor);
    assert.notEqual(recomputed.info.weightsHash, cached.info.weightsHash, "a different graph is a different file");
    assert.equal(recomputed.info.maxContext, 1024, "max_context comes from the model's metadata");
  });

  it("generates the same tokens greedily and when sampling, and each accepts the other's proofs", async () => {
    const prompt = cached.tokenizer.chatPrompt([{ role: "user", content: "Compare the two export shapes." }]);
    for (const sampling of [{ temperature: 0, topP: 1, seed: 0n }, { temperature: 0.7, topP: 0.9, seed: 77n }]) {
      const a = await cached.generate({ promptTokens: prompt, maxTokens: 40, ...sampling });
      const b = await recomputed.generate({ promptTokens: prompt, maxTokens: 40, ...sampling });
      // Float rounding differs between the paths; a rare near-tie could flip a token, so compare
      // the common prefix and require nearly all of it.
      const firstDiff = a.outputTokens.findIndex((t, i) => t !== b.outputTokens[i]);
      const same = firstDiff === -1 ? Math.min(a.outputTokens.length, b.outputTokens.length) : firstDiff;
      assert.ok(same >= Math.min(a.outputTokens.length, 34), `paths diverge at token ${same}`);
      // The rewrite is another file (its own weights hash), so it judges by the reference limits;
      // the default model judges by its own profile, replaying the sampler.
      const crossA = await recomputed.verify(a.promptTokens, a.outputTokens, a.proofs, { sampling: a.sampling });
      const crossB = await cached.verify(b.promptTokens, b.outputTokens, b.proofs, { sampling: b.sampling });
      assert.equal(crossA.accepted, true, JSON.stringify(crossA.failures));
      assert.equal(crossB.accepted, true, JSON.stringify(crossB.failures));
      assert.deepEqual(a.proofs[0], b.proofs[0], "the prefill is the same forward in both shapes");
    }
  });
});
