/**
 * npm run bench:tokenizer [-- --record]
 *
 * The tokenizer layer (prover/engine/text, on @huggingface/tokenizers) on every tokenizer the
 * fixtures cover: the four trained ones and the real Llama 2 and Qwen 3 files. Per tokenizer:
 * load time, encode throughput on a mixed-language text, incremental (streaming) decode
 * throughput one token at a time, and the time to render a chat prompt with its template.
 * Targets: encode >= 50,000 tokens/s (a 4k-token prompt in under 0.1 s) and streaming decode
 * >= 20,000 tokens/s (far above the engine's generation rate), per tokenizer.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { HfTokenizer } from "../../prover/engine/index.ts";
import { machineLine, printTable, recordSection } from "./harness.ts";

const ENCODE_TARGET = 50_000;
const STREAM_TARGET = 20_000;
const ROOT = new URL("../../", import.meta.url).pathname;

const { values } = parseArgs({ options: { record: { type: "boolean", default: false } } });
const cases = JSON.parse(readFileSync(join(ROOT, "test/fixtures/hf/tokenizer_cases.json"), "utf8")) as {
  tokenizers: Record<string, { source: string; chat_template: string | null; encode: { text: string }[] }>;
};
const text = cases.tokenizers["llama2"]!.encode.map((e) => e.text).join(" ").repeat(60);
const scratch = mkdtempSync(join(tmpdir(), "vb-bench-tok-"));
const rows: string[][] = [["tokenizer", "load ms", "tokens", "encode tok/s", "stream decode tok/s", "chat prompt ms", "status"]];
let allMet = true;
try {
  for (const [name, entry] of Object.entries(cases.tokenizers)) {
    const folder = join(ROOT, entry.source);
    let configPath = join(folder, "tokenizer_config.json");
    if (entry.chat_template !== null) {
      configPath = join(scratch, `${name}.json`);
      writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(join(folder, "tokenizer_config.json"), "utf8")), chat_template: entry.chat_template }));
    }
    const loadStart = performance.now();
    const tokenizer = await HfTokenizer.load({ tokenizerPath: join(folder, "tokenizer.json"), configPath });
    const loadMs = performance.now() - loadStart;
    tokenizer.encode(text.slice(0, 2000)); // warm up
    const encodeStart = performance.now();
    const ids = tokenizer.encode(text);
    const encodeS = (performance.now() - encodeStart) / 1000;
    const streamIds = ids.slice(0, 4000);
    const streamStart = performance.now();
    const stream = tokenizer.streamDecoder();
    for (const id of streamIds) stream.push([id]);
    stream.flush();
    const streamS = (performance.now() - streamStart) / 1000;
    let chatMs = NaN;
    if (tokenizer.hasChatTemplate) {
      const messages = [
        { role: "user", content: "Name a colour." },
        { role: "assistant", content: "Blue." },
        { role: "user", content: "Another one, please." },
      ];
      tokenizer.chatPrompt(messages);
      const chatStart = performance.now();
      for (let i = 0; i < 20; i++) tokenizer.chatPrompt(messages);
      chatMs = (performance.now() - chatStart) / 20;
    }
    const encodeRate = ids.length / encodeS;
    const streamRate = streamIds.length / streamS;
    const met = encodeRate >= ENCODE_TARGET && streamRate >= STREAM_TARGET;
    allMet &&= met;
    rows.push([name, loadMs.toFixed(0), String(ids.length), encodeRate.toFixed(0), streamRate.toFixed(0), Number.isNaN(chatMs) ? "-" : chatMs.toFixed(2), met ? "met" : "MISSED"]);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const table = printTable(rows);
const summary = `targets: encode >= ${ENCODE_TARGET} tok/s, streaming decode >= ${STREAM_TARGET} tok/s: ${allMet ? "met" : "MISSED"}`;
console.log(`\n${summary}`);
if (values.record) {
  recordSection("tokenizer", `## Tokenizers and chat templates (\`npm run bench:tokenizer\`)\n\nMachine: ${machineLine()}.\n\n\`\`\`\n${table}\n\`\`\`\n\n${summary}`);
}
