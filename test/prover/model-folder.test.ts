/**
 * Hugging Face model folders (prover/engine/model-folder.ts, onnx-file/): generated from a seed
 * by writeHfModelFolder, in Optimum's and transformers.js's layouts, with fp16 / bf16 weights in
 * external data files, grouped-query attention, a SentencePiece-style tokenizer and a Jinja chat
 * template; and every kind of bad folder, each refused with a typed error naming the file.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ChatTemplateError,
  DeviceUnavailableError,
  Engine,
  ExternalDataError,
  InvalidOptionError,
  ModelFolderError,
  UnsupportedTokenizerError,
  WeightsHashMismatchError,
} from "../../prover/engine/index.ts";
import { onnxruntimeBinaryDir } from "../../prover/engine/device.ts";
import { onnx } from "../../prover/engine/onnx-proto.ts";
import { writeHfModelFolder, type HfFolderSpec } from "../../prover/model/hf-folder.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TOKENIZERS = join(ROOT, "test/fixtures/hf/tokenizers");
const CASES = JSON.parse(readFileSync(join(ROOT, "test/fixtures/hf/tokenizer_cases.json"), "utf8")) as {
  tokenizers: Record<string, { chat: { messages: { role: string; content: string }[]; add_generation_prompt: boolean; ids?: number[] }[] }>;
};
const GREEDY = { temperature: 0, topP: 1, seed: 0n };

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("Hugging Face model folders", function () {
  this.timeout(120_000);
  const scratch = mkdtempSync(join(tmpdir(), "vb-model-folder-"));
  const cacheDir = join(scratch, "cache");
  after(() => rmSync(scratch, { recursive: true, force: true }));
  let count = 0;
  const folder = (spec: Partial<HfFolderSpec> = {}, name = `model-${++count}`) =>
    writeHfModelFolder({ dir: join(scratch, name), tokenizerDir: join(TOKENIZERS, "sp-bpe-metaspace"), ...spec });

  it("loads fp16 weights in two external files (transformers.js layout): GQA, upcast to float32, the manifest's weights hash, the model's own template", async () => {
    const written = await folder({ dtype: "float16", shards: 2, layout: "transformers.js", kvHeads: 2, heads: 4 }, "tiny-llama-fp16");
    const engine = await Engine.load({ modelDir: written.dir, cacheDir });
    try {
      assert.equal(engine.info.modelId, "tiny-llama-fp16", "the model id is the folder's name");
      assert.equal(engine.info.dtype, "float16");
      assert.equal(engine.info.computeDtype, "float32");
      assert.equal(engine.info.vocabSize, 1000);
      assert.equal(engine.info.hiddenSize, 128);
      assert.equal(engine.info.hasKvCache, true);
      assert.equal(engine.info.maxContext, 512, "config.json's max_position_embeddings");
      assert.deepEqual(engine.warnings, []);
      // The documented weights hash (protocol/weights): sha256 of the manifest of every weights file.
      const graph = join(written.dir, "onnx/model.onnx");
      const manifest =
        "vb-weights/1\n" +
        `graph ${sha256(graph)} ${statSync(graph).size}\n` +
        written.externalFiles.map((path, i) => `data ${sha256(path)} ${statSync(path).size} ${i === 0 ? "model.onnx_data" : "model.onnx_data_1"}\n`).join("");
      assert.equal(engine.info.weightsHash, createHash("sha256").update(manifest).digest("hex"));
      // The prompt is the Python apply_chat_template's for the same template and tokenizer.
      const reference = CASES.tokenizers["sp-bpe-metaspace"]!.chat.find((c) => c.add_generation_prompt && c.messages.length === 2)!;
      assert.deepEqual(engine.tokenizer.chatPrompt(reference.messages), reference.ids);
      const sampling = { temperature: 0.8, topP: 0.95, seed: 11n };
      const g = await engine.generate({ promptTokens: reference.ids!, maxTokens: 40, ...sampling });
      assert.equal(g.proofs.length, 3, "prefill + two decode chunks");
      const verdict = await engine.verify(g.promptTokens, g.outputTokens, g.proofs, { sampling });
      assert.equal(verdict.accepted, true, verdict.failures.join("; "));
      // Another model's proofs for the same tokens are refused.
      const other = await Engine.load({ modelDir: (await folder({ dtype: "float16", seed: 99 }, "impostor")).dir, cacheDir });
      try {
        const impostor = await other.generate({ promptTokens: reference.ids!, maxTokens: 40, ...sampling });
        assert.equal((await engine.verify(impostor.promptTokens, impostor.outputTokens, impostor.proofs, { sampling })).accepted, false, "another model's proofs");
      } finally {
        await other.close();
      }
    } finally {
      await engine.close();
    }
  });

  it("the fp32 recomputation is deterministic and cached: a second load reuses the upcast, a copy of the folder has the same hash and the same numbers", async () => {
    const written = await folder({ dtype: "float16", seed: 21 }, "copy-source");
    const first = await Engine.load({ modelDir: written.dir, cacheDir });
    const upcastDir = join(cacheDir, "fp32");
    const before = new Map(
      (await import("node:fs")).readdirSync(upcastDir).map((d) => [d, statSync(join(upcastDir, d, "model.fp32.bin")).mtimeMs] as const),
    );
    const copy = join(scratch, "renamed-copy");
    cpSync(written.dir, copy, { recursive: true });
    const second = await Engine.load({ modelDir: copy, cacheDir });
    try {
      assert.equal(second.info.weightsHash, first.info.weightsHash, "renaming the folder keeps the weights hash");
      assert.equal(second.info.modelId, "renamed-copy");
      for (const [dir, mtime] of before) assert.equal(statSync(join(upcastDir, dir, "model.fp32.bin")).mtimeMs, mtime, "the upcast is reused, not rewritten");
      const tokens = [1, 50, 60, 70, 80];
      assert.deepEqual(await second.recompute(tokens, [90, 91]), await first.recompute(tokens, [90, 91]));
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("bf16 and fp32 folders (Optimum layout, one external file or none) load and prove too", async () => {
    for (const spec of [{ dtype: "bfloat16" as const }, { dtype: "float32" as const, external: false }, { dtype: "float32" as const }]) {
      const written = await folder(spec);
      const engine = await Engine.load({ modelDir: written.dir, cacheDir });
      try {
        assert.equal(engine.info.dtype, spec.dtype);
        assert.equal(engine.info.computeDtype, "float32");
        const prompt = engine.tokenizer.chatPrompt([{ role: "user", content: "hi" }]);
        const g = await engine.generate({ promptTokens: prompt, maxTokens: 8, ...GREEDY });
        assert.equal((await engine.verify(g.promptTokens, g.outputTokens, g.proofs)).accepted, true);
        if (spec.external === false) assert.equal(engine.info.weightsHash, sha256(join(written.dir, "model.onnx")), "a single-file model's hash is its sha256");
      } finally {
        await engine.close();
      }
    }
  });

  it("stops on every eos_token_id of generation_config.json", async () => {
    const plain = await Engine.load({ modelDir: (await folder({ seed: 5 }, "eos-a")).dir, cacheDir });
    let first: number;
    const prompt = plain.tokenizer.chatPrompt([{ role: "user", content: "count" }]);
    try {
      const g = await plain.generate({ promptTokens: prompt, maxTokens: 6, ...GREEDY });
      assert.equal(g.finishReason, "length");
      first = g.outputTokens[0]!;
    } finally {
      await plain.close();
    }
    const stopping = await Engine.load({ modelDir: (await folder({ seed: 5, extraEosTokenIds: [first] }, "eos-b")).dir, cacheDir });
    try {
      assert.ok(stopping.info.stopTokenIds.includes(first) && stopping.info.stopTokenIds.includes(2));
      const g = await stopping.generate({ promptTokens: prompt, maxTokens: 6, ...GREEDY });
      assert.deepEqual(g.outputTokens, [first]);
      assert.equal(g.finishReason, "stop");
    } finally {
      await stopping.close();
    }
  });

  it("a folder whose tokenizer has no chat template gets the plain format and a warning; no generation_config.json, another", async () => {
    const written = await folder({ omitGenerationConfig: true }, "no-template");
    writeFileSync(join(written.dir, "tokenizer_config.json"), readFileSync(join(TOKENIZERS, "sp-bpe-legacy/tokenizer_config.json")));
    const engine = await Engine.load({ modelDir: written.dir, cacheDir });
    try {
      assert.equal(engine.warnings.length, 2);
      assert.match(engine.warnings[0]!, /tokenizer_config\.json has no chat_template: chat prompts use the plain format/);
      assert.match(engine.warnings[1]!, /generation_config\.json is missing/);
      const prompt = engine.tokenizer.chatPrompt([{ role: "user", content: "hi" }]);
      assert.deepEqual(prompt, [1, ...engine.tokenizer.encode("<|user|>\nhi\n<|assistant|>\n")]);
      assert.deepEqual(engine.info.stopTokenIds, [2], "config.json's eos_token_id");
    } finally {
      await engine.close();
    }
  });

  describe("bad folders: a typed error naming the file, and nothing loads", () => {
    const reject = async (dir: string, type: new (...args: never[]) => Error, pattern: RegExp, options: Record<string, unknown> = {}) =>
      assert.rejects(Engine.load({ modelDir: dir, cacheDir, ...options }), (error: unknown) => {
        assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
        assert.match((error as Error).message, pattern);
        return true;
      });

    it("missing files: config.json, tokenizer.json, the graph (the candidates it has are listed), a modelFile outside the folder", async () => {
      const base = await folder({}, "bad-base");
      const without = (file: string) => {
        const dir = join(scratch, `without-${file.replaceAll("/", "-")}`);
        cpSync(base.dir, dir, { recursive: true });
        unlinkSync(join(dir, file));
        return dir;
      };
      await reject(without("config.json"), ModelFolderError, /config\.json cannot be read \(ENOENT\)/);
      await reject(without("tokenizer.json"), ModelFolderError, /tokenizer\.json is missing from/);
      await reject(without("model.onnx"), ModelFolderError, /onnx\/model\.onnx or model\.onnx is missing/);
      await reject(join(scratch, "no-such-folder"), ModelFolderError, /is not a folder/);
      await reject(base.dir, ModelFolderError, /outside the model folder/, { modelFile: "../bad-base/model.onnx/../../etc/passwd" });
      const variants = join(scratch, "variants");
      cpSync(base.dir, variants, { recursive: true });
      const { renameSync, mkdirSync } = await import("node:fs");
      mkdirSync(join(variants, "onnx"));
      renameSync(join(variants, "model.onnx"), join(variants, "onnx/model_fp16.onnx"));
      renameSync(join(variants, "model.onnx_data"), join(variants, "onnx/model.onnx_data"));
      await reject(variants, ModelFolderError, /it has onnx\/model_fp16\.onnx: choose one with modelFile/);
      const engine = await Engine.load({ modelDir: variants, modelFile: "onnx/model_fp16.onnx", cacheDir });
      await engine.close();
      writeFileSync(join(without("tokenizer.json"), "config.json"), "{ not json");
      await reject(join(scratch, "without-tokenizer.json"), ModelFolderError, /config\.json is not JSON/);
      await assert.rejects(Engine.load({ modelDir: base.dir, modelPath: join(base.dir, "model.onnx") }), InvalidOptionError);
    });

    it("an unsupported tokenizer, a template that does not parse or does not render", async () => {
      const written = await folder({}, "bad-tokenizer");
      const tokenizer = JSON.parse(readFileSync(join(written.dir, "tokenizer.json"), "utf8"));
      writeFileSync(join(written.dir, "tokenizer.json"), JSON.stringify({ ...tokenizer, model: { ...tokenizer.model, type: "WordLevel" } }));
      await reject(written.dir, UnsupportedTokenizerError, /tokenizer\.json model\.type: "WordLevel" is not supported/);

      const templated = await folder({}, "bad-template");
      const config = JSON.parse(readFileSync(join(templated.dir, "tokenizer_config.json"), "utf8"));
      writeFileSync(join(templated.dir, "tokenizer_config.json"), JSON.stringify({ ...config, chat_template: "{% for m in messages %}{{ m.content }" }));
      await reject(templated.dir, ChatTemplateError, /tokenizer_config\.json: the chat template does not parse/);
      writeFileSync(join(templated.dir, "tokenizer_config.json"), JSON.stringify({ ...config, chat_template: "{{ raise_exception('this template needs a system message') }}" }));
      await reject(templated.dir, ChatTemplateError, /tokenizer_config\.json: the chat template fails to render a one-message conversation: this template needs a system message/);
      writeFileSync(join(templated.dir, "chat_template.jinja"), "{{ messages[0].content.nothing() }}");
      await reject(templated.dir, ChatTemplateError, /chat_template\.jinja: the chat template fails to render/);
    });

    it("external data missing, truncated, or outside the folder; a weights hash that is not the expected one", async () => {
      const written = await folder({ shards: 2 }, "bad-data");
      const expected = (await Engine.load({ modelDir: written.dir, cacheDir }).then(async (e) => (await e.close(), e.info.weightsHash)));
      await reject(written.dir, WeightsHashMismatchError, new RegExp(`model\\.onnx_data_1\\) hash to ${expected}, not the expected ${"ab".repeat(32)}`), { expectedWeightsHash: "ab".repeat(32) });
      const ok = await Engine.load({ modelDir: written.dir, cacheDir, expectedWeightsHash: `0x${expected}` });
      await ok.close();

      const truncated = join(scratch, "truncated");
      cpSync(written.dir, truncated, { recursive: true });
      truncateSync(join(truncated, "model.onnx_data_1"), statSync(join(truncated, "model.onnx_data_1")).size - 100);
      await reject(truncated, ExternalDataError, /model\.onnx_data_1 is truncated: initializer ".*" needs bytes \d+\.\.\d+ but the file has \d+/);

      const missing = join(scratch, "missing-data");
      cpSync(written.dir, missing, { recursive: true });
      unlinkSync(join(missing, "model.onnx_data"));
      await reject(missing, ExternalDataError, /model\.onnx_data: external data of model\.onnx \(initializer ".*"\) is missing/);

      const escaping = join(scratch, "escaping");
      cpSync(written.dir, escaping, { recursive: true });
      const model = onnx.ModelProto.decode(readFileSync(join(escaping, "model.onnx")));
      const tensor = model.graph!.initializer!.find((t) => (t.externalData ?? []).length > 0)!;
      tensor.externalData!.find((e) => e.key === "location")!.value = "../bad-data/model.onnx_data";
      writeFileSync(join(escaping, "model.onnx"), onnx.ModelProto.encode(model).finish());
      await reject(escaping, ExternalDataError, /names external data "\.\.\/bad-data\/model\.onnx_data" outside the model's folder/);
    });

    it("--device cuda without onnxruntime-node's CUDA provider names the missing library", async function () {
      const { dir } = onnxruntimeBinaryDir();
      if (dir && existsSync(join(dir, "libonnxruntime_providers_cuda.so"))) this.skip(); // a machine with the CUDA build
      const written = await folder({}, "cuda");
      await reject(written.dir, DeviceUnavailableError, /--device cuda: the installed onnxruntime-node 1\.30\.0 .* has no CUDA execution provider: libonnxruntime_providers_cuda\.so and libonnxruntime_providers_shared\.so missing/, { device: "cuda" });
    });
  });
});
