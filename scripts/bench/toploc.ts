/**
 * npm run bench:toploc [-- --record] [-- --decode-ms-per-token 25] [-- --proofs 64]
 *
 * TOPLOC proof cost for one 32-token decode chunk of hidden size 4096 at k = 128 (the reference
 * library's benchmark shape), the share of decode time that proving takes, and Merkle root
 * build time over 10^5 and 10^6 leaves. Single-threaded: one core of the machine.
 */
import { parseArgs } from "node:util";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { buildProofs, float32ArrayToBf16, proveChunk, verifyChunk, ToplocProof } from "../../protocol/toploc/index.ts";
import { merkleRoot } from "../../protocol/merkle/index.ts";
import { machineLine, printTable, recordSection, seededNormals, time } from "./harness.ts";

const { values: args } = parseArgs({
  options: {
    record: { type: "boolean", default: false },
    "decode-ms-per-token": { type: "string", default: "25" },
    proofs: { type: "string", default: "64" },
    "merkle-sizes": { type: "string", default: "100000,1000000" },
  },
});
const decodeMsPerToken = Number(args["decode-ms-per-token"]);
const proofCount = Number(args.proofs);
if (!(decodeMsPerToken > 0) || !Number.isInteger(proofCount) || proofCount < 1) {
  console.error("--decode-ms-per-token must be > 0 and --proofs a positive integer");
  process.exit(2);
}

const ROWS = 32;
const HIDDEN = 4096;
const TOPK = 128;
// Reference: toploc 0.1.6 on the GPU host's CPU, 16 threads (../shared/fixtures/toploc).
const REFERENCE = { buildMs: 1.622, verifyMs: 0.344 };

/** Synthetic hidden states: unit normals with a few large outlier channels, as real LLMs have. */
function chunkF32(seed: number): Float32Array {
  const x = seededNormals(ROWS * HIDDEN, seed);
  for (let r = 0; r < ROWS; r++) for (const c of [17, 311, 1024, 2901]) x[r * HIDDEN + c]! *= 24;
  return x;
}

console.log(`TOPLOC benchmark: ${proofCount} chunks of ${ROWS} x ${HIDDEN}, k = ${TOPK}`);
console.log(machineLine());
const f32Chunks = Array.from({ length: proofCount }, (_, i) => chunkF32(1000 + i));
const bf16Chunks = f32Chunks.map(float32ArrayToBf16);
const proofs = bf16Chunks.map((c) => proveChunk(c, TOPK));
const rounds = Math.max(3, Math.ceil(2000 / proofCount));
const runs = proofCount * rounds;

const build = time(runs, proofCount, (i) => proveChunk(bf16Chunks[i % proofCount]!, TOPK));
const buildF32 = time(runs, proofCount, (i) => buildProofs([f32Chunks[i % proofCount]!], { topk: TOPK }));
const verify = time(runs, proofCount, (i) => {
  const result = verifyChunk(bf16Chunks[i % proofCount]!, proofs[i % proofCount]!, TOPK);
  if (result.expMismatches !== 0) throw new Error("benchmark self-check: proof does not verify");
});
const decodeBase64 = time(runs, proofCount, (i) => ToplocProof.fromBase64(proofs[i % proofCount]!.toBase64(), TOPK));
const proofBytes = proofs[0]!.toBytes().length;
const chunkDecodeMs = ROWS * decodeMsPerToken;

const fmt = (ms: number) => ms.toFixed(3);
const rows = [
  ["measure", "mean ms", "p50 ms", "p95 ms", "target", "reference (16 threads)"],
  ["build proof (bf16 input)", fmt(build.meanMs), fmt(build.p50Ms), fmt(build.p95Ms), "<= 0.300", fmt(REFERENCE.buildMs)],
  ["build proof (f32 input, incl. rounding)", fmt(buildF32.meanMs), fmt(buildF32.p50Ms), fmt(buildF32.p95Ms), "", ""],
  ["verify proof (bf16)", fmt(verify.meanMs), fmt(verify.p50Ms), fmt(verify.p95Ms), "<= 0.200", fmt(REFERENCE.verifyMs)],
  ["decode + validate base64 proof", fmt(decodeBase64.meanMs), fmt(decodeBase64.p50Ms), fmt(decodeBase64.p95Ms), "", ""],
];
console.log();
const table = printTable(rows);
const overhead = (build.meanMs / chunkDecodeMs) * 100;
const summary = [
  `proof size: ${proofBytes} bytes per ${ROWS}-token chunk (${(proofBytes / ROWS).toFixed(2)} bytes/token)`,
  `proving overhead: ${fmt(build.meanMs)} ms per chunk against ${ROWS} x ${decodeMsPerToken} ms = ${chunkDecodeMs} ms of decode ` +
    `(stated decode time ${decodeMsPerToken} ms/token) = ${overhead.toFixed(4)} % of decode time`,
  `targets: build ${build.meanMs <= 0.3 ? "met" : "MISSED"}, verify ${verify.meanMs <= 0.2 ? "met" : "MISSED"}`,
];
console.log();
for (const line of summary) console.log(line);

// Merkle roots over random leaf hashes (leaf hashing itself is per record and not included).
console.log();
const merkleRows = [["leaves", "root build s", "target"]];
for (const size of String(args["merkle-sizes"]).split(",").map(Number)) {
  const leaves: Uint8Array[] = new Array(size);
  const seed = new Uint8Array(8);
  for (let i = 0; i < size; i++) {
    new DataView(seed.buffer).setUint32(0, i);
    leaves[i] = keccak_256(seed);
  }
  const t = time(size >= 1_000_000 ? 3 : 5, 1, () => merkleRoot(leaves));
  merkleRows.push([size.toLocaleString("en-US"), (t.meanMs / 1000).toFixed(3), size === 1_000_000 ? (t.meanMs <= 3000 ? "<= 3 s met" : "<= 3 s MISSED") : ""]);
}
const merkleTable = printTable(merkleRows);

if (args.record) {
  recordSection(
    "toploc",
    [
      "## TOPLOC proofs and Merkle roots (`npm run bench:toploc`)",
      "",
      `Machine: ${machineLine()}. ${proofCount} chunks of ${ROWS} x ${HIDDEN} synthetic hidden states, k = ${TOPK}, ${runs} timed runs each.`,
      "",
      "```",
      table,
      "",
      ...summary,
      "",
      merkleTable,
      "```",
    ].join("\n"),
  );
}
