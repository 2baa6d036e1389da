/**
 * Workload control: token-count distributions for --max-tokens and --input-tokens, and the
 * length-controlled synthetic prompts that --input-tokens asks for.
 *
 * A spec is `N` (fixed), `normal:MEAN,STDDEV[,MIN,MAX]` (rounded and clamped; MIN defaults to 1,
 * MAX to MEAN + 4 STDDEV) or `uniform:MIN,MAX` (integers, both ends included). Draws come from a
 * seeded stream, so a replay asks for the same lengths in the same order.
 *
 * Prompt length is set in words and converted with a calibration that the probe fits from the
 * server's own usage counts (prompt tokens = overhead + tokens_per_word * words: the chat
 * template's tokens and the tokenizer's rate), so "256 tokens" means 256 of the endpoint's
 * tokenizer. A server that reports no usage gets 1.3 tokens a word, said in a warning.
 */
import type { Distribution, InputTokens } from "../protocol/envelope/schema.ts";
import { canonicalJson } from "../protocol/envelope/canonical-json.ts";
import { sha256Hex } from "../protocol/envelope/content-hash.ts";
import type { Dataset } from "./dataset.ts";
import { RunConfigError } from "./errors.ts";
import { rng } from "./rng.ts";

/** The most tokens a request may ask for here (a typo like 1e9 is an error, not a week-long run). */
const MAX_COUNT = 1_000_000;

export function fixedDistribution(value: number): Distribution {
  return { kind: "fixed", mean: value, stddev: 0, min: value, max: value };
}

export function parseDistribution(spec: string, flag: string): Distribution {
  const bad = (why: string): never => {
    throw new RunConfigError(`${flag} ${why}; write N, normal:MEAN,STDDEV[,MIN,MAX] or uniform:MIN,MAX (got "${spec}")`, flag);
  };
  const count = (text: string | undefined, what: string): number => {
    const v = Number(text);
    if (text === undefined || text.trim() === "" || !Number.isInteger(v) || v < 1 || v > MAX_COUNT) bad(`${what} must be an integer in 1..${MAX_COUNT}`);
    return v;
  };
  const m = /^\s*(?:(normal|uniform):)?(.*)$/.exec(spec)!;
  const parts = m[2]!.split(",").map((p) => p.trim());
  if (m[1] === undefined) {
    if (parts.length !== 1) bad("has extra parts");
    return fixedDistribution(count(parts[0], "the value"));
  }
  if (m[1] === "uniform") {
    if (parts.length !== 2) bad("uniform needs MIN,MAX");
    const [lo, hi] = [count(parts[0], "MIN"), count(parts[1], "MAX")];
    if (hi < lo) bad("MAX is below MIN");
    const n = hi - lo + 1;
    return { kind: "uniform", mean: (lo + hi) / 2, stddev: Math.sqrt((n * n - 1) / 12), min: lo, max: hi };
  }
  if (parts.length !== 2 && parts.length !== 4) bad("normal needs MEAN,STDDEV or MEAN,STDDEV,MIN,MAX");
  const mean = count(parts[0], "MEAN");
  const sd = Number(parts[1]);
  if (!(sd >= 0) || !Number.isFinite(sd)) bad("STDDEV must be a number >= 0");
  const lo = parts.length === 4 ? count(parts[2], "MIN") : 1;
  const hi = parts.length === 4 ? count(parts[3], "MAX") : Math.min(MAX_COUNT, Math.ceil(mean + 4 * sd));
  if (hi < lo || mean < lo || mean > hi) bad("needs MIN <= MEAN <= MAX");
  return { kind: "normal", mean, stddev: sd, min: lo, max: hi };
}

/** A seeded sampler of integer counts from `d`. */
export function distributionSampler(d: Distribution, seed: number): () => number {
  const next = rng(seed);
  if (d.kind === "fixed") return () => d.min;
  if (d.kind === "uniform") return () => d.min + Math.floor(next() * (d.max - d.min + 1));
  return () => {
    // Box-Muller; 1 - u keeps log away from 0.
    const z = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    return Math.min(d.max, Math.max(d.min, Math.round(d.mean + d.stddev * z)));
  };
}

/** `count` draws. */
export function sampleCounts(d: Distribution, count: number, seed: number): number[] {
  const draw = distributionSampler(d, seed);
  return Array.from({ length: count }, draw);
}

export function describeDistribution(d: Distribution): string {
  if (d.kind === "fixed") return String(d.min);
  if (d.kind === "uniform") return `uniform ${d.min}..${d.max}`;
  return `normal mean ${d.mean}, sd ${d.stddev}, in ${d.min}..${d.max}`;
}

/** Used when the server reports no usage: a common rate for English text and BPE tokenizers. */
export const ASSUMED_TOKENS_PER_WORD = 1.3;

export const SYNTHETIC_LENGTH_ID = "builtin:synthetic-len-v1";

// Plain words of one to three syllables, so a word is a few tokens at most in any tokenizer.
const WORDS = (
  "time year people way day man thing woman life child world school state family student group country problem hand part " +
  "place case week company system program question work government number night point home water room mother area money story " +
  "fact month lot right study book eye job word business issue side kind head house service friend father power hour game line"
).split(" ");

/** Words for `tokens` prompt tokens under the calibration (at least one word). */
export function wordsFor(tokens: number, c: InputTokens["calibration"]): number {
  return Math.max(1, Math.round((tokens - c.overhead_tokens) / c.tokens_per_word));
}

/**
 * `count` prompts whose lengths follow `input.dist` (in the endpoint's tokens, through the
 * calibration), from a seeded stream: the same spec, calibration and seed give the same prompts
 * and so the same dataset hash, which is what a replay checks.
 */
export function lengthControlledDataset(input: InputTokens, count: number, seed: number): Dataset {
  const lengths = sampleCounts(input.dist, count, seed);
  const next = rng(seed ^ 0x9e3779b9);
  const prompts = lengths.map((tokens) => {
    const words = wordsFor(tokens, input.calibration);
    const parts: string[] = [];
    for (let w = 0; w < words; w++) parts.push(WORDS[Math.floor(next() * WORDS.length)]!);
    return parts.join(" ");
  });
  const spec = { id: SYNTHETIC_LENGTH_ID, dist: input.dist, calibration: input.calibration, seed, prompts };
  return { id: SYNTHETIC_LENGTH_ID, sha256: sha256Hex(canonicalJson(spec)), prompts, source: `builtin (input tokens ${describeDistribution(input.dist)})` };
}

/** Prompts of exactly `words` words, for the probe's calibration requests. */
export function calibrationPrompt(words: number): string {
  return Array.from({ length: words }, (_, i) => WORDS[i % WORDS.length]).join(" ");
}
