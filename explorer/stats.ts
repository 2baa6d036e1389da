/**
 * Per-batch verification statistics: the explorer recomputes a few leaves of a batch itself
 * (the prover's engine module, as operators do) and reports every chunk's TOPLOC statistics
 * (exponent mismatches, mantissa error mean and median) next to the thresholds of the profile
 * they are judged by. It is the explorer's own check, independent of what operators claim.
 *
 * Leaves come from the batch's on-chain data URI, but only from the origins of the configured
 * provers (a data URI is the prover's choice, so it is not fetched blindly), and each leaf must
 * open the ON-CHAIN root before it is recomputed. Results are cached per batch (a batch's leaves
 * never change); a failure is retried after a while.
 *
 * The profile is today's ThresholdProfile (protocol/toploc); issue 10 replaces it with
 * calibrated per-model profiles, and this module is the one place to switch.
 */
import type { Hex } from "viem";
import { hashInferenceLeaf, hashModelId } from "../protocol/merkle/leaf.ts";
import { parseLeafResponse, RECORD_ID_PATTERN } from "../protocol/merkle/leaf-response.ts";
import { processMerkleProof } from "../protocol/merkle/tree.ts";
import { REFERENCE_BF16_K128, type ThresholdProfile } from "../protocol/toploc/index.ts";
import type { Engine } from "../prover/engine/index.ts";
import type { BatchView } from "../runtime/chain-history.ts";

export interface ChunkStats {
  expMismatches: number;
  mantErrMean: number;
  mantErrMedian: number;
  accepted: boolean;
}

export interface LeafStats {
  index: number;
  /** The prover's record id of the leaf (as served; it links to the "check a response" view). */
  recordId: string | null;
  outcome: "accepted" | "rejected" | "not-included" | "unavailable" | "unsupported";
  reason: string;
  chunks: ChunkStats[];
}

export interface BatchStats {
  batchId: string;
  status: "ok" | "unavailable" | "off";
  reason: string;
  model: string | null;
  profile: ThresholdProfile;
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
  /** The profile the chunks are judged by. */
  profile?: ThresholdProfile;
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
  private readonly profile: ThresholdProfile;
  private readonly origins: Set<string>;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: StatsOptions) {
    this.profile = options.profile ?? REFERENCE_BF16_K128;
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
      return Promise.resolve({ batchId: key, status: "unavailable", reason: "the explorer is busy recomputing other batches; try again shortly", model: null, profile: this.profile, leaves: [], computedAt: new Date().toISOString() });
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
    const base = { batchId: batch.id.toString(), profile: this.profile, computedAt: new Date().toISOString() };
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
    const fail = (outcome: LeafStats["outcome"], reason: string): LeafStats => ({ index, recordId, outcome, reason, chunks: [] });
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
        profile: this.profile,
        toploc: { topk: record.proofParams.topk, decodeBatchSize: record.proofParams.decodeBatchSize },
      });
      const chunks = verdict.chunks.map((c) => ({ expMismatches: c.expMismatches, mantErrMean: c.mantErrMean, mantErrMedian: c.mantErrMedian, accepted: c.accepted }));
      return { index, recordId, outcome: verdict.accepted ? "accepted" : "rejected", reason: verdict.accepted ? "every chunk within the profile" : "a chunk is outside the profile", chunks };
    } catch (error) {
      return fail("rejected", `the model cannot recompute it: ${(error as Error).message}`);
    }
  }
}
