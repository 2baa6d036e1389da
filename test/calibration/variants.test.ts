import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "mocha";
import { buildVariantModel, inferElemTypes, prepareVariantModel, toFp8E4m3, VariantModelError } from "../../calibration/variants/index.ts";
import { readFloats } from "../../calibration/variants/weights.ts";
import { decodeModel } from "../../prover/engine/graph.ts";
import { Engine } from "../../prover/engine/index.ts";
import { LLAMA_TINY_ONNX, tempCacheDir } from "../helpers/engine-fixtures.ts";

const source = readFileSync(LLAMA_TINY_ONNX);

function initializers(bytes: Uint8Array) {
  return decodeModel(bytes).graph!.initializer!.filter((t) => t.dataType === 1);
}

describe("calibration/variants: precision rewrites of a model file", () => {
  const cache = tempCacheDir("variants");
  after(() => cache.cleanup());

  it("float8 e4m3 rounding: the format's grid, saturating at 448", () => {
    assert.equal(toFp8E4m3(448), 448);
    assert.equal(toFp8E4m3(1000), 448);
    assert.equal(toFp8E4m3(-1000), -448);
    assert.equal(toFp8E4m3(1.0625), 1); // halfway between 1 and 1.125: to even
    assert.equal(toFp8E4m3(1.07), 1.125);
    assert.equal(toFp8E4m3(2 ** -9), 2 ** -9); // smallest subnormal
    assert.equal(toFp8E4m3(2 ** -11), 0);
    assert.equal(toFp8E4m3(0.3), 0.3125);
  });

  it("types every tensor of a torch export, so only float activations get rounded", () => {
    const types = inferElemTypes(decodeModel(source).graph!);
    assert.equal(types.get("input_ids"), 7);
    assert.equal(types.get("logits"), 1);
    assert.equal(types.get("/m/model/Shape_output_0"), 7);
  });

  it("bf16: every weight on the bf16 grid, every op on activations rounded, outputs unchanged in name", () => {
    const bf16 = buildVariantModel(source, { weights: "bf16", activations: "bf16" });
    for (const t of initializers(bf16)) {
      const bits = new Uint32Array(readFloats(t).buffer);
      assert.ok(bits.every((b) => (b & 0xffff) === 0), `${t.name} has values off the bf16 grid`);
    }
    const graph = decodeModel(bf16).graph!;
    const casts = graph.node!.filter((n) => n.opType === "Cast" && n.attribute?.some((a) => a.name === "to" && Number(a.i) === 16));
    assert.ok(casts.length > 100, `${casts.length} bf16 roundings`);
    assert.deepEqual(graph.output!.map((o) => o.name), ["logits"]);
    // The variance of each RMSNorm stays fp32, as Hugging Face's bf16 RMSNorm keeps it.
    const reduce = graph.node!.find((n) => n.opType === "ReduceMean")!;
    assert.ok(!reduce.output![0]!.endsWith("::fp32"));
  });

  it("int8 and int4: per-channel (group) levels; fp8: the e4m3 grid after one scale; shuffle: the same values elsewhere", () => {
    const w = (bytes: Uint8Array) => readFloats(initializers(bytes).find((t) => t.name === "onnx::MatMul_1230")!); // 256 x 688, [in, out]
    const original = w(source);
    const int8 = w(buildVariantModel(source, { weights: "int8", activations: "fp32" }));
    for (const column of [0, 100, 687]) {
      const levels = new Set(Array.from({ length: 256 }, (_, i) => int8[i * 688 + column]));
      assert.ok(levels.size <= 255, `column ${column}: ${levels.size} levels`);
      const max = Math.max(...Array.from({ length: 256 }, (_, i) => Math.abs(original[i * 688 + column]!)));
      for (let i = 0; i < 256; i++) assert.ok(Math.abs(int8[i * 688 + column]! - original[i * 688 + column]!) <= max / 254 + max * 2 ** -8);
    }
    const int4 = w(buildVariantModel(source, { weights: "int4", activations: "fp32" }));
    const group = new Set(Array.from({ length: 32 }, (_, i) => int4[i * 688]));
    assert.ok(group.size <= 16, `a group of 32 inputs has ${group.size} levels`);
    const fp8 = w(buildVariantModel(source, { weights: "fp8", activations: "fp32" }));
    assert.ok(new Set(fp8).size <= 256, "at most 256 fp8 values per tensor");
    const shuffled = w(buildVariantModel(source, { weights: "shuffle", activations: "fp32", seed: 3 }));
    assert.deepEqual(Float32Array.from(shuffled).sort(), Float32Array.from(original).sort());
    assert.notDeepEqual(shuffled, original);
  });

  it("variants run, and land near the fp32 model in the order of their precision", async () => {
    const prompt = [5, 9, 100, 44, 2, 8, 17];
    const run = async (path: string) => {
      const engine = await Engine.load({ modelPath: path, cacheDir: cache.dir, profile: null });
      try {
        return await engine.recompute(prompt, [3, 4, 5]);
      } finally {
        await engine.close();
      }
    };
    const reference = await run(LLAMA_TINY_ONNX);
    const distance = async (spec: Parameters<typeof prepareVariantModel>[1]) => {
      const acts = await run(await prepareVariantModel(LLAMA_TINY_ONNX, spec, cache.dir));
      let sum = 0;
      acts.forEach((a, i) => a.forEach((v, j) => (sum += (v - reference[i]![j]!) ** 2)));
      return sum;
    };
    const bf16 = await distance({ weights: "bf16", activations: "bf16" });
    const int8 = await distance({ weights: "int8", activations: "bf16" });
    const int4 = await distance({ weights: "int4", activations: "bf16" });
    assert.ok(bf16 > 0 && bf16 < int8 && int8 < int4, `bf16 ${bf16}, int8 ${int8}, int4 ${int4}`);
  });

  it("refuses what it cannot rewrite, naming it", () => {
    assert.throws(() => buildVariantModel(source, { weights: "int3" as never, activations: "bf16" }), (e: unknown) => e instanceof VariantModelError && e.field === "weights");
    assert.throws(() => buildVariantModel(source, { weights: "bf16", activations: "fp16" as never }), (e: unknown) => e instanceof VariantModelError && e.field === "activations");
  });
});
