import assert from "node:assert/strict";
import { Engine } from "../../prover/engine/index.ts";
import { LLAMA_TINY_ONNX, loadReferenceCases, tempCacheDir } from "../helpers/engine-fixtures.ts";

/**
 * Acceptance on real reference data: proofs made by the reference TOPLOC library (H100 bf16 and
 * fp32, CPU fp32) for llama_tiny must pass when recomputed here on the CPU in fp32 with the same
 * ONNX export, and the proofs of another model must fail.
 */
const cases = loadReferenceCases();
const HONEST = ["gpu_bf16", "gpu_fp32", "cpu_fp32"] as const;
const FORGED = "gpu_bf16_other_model";

describe("prover/engine against the reference fixtures (llama_tiny.onnx)", () => {
  const cache = tempCacheDir("engine-ref");
  let engine: Engine;
  const worst: Record<string, { exp: number; mean: number; median: number }> = {};

  before(async () => {
    engine = await Engine.load({ modelPath: LLAMA_TINY_ONNX, cacheDir: cache.dir });
  });
  after(async () => {
    await engine?.close();
    cache.cleanup();
    for (const [variant, s] of Object.entries(worst)) {
      console.log(`      ${variant}: max exp mismatches ${s.exp}, max mant err mean ${s.mean.toFixed(3)}, max mant err median ${s.median}`);
    }
  });

  it("finds the final norm's output without being told, and sees no KV cache", () => {
    assert.equal(engine.info.activationTensor, "/m/model/norm/Mul_1_output_0");
    assert.equal(engine.info.hasKvCache, false);
    assert.equal(engine.info.hiddenSize, 256);
    assert.equal(engine.info.vocabSize, 1024);
  });

  for (const variant of [...HONEST, FORGED]) {
    it(`${variant === FORGED ? "rejects" : "accepts"} every ${variant} proof set`, async () => {
      const stats = { exp: 0, mean: 0, median: 0 };
      for (let i = 0; i < cases.prompts.length; i++) {
        const reference = cases.variants[variant]![i]!;
        const verdict = await engine.verify(cases.prompts[i]!, reference.generated, reference.proofs_base64);
        assert.equal(verdict.evidence.chunks.length, reference.proofs_base64.length);
        // The reference recomputed the same proofs with torch on a CPU in fp32: onnxruntime here
        // must land on the same statistics, chunk for chunk.
        const torchCpu = reference.verify.cpu_fp32!.results;
        verdict.evidence.chunks.forEach((chunk, j) => {
          const expected = torchCpu[j]!;
          assert.equal(chunk.expMismatches, expected.exp_mismatches, `prompt ${i} chunk ${j} exp mismatches`);
          assert.ok(Math.abs(chunk.mantErrMean - expected.mant_err_mean) <= 1e-9 * Math.max(1, expected.mant_err_mean), `prompt ${i} chunk ${j} mean`);
          assert.equal(chunk.mantErrMedian, expected.mant_err_median, `prompt ${i} chunk ${j} median`);
        });
        for (const chunk of verdict.evidence.chunks) {
          stats.exp = Math.max(stats.exp, chunk.expMismatches);
          stats.mean = Math.max(stats.mean, chunk.mantErrMean);
          stats.median = Math.max(stats.median, chunk.mantErrMedian);
        }
        if (variant === FORGED) {
          assert.equal(verdict.accepted, false, `prompt ${i}: another model's proofs were accepted`);
          assert.ok(verdict.evidence.chunks.every((c) => c.expMismatches > 38), `prompt ${i}: some chunk of another model passed`);
        } else {
          assert.equal(verdict.accepted, true, `prompt ${i}: ${JSON.stringify(verdict.failures)}`);
        }
      }
      worst[variant] = stats;
    });
  }

  it("greedy generation reproduces the reference CPU fp32 tokens", async () => {
    let matching = 0;
    let total = 0;
    for (let i = 0; i < cases.prompts.length; i++) {
      const expected = cases.variants.cpu_fp32![i]!.generated;
      const generation = await engine.generate({
        promptTokens: cases.prompts[i]!,
        temperature: 0,
        topP: 1,
        maxTokens: expected.length,
        seed: 0n,
      });
      const same = generation.outputTokens.findIndex((t, j) => t !== expected[j]);
      matching += same === -1 ? generation.outputTokens.length : same;
      total += expected.length;
      // Our own proofs of our own generation must pass our verifier too.
      const verdict = await engine.verify(generation.promptTokens, generation.outputTokens, generation.proofs);
      assert.equal(verdict.accepted, true);
    }
    console.log(`      greedy: ${matching} of ${total} tokens equal to the reference (longest common prefix per prompt)`);
    assert.ok(matching >= total * 0.9, `only ${matching} of ${total} tokens match`);
  });
});
