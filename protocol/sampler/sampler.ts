import { SamplerError } from "./errors.ts";
import { chooseGumbel, gumbelMargin } from "./gumbel-v2.ts";
import { argmax } from "./nucleus.ts";
import { chooseUniform, uniformMargin, uniformStream } from "./uniform-v1.ts";
import { checkSamplerVersion, type SamplerVersion } from "./versions.ts";

/** Everything that decides a request's tokens besides the logits; all of it is in the record. */
export interface SamplingSettings {
  sampler: SamplerVersion;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** uint64. */
  seed: bigint;
}

/** How a request's tokens are judged: the argmax, Gumbel-max (v2) or the uniform draw (v1). */
export type TokenMode = "greedy" | "gumbel" | "uniform";

export function tokenMode(settings: Pick<SamplingSettings, "sampler" | "temperature">): TokenMode {
  if (settings.temperature === 0) return "greedy";
  return settings.sampler === 1 ? "uniform" : "gumbel";
}

function checkSettings(settings: SamplingSettings): void {
  checkSamplerVersion(settings.sampler, "sampler");
  const { temperature, topP, seed } = settings;
  if (typeof temperature !== "number" || !(temperature >= 0) || !Number.isFinite(temperature)) throw new SamplerError(`temperature must be a finite number >= 0, got ${temperature}`, "temperature");
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) throw new SamplerError(`topP must be in (0, 1], got ${topP}`, "topP");
  if (typeof seed !== "bigint" || seed < 0n || seed >= 1n << 64n) throw new SamplerError("seed must be a uint64 bigint", "seed");
}

/** The prover's side: one token per call, positions 0, 1, 2, ... in order. */
export class TokenSampler {
  private position = 0;
  private readonly uniform?: () => number;

  constructor(private readonly settings: SamplingSettings) {
    checkSettings(settings);
    if (tokenMode(settings) === "uniform") this.uniform = uniformStream(settings.seed);
  }

  next(logits: Float32Array): number {
    const { temperature, topP, seed } = this.settings;
    const position = this.position++;
    switch (tokenMode(this.settings)) {
      case "greedy":
        return argmax(logits);
      case "uniform":
        return chooseUniform(logits, temperature, topP, this.uniform!());
      case "gumbel":
        return chooseGumbel(logits, temperature, topP, seed, position);
    }
  }
}

/** The verifier's replay of every output token under its own logits. */
export interface TokenJudgement {
  mode: TokenMode;
  /** The sampler's choice at each position under the recomputed logits. */
  chosen: Int32Array;
  /** How far each claimed token is from that choice (0 when it is the choice): logits, or mass for "uniform". */
  margins: Float64Array;
}

/**
 * Replays the sampler at every output position. `outputLogits` holds one row of `vocabSize`
 * logits per claimed token: row t predicts claimed[t].
 */
export function judgeTokens(settings: SamplingSettings, outputLogits: Float32Array, vocabSize: number, claimed: readonly number[]): TokenJudgement {
  checkSettings(settings);
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || outputLogits.length !== claimed.length * vocabSize) {
    throw new SamplerError(`outputLogits has ${outputLogits.length} values; expected ${claimed.length} rows of ${vocabSize}`, "outputLogits");
  }
  const mode = tokenMode(settings);
  const chosen = new Int32Array(claimed.length);
  const margins = new Float64Array(claimed.length);
  const uniform = mode === "uniform" ? uniformStream(settings.seed) : undefined;
  for (let t = 0; t < claimed.length; t++) {
    const row = outputLogits.subarray(t * vocabSize, (t + 1) * vocabSize);
    const token = claimed[t]!;
    if (!Number.isInteger(token) || token < 0 || token >= vocabSize) throw new SamplerError(`claimed[${t}] = ${token} is not a token id below ${vocabSize}`, `claimed[${t}]`);
    let judged: { chosen: number; margin: number };
    if (mode === "greedy") {
      const best = argmax(row);
      judged = { chosen: best, margin: row[best]! - row[token]! };
    } else if (mode === "uniform") {
      judged = uniformMargin(row, settings.temperature, settings.topP, uniform!(), token);
    } else {
      judged = gumbelMargin(row, settings.temperature, settings.topP, settings.seed, t, token);
    }
    chosen[t] = judged.chosen;
    margins[t] = judged.margin;
  }
  return { mode, chosen, margins };
}
