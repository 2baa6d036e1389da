/**
 * npm run demo:toploc — the TOPLOC demo with embedded defaults.
 *
 * Simulates one proven inference: synthetic final hidden states for a prompt and its decode
 * steps, TOPLOC proofs for every chunk (prefill, then every 32 decode tokens), and three
 * verifications: an exact recomputation, a recomputation on "other hardware" (small bf16
 * rounding noise), and a recomputation by a different model. Prints a per-chunk table.
 *
 * Options (npm run demo:toploc -- ...): --hidden 4096 --prompt-tokens 48 --decode-tokens 96 --seed 1
 */
import { parseArgs } from "node:util";
import {
  DEFAULT_TOPLOC_PARAMS,
  REFERENCE_BF16_K128,
  buildProofs,
  float32ArrayToBf16,
  verifyAndJudge,
  type Verdict,
} from "../protocol/toploc/index.ts";
import { printTable, seededNormals } from "./bench/harness.ts";

function intOption(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`error: --${name} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      hidden: { type: "string", default: "4096" },
      "prompt-tokens": { type: "string", default: "48" },
      "decode-tokens": { type: "string", default: "96" },
      seed: { type: "string", default: "1" },
    },
  }).values;
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exit(2);
}
const hidden = intOption("hidden", parsed.hidden, 128, 65536);
const promptTokens = intOption("prompt-tokens", parsed["prompt-tokens"], 1, 8192);
const decodeTokens = intOption("decode-tokens", parsed["decode-tokens"], 0, 8192);
const seed = intOption("seed", parsed.seed, 0, 2 ** 31);

/** Hidden states of one "model": normals with a few outlier channels chosen by the model seed. */
function model(modelSeed: number) {
  const outliers = [3, 7, 11, 13].map((p) => (p * 7919 * (modelSeed + 1)) % hidden);
  return (rows: number, stepSeed: number): Float32Array => {
    const x = seededNormals(rows * hidden, stepSeed * 1_000_003 + modelSeed);
    for (let r = 0; r < rows; r++) for (const c of outliers) x[r * hidden + c]! *= 20;
    return x;
  };
}

/** What another GPU or kernel produces: the same values, one bf16 ulp off here and there. */
function hardwareNoise(bits: Uint16Array, noiseSeed: number): Uint16Array {
  const out = bits.slice();
  let s = noiseSeed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    if (s % 50 === 0 && (out[i]! & 0x7f) !== 0x7f && (out[i]! & 0x7f) !== 0) out[i]! += s & 0x100 ? 1 : -1;
  }
  return out;
}

const prover = model(seed);
const activations: Uint16Array[] = [float32ArrayToBf16(prover(promptTokens, 0))];
for (let t = 1; t <= decodeTokens; t++) activations.push(float32ArrayToBf16(prover(1, t)));

const started = performance.now();
const proofs = buildProofs(activations);
const buildMs = performance.now() - started;

const other = model(seed + 1);
const otherActivations = [float32ArrayToBf16(other(promptTokens, 0))];
for (let t = 1; t <= decodeTokens; t++) otherActivations.push(float32ArrayToBf16(other(1, t)));

const scenarios: [string, Uint16Array[]][] = [
  ["exact recompute", activations],
  ["other hardware", activations.map((a, i) => hardwareNoise(a, seed * 7 + i))],
  ["different model", otherActivations],
];

console.log(`TOPLOC demo: hidden ${hidden}, prompt ${promptTokens} tokens, ${decodeTokens} decode tokens, seed ${seed}`);
console.log(
  `params: k = ${DEFAULT_TOPLOC_PARAMS.topk}, decode chunk = ${DEFAULT_TOPLOC_PARAMS.decodeBatchSize} tokens; ` +
    `profile ${REFERENCE_BF16_K128.name} (exp <= ${REFERENCE_BF16_K128.expMismatchesMax}, ` +
    `mean <= ${REFERENCE_BF16_K128.mantErrMeanMax}, median <= ${REFERENCE_BF16_K128.mantErrMedianMax})`,
);
const proofBytes = proofs.reduce((n, p) => n + p.toBytes().length, 0);
console.log(`built ${proofs.length} proofs, ${proofBytes} bytes in all, in ${buildMs.toFixed(2)} ms\n`);

const verdicts: [string, Verdict][] = scenarios.map(([name, acts]) => [name, verifyAndJudge(acts, proofs)]);
const rows = [["scenario", "chunk", "tokens", "exp mismatches", "mant err mean", "mant err median", "verdict"]];
for (const [name, verdict] of verdicts) {
  verdict.chunks.forEach((chunk, i) => {
    const tokens = i === 0 ? `prompt ${promptTokens}` : `decode ${(i - 1) * 32 + 1}-${Math.min(i * 32, decodeTokens)}`;
    const fmt = (v: number) => (v >= 2 ** 64 ? "no match" : v.toFixed(3));
    rows.push([name, String(i), tokens, String(chunk.expMismatches), fmt(chunk.mantErrMean), fmt(chunk.mantErrMedian), chunk.accepted ? "accept" : "reject"]);
  });
}
printTable(rows);
console.log();
for (const [name, verdict] of verdicts) console.log(`${name.padEnd(16)} ${verdict.accepted ? "ACCEPTED" : "REJECTED"}`);
