/**
 * The seeded request set calibration runs: prompts and sampling settings, the same for every
 * variant so that honest and cheating provers answer the same questions.
 */
import type { SamplerVersion } from "../protocol/sampler/index.ts";
import { Xoshiro128 } from "../prover/engine/prng.ts";

export interface CalibrationRequest {
  index: number;
  promptTokens: number[];
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: bigint;
  sampler: SamplerVersion;
}

/** Text prompts for models with a tokenizer: everyday requests, so activations look like real traffic. */
const TEXTS = [
  "Explain why the sky is blue in two sentences.",
  "Write a haiku about autumn leaves.",
  "What is the capital of Australia, and why is it not Sydney?",
  "Summarise the plot of Romeo and Juliet.",
  "def fibonacci(n):\n    # return the n-th Fibonacci number\n",
  "Translate to French: The train leaves at seven in the morning.",
  "List three uses of a paperclip.",
  "A farmer has 17 sheep. All but 9 run away. How many are left?",
  "Describe the smell of rain.",
  "Give me a recipe for pancakes.",
  "SELECT name, COUNT(*) FROM orders GROUP BY",
  "The mitochondria is",
  "Once upon a time, in a village by the sea,",
  "What are the pros and cons of remote work?",
  "Compose a short email declining a meeting invitation.",
  "Why do cats purr?",
];

/** Output lengths cycle through these: mostly three chunks (prefill + two decode chunks), some shorter and longer. */
const LENGTHS = [65, 65, 33, 65, 97, 65, 12, 65];

export interface WorkloadOptions {
  requests: number;
  seed: number;
  vocabSize: number;
  maxContext: number;
  encode?: (text: string) => number[];
  bosTokenId?: number;
  /** Scales the output lengths (1 = as above). */
  lengthScale?: number;
}

/**
 * Half the requests greedy, a quarter Gumbel-sampled at temperature 0.7 / top-p 0.95 and a
 * quarter at 1.0 / 1.0. Prompts alternate between text (when a tokenizer is given) and random
 * token ids of 8 to 48 tokens.
 */
export function calibrationWorkload(options: WorkloadOptions): CalibrationRequest[] {
  const rng = new Xoshiro128(options.seed);
  const uniform = (n: number) => Math.floor(((rng.nextSigned() + 1) / 2) * n);
  const out: CalibrationRequest[] = [];
  for (let i = 0; i < options.requests; i++) {
    let prompt: number[];
    if (options.encode && i % 2 === 0) {
      prompt = options.encode(TEXTS[(i >> 1) % TEXTS.length]!);
      if (options.bosTokenId !== undefined) prompt.unshift(options.bosTokenId);
    } else {
      prompt = Array.from({ length: 8 + uniform(41) }, () => uniform(options.vocabSize));
    }
    const length = Math.max(1, Math.round(LENGTHS[i % LENGTHS.length]! * (options.lengthScale ?? 1)));
    const maxTokens = Math.min(length, options.maxContext - prompt.length);
    const mode = i % 4;
    out.push({
      index: i,
      promptTokens: prompt,
      maxTokens,
      temperature: mode < 2 ? 0 : mode === 2 ? 0.7 : 1,
      topP: mode === 2 ? 0.95 : 1,
      seed: BigInt(1000 + i),
      sampler: 2,
    });
  }
  return out;
}

/** The same prompts re-sampled with sampler version 1 (the uniform draw), for old records. */
export function legacySamplerWorkload(requests: readonly CalibrationRequest[]): CalibrationRequest[] {
  return requests
    .filter((r) => r.temperature > 0)
    .map((r) => ({ ...r, sampler: 1 as SamplerVersion, seed: r.seed + 7_777n }));
}
