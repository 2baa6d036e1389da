/**
 * npm run bench:serve [-- --record] [-- --levels 1,4,16,64] [-- --requests 2] [-- --tokens 64]
 *
 * The prover serving streams with proofs, over HTTP on loopback (the real server, store and
 * batcher in this process): at each level N, N concurrent clients each stream `requests`
 * completions in a row. Against, in the same run, the same model on an engine with batching
 * off (the prover before continuous batching: one request at a time). Prints aggregate output
 * tokens/s, TTFT and ITL p50/p99 per level, whether every record's proofs verify (an fp32
 * verifier with batching off, on the model's profile), and how close batched tokens are to the
 * one-at-a-time run of the same request and seed. Target: 16 streams >= 5x one at a time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkSamplerVersion } from "../../protocol/sampler/index.ts";
import { Batcher } from "../../prover/batch/index.ts";
import { Engine } from "../../prover/engine/index.ts";
import { buildProverApp } from "../../prover/server/index.ts";
import { ProofStore } from "../../prover/store/index.ts";
import { machineLine, printTable, recordSection } from "./harness.ts";

const { values: args } = parseArgs({
  options: {
    record: { type: "boolean", default: false },
    levels: { type: "string", default: "1,4,16,64" },
    requests: { type: "string", default: "2" },
    tokens: { type: "string", default: "64" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log("npm run bench:serve [-- --levels 1,4,16,64] [-- --requests 2 (per stream)] [-- --tokens 64 (max_tokens)] [-- --record]");
  process.exit(0);
}
const levels = args.levels.split(",").map(Number);
const perStream = Number(args.requests);
const maxTokens = Number(args.tokens);
if (levels.some((n) => !Number.isInteger(n) || n < 1 || n > 256) || !Number.isInteger(perStream) || perStream < 1 || perStream > 20 || !Number.isInteger(maxTokens) || maxTokens < 2 || maxTokens > 512) {
  console.error("--levels: integers in 1..256; --requests in 1..20; --tokens in 2..512");
  process.exit(2);
}
const TARGET_LEVEL = 16;
const TARGET_SPEEDUP = 5;

const tmp = mkdtempSync(join(tmpdir(), "vb-bench-serve-"));
const cacheDir = join(tmp, "models");

interface RequestResult {
  index: number;
  recordId: string;
  tokens: number;
  ttftMs: number;
  gapsMs: number[];
}

/** The request with global index k: its prompt and seed depend on k alone, so every level asks the same things. */
function requestBody(model: string, k: number): string {
  const topic = ["verifiable inference", "proof batching", "operators", "a Merkle root", "the sampler", "TOPLOC"][k % 6]!;
  return JSON.stringify({
    model,
    messages: [{ role: "user", content: `Request ${k}: tell me about ${topic}.${" More, please.".repeat(k % 4)}` }],
    max_tokens: maxTokens,
    temperature: 0.7,
    top_p: 0.95,
    seed: 1000 + k,
    stream: true,
  });
}

/** Streams one completion; times the first content chunk and the gaps between content chunks. */
async function streamOne(address: string, model: string, k: number): Promise<RequestResult> {
  const started = performance.now();
  const response = await fetch(`${address}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: requestBody(model, k) });
  if (response.status !== 200) throw new Error(`request ${k}: HTTP ${response.status}: ${await response.text()}`);
  const decoder = new TextDecoder();
  let buffer = "";
  let last = 0;
  let ttftMs = -1;
  const gapsMs: number[] = [];
  let recordId = "";
  const reader = response.body!.getReader();
  for (;;) {
    const { value: bytes, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(bytes, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.replace(/^data: /, "");
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(`request ${k}: ${JSON.stringify(chunk.error)}`);
      const now = performance.now();
      if (chunk.choices?.[0]?.delta?.content) {
        if (ttftMs < 0) ttftMs = now - started;
        else gapsMs.push(now - last);
        last = now;
      }
      if (chunk.proof?.record_id) recordId = chunk.proof.record_id;
    }
  }
  if (!recordId) throw new Error(`request ${k}: no proof in the stream`);
  return { index: k, recordId, tokens: 0, ttftMs, gapsMs };
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const sorted = xs.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

interface LevelFigures {
  label: string;
  streams: number;
  requests: RequestResult[];
  wallMs: number;
  meanBatch: number;
}

async function serveLevel(engine: Engine, label: string, streams: number, requestsPerStream: number, dataDir: string): Promise<{ figures: LevelFigures; store: ProofStore; close: () => Promise<void> }> {
  const store = await ProofStore.open(join(dataDir, "store"), { sync: false });
  const batcher = new Batcher(store, { maxRecords: 64, maxAgeMs: 3_600_000, commitRetryMs: 1000, publicUrl: () => address });
  const app = await buildProverApp({ auth: "off", engine, store, batcher, maxWaiting: 1024 });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  await batcher.start();
  const before = engine.batchStats();
  const started = performance.now();
  const results: RequestResult[] = [];
  await Promise.all(
    Array.from({ length: streams }, async (_, s) => {
      for (let r = 0; r < requestsPerStream; r++) results.push(await streamOne(address, engine.info.modelId, s * requestsPerStream + r));
    }),
  );
  const wallMs = performance.now() - started;
  const after = engine.batchStats();
  const meanBatch = before && after && after.forwards > before.forwards ? (after.rows - before.rows) / (after.forwards - before.forwards) : 1;
  return {
    figures: { label, streams, requests: results.sort((a, b) => a.index - b.index), wallMs, meanBatch },
    store,
    close: async () => {
      await app.close();
      await batcher.stop();
      await store.close();
    },
  };
}

try {
  const maxLevel = Math.max(...levels);
  console.log(`bench:serve on the default model: levels ${levels.join(", ")} streams x ${perStream} requests, max_tokens ${maxTokens}, temperature 0.7; ${machineLine()}`);
  const verifier = await Engine.load({ cacheDir, batching: false });
  const serial = await Engine.load({ cacheDir, batching: false });
  const batched = await Engine.load({ cacheDir });

  const rows: LevelFigures[] = [];
  const verification = { checked: 0, accepted: 0, worst: new Map<string, number>() };
  const outputs = new Map<string, Map<number, number[]>>();
  const proofsOf = new Map<string, Map<number, string[]>>();
  const check = async (figures: LevelFigures, store: ProofStore): Promise<void> => {
    const byIndex = new Map<number, number[]>();
    const proofsByIndex = new Map<number, string[]>();
    for (const r of figures.requests) {
      const record = (await store.getRecord(r.recordId))!;
      byIndex.set(r.index, record.outputTokens);
      proofsByIndex.set(r.index, record.proofs);
      r.tokens = record.outputTokens.length;
      const verdict = await verifier.verify(record.promptTokens, record.outputTokens, record.proofs, { sampling: { ...record.sampling, sampler: checkSamplerVersion(record.sampling.sampler ?? 1), seed: BigInt(record.seed) } });
      verification.checked++;
      if (verdict.accepted) verification.accepted++;
      else console.error(`  ${figures.label}: record ${r.recordId} REJECTED: ${JSON.stringify(verdict.failures)}`);
      for (const s of verdict.statistics) verification.worst.set(s.name, Math.max(verification.worst.get(s.name) ?? 0, s.value));
    }
    outputs.set(figures.label, byIndex);
    proofsOf.set(figures.label, proofsByIndex);
  };

  // One at a time: the engine with batching off, one stream, every request the largest level asks.
  {
    const dir = join(tmp, "serial");
    const { figures, store, close } = await serveLevel(serial, "one at a time (batching off)", 1, maxLevel * perStream, dir);
    await check(figures, store);
    await close();
    rows.push(figures);
    console.log(`  ${figures.label}: ${figures.requests.length} requests in ${(figures.wallMs / 1000).toFixed(1)} s`);
  }
  for (const n of levels) {
    const { figures, store, close } = await serveLevel(batched, `${n} streams`, n, perStream, join(tmp, `level-${n}`));
    await check(figures, store);
    await close();
    rows.push(figures);
    console.log(`  ${figures.label}: ${figures.requests.length} requests in ${(figures.wallMs / 1000).toFixed(1)} s, mean batch ${figures.meanBatch.toFixed(1)}`);
  }

  const tps = (f: LevelFigures) => (f.requests.reduce((a, r) => a + r.tokens, 0) * 1000) / f.wallMs;
  const base = tps(rows[0]!);
  const table: string[][] = [["serving", "requests", "output tok/s", "vs one at a time", "mean batch", "TTFT p50 ms", "TTFT p99 ms", "ITL p50 ms", "ITL p99 ms"]];
  for (const f of rows) {
    const ttft = f.requests.map((r) => r.ttftMs);
    const gaps = f.requests.flatMap((r) => r.gapsMs);
    table.push([f.label, String(f.requests.length), tps(f).toFixed(0), `${(tps(f) / base).toFixed(2)}x`, f.meanBatch.toFixed(1), quantile(ttft, 0.5).toFixed(1), quantile(ttft, 0.99).toFixed(1), quantile(gaps, 0.5).toFixed(2), quantile(gaps, 0.99).toFixed(2)]);
  }
  console.log("");
  const text = printTable(table);

  // Closeness: each batched request against the same request and seed served one at a time.
  const reference = outputs.get(rows[0]!.label)!;
  let same = 0;
  let compared = 0;
  let firstDivergence = Infinity;
  // Proof chunks byte-identical to the one-at-a-time ones (same tokens): how close the hidden states are after bf16 rounding and top-k.
  let sameChunks = 0;
  let chunks = 0;
  const referenceProofs = proofsOf.get(rows[0]!.label)!;
  for (const f of rows.slice(1)) {
    for (const [k, tokens] of outputs.get(f.label)!) {
      const ref = reference.get(k);
      if (!ref) continue;
      compared++;
      if (ref.length === tokens.length && ref.every((t, i) => t === tokens[i])) {
        same++;
        const mine = proofsOf.get(f.label)!.get(k)!;
        referenceProofs.get(k)!.forEach((p, i) => {
          chunks++;
          if (p === mine[i]) sameChunks++;
        });
      } else firstDivergence = Math.min(firstDivergence, ref.findIndex((t, i) => t !== tokens[i]));
    }
  }
  const worst = [...verification.worst].map(([name, value]) => `${name} ${Number.isInteger(value) ? value : value.toFixed(3)}`).join(", ");
  const level = rows.find((f) => f.streams === TARGET_LEVEL && f !== rows[0]);
  const speedup = level ? tps(level) / base : NaN;
  const lines = [
    `proofs verified: ${verification.accepted}/${verification.checked} records (fp32 verifier, the model's profile; worst statistics: ${worst})`,
    `tokens identical to the one-at-a-time run of the same request and seed: ${same}/${compared}` + (same < compared ? ` (earliest divergence at output token ${firstDivergence})` : "") +
      `; of their proof chunks, ${sameChunks}/${chunks} byte-identical (the rest differ by float rounding: a shifted start moves rotary positions)`,
    level
      ? `target: ${TARGET_LEVEL} streams >= ${TARGET_SPEEDUP}x one at a time: ${speedup.toFixed(2)}x ${speedup >= TARGET_SPEEDUP ? "met" : "MISSED"}`
      : `target: ${TARGET_LEVEL} streams >= ${TARGET_SPEEDUP}x one at a time: not measured (level ${TARGET_LEVEL} not run)`,
    `load average at the end: ${loadavg()[0]!.toFixed(1)}`,
  ];
  console.log("\n" + lines.join("\n"));
  if (args.record) {
    recordSection(
      "serve",
      `## Serving with continuous batching (\`npm run bench:serve\`)\n\n${machineLine()}; default model, chat streams over HTTP on loopback (server in the same process), ${perStream} requests per stream, max_tokens ${maxTokens}, temperature 0.7.\n\n\`\`\`\n${text}\n\`\`\`\n\n${lines.map((l) => `- ${l}`).join("\n")}`,
    );
  }
  await batched.close();
  await serial.close();
  await verifier.close();
  if (verification.accepted !== verification.checked) process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
