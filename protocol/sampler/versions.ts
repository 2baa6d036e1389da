/**
 * The token sampler is protocol: a verifier replays it from the record alone, so its version is
 * committed in the leaf (protocol/merkle's samplingHash) and every record names it.
 *
 *   1  "uniform-xoshiro"   one uniform per step from one xoshiro256** stream seeded by the
 *                          request seed (the n-th output token uses the n-th draw); the token is
 *                          where that uniform falls in the cumulative distribution. Replayable,
 *                          but a verifier's judgement is a distance in probability mass.
 *   2  "gumbel-topp"       Gumbel-max over temperature-scaled, top-p-truncated logits, with one
 *                          Gumbel variable per vocabulary entry drawn from (seed, position) alone.
 *                          The choice is an argmax, so a verifier's margin is in logit units, as
 *                          for greedy decoding, and independent of the temperature.
 * Greedy requests (temperature 0) take the argmax under every version.
 */
import { SamplerError } from "./errors.ts";

export const SAMPLER_VERSIONS = [1, 2] as const;
export type SamplerVersion = (typeof SAMPLER_VERSIONS)[number];
/** What new records are sampled with. */
export const CURRENT_SAMPLER_VERSION: SamplerVersion = 2;
/** Records from before the version was recorded are version 1. */
export const LEGACY_SAMPLER_VERSION: SamplerVersion = 1;

export const SAMPLER_NAMES: Readonly<Record<SamplerVersion, string>> = Object.freeze({ 1: "uniform-xoshiro", 2: "gumbel-topp" });

export function checkSamplerVersion(value: unknown, field = "sampler"): SamplerVersion {
  if (!SAMPLER_VERSIONS.includes(value as SamplerVersion)) {
    throw new SamplerError(`${field} must be one of ${SAMPLER_VERSIONS.join(", ")}, got ${JSON.stringify(value)}`, field);
  }
  return value as SamplerVersion;
}
