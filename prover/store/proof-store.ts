/**
 * The prover's level database: records, the queue of records waiting for a batch, closed
 * batches with their leaves and Merkle proofs, and a record -> (batch, leaf) index.
 *
 * Crash safety comes from atomic multi-sublevel writes, ordered so that no served response
 * can be lost and no record can land in two batches:
 * - a record and its pending-queue entry are written in one batch, and the server awaits that
 *   write before it completes the response;
 * - closing a batch writes the batch, all its leaves, the record index, the high-water marks
 *   and the deletion of the consumed pending entries in one batch: after a crash either none
 *   of it happened (the records are still pending and get batched again) or all of it did.
 * Writes use fsync (`sync: true`) unless the store is opened with `sync: false` (tests).
 */
import { Level } from "level";
import { ensurePrivateDir, restrictNewFiles } from "../../runtime/private-files.ts";
import { DuplicateRecordError, StoreError, UnknownBatchError } from "./errors.ts";
import type {
  BatchStatus,
  CommitmentState,
  PendingEntry,
  ProofRecord,
  RecordLocation,
  StoredBatch,
  StoredLeaf,
} from "./types.ts";

interface PendingValue {
  recordId: string;
  model: string;
  leafHash: PendingEntry["leafHash"];
  completedAt: string;
}

interface Meta {
  /** Highest pending seq ever consumed by a batch (seqs are never reused). */
  lastBatchedSeq: number;
  lastBatchId: number;
}

const SEQ_DIGITS = 16;
const BATCH_DIGITS = 12;
const INDEX_DIGITS = 10;

const seqKey = (seq: number): string => String(seq).padStart(SEQ_DIGITS, "0");
const batchKey = (id: number): string => String(id).padStart(BATCH_DIGITS, "0");
const leafKey = (batchId: number, index: number): string => `${batchKey(batchId)}:${String(index).padStart(INDEX_DIGITS, "0")}`;

export interface OpenStoreOptions {
  /** fsync every write (default true). */
  sync?: boolean;
}

export interface NewBatch {
  /** Its id must be `nextBatchId`. */
  batch: Omit<StoredBatch, "status" | "commitment">;
  leaves: StoredLeaf[];
  /** The pending entries the batch consumes, in leaf order. */
  consumed: readonly PendingEntry[];
}

export class ProofStore {
  private readonly records;
  private readonly pending;
  private readonly batches;
  private readonly leaves;
  private readonly locations;
  private readonly uncommitted;
  private readonly meta;
  private nextSeq = 1;
  private pendingCountValue = 0;
  private metaValue: Meta = { lastBatchedSeq: 0, lastBatchId: 0 };

  private constructor(
    private readonly db: Level<string, string>,
    private readonly sync: boolean,
  ) {
    this.records = db.sublevel<string, ProofRecord>("records", { valueEncoding: "json" });
    this.pending = db.sublevel<string, PendingValue>("pending", { valueEncoding: "json" });
    this.batches = db.sublevel<string, StoredBatch>("batches", { valueEncoding: "json" });
    this.leaves = db.sublevel<string, StoredLeaf>("leaves", { valueEncoding: "json" });
    this.locations = db.sublevel<string, RecordLocation>("locations", { valueEncoding: "json" });
    // Batches not yet committed on chain, so a restart can hand them to the committer again.
    this.uncommitted = db.sublevel<string, string>("uncommitted", { valueEncoding: "utf8" });
    this.meta = db.sublevel<string, Meta>("meta", { valueEncoding: "json" });
  }

  static async open(path: string, options: OpenStoreOptions = {}): Promise<ProofStore> {
    // Records, proofs and commitments: a folder only this user can read (files 0600, see runtime/private-files.ts).
    restrictNewFiles();
    ensurePrivateDir(path);
    const db = new Level<string, string>(path, { valueEncoding: "utf8" });
    await db.open();
    const store = new ProofStore(db, options.sync ?? true);
    await store.loadCounters();
    return store;
  }

  private async loadCounters(): Promise<void> {
    this.metaValue = (await this.meta.get("counters")) ?? { lastBatchedSeq: 0, lastBatchId: 0 };
    const [lastPending] = await this.pending.keys({ reverse: true, limit: 1 }).all();
    const lastPendingSeq = lastPending === undefined ? 0 : Number(lastPending);
    this.nextSeq = Math.max(lastPendingSeq, this.metaValue.lastBatchedSeq) + 1;
    let count = 0;
    for await (const _key of this.pending.keys()) count++;
    this.pendingCountValue = count;
  }

  /** Records written but not yet in a batch. */
  get pendingCount(): number {
    return this.pendingCountValue;
  }

  /** The id the next closed batch must take (ids are 1, 2, 3, ... with no gaps). */
  get nextBatchId(): number {
    return this.metaValue.lastBatchId + 1;
  }

  /** Writes a record and queues it for batching, atomically. */
  async putRecord(record: ProofRecord): Promise<PendingEntry> {
    if ((await this.records.get(record.id)) !== undefined) {
      throw new DuplicateRecordError(`record id ${record.id} already exists`, "id");
    }
    // Taken synchronously, so concurrent writers never share a seq.
    const seq = this.nextSeq++;
    const entry: PendingValue = { recordId: record.id, model: record.model, leafHash: record.leafHash, completedAt: record.completedAt };
    await this.db
      .batch()
      .put(record.id, record, { sublevel: this.records })
      .put(seqKey(seq), entry, { sublevel: this.pending })
      .write({ sync: this.sync } as never);
    this.pendingCountValue++;
    return { seq, ...entry };
  }

  async getRecord(id: string): Promise<ProofRecord | undefined> {
    return this.records.get(id);
  }

  async getRecordLocation(id: string): Promise<RecordLocation | undefined> {
    return this.locations.get(id);
  }

  /** The oldest `limit` records waiting for a batch, in write order. */
  async takePending(limit: number): Promise<PendingEntry[]> {
    const entries: PendingEntry[] = [];
    for await (const [key, value] of this.pending.iterator({ limit })) {
      entries.push({ seq: Number(key), ...value });
    }
    return entries;
  }

  /**
   * Stores a closed batch in one atomic write (see the file comment). Callers must not close
   * two batches at once (the batcher serialises).
   */
  async saveBatch(input: NewBatch): Promise<StoredBatch> {
    const id = input.batch.id;
    if (id !== this.nextBatchId) {
      throw new StoreError(`batch id must be the next id ${this.nextBatchId}, got ${id}`, "batch.id");
    }
    if (input.leaves.length !== input.consumed.length || input.leaves.length !== input.batch.leafCount) {
      throw new StoreError(
        `batch ${id} has ${input.leaves.length} leaves, ${input.consumed.length} consumed entries and leafCount ${input.batch.leafCount}; all three must agree`,
        "batch.leafCount",
      );
    }
    const batch: StoredBatch = {
      ...input.batch,
      id,
      status: "closed",
      commitment: { attempts: 0 },
    };
    const lastSeq = input.consumed.reduce((max, e) => Math.max(max, e.seq), this.metaValue.lastBatchedSeq);
    const meta: Meta = { lastBatchedSeq: lastSeq, lastBatchId: id };
    const write = this.db.batch();
    write.put(batchKey(id), batch, { sublevel: this.batches });
    write.put(batchKey(id), "1", { sublevel: this.uncommitted });
    input.leaves.forEach((leaf, index) => {
      write.put(leafKey(id, index), leaf, { sublevel: this.leaves });
      write.put(leaf.recordId, { batchId: id, index }, { sublevel: this.locations });
    });
    for (const entry of input.consumed) write.del(seqKey(entry.seq), { sublevel: this.pending });
    write.put("counters", meta, { sublevel: this.meta });
    await write.write({ sync: this.sync } as never);
    this.metaValue = meta;
    this.pendingCountValue -= input.consumed.length;
    return batch;
  }

  async getBatch(id: number): Promise<StoredBatch | undefined> {
    return this.batches.get(batchKey(id));
  }

  /** Batches in id order, starting after `afterId`. */
  async listBatches(options: { afterId?: number; limit: number; newestFirst?: boolean }): Promise<StoredBatch[]> {
    const range = options.newestFirst
      ? { reverse: true, limit: options.limit, ...(options.afterId !== undefined ? { lt: batchKey(options.afterId) } : {}) }
      : { limit: options.limit, ...(options.afterId !== undefined ? { gt: batchKey(options.afterId) } : {}) };
    return this.batches.values(range).all();
  }

  async getLeaf(batchId: number, index: number): Promise<StoredLeaf | undefined> {
    return this.leaves.get(leafKey(batchId, index));
  }

  /** Ids of batches not yet committed on chain, oldest first. */
  async uncommittedBatchIds(): Promise<number[]> {
    const keys = await this.uncommitted.keys().all();
    return keys.map(Number);
  }

  /** Records what a committer did with a batch; a committed batch leaves the retry index. */
  async updateCommitment(id: number, status: BatchStatus, commitment: CommitmentState): Promise<StoredBatch> {
    const batch = await this.getBatch(id);
    if (batch === undefined) throw new UnknownBatchError(`batch ${id} does not exist`, "batchId");
    const updated: StoredBatch = { ...batch, status, commitment };
    const write = this.db.batch().put(batchKey(id), updated, { sublevel: this.batches });
    if (status === "committed") write.del(batchKey(id), { sublevel: this.uncommitted });
    await write.write({ sync: this.sync } as never);
    return updated;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
