/**
 * Calibration: from a model file alone, the honest band its verifier must accept and what the
 * cheats it must reject look like, as a verification profile.
 *
 *  1. Run a seeded request set (calibration/workload.ts) through each honest prover variant
 *     and recompute every response with the fp32 verifier: the evidence of honest requests.
 *  2. Fit one band per honest variant and statistic (protocol/verification/tails.ts).
 *  3. Run the same requests through every cheating variant and judge them with those bands:
 *     the detection table, stored in the profile with the thresholds and margins.
 */
import { availableParallelism } from "node:os";
import type { Hex } from "viem";
import type { TokenMode } from "../protocol/sampler/index.ts";
import {
  fitChunkBand,
  fitTokenBand,
  PROFILE_SCHEMA,
  sealProfile,
  STATISTICS,
  TAIL_MODEL,
  thresholdFor,
  DEFAULT_GARBAGE_ULPS,
  type NamedChunkBand,
  type NamedTokenBand,
  type UnhashedProfile,
  type VerificationProfile,
} from "../protocol/verification/index.ts";
import { detectionRow, type DetectionRow } from "./detection.ts";
import { VariantRunner, type Observed } from "./runner.ts";
import { calibrationWorkload, legacySamplerWorkload } from "./workload.ts";
import { CHEATING_VARIANTS, EDIT_VARIANTS, HONEST_VARIANTS } from "./variants.ts";
import { FieldError } from "../protocol/errors.ts";

export class CalibrationError extends FieldError {
  override name = "CalibrationError";
}

export interface CalibrationOptions {
  /** The fp32 ONNX model; default the embedded default model. */
  modelPath?: string;
  tokenizerPath?: string;
  modelId?: string;
  cacheDir?: string;
  /** Requests per variant (default 64, at least 16). */
  requests?: number;
  seed?: number;
  /** Per-request false-rejection budget (default 1e-6). */
  falseRejectionBudget?: number;
  /** Scales output lengths (default 1: mostly 65 tokens). */
  lengthScale?: number;
  onProgress?: (event: CalibrationProgress) => void;
}

export interface CalibrationProgress {
  phase: "load" | "honest" | "legacy-sampler" | "fit" | "cheat" | "edit" | "done";
  variant?: string;
  done: number;
  total: number;
  elapsedMs: number;
}

const MODES: readonly TokenMode[] = ["greedy", "gumbel", "uniform"];

export async function calibrate(options: CalibrationOptions): Promise<{ profile: VerificationProfile; table: DetectionRow[] }> {
  const started = performance.now();
  const requests = options.requests ?? 64;
  if (!Number.isInteger(requests) || requests < 16) throw new CalibrationError(`requests must be an integer >= 16, got ${requests}`, "requests");
  const seed = options.seed ?? 1;
  const budget = options.falseRejectionBudget ?? 1e-6;
  if (!(budget > 0 && budget < 0.5)) throw new CalibrationError(`falseRejectionBudget must be in (0, 0.5), got ${budget}`, "falseRejectionBudget");
  const progress = (event: Omit<CalibrationProgress, "elapsedMs">) => options.onProgress?.({ ...event, elapsedMs: performance.now() - started });

  progress({ phase: "load", done: 0, total: 1 });
  let phase: CalibrationProgress["phase"] = "honest";
  const runner = await VariantRunner.open({
    ...(options.modelPath ? { modelPath: options.modelPath } : {}),
    ...(options.tokenizerPath ? { tokenizerPath: options.tokenizerPath } : {}),
    ...(options.modelId ? { modelId: options.modelId } : {}),
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    onRequest: (variant, done, total) => progress({ phase, variant, done, total }),
  });
  const verifier = runner.verifier;
  try {
    const info = verifier.info;
    const workload = calibrationWorkload({
      requests,
      seed,
      vocabSize: info.vocabSize,
      maxContext: info.maxContext,
      ...(options.tokenizerPath || info.bosTokenId !== undefined ? { encode: (t: string) => verifier.tokenizer.encode(t) } : {}),
      ...(info.bosTokenId !== undefined ? { bosTokenId: info.bosTokenId } : {}),
      lengthScale: options.lengthScale ?? 1,
    });
    const legacy = legacySamplerWorkload(workload).slice(0, Math.max(8, Math.ceil(requests / 4)));

    // 1. Honest evidence.
    const honest = new Map<string, Observed[]>();
    for (const variant of HONEST_VARIANTS) honest.set(variant.name, await runner.run(variant, workload));
    const bf16 = HONEST_VARIANTS.find((v) => v.name === "bf16")!;
    phase = "legacy-sampler";
    const legacyObserved = await runner.run(bf16, legacy);

    // 2. Bands.
    progress({ phase: "fit", done: 0, total: 1 });
    const garbageBands: NamedChunkBand[] = [];
    const sqBands: NamedChunkBand[] = [];
    const tokenBands: Partial<Record<TokenMode, NamedTokenBand[]>> = {};
    const fallbackBeta = logitResolution(honest.get("bf16")!);
    for (const [variant, observed] of honest) {
      const garbage = observed.map((o) => o.evidence.chunks.map((c) => c.garbage / c.k));
      const sq = observed.map((o) => o.evidence.chunks.map((c) => c.sqErrorSum / Math.max(1, c.close)));
      const pooled = (o: Observed, pick: "garbage" | "sq") => {
        const cs = o.evidence.chunks;
        const k = cs.reduce((a, c) => a + c.k, 0);
        const close = cs.reduce((a, c) => a + c.close, 0);
        return pick === "garbage" ? cs.reduce((a, c) => a + c.garbage, 0) / k : cs.reduce((a, c) => a + c.sqErrorSum, 0) / Math.max(1, close);
      };
      garbageBands.push({ variant, ...fitChunkBand(garbage), maxObserved: Math.max(...observed.map((o) => pooled(o, "garbage"))) });
      sqBands.push({ variant, ...fitChunkBand(sq), maxObserved: Math.max(...observed.map((o) => pooled(o, "sq"))) });
      const sources = variant === "bf16" ? [...observed, ...legacyObserved] : observed;
      for (const mode of MODES) {
        const margins = sources.filter((o) => o.evidence.tokens.mode === mode).flatMap((o) => Array.from(o.evidence.tokens.margins));
        if (margins.length === 0) continue;
        (tokenBands[mode] ??= []).push({ variant, ...fitTokenBand(margins, fallbackBeta), maxObserved: Math.max(...margins) });
      }
    }
    const unsealed: UnhashedProfile = {
      schema: PROFILE_SCHEMA,
      name: `${info.modelId}/calibrated`,
      model: { id: info.modelId, weightsHash: info.weightsHash, vocabSize: info.vocabSize, hiddenSize: info.hiddenSize },
      toploc: { topk: info.toploc.topk, decodeBatchSize: info.toploc.decodeBatchSize },
      recomputation: "fp32",
      garbageUlps: DEFAULT_GARBAGE_ULPS,
      falseRejectionBudget: budget,
      tailModel: TAIL_MODEL,
      bands: { garbage_rate: garbageBands, sq_error: sqBands, tokens: tokenBands },
      calibration: {},
    };
    const judging = { ...unsealed, contentHash: `0x${"0".repeat(64)}` as Hex };

    // 3. Detection table: honest variants judged by their own bands, then every cheat.
    const table: DetectionRow[] = [];
    for (const variant of HONEST_VARIANTS) {
      const observed = honest.get(variant.name)!.map((o) => o.evidence);
      const all = variant.name === "bf16" ? [...observed, ...legacyObserved.map((o) => o.evidence)] : observed;
      table.push(detectionRow(variant.name, true, variant.description, all, judging));
    }
    phase = "cheat";
    for (const variant of CHEATING_VARIANTS) {
      const observed = await runner.run(variant, workload);
      table.push(detectionRow(variant.name, false, variant.description, observed.map((o) => o.evidence), judging));
    }
    phase = "edit";
    for (const variant of EDIT_VARIANTS) {
      table.push(detectionRow(variant.name, false, variant.description, await runner.edited(variant, honest.get("bf16")!, seed), judging));
    }

    const referenceSize = { chunks: 3, tokens: 65 };
    const thresholds: Record<string, Record<string, number | null>> = {};
    for (const mode of MODES) {
      if (!tokenBands[mode]) continue;
      thresholds[mode] = Object.fromEntries(STATISTICS.map((s) => [s, thresholdFor(judging, s, { ...referenceSize, mode }) ?? null]));
    }
    const profile = sealProfile({
      ...unsealed,
      calibration: {
        requestsPerVariant: requests,
        seed,
        legacySamplerRequests: legacy.length,
        durationSeconds: Math.round((performance.now() - started) / 100) / 10,
        machine: { parallelism: availableParallelism(), platform: `${process.platform}-${process.arch}`, node: process.version },
        honestVariants: HONEST_VARIANTS.map((v) => ({ name: v.name, description: v.description })),
        cheatingVariants: [...CHEATING_VARIANTS, ...EDIT_VARIANTS].map((v) => ({ name: v.name, description: v.description })),
        statisticBudget: budget / STATISTICS.length,
        referenceSize,
        thresholdsAtReferenceSize: thresholds,
        detection: Object.fromEntries(table.map((r) => [r.variant, { honest: r.honest, requests: r.requests, rejected: r.rejected, worstRatio: r.worstRatio, weakestDetection: r.weakestDetection, failedBy: r.failedBy }])),
      },
    });
    progress({ phase: "done", done: 1, total: 1 });
    return { profile, table };
  } finally {
    await runner.close();
  }
}

/** The median positive margin of honest bf16 tokens: the scale of near-ties, for token bands with too few of their own. */
function logitResolution(observed: readonly Observed[]): number {
  const ulps: number[] = [];
  for (const o of observed) {
    for (const m of o.evidence.tokens.margins) if (m > 0) ulps.push(m);
  }
  ulps.sort((a, b) => a - b);
  return ulps.length > 0 ? ulps[ulps.length >> 1]! : 1e-3;
}
