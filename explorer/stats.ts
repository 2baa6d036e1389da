/**
 * Per-batch verification statistics: the explorer recomputes a few leaves of a batch itself
 * (the prover's engine module, as operators do) and reports each request's four statistics
 * (garbage_rate, sq_error, token_max_margin, token_divergence) next to the thresholds of the
 * profile the batch is bound to on chain, with every chunk's TOPLOC numbers for reference. It
 * is the explorer's own check, independent of what operators claim.
 *
 * Leaves come from the batch's on-chain data URI, but only from the origins of the configured
 * provers (a data URI is the prover's choice, so it is not fetched blindly), and each leaf must
 * open the ON-CHAIN root before it is recomputed. Results are cached per batch (a batch's leaves
 * never change); a failure is retried after a while.
 *
 * The profile is the engine's own (the default model's calibrated profile) unless one is given;
 * a batch bound to another profile hash is reported unsupported rather than judged by the wrong one.
 */
import type { Hex } from "viem";
import { hashInferenceLeaf, hashModelId } from "../protocol/merkle/leaf.ts";
import { parseLeafResponse, RECORD_ID_PATTERN } from "../protocol/merkle/leaf-response.ts";
import { processMerkleProof } from "../protocol/merkle/tree.ts";
import { REFERENCE_BF16_K128, type ThresholdProfile } from "../protocol/toploc/index.ts";
import { checkSamplerVersion } from "../protocol/sampler/index.ts";
import type { VerificationProfile } from "../protocol/verification/index.ts";
import type { Engine } from "../prover/engine/index.ts";
import type { BatchView } from "../runtime/chain-history.ts";

/** One chunk's TOPLOC numbers (2^64 for the means when no exponent matched). */
export interface ChunkStats {
  expMismatches: number;
  mantErrMean: number;
  mantErrMedian: number;
  garbage: number;
}

/** One request statistic against its threshold for this request's size; null where not finite. */
export interface StatisticStats {
  name: string;
  value: number | null;
  threshold: number;
  passed: boolean;
}

/** The profile a batch was judged by, as the page shows it. */
export interface ProfileSummary {
  name: string;
  contentHash: string | null;
  falseRejectionBudget: number | null;
}

export interface LeafStats {
  index: number;
  /** The prover's record id of the leaf (as served; it links to the "check a response" view). */
  recordId: string | null;
  outcome: "accepted" | "rejected" | "not-included" | "unavailable" | "unsupported";
  reason: string;
  statistics: StatisticStats[];
  chunks: ChunkStats[];
}

export interface BatchStats {
  batchId: string;
  status: "ok" | "unavailable" | "off";
  reason: string;
  model: string | null;
  profile: ProfileSummary;
  leaves: LeafStats[];
  computedAt: string;
}

export interface StatsOptions {
  leavesPerBatch: number;
  /** Origins (scheme://host:port) leaves may be fetched from. */
  allowedOrigins: readonly string[];
  fetchTimeoutMs: number;
  /** Loads the engine at first use (it takes a second or two). */
  loadEngine: () => Promise<Engine>;
  /** The profile requests are judged by; default the engine's own, else the reference limits. */
  profile?: VerificationProfile | ThresholdProfile;
  /** How long a failed computation is remembered before it is tried again (ms). */
  retryAfterMs?: number;
}

const CACHE_LIMIT = 512;
const MAX_LEAF_BYTES = 16 << 20;
/** Batches recomputed at once, and waiting: anyone can ask for any batch's statistics. */
const RUNNING = 1;
const WAITING = 16;

export class VerificationStats {
  private engine: Promise<Engine> | undefined;
  private readonly cache = new Map<string, { at: number; result: Promise<BatchStats> }>();
  private profile: VerificationProfile | ThresholdProfile | undefined;
  private readonly origins: Set<string>;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: StatsOptions) {
    this.profile = options.profile;
    this.origins = new Set(options.allowedOrigins.map((u) => new URL(u).origin));
  }

  /** The leaves this explorer recomputes for a batch of `leafCount`: spread evenly, first and last included. */
  static sample(leafCount: number, count: number): number[] {
    if (count <= 0 || leafCount <= 0) return [];
    if (leafCount <= count) return Array.from({ length: leafCount }, (_, i) => i);
    if (count === 1) return [0];
    return Array.from({ length: count }, (_, i) => Math.round((i * (leafCount - 1)) / (count - 1)));
  }

  forBatch(batch: BatchView): Promise<BatchStats> {
    const key = batch.id.toString();
    const cached = this.cache.get(key);
    // A finished result is kept for good (at = Infinity); a failure is tried again after a while.
    if (cached && Date.now() - cached.at < (this.options.retryAfterMs ?? 30_000)) return cached.result;
    return this.compute(batch, key);
  }

  async close(): Promise<void> {
    const engine = await this.engine?.catch(() => undefined);
    await engine?.close();
  }

  private compute(batch: BatchView, key: string): Promise<BatchStats> {
    if (this.running >= RUNNING && this.waiting.length >= WAITING) {
      // Not cached: asked again later, it is computed then.
      return Promise.resolve({ batchId: key, status: "unavailable", reason: "the explorer is busy recomputing other batches; try again shortly", model: null, profile: summary(this.profile), leaves: [], computedAt: new Date().toISOString() });
    }
    const result = this.queued(() => this.run(batch));
    this.cache.set(key, { at: Date.now(), result });
    void result.then((r) => {
      if (r.status === "ok") this.cache.set(key, { at: Number.POSITIVE_INFINITY, result });
    });
    while (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
    return result;
  }

  private async queued<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= RUNNING) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await task();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }

  private async run(batch: BatchView): Promise<BatchStats> {
    const base = { batchId: batch.id.toString(), profile: summary(this.profile), computedAt: new Date().toISOString() };
    if (this.options.leavesPerBatch === 0) return { ...base, status: "off", reason: "verification statistics are off (stats.leavesPerBatch = 0)", model: null, leaves: [] };
    let origin: string;
    try {
      origin = new URL(batch.dataURI).origin;
    } catch {
      return { ...base, status: "unavailable", reason: `the batch's data URI ${JSON.stringify(batch.dataURI)} is not a URL`, model: null, leaves: [] };
    }
    if (!/^https?:$/.test(new URL(batch.dataURI).protocol) || !this.origins.has(origin)) {
      return { ...base, status: "unavailable", reason: `the batch's data URI is at ${origin}, which is not one of the explorer's provers (--provers)`, model: null, leaves: [] };
    }
    let engine: Engine;
    try {
      this.engine ??= this.options.loadEngine();
      engine = await this.engine;
    } catch (error) {
      this.engine = undefined;
      return { ...base, status: "unavailable", reason: `cannot load the model: ${(error as Error).message}`, model: null, leaves: [] };
    }
    this.profile ??= engine.profile ?? REFERENCE_BF16_K128;
    const profile = this.profile;
    const calibrated = "schema" in profile ? profile : undefined;
    base.profile = summary(profile);
    if (calibrated && batch.profileHash && !/^0x0{64}$/.test(batch.profileHash) && batch.profileHash.toLowerCase() !== calibrated.contentHash) {
      return { ...base, status: "unavailable", reason: `the batch is bound to profile ${batch.profileHash}; the explorer judges by ${calibrated.contentHash} only`, model: engine.info.modelId, leaves: [] };
    }
    const leaves: LeafStats[] = [];
    for (const index of VerificationStats.sample(batch.leafCount, this.options.leavesPerBatch)) {
      leaves.push(await this.leaf(engine, batch, index));
    }
    const checked = leaves.filter((l) => l.outcome === "accepted" || l.outcome === "rejected").length;
    const status = checked > 0 ? "ok" : "unavailable";
    const reason = checked > 0 ? `${checked} of ${batch.leafCount} leaves recomputed` : leaves[0]?.reason ?? "no leaf to recompute";
    return { ...base, status, reason, model: engine.info.modelId, leaves };
  }

  private async leaf(engine: Engine, batch: BatchView, index: number): Promise<LeafStats> {
    let recordId: string | null = null;
    const fail = (outcome: LeafStats["outcome"], reason: string): LeafStats => ({ index, recordId, outcome, reason, statistics: [], chunks: [] });
    let json: unknown;
    try {
      const response = await fetch(`${batch.dataURI.replace(/\/+$/, "")}/leaves/${index}`, { signal: AbortSignal.timeout(this.options.fetchTimeoutMs), redirect: "error" });
      if (!response.ok) return fail("unavailable", `the prover answered HTTP ${response.status}`);
      const text = await response.text();
      if (text.length > MAX_LEAF_BYTES) return fail("unavailable", `the leaf is ${text.length} bytes, more than ${MAX_LEAF_BYTES}`);
      json = JSON.parse(text);
    } catch (error) {
      return fail("unavailable", `cannot fetch the leaf: ${(error as Error).message}`);
    }
    let leafHash: Hex;
    let record;
    try {
      const parsed = parseLeafResponse(json);
      const id = (json as { record?: { id?: unknown } }).record?.id;
      recordId = typeof id === "string" && RECORD_ID_PATTERN.test(id) ? id : null;
      record = parsed.record;
      leafHash = hashInferenceLeaf(record);
      if (processMerkleProof(parsed.merkleProof, leafHash).toLowerCase() !== batch.root.toLowerCase()) return fail("not-included", "the served leaf does not open the on-chain root");
    } catch (error) {
      return fail("not-included", `the served leaf is malformed: ${(error as Error).message}`);
    }
    if (hashModelId(record.model) !== batch.modelId.toLowerCase()) return fail("rejected", `the leaf names model ${record.model}, not the batch's`);
    if (record.model !== engine.info.modelId) return fail("unsupported", `the explorer runs ${engine.info.modelId}, the leaf names ${record.model}`);
    try {
      const verdict = await engine.verify(record.promptTokens as number[], record.outputTokens as number[], record.proofs, {
        profile: this.profile!,
        sampling: { sampler: checkSamplerVersion(record.sampling.sampler ?? 1, "record.sampling.sampler"), temperature: record.sampling.temperature, topP: record.sampling.topP, seed: record.seed },
        toploc: { topk: record.proofParams.topk, decodeBatchSize: record.proofParams.decodeBatchSize },
      });
      const finite = (x: number) => (Number.isFinite(x) ? x : null);
      const statistics = verdict.statistics.map((st) => ({ name: st.name, value: finite(st.value), threshold: st.threshold, passed: st.passed }));
      const chunks = verdict.evidence.chunks.map((c) => ({ expMismatches: c.expMismatches, mantErrMean: c.mantErrMean, mantErrMedian: c.mantErrMedian, garbage: c.garbage }));
      return { index, recordId, outcome: verdict.accepted ? "accepted" : "rejected", reason: verdict.accepted ? "within the profile" : verdict.failures.join("; "), statistics, chunks };
    } catch (error) {
      return fail("rejected", `the model cannot recompute it: ${(error as Error).message}`);
    }
  }
}

function summary(profile: VerificationProfile | ThresholdProfile | undefined): ProfileSummary {
  if (!profile) return { name: "(loaded with the model)", contentHash: null, falseRejectionBudget: null };
  if ("schema" in profile) return { name: profile.name, contentHash: profile.contentHash, falseRejectionBudget: profile.falseRejectionBudget };
  return { name: profile.name, contentHash: null, falseRejectionBudget: null };
}
