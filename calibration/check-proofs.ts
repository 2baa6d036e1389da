/**
 * Evaluates a verifier on proofs made elsewhere: every case of a cases file judged with the
 * request-level decision, counted per variant.
 */
import type { ThresholdProfile } from "../protocol/toploc/index.ts";
import type { RequestVerdict, VerificationProfile } from "../protocol/verification/index.ts";
import { Engine } from "../prover/engine/index.ts";
import type { CasesFile, ProofCase } from "./cases.ts";

export interface VariantResult {
  accepted: number;
  total: number;
  /** Per statistic, the largest value seen and the threshold it was judged against. */
  worst: Record<string, { value: number; threshold: number }>;
  /** Failure counts by statistic. */
  failedBy: Record<string, number>;
  /** Cases the verifier refused outright (wrong proof count, token ids outside the vocabulary, ...). */
  refused: { index: number; reason: string }[];
}

export async function checkProofs(
  engine: Engine,
  profile: VerificationProfile | ThresholdProfile,
  cases: CasesFile,
  onCase?: (c: ProofCase, verdict: RequestVerdict | Error) => void,
): Promise<Map<string, VariantResult>> {
  // Another model's profile is a usage error, not a verdict on every case.
  if ("schema" in profile) engine.checkProfile(profile);
  const results = new Map<string, VariantResult>();
  for (const [name, list] of cases.variants) {
    const result: VariantResult = { accepted: 0, total: 0, worst: {}, failedBy: {}, refused: [] };
    results.set(name, result);
    for (const c of list) {
      result.total++;
      let verdict: RequestVerdict;
      try {
        verdict = await engine.verify(c.promptTokens, c.outputTokens, c.proofs, {
          profile,
          sampling: c.sampling,
          toploc: { topk: cases.topk, decodeBatchSize: cases.decodeBatchSize },
        });
      } catch (error) {
        // A case no honest prover could have made (the claimed model cannot even run it) is rejected.
        result.refused.push({ index: c.index, reason: (error as Error).message });
        result.failedBy.refused = (result.failedBy.refused ?? 0) + 1;
        onCase?.(c, error as Error);
        continue;
      }
      if (verdict.accepted) result.accepted++;
      for (const s of verdict.statistics) {
        const w = result.worst[s.name];
        if (!w || s.value > w.value) result.worst[s.name] = { value: s.value, threshold: s.threshold };
        if (!s.passed) result.failedBy[s.name] = (result.failedBy[s.name] ?? 0) + 1;
      }
      onCase?.(c, verdict);
    }
  }
  return results;
}
