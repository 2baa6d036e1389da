/**
 * `vb replay ENVELOPE --base-url URL --output DIR`: checks the source envelope first (an
 * unverified one is refused unless the caller passes noVerify), re-runs the same suite, dataset
 * (its hash must match), seed and driver options against another endpoint, signs the new
 * envelope (which records replay_of = the source's content hash) and lays both side by side.
 */
import type { AnyVbEnvelope, VbEnvelope } from "../protocol/envelope/schema.ts";
import { isVbFormat } from "../protocol/envelope/validate.ts";
import { loadEnvelopeFile, verifyLoaded, type SigningKeys, type TrustAnchors, type VerifyReport } from "../protocol/envelope/verify.ts";
import { contentHash } from "../protocol/envelope/content-hash.ts";
import { SYNTHETIC_ID } from "./dataset.ts";
import { diffEnvelopes } from "./diff.ts";
import { runBenchmark, type RunOptions, type RunOutput } from "./run.ts";
import { table, formatNumber } from "./summary.ts";
import { FieldError } from "../protocol/errors.ts";

export class ReplayError extends FieldError {
  override name = "ReplayError";
}

export interface ReplayOptions {
  baseUrl: string;
  outDir: string;
  /** Replace the run files in a non-empty outDir. */
  force?: boolean;
  noVerify: boolean;
  trust: TrustAnchors;
  keys: SigningKeys;
  /** Path of the dataset file, for envelopes not made from the built-in dataset. */
  dataset?: string;
  model?: string;
  engine?: string;
  engineVersion?: string;
  apiKey?: string;
  progress: boolean;
  /** Overrides of the convergence timeout (recorded in the new envelope). */
  convergenceTimeoutS?: number;
  requestTimeoutMs?: number;
}

export interface ReplayResult {
  source: AnyVbEnvelope;
  verification: VerifyReport | null;
  run: RunOutput;
  sideBySide: string;
}

export function replayRunOptions(src: AnyVbEnvelope, o: ReplayOptions): RunOptions {
  const d = src.driver_options;
  // vb.envelope/2 records the workload's distributions; a /1 source had fixed max_tokens and its dataset.
  const v2 = src.envelope_version === "vb.envelope/2" ? (src as VbEnvelope).driver_options : null;
  let dataset: string;
  if (src.dataset.id === SYNTHETIC_ID || v2?.input_tokens) dataset = "synthetic";
  else if (o.dataset) dataset = o.dataset;
  else throw new ReplayError(`the source used dataset ${src.dataset.id} (sha256 ${src.dataset.sha256}); pass its file with --dataset`, "--dataset");
  return {
    suite: src.suite.id,
    suiteVersion: src.suite.version,
    model: o.model ?? src.model.id,
    modelRevision: src.model.revision,
    engine: o.engine ?? "unknown",
    engineVersion: o.engineVersion ?? "unknown",
    quant: src.quantization,
    baseUrl: o.baseUrl,
    apiKey: o.apiKey,
    api: d.api,
    concurrency: d.concurrency,
    rate: d.rate,
    numRequests: d.num_requests,
    durationS: d.duration_s,
    rampUpMs: d.ramp_up_ms,
    maxTokens: d.max_tokens,
    ...(v2 ? { maxTokensDist: v2.max_tokens_dist, maxErrorRate: v2.max_error_rate } : {}),
    ...(v2?.input_tokens ? { inputTokens: v2.input_tokens.dist, inputCalibration: v2.input_tokens.calibration } : {}),
    temperature: d.temperature,
    seed: src.seed,
    dataset,
    expectDatasetSha256: src.dataset.sha256,
    warmupRuns: d.warmup_runs,
    convergence: { window: d.convergence.window, cvThreshold: d.convergence.cv_threshold, timeoutS: o.convergenceTimeoutS ?? d.convergence.timeout_s },
    slo: d.slo,
    launches: d.launches,
    resamples: 1000,
    requestTimeoutMs: o.requestTimeoutMs ?? 120_000,
    replayOf: src.signature?.content_hash ?? contentHash(src as unknown as Record<string, unknown>),
    progress: o.progress,
    force: o.force === true,
  };
}

export function sideBySide(src: Record<string, unknown>, replay: VbEnvelope): string {
  const report = diffEnvelopes(src, replay as unknown as Record<string, unknown>);
  const rows = [["metric", "source", "replay", "rel delta", "verdict"]];
  for (const m of report.metrics) {
    rows.push([m.metric, formatNumber(m.baseline), formatNumber(m.candidate), m.rel_delta === null ? "n/a" : `${(m.rel_delta * 100).toFixed(1)}%`, m.verdict]);
  }
  const ctx = report.context.warnings.map((w) => `context: ${w}`);
  return [...ctx, ...(ctx.length ? [""] : []), table(rows)].join("\n");
}

export async function replayEnvelope(sourcePath: string, o: ReplayOptions): Promise<ReplayResult> {
  const loaded = loadEnvelopeFile(sourcePath);
  if (!isVbFormat(loaded.format)) {
    throw new ReplayError(`only vb.envelope envelopes can be replayed (this one is ${loaded.format}; its suites belong to another tool)`, "envelope_version");
  }
  let verification: VerifyReport | null = null;
  if (!o.noVerify) {
    verification = await verifyLoaded(loaded, o.trust);
    if (verification.status !== "verified") {
      throw new ReplayError("the source envelope is unverified (its signature only matches a key it carries itself); name a key you trust with --trust-key, --trust-address or --sigstore-identity and --sigstore-issuer, or pass --no-verify to replay it anyway", "trust");
    }
  }
  const src = loaded.plain as unknown as AnyVbEnvelope;
  const run = await runBenchmark(replayRunOptions(src, o), o.keys, o.outDir);
  return { source: src, verification, run, sideBySide: sideBySide(loaded.plain, run.envelope) };
}
