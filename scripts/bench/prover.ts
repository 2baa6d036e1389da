/**
 * npm run bench:prover [-- --record] [-- --runs 5] [-- --tokens 256] [-- --skip-llama-tiny]
 *
 * The prover engine on the CPU: generation tokens/s with and without TOPLOC proofs (target:
 * proving <= 2 % of generation time) and verification (one prefill over prompt + output[:-1]
 * plus checking every chunk) against generation of the same output (target: >= 10x faster),
 * for the embedded default model (KV cache) and llama_tiny.onnx (no KV cache: every decode step
 * re-runs the sequence).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Engine, type Generation } from "../../prover/engine/index.ts";
import { machineLine, printTable, recordSection } from "./harness.ts";

const { values: args } = parseArgs({
  options: {
    record: { type: "boolean", default: false },
    runs: { type: "string", default: "5" },
    tokens: { type: "string", default: "256" },
    threads: { type: "string", default: "0" },
    "skip-llama-tiny": { type: "boolean", default: false },
  },
});
const runs = Number(args.runs);
const tokens = Number(args.tokens);
const threads = Number(args.threads);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(tokens) || tokens < 2 || tokens > 700 || !Number.isInteger(threads) || threads < 0) {
  console.error("--runs must be >= 1, --tokens in 2..700, --threads >= 0");
  process.exit(2);
}

const PROOF_SHARE_TARGET = 0.02;
const VERIFY_SPEEDUP_TARGET = 10;
const LLAMA_TINY = new URL("../../test/fixtures/models/llama_tiny.onnx", import.meta.url).pathname;

interface Figures {
  model: string;
  tokens: number;
  promptTokens: number;
  genWithMs: number;
  genWithoutMs: number;
  proofMs: number;
  proofCount: number;
  verifyMs: number;
  accepted: boolean;
}

/** Median: other work on a shared machine makes single runs spiky. */
const median = (xs: number[]) => {
  const sorted = xs.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Times generation with and without proofs (interleaved, so machine noise hits both) and verification. */
async function measure(label: string, engine: Engine, promptTokens: number[], sampling: { temperature: number; topP: number }, runCount: number): Promise<Figures> {
  // Pick a seed whose reply runs the full length (no early EOS), bounded search.
  let seed = 0n;
  let reference: Generation | undefined;
  for (let s = 0n; s < 20n; s++) {
    reference = await engine.generate({ promptTokens, ...sampling, maxTokens: tokens, seed: s });
    seed = s;
    if (reference.outputTokens.length === tokens) break;
  }
  const request = { promptTokens, ...sampling, maxTokens: tokens, seed };
  // Warm-up at full length: JIT-compiles the proving and verification paths too.
  await engine.verify(reference!.promptTokens, reference!.outputTokens, reference!.proofs);
  const withMs: number[] = [];
  const withoutMs: number[] = [];
  const proofMs: number[] = [];
  const verifyMs: number[] = [];
  let last: Generation = reference!;
  let accepted = true;
  for (let r = 0; r < runCount; r++) {
    let start = performance.now();
    last = await engine.generate(request);
    withMs.push(performance.now() - start);
    proofMs.push(last.timings.proofMs);
    start = performance.now();
    const plain = await engine.generate({ ...request, prove: false });
    withoutMs.push(performance.now() - start);
    if (plain.outputTokens.join() !== last.outputTokens.join()) throw new Error("benchmark self-check: proving changed the tokens");
    start = performance.now();
    const verdict = await engine.verify(last.promptTokens, last.outputTokens, last.proofs);
    verifyMs.push(performance.now() - start);
    accepted &&= verdict.accepted;
  }
  process.stdout.write(`  ${label}: done\n`);
  return {
    model: label,
    tokens: last.outputTokens.length,
    promptTokens: promptTokens.length,
    genWithMs: median(withMs),
    genWithoutMs: median(withoutMs),
    proofMs: median(proofMs),
    proofCount: last.proofs.length,
    verifyMs: median(verifyMs),
    accepted,
  };
}

console.log(`prover engine benchmark: ${tokens} output tokens, ${runs} run(s) per figure (medians), onnxruntime-node CPU, threads ${threads || "auto"}`);
console.log(machineLine().replace(", single thread", ""));
const cacheDir = mkdtempSync(join(tmpdir(), "vb-bench-prover-"));
const results: Figures[] = [];
try {
  const engine = await Engine.load({ cacheDir, threads });
  const prompt = engine.tokenizer.chatPrompt([
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Explain in a few sentences why a verifier re-runs one prefill." },
  ]);
    results.push(await measure(`default (${engine.info.modelId}, KV cache)`, engine, prompt, { temperature: 0.8, topP: 0.95 }, runs));
  await engine.close();
  if (!args["skip-llama-tiny"]) {
    const tiny = await Engine.load({ modelPath: LLAMA_TINY, cacheDir, threads });
    const tinyPrompt = Array.from({ length: 47 }, (_, i) => (i * 37 + 11) % 1024);
    await tiny.generate({ promptTokens: tinyPrompt, temperature: 0, topP: 1, maxTokens: 4, seed: 0n });
    results.push(await measure("llama_tiny.onnx (no KV cache)", tiny, tinyPrompt, { temperature: 0, topP: 1 }, 1));
    await tiny.close();
  }
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}

const fmt = (x: number, digits = 1) => x.toFixed(digits);
console.log();
const rows = [["model", "prompt", "output", "gen ms (proofs)", "tok/s (proofs)", "tok/s (no proofs)", "proof ms", "proofs", "verify ms", "verdict"]];
for (const f of results) {
  rows.push([
    f.model,
    String(f.promptTokens),
    String(f.tokens),
    fmt(f.genWithMs),
    fmt((f.tokens / f.genWithMs) * 1000),
    fmt((f.tokens / f.genWithoutMs) * 1000),
    fmt(f.proofMs, 2),
    String(f.proofCount),
    fmt(f.verifyMs),
    f.accepted ? "accepted" : "REJECTED",
  ]);
}
const table = printTable(rows);
const summary: string[] = [];
for (const f of results) {
  const share = f.proofMs / f.genWithMs;
  const wallShare = (f.genWithMs - f.genWithoutMs) / f.genWithoutMs;
  const speedup = f.genWithMs / f.verifyMs;
  summary.push(
    `${f.model}: proving ${fmt(share * 100, 2)} % of generation time (in-line proof time; wall-clock difference ${fmt(wallShare * 100, 1)} %, noisy) ` +
      `target <= ${PROOF_SHARE_TARGET * 100} %: ${share <= PROOF_SHARE_TARGET ? "met" : "MISSED"}`,
    `${f.model}: verification ${fmt(speedup)}x faster than generation of the same ${f.tokens} tokens ` +
      `target >= ${VERIFY_SPEEDUP_TARGET}x: ${speedup >= VERIFY_SPEEDUP_TARGET ? "met" : "MISSED"}`,
  );
}
console.log();
for (const line of summary) console.log(line);

if (args.record) {
  recordSection(
    "prover",
    [
      "## Prover engine (`npm run bench:prover`)",
      "",
      `Machine: ${machineLine().replace(", single thread", "")}. onnxruntime-node on the CPU, ${tokens} output tokens, ${runs} run(s) per figure (llama_tiny: 1).`,
      "",
      "```",
      table,
      "",
      ...summary,
      "```",
    ].join("\n"),
  );
}
