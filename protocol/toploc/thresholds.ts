import { InvalidParameterError } from "./errors.ts";
import type { ChunkVerification } from "./verify.ts";

/** Acceptance limits for one chunk: every statistic must be at or below its maximum. */
export interface ThresholdProfile {
  name: string;
  /** The k these limits were calibrated for. */
  topk: number;
  expMismatchesMax: number;
  mantErrMeanMax: number;
  mantErrMedianMax: number;
}

/** The reference library's published bf16 limits for k = 128. */
export const REFERENCE_BF16_K128: Readonly<ThresholdProfile> = Object.freeze({
  name: "reference-bf16-k128",
  topk: 128,
  expMismatchesMax: 38,
  mantErrMeanMax: 10,
  mantErrMedianMax: 8,
});

export const THRESHOLD_PROFILES: Readonly<Record<string, Readonly<ThresholdProfile>>> = Object.freeze({
  [REFERENCE_BF16_K128.name]: REFERENCE_BF16_K128,
});

export function thresholdProfile(name: string): Readonly<ThresholdProfile> {
  const profile = THRESHOLD_PROFILES[name];
  if (!profile) {
    throw new InvalidParameterError(
      `unknown threshold profile ${JSON.stringify(name)}; known: ${Object.keys(THRESHOLD_PROFILES).join(", ")}`,
      "profile",
    );
  }
  return profile;
}

/** Why one chunk was rejected, if it was. */
export function chunkFailures(result: ChunkVerification, profile: ThresholdProfile): string[] {
  const failures: string[] = [];
  if (result.expMismatches > profile.expMismatchesMax) {
    failures.push(`exp_mismatches ${result.expMismatches} > ${profile.expMismatchesMax}`);
  }
  if (result.mantErrMean > profile.mantErrMeanMax) {
    failures.push(`mant_err_mean ${result.mantErrMean} > ${profile.mantErrMeanMax}`);
  }
  if (result.mantErrMedian > profile.mantErrMedianMax) {
    failures.push(`mant_err_median ${result.mantErrMedian} > ${profile.mantErrMedianMax}`);
  }
  return failures;
}
