import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ByteTokenizer, Engine, HfTokenizer, InvalidOptionError, loadHfTokenizer, UnsupportedTokenizerError } from "../../prover/engine/index.ts";
import { LLAMA_TINY_ONNX, tempCacheDir } from "../helpers/engine-fixtures.ts";

const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** GPT-2's reversible map from bytes to printable characters (a fact of the byte-level format). */
const BYTE_TO_CHAR: string[] = (() => {
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : next++);
  }
  return table;
})();

/** A GPT-2 style tokenizer.json: the 256 byte symbols, a few merges, BOS/EOS and a plain added token. */
function gpt2Style(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((ch, b) => (vocab[ch] = b));
  Object.assign(vocab, { "Ġt": 256, he: 257, "Ġthe": 258, in: 259, ing: 260 });
  return {
    version: "1.0",
    added_tokens: [
      { id: 261, content: "<|begin_of_text|>", special: true },
      { id: 262, content: "<|end_of_text|>", special: true },
      { id: 263, content: "[MARK]", special: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }] },
    decoder: { type: "ByteLevel" },
    model: { type: "BPE", vocab, merges: ["Ġ t", "h e", "Ġt he", "i n", "in g"] },
    ...extra,
  };
}

describe("prover/engine tokenizers", () => {
  const cache = tempCacheDir("engine-tok");
  after(() => cache.cleanup());
  const write = (name: string, json: unknown) => {
    const path = join(cache.dir, name);
    writeFileSync(path, JSON.stringify(json));
    return path;
  };

  it("byte-level: UTF-8 bytes, BOS/EOS 256/257 left out of text, the documented chat template", () => {
    const tokenizer = new ByteTokenizer();
    const text = "Hi ü 😀\n";
    assert.deepEqual(tokenizer.encode(text), [...Buffer.from(text, "utf8")]);
    assert.equal(tokenizer.decode([256, ...tokenizer.encode(text), 257]), text);
    assert.equal(tokenizer.decode([0xf0, 0x9f]), "\ufffd", "a reply cut inside a character decodes to U+FFFD");
    assert.deepEqual(tokenizer.chatPrompt([{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }]), [
      256,
      ...Buffer.from("<|system|>\nBe brief.\n<|user|>\nhi\n<|assistant|>\n", "utf8"),
    ]);
  });

  it("byte-level BPE from tokenizer.json: the GPT-2 byte alphabet, merges by rank, added tokens", async () => {
    assert.equal(BYTE_TO_CHAR[0x20], "Ġ");
    assert.equal(BYTE_TO_CHAR[0x0a], "Ċ");
    assert.equal(BYTE_TO_CHAR[0x41], "A");
    const tokenizer = await loadHfTokenizer(write("gpt2.json", gpt2Style()));
    assert.deepEqual(tokenizer.encode("the thing"), [116, 257, 256, 104, 260]); // t|he  Ġt|h|ing
    assert.deepEqual(tokenizer.encode(" the"), [258]);
    assert.deepEqual(tokenizer.encode("<|begin_of_text|>hi[MARK]x"), [261, 104, 105, 263, 120]);
    assert.equal(tokenizer.bosTokenId, 261);
    assert.equal(tokenizer.eosTokenId, 262);
    assert.equal(tokenizer.decode([261, 258, 263, 262]), " the[MARK]", "special tokens are left out, plain added tokens kept");
    assert.deepEqual(tokenizer.chatPrompt([{ role: "user", content: "x" }]).slice(0, 1), [261]);
    for (const text of ["Hello, world! 123 456789\n\n\tÜnïcödé 😀 日本語", "  leading and trailing  ", "it's we'll THEY'RE", ""]) {
      assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
    }
  });

  it("Llama 3 style: Split with a scoped case-insensitive pattern, ignore_merges", async () => {
    const json = gpt2Style({
      pre_tokenizer: {
        type: "Sequence",
        pretokenizers: [
          { type: "Split", pattern: { Regex: LLAMA3_PATTERN }, behavior: "Isolated", invert: false },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
    });
    const model = json.model as { vocab: Record<string, number>; ignore_merges?: boolean };
    model.vocab["'LL"] = 264;
    model.vocab["AMA"] = 265;
    model.ignore_merges = true;
    const tokenizer = await loadHfTokenizer(write("llama3.json", json));
    // (?i:'ll) splits "'LL" off "AMA"; without the case-insensitive group "'LLAMA" would be one piece.
    assert.deepEqual(tokenizer.encode("'LLAMA"), [264, 265]);
    assert.deepEqual(tokenizer.encode("1234"), [49, 50, 51, 52], "digits in groups of at most three, then bytes");
    for (const text of ["Llama 3's tokenizer:\r\n  works  ", "数字 12345 ok"]) assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  });

  it("names what is unsupported, with the JSON path: other models, unknown components, split behaviours, dropout", async () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ["wordlevel", { model: { type: "WordLevel", vocab: {} } }, "model.type", /WordLevel/],
      ["normalizer", { normalizer: { type: "Sequence", normalizers: [{ type: "NFC" }, { type: "Mystery" }] } }, "normalizer.normalizers[1].type", /Mystery/],
      ["pre", { pre_tokenizer: { type: "UnicodeScripts" } }, "pre_tokenizer.type", /UnicodeScripts/],
      ["split", { pre_tokenizer: { type: "Split", pattern: { String: " " }, behavior: "MergedWithPrevious" } }, "pre_tokenizer.behavior", /MergedWithPrevious/],
      ["decoder", { decoder: { type: "Sequence", decoders: [{ type: "Fuse" }, { type: "Magic" }] } }, "decoder.decoders[1].type", /Magic/],
      ["post", { post_processor: { type: "Unknown" } }, "post_processor.type", /Unknown/],
      ["dropout", { model: { ...(gpt2Style().model as object), dropout: 0.1 } }, "model.dropout", /dropout/],
      ["nomodel", { model: null }, "model", /missing/],
    ];
    for (const [name, change, field, text] of cases) {
      await assert.rejects(loadHfTokenizer(write(`${name}.json`, gpt2Style(change))), (error: unknown) => {
        assert.ok(error instanceof UnsupportedTokenizerError, `${name}: ${String(error)}`);
        assert.equal(error.field, field);
        assert.match(error.message, text);
        assert.match(error.message, new RegExp(`${name}\\.json`), "the message names the file");
        return true;
      });
    }
    await assert.rejects(loadHfTokenizer(join(cache.dir, "missing.json")), /cannot be read/);
    writeFileSync(join(cache.dir, "notjson.json"), "{");
    await assert.rejects(loadHfTokenizer(join(cache.dir, "notjson.json")), (error: unknown) => error instanceof UnsupportedTokenizerError && /notjson\.json is not JSON/.test(error.message));
    await assert.rejects(loadHfTokenizer(write("array.json", [])), (error: unknown) => error instanceof UnsupportedTokenizerError && /array\.json \(root\): is not a JSON object/.test(error.message));
  });

  it("an engine takes a tokenizer.json: ids must fit the model's vocabulary", async () => {
    const path = write("engine.json", gpt2Style());
    await assert.rejects(Engine.load({ cacheDir: cache.dir, tokenizerPath: path }), (error: unknown) =>
      error instanceof InvalidOptionError && error.field === "tokenizerPath" && /263/.test(error.message) && /258/.test(error.message),
    );
    const engine = await Engine.load({ modelPath: LLAMA_TINY_ONNX, cacheDir: cache.dir, tokenizerPath: path });
    try {
      assert.ok(engine.tokenizer instanceof HfTokenizer);
      assert.equal(engine.info.bosTokenId, 261);
      assert.equal(engine.info.eosTokenId, 262);
      const prompt = engine.tokenizer.chatPrompt([{ role: "user", content: "the thing" }]);
      const generation = await engine.generate({ promptTokens: prompt, temperature: 0, topP: 1, maxTokens: 3, seed: 0n });
      assert.ok(generation.outputTokens.length >= 1);
      assert.equal(typeof engine.tokenizer.decode(generation.outputTokens), "string");
    } finally {
      await engine.close();
    }
  });
});
