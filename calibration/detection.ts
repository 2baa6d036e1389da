/** Detection tables: how a profile judges each variant's requests. */
import { judgeRequest, type RequestEvidence, type VerificationProfile } from "../protocol/verification/index.ts";

export interface DetectionRow {
  variant: string;
  honest: boolean;
  description: string;
  requests: number;
  rejected: number;
  /** Per statistic, the largest value / threshold over the variant's requests (null: infinite). */
  worstRatio: Record<string, number | null>;
  /** For cheats: the smallest, over requests, of the request's largest value / threshold (> 1: rejected). */
  weakestDetection: number | null;
  /** What failed, counted over requests. */
  failedBy: Record<string, number>;
}

function ratio(value: number, threshold: number): number | null {
  if (threshold > 0) return Number.isFinite(value / threshold) ? value / threshold : null;
  return value <= 0 ? 0 : null;
}

export function detectionRow(variant: string, honest: boolean, description: string, observed: readonly RequestEvidence[], profile: VerificationProfile): DetectionRow {
  const worstRatio: Record<string, number | null> = {};
  const failedBy: Record<string, number> = {};
  let rejected = 0;
  let weakest: number | null = null;
  let first = true;
  for (const evidence of observed) {
    const verdict = judgeRequest(evidence, profile);
    if (!verdict.accepted) rejected++;
    let requestMax: number | null = 0;
    for (const s of verdict.statistics) {
      const r = ratio(s.value, s.threshold);
      const previous = worstRatio[s.name];
      worstRatio[s.name] = previous === null || r === null ? null : Math.max(previous ?? 0, r);
      requestMax = requestMax === null || r === null ? null : Math.max(requestMax, r);
      if (!s.passed) failedBy[s.name] = (failedBy[s.name] ?? 0) + 1;
    }
    if (first || (requestMax !== null && (weakest === null || requestMax < weakest))) weakest = requestMax;
    first = false;
  }
  return { variant, honest, description, requests: observed.length, rejected, worstRatio, weakestDetection: honest ? null : weakest, failedBy };
}

export function formatDetectionTable(rows: readonly DetectionRow[]): string {
  const lines = ["variant              kind    rejected    weakest    failed by"];
  for (const r of rows) {
    const weakest = r.honest ? "" : r.weakestDetection === null ? "inf" : `${r.weakestDetection.toFixed(2)}x`;
    const failed = Object.entries(r.failedBy).map(([k, v]) => `${k} ${v}`).join(", ");
    lines.push(`${r.variant.padEnd(20)} ${(r.honest ? "honest" : "cheat").padEnd(7)} ${`${r.rejected}/${r.requests}`.padStart(8)}    ${weakest.padStart(7)}    ${failed}`);
  }
  return lines.join("\n");
}
