/**
 * Request-level decisions: a request is accepted when every statistic of its whole evidence
 * is within the profile's threshold for a request of its size. The false-rejection budget is
 * split evenly over the four statistics (a union bound), and each statistic's threshold is the
 * largest over the profile's honest bands, so a request that looks like any honest variant
 * passes.
 */
import type { Hex } from "viem";
import { REFERENCE_BF16_K128, type ThresholdProfile } from "../toploc/index.ts";
import type { RequestEvidence } from "./evidence.ts";
import type { VerificationProfile } from "./profile.ts";
import { requestStatistics, STATISTICS, type RequestStatistics, type StatisticName } from "./statistics.ts";
import { chunkThreshold, divergenceThreshold, maxMarginThreshold } from "./tails.ts";

export interface StatisticVerdict {
  name: StatisticName | string;
  value: number;
  threshold: number;
  passed: boolean;
}

export interface RequestVerdict {
  accepted: boolean;
  /** The profile's name and content hash (the reference profile has no hash). */
  profile: string;
  profileHash: Hex | null;
  statistics: StatisticVerdict[];
  /** One line per failed statistic, naming the evidence: "token_max_margin 3.12 > 0.41 (token 17: claimed 88, replayed 201)". */
  failures: string[];
  /** Checks the profile could not make (a token mode it was not calibrated for). */
  skipped: string[];
  summary: RequestStatistics;
  evidence: RequestEvidence;
}

function format(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(2);
}

/** Thresholds for one request size, memoised per profile (they cost a few ms to compute). */
const cache = new WeakMap<VerificationProfile, Map<string, number>>();

export function thresholdFor(profile: VerificationProfile, name: StatisticName, size: { chunks: number; tokens: number; mode: RequestStatistics["mode"] }): number | undefined {
  let memo = cache.get(profile);
  if (!memo) cache.set(profile, (memo = new Map()));
  const key = `${name}:${size.chunks}:${size.tokens}:${size.mode}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const alpha = profile.falseRejectionBudget / STATISTICS.length;
  let threshold: number | undefined;
  if (name === "garbage_rate" || name === "sq_error") {
    threshold = Math.max(...profile.bands[name].map((band) => chunkThreshold(band, size.chunks, alpha)));
  } else {
    const bands = profile.bands.tokens[size.mode];
    if (!bands) return undefined;
    const f = name === "token_max_margin" ? maxMarginThreshold : divergenceThreshold;
    threshold = Math.max(...bands.map((band) => f(band, size.tokens, alpha)));
  }
  memo.set(key, threshold);
  return threshold;
}

export function judgeRequest(evidence: RequestEvidence, profile: VerificationProfile): RequestVerdict {
  const summary = requestStatistics(evidence);
  const statistics: StatisticVerdict[] = [];
  const failures: string[] = [];
  const skipped: string[] = [];
  for (const name of STATISTICS) {
    const threshold = thresholdFor(profile, name, summary);
    if (threshold === undefined) {
      skipped.push(`${name}: the profile has no calibration for ${summary.mode} tokens`);
      continue;
    }
    const value = summary[name];
    const passed = value <= threshold;
    statistics.push({ name, value, threshold, passed });
    if (!passed) failures.push(`${name} ${format(value)} > ${format(threshold)} ${detail(name, summary, evidence)}`);
  }
  return { accepted: failures.length === 0, profile: profile.name, profileHash: profile.contentHash, statistics, failures, skipped, summary, evidence };
}

function detail(name: StatisticName, s: RequestStatistics, evidence: RequestEvidence): string {
  if (name === "garbage_rate" || name === "sq_error") return `(over ${s.chunks} chunk${s.chunks === 1 ? "" : "s"})`;
  if (name === "token_divergence") return `(mean over ${s.tokens} ${s.mode} tokens)`;
  const t = s.worstToken.position;
  const claimed = evidence.tokens.chosen.length > t && t >= 0 ? evidence.tokens.chosen[t] : undefined;
  return `(output token ${t} of ${s.tokens}: the replayed ${s.mode} sampler chose ${claimed})`;
}

/**
 * The reference TOPLOC decision, kept by name for comparison: every chunk within fixed limits
 * (38 / 10 / 8 at k = 128), no token check.
 */
export function judgeByReference(evidence: RequestEvidence, limits: ThresholdProfile = REFERENCE_BF16_K128): RequestVerdict {
  const summary = requestStatistics(evidence);
  const worst = (pick: (c: RequestEvidence["chunks"][number]) => number) => Math.max(...evidence.chunks.map(pick));
  const statistics: StatisticVerdict[] = [
    { name: "chunk_exp_mismatches", value: worst((c) => c.expMismatches), threshold: limits.expMismatchesMax, passed: false },
    { name: "chunk_mant_err_mean", value: worst((c) => c.mantErrMean), threshold: limits.mantErrMeanMax, passed: false },
    { name: "chunk_mant_err_median", value: worst((c) => c.mantErrMedian), threshold: limits.mantErrMedianMax, passed: false },
  ];
  const failures: string[] = [];
  for (const s of statistics) {
    s.passed = s.value <= s.threshold;
    if (!s.passed) failures.push(`${s.name} ${format(s.value)} > ${s.threshold} (worst of ${evidence.chunks.length} chunks)`);
  }
  return { accepted: failures.length === 0, profile: limits.name, profileHash: null, statistics, failures, skipped: ["tokens: the reference profile checks no tokens"], summary, evidence };
}
