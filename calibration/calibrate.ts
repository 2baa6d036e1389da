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
  judgeRequest,
  PROFILE_SCHEMA,
  sealProfile,
  STATISTICS,
  TAIL_MODEL,
  thresholdFor,
  DEFAULT_GARBAGE_ULPS,
  type NamedChunkBand,
  type NamedTokenBand,
  type RequestEvidence,
  type UnhashedProfile,
  type VerificationProfile,
} from "../protocol/verification/index.ts";
import { defaultCacheDir, Engine, type Generation } from "../prover/engine/index.ts";
import { ensureDefaultModel } from "../prover/model/ensure.ts";
import { calibrationWorkload, legacySamplerWorkload, type CalibrationRequest } from "./workload.ts";
import { CHEATING_VARIANTS, EDIT_VARIANTS, editTokens, HONEST_VARIANTS, type ModelVariant } from "./variants.ts";
import { prepareVariantModel } from "./variants/index.ts";
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

interface Observed {
  request: CalibrationRequest;
  evidence: RequestEvidence;
  generation: Generation;
}

const MODES: readonly TokenMode[] = ["greedy", "gumbel", "uniform"];

function ratio(value: number, threshold: number): number | null {
  if (threshold > 0) return Number.isFinite(value / threshold) ? value / threshold : null;
  return value <= 0 ? 0 : null;
}

export async function calibrate(options: CalibrationOptions): Promise<{ profile: VerificationProfile; table: DetectionRow[] }> {
  const started = performance.now();
  const requests = options.requests ?? 64;
  if (!Number.isInteger(requests) || requests < 16) throw new CalibrationError(`requests must be an integer >= 16, got ${requests}`, "requests");
  const seed = options.seed ?? 1;
  const budget = options.falseRejectionBudget ?? 1e-6;
  if (!(budget > 0 && budget < 0.5)) throw new CalibrationError(`falseRejectionBudget must be in (0, 0.5), got ${budget}`, "falseRejectionBudget");
  const progress = (event: Omit<CalibrationProgress, "elapsedMs">) => options.onProgress?.({ ...event, elapsedMs: performance.now() - started });
  const loadBase = { ...(options.tokenizerPath ? { tokenizerPath: options.tokenizerPath } : {}), ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}), ...(options.modelId ? { modelId: options.modelId } : {}) };

  progress({ phase: "load", done: 0, total: 1 });
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const modelPath = options.modelPath ?? (await ensureDefaultModel(cacheDir));
  const verifier = await Engine.load({ ...(options.modelPath ? { modelPath } : {}), ...loadBase, profile: null });
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

    const run = async (variant: ModelVariant, set: readonly CalibrationRequest[], phase: CalibrationProgress["phase"]): Promise<Observed[]> => {
      const path = await prepareVariantModel(modelPath, variant.spec, cacheDir);
      const prover = await Engine.load({
        modelPath: path,
        ...loadBase,
        ...(options.modelPath ? {} : { activationTensor: verifier.info.activationTensor }),
        ...(variant.threads !== undefined ? { threads: variant.threads } : {}),
        ...(variant.graphOptimization ? { graphOptimization: variant.graphOptimization } : {}),
      });
      try {
        const out: Observed[] = [];
        for (const request of set) {
          const generation = await prover.generate({ ...request, promptTokens: [...request.promptTokens] });
          const evidence = await verifier.evidence(generation.promptTokens, generation.outputTokens, generation.proofs, {
            sampling: { sampler: request.sampler, temperature: request.temperature, topP: request.topP, seed: request.seed },
          });
          out.push({ request, evidence, generation });
          progress({ phase, variant: variant.name, done: out.length, total: set.length });
        }
        return out;
      } finally {
        await prover.close();
      }
    };

    // 1. Honest evidence.
    const honest = new Map<string, Observed[]>();
    for (const variant of HONEST_VARIANTS) honest.set(variant.name, await run(variant, workload, "honest"));
    const bf16 = HONEST_VARIANTS.find((v) => v.name === "bf16")!;
    const legacyObserved = await run(bf16, legacy, "legacy-sampler");

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
    const row = (name: string, honestVariant: boolean, description: string, observed: readonly RequestEvidence[]): DetectionRow => {
      const worstRatio: Record<string, number | null> = {};
      const failedBy: Record<string, number> = {};
      let rejected = 0;
      let weakest: number | null = null;
      let weakestSet = false;
      for (const evidence of observed) {
        const verdict = judgeRequest(evidence, judging);
        if (!verdict.accepted) rejected++;
        let requestMax: number | null = 0;
        for (const s of verdict.statistics) {
          const r = ratio(s.value, s.threshold);
          const prev = worstRatio[s.name];
          worstRatio[s.name] = prev === null || r === null ? null : Math.max(prev ?? 0, r);
          requestMax = requestMax === null || r === null ? null : Math.max(requestMax, r);
          if (!s.passed) failedBy[s.name] = (failedBy[s.name] ?? 0) + 1;
        }
        if (!weakestSet || (requestMax !== null && (weakest === null || requestMax < weakest))) {
          weakest = requestMax;
          weakestSet = true;
        }
      }
      return { variant: name, honest: honestVariant, description, requests: observed.length, rejected, worstRatio, weakestDetection: honestVariant ? null : weakest, failedBy };
    };
    for (const variant of HONEST_VARIANTS) {
      const observed = honest.get(variant.name)!.map((o) => o.evidence);
      table.push(row(variant.name, true, variant.description, variant.name === "bf16" ? [...observed, ...legacyObserved.map((o) => o.evidence)] : observed));
    }
    for (const variant of CHEATING_VARIANTS) {
      const observed = await run(variant, workload, "cheat");
      table.push(row(variant.name, false, variant.description, observed.map((o) => o.evidence)));
    }
    const base = honest.get("bf16")!;
    for (const variant of EDIT_VARIANTS) {
      const edited: RequestEvidence[] = [];
      for (const o of base) {
        const tokens = editTokens(o.generation.outputTokens, variant.edits, info.vocabSize, seed * 100_003 + o.request.index);
        if (!tokens) continue;
        edited.push(
          await verifier.evidence(o.generation.promptTokens, tokens, o.generation.proofs, {
            sampling: { sampler: o.request.sampler, temperature: o.request.temperature, topP: o.request.topP, seed: o.request.seed },
          }),
        );
        progress({ phase: "edit", variant: variant.name, done: edited.length, total: base.length });
      }
      table.push(row(variant.name, false, variant.description, edited));
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
    await verifier.close();
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
