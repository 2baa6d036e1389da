/**
 * Closes batches of persisted records: when `maxRecords` are waiting (by count) or when the
 * oldest waiting record is `maxAgeMs` old (by time), whichever comes first. Each batch gets a
 * Merkle tree over its records' leaf hashes (protocol/merkle, leaf i = record i in write
 * order); the batch, every leaf and every leaf's proof are stored atomically, and only then is
 * the batch handed to the committer.
 *
 * A batch never mixes models (the contract commits one modelId per batch): records of another
 * model, left pending by a run that served a different model, end the batch early.
 *
 * Closing and committing each run one at a time (two promise chains), so batch ids stay dense
 * and a slow chain committer never holds up closing.
 */
import { BatchMerkleTree, MAX_BATCH_LEAVES, hashModelId } from "../../protocol/merkle/index.ts";
import type { PendingEntry, ProofStore, StoredBatch } from "../store/index.ts";
import { RecordOnlyCommitter, type BatchCommitter, type ClosedBatch } from "./committer.ts";
import { manifestHash } from "./manifest.ts";
import { BatchConfigError } from "./errors.ts";
import { redactText } from "../../runtime/redact.ts";

export interface BatcherOptions {
  /** Close as soon as this many records wait. */
  maxRecords: number;
  /** Close when the oldest waiting record is this old (ms). */
  maxAgeMs: number;
  committer?: BatchCommitter;
  /**
   * Base URL operators reach the data endpoint at; the batch URL is `${base}/v1/batches/${id}`.
   * A function is asked at each close (the listening port may be known only after start).
   */
  publicUrl?: string | (() => string);
  /** Delay before a failed commitment is tried again (ms, default 30 s). */
  commitRetryMs?: number;
  /** Told about closing and committing failures (the batcher itself never throws from timers). */
  onError?: (error: unknown, context: string) => void;
  now?: () => number;
}

/** Longest single timer Node accepts (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Batcher {
  readonly committer: BatchCommitter;
  private readonly maxRecords: number;
  private readonly maxAgeMs: number;
  private readonly commitRetryMs: number;
  private readonly publicUrl: () => string;
  private readonly now: () => number;
  private closing: Promise<unknown> = Promise.resolve();
  private committing: Promise<unknown> = Promise.resolve();
  private ageTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: ProofStore,
    private readonly options: BatcherOptions,
  ) {
    this.maxRecords = checkInteger(options.maxRecords, "batch.maxRecords", 1, MAX_BATCH_LEAVES);
    this.maxAgeMs = checkInteger(options.maxAgeMs, "batch.maxAgeMs", 1, MAX_TIMER_MS);
    this.commitRetryMs = checkInteger(options.commitRetryMs ?? 30_000, "batch.commitRetryMs", 1, MAX_TIMER_MS);
    this.committer = options.committer ?? new RecordOnlyCommitter();
    const url = options.publicUrl ?? "";
    this.publicUrl = typeof url === "function" ? url : () => url;
    this.now = options.now ?? Date.now;
  }

  /** Picks up what a previous run left: closes what is due, re-offers uncommitted batches. */
  async start(): Promise<void> {
    // Re-offer old batches first: batches closed below queue their own commit after these.
    const outstanding = this.commitOutstanding();
    await this.closeDue();
    await outstanding;
  }

  /** Call after each record is written: closes a full batch now, or arms the age timer. */
  notifyRecord(): void {
    if (this.stopped) return;
    if (this.store.pendingCount >= this.maxRecords) {
      void this.closeDue().catch((error) => this.report(error, "closing a full batch"));
    } else {
      void this.armAgeTimer().catch((error) => this.report(error, "arming the batch timer"));
    }
  }

  /** Closes every full batch and any batch whose oldest record has reached maxAgeMs. */
  closeDue(): Promise<StoredBatch[]> {
    return this.serialise(async () => {
      const closed: StoredBatch[] = [];
      // Each pass consumes at least one pending record, so this ends within pendingCount passes.
      for (let pass = 0, limit = this.store.pendingCount; pass <= limit; pass++) {
        const taken = await this.store.takePending(this.maxRecords);
        if (taken.length === 0) break;
        const entries = sameModelPrefix(taken);
        const full = entries.length >= this.maxRecords || entries.length < taken.length;
        const due = this.now() - Date.parse(entries[0]!.completedAt) >= this.maxAgeMs;
        if (!full && !due) break;
        closed.push(await this.closeEntries(entries));
      }
      await this.armAgeTimer();
      return closed;
    });
  }

  /** Closes everything waiting now, however young (e.g. before a planned shutdown). */
  flush(): Promise<StoredBatch[]> {
    return this.serialise(async () => {
      const closed: StoredBatch[] = [];
      for (let pass = 0, limit = this.store.pendingCount; pass <= limit; pass++) {
        const taken = await this.store.takePending(this.maxRecords);
        if (taken.length === 0) break;
        closed.push(await this.closeEntries(sameModelPrefix(taken)));
      }
      return closed;
    });
  }

  /** Offers every batch that is not committed yet to the committer again. */
  commitOutstanding(): Promise<void> {
    return this.serialiseCommit(async () => {
      for (const id of await this.store.uncommittedBatchIds()) {
        if (this.stopped) return;
        const batch = await this.store.getBatch(id);
        if (batch !== undefined) await this.commitOne(batch);
      }
    });
  }

  /** Stops the timers and waits for a close or commit in progress. Pending records stay queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.ageTimer);
    clearTimeout(this.retryTimer);
    await this.closing.catch(() => undefined);
    await this.committing.catch(() => undefined);
  }

  private async closeEntries(entries: PendingEntry[]): Promise<StoredBatch> {
    const tree = BatchMerkleTree.fromLeafHashes(entries.map((e) => e.leafHash));
    const id = this.store.nextBatchId;
    const createdAt = new Date(this.now()).toISOString();
    const model = entries[0]!.model;
    const root = tree.root;
    const batch = await this.store.saveBatch({
      batch: {
        id,
        root,
        leafCount: entries.length,
        manifestHash: manifestHash({ version: 1, root, leafCount: entries.length, model, createdAt }),
        dataUri: `${this.publicUrl().replace(/\/+$/, "")}/v1/batches/${id}`,
        createdAt,
        model,
        modelId: hashModelId(model),
        firstSeq: entries[0]!.seq,
        lastSeq: entries[entries.length - 1]!.seq,
      },
      leaves: entries.map((e, i) => ({ recordId: e.recordId, leafHash: e.leafHash, proof: tree.proof(i) })),
      consumed: entries,
    });
    void this.serialiseCommit(() => this.commitOne(batch)).catch((error) => this.report(error, `committing batch ${id}`));
    return batch;
  }

  private async commitOne(batch: StoredBatch): Promise<void> {
    const closed: ClosedBatch = {
      id: batch.id,
      model: batch.model,
      modelId: batch.modelId,
      root: batch.root,
      leafCount: batch.leafCount,
      manifestHash: batch.manifestHash,
      dataUri: batch.dataUri,
      createdAt: batch.createdAt,
    };
    const attempts = batch.commitment.attempts + 1;
    const updatedAt = () => new Date(this.now()).toISOString();
    try {
      const receipt = await this.committer.commit(closed);
      const status = receipt.status === "committed" ? "committed" : "pending-commitment";
      await this.store.updateCommitment(batch.id, status, {
        committer: this.committer.name,
        attempts,
        updatedAt: updatedAt(),
        receipt: { ...receipt },
      });
    } catch (error) {
      await this.store.updateCommitment(batch.id, "closed", {
        committer: this.committer.name,
        attempts,
        updatedAt: updatedAt(),
        // Served by the unauthenticated GET /v1/batches/:id: an RPC error names the RPC URL (and its key).
        lastError: redactText(error instanceof Error ? error.message : String(error)),
      });
      this.report(error, `committing batch ${batch.id}`);
      this.armRetryTimer();
    }
  }

  private async armAgeTimer(): Promise<void> {
    if (this.stopped || this.ageTimer !== undefined) return;
    const [oldest] = await this.store.takePending(1);
    if (oldest === undefined || this.stopped || this.ageTimer !== undefined) return;
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, Date.parse(oldest.completedAt) + this.maxAgeMs - this.now()));
    this.ageTimer = setTimeout(() => {
      this.ageTimer = undefined;
      void this.closeDue().catch((error) => this.report(error, "closing a batch on time"));
    }, wait);
    this.ageTimer.unref();
  }

  private armRetryTimer(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retryFailed().catch((error) => this.report(error, "retrying commitments"));
    }, this.commitRetryMs);
    this.retryTimer.unref();
  }

  /** Re-offers only batches whose last attempt failed; "pending-commitment" ones wait for a restart. */
  private retryFailed(): Promise<void> {
    return this.serialiseCommit(async () => {
      for (const id of await this.store.uncommittedBatchIds()) {
        if (this.stopped) return;
        const batch = await this.store.getBatch(id);
        if (batch?.status === "closed") await this.commitOne(batch);
      }
    });
  }

  private serialise<T>(task: () => Promise<T>): Promise<T> {
    const run = this.closing.then(task);
    this.closing = run.catch(() => undefined);
    return run;
  }

  private serialiseCommit<T>(task: () => Promise<T>): Promise<T> {
    const run = this.committing.then(task);
    this.committing = run.catch(() => undefined);
    return run;
  }

  private report(error: unknown, context: string): void {
    this.options.onError?.(error, context);
  }
}

/** The leading entries that name the same model as the first. */
function sameModelPrefix(entries: PendingEntry[]): PendingEntry[] {
  const other = entries.findIndex((e) => e.model !== entries[0]!.model);
  return other < 0 ? entries : entries.slice(0, other);
}

function checkInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new BatchConfigError(`${field} must be an integer in ${min}..${max}, got ${String(value)}`, field);
  }
  return value;
}
