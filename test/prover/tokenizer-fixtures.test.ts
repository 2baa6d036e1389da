/**
 * Tokenizers and chat templates against the Python references (test/fixtures/hf, made by
 * scripts/fixtures/make_tokenizer_cases.py with tokenizers, transformers and sentencepiece):
 * every encoding, decoding and chat prompt of four tokenizers trained there (SentencePiece BPE
 * with Metaspace and byte fallback, the same in Llama 2's legacy form, SentencePiece Unigram
 * with the Precompiled normalizer, byte-level BPE with Llama 3's split pattern) and of two real
 * chat tokenizers as their packages ship them (Llama 2, Qwen 3 with its own template).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChatTemplateError, HfTokenizer } from "../../prover/engine/index.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = JSON.parse(readFileSync(join(ROOT, "test/fixtures/hf/tokenizer_cases.json"), "utf8")) as {
  tokenizers: Record<string, TokenizerCases>;
};

interface TokenizerCases {
  source: string;
  sha256: string;
  vocab_size: number;
  chat_template: string | null;
  encode: { text: string; ids: number[]; ids_with_special_tokens: number[] }[];
  decode: { ids: number[]; text: string; text_with_special_tokens: string }[];
  chat: { messages: { role: string; content: string }[]; add_generation_prompt: boolean; text?: string; ids?: number[]; error?: string }[];
}

/** Loads a fixture tokenizer the way a model folder is loaded; a fixture with its own template gets a config that carries it. */
async function load(name: string, cases: TokenizerCases, scratch: string): Promise<HfTokenizer> {
  const folder = join(ROOT, cases.source);
  const tokenizerPath = join(folder, "tokenizer.json");
  assert.equal(createHash("sha256").update(readFileSync(tokenizerPath)).digest("hex"), cases.sha256, `${name}: tokenizer.json is the file the fixtures were made from`);
  let configPath = join(folder, "tokenizer_config.json");
  if (cases.chat_template !== null) {
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    configPath = join(scratch, `${name}-tokenizer_config.json`);
    writeFileSync(configPath, JSON.stringify({ ...config, chat_template: cases.chat_template }));
  }
  return HfTokenizer.load({ tokenizerPath, configPath });
}

describe("tokenizers against the Python references", function () {
  this.timeout(60_000);
  const scratch = mkdtempSync(join(tmpdir(), "vb-tok-fixtures-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  for (const [name, cases] of Object.entries(FIXTURES.tokenizers)) {
    describe(name, () => {
      let tokenizer: HfTokenizer;
      before(async () => {
        tokenizer = await load(name, cases, scratch);
      });

      it(`encodes ${cases.encode.length} texts as the Rust tokenizers library does, with and without special tokens`, () => {
        for (const { text, ids, ids_with_special_tokens } of cases.encode) {
          assert.deepEqual(tokenizer.encode(text), ids, `encode ${JSON.stringify(text)}`);
          assert.deepEqual(tokenizer.promptTokens(text), ids_with_special_tokens, `encode with special tokens ${JSON.stringify(text)}`);
        }
      });

      it(`decodes ${cases.decode.length} id sequences as transformers does (special tokens skipped and kept)`, () => {
        for (const { ids, text, text_with_special_tokens } of cases.decode) {
          assert.equal(tokenizer.decode(ids), text, `decode ${JSON.stringify(ids)}`);
          assert.equal(tokenizer.decodeWithSpecialTokens(ids), text_with_special_tokens, `decode keeping specials ${JSON.stringify(ids)}`);
        }
      });

      it("streams: the pieces of incremental detokenization join to the whole decode", () => {
        const sequences = [...cases.decode.map((c) => c.ids), ...cases.encode.map((c) => c.ids)];
        for (const ids of sequences) {
          const stream = tokenizer.streamDecoder();
          let joined = "";
          for (const id of ids) {
            const piece = stream.push([id]);
            assert.ok(!piece.endsWith("\ufffd"), "no piece ends inside a character");
            joined += piece;
          }
          joined += stream.flush();
          assert.equal(joined, tokenizer.decode(ids), `stream ${JSON.stringify(ids)}`);
          assert.equal(stream.text, joined);
        }
      });

      if (cases.chat.length > 0) {
        it(`renders ${cases.chat.length} conversations as apply_chat_template does, and refuses those the template raises on`, () => {
          for (const entry of cases.chat) {
            const messages = entry.messages;
            if (entry.error !== undefined) {
              assert.throws(
                () => tokenizer.chatText(messages, { addGenerationPrompt: entry.add_generation_prompt }),
                (error: unknown) => error instanceof ChatTemplateError && error.message.includes(entry.error!),
              );
              continue;
            }
            assert.equal(tokenizer.chatText(messages, { addGenerationPrompt: entry.add_generation_prompt }), entry.text, JSON.stringify(messages));
            assert.deepEqual(tokenizer.encode(entry.text!), entry.ids);
            if (entry.add_generation_prompt) assert.deepEqual(tokenizer.chatPrompt(messages), entry.ids);
          }
        });
      }
    });
  }
});

describe("tokenizer folder layouts", () => {
  it("chat_template.jinja beside the config wins over the config's chat_template", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vb-tok-jinja-"));
    try {
      const source = join(ROOT, "test/fixtures/hf/tokenizers/sp-bpe-metaspace");
      copyFileSync(join(source, "tokenizer.json"), join(dir, "tokenizer.json"));
      copyFileSync(join(source, "tokenizer_config.json"), join(dir, "tokenizer_config.json"));
      writeFileSync(join(dir, "chat_template.jinja"), "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}");
      const tokenizer = await HfTokenizer.load({ tokenizerPath: join(dir, "tokenizer.json"), configPath: join(dir, "tokenizer_config.json"), chatTemplatePath: join(dir, "chat_template.jinja") });
      assert.equal(tokenizer.chatTemplateFile, "chat_template.jinja");
      assert.equal(tokenizer.chatText([{ role: "user", content: "hi" }]), "<s><user>hi<assistant>");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
