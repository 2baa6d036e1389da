/**
 * The proof store on a real level database in a temp folder: record round trips, the pending
 * queue's order, atomic batch writes, the commitment index, and counters that survive a reopen
 * (nothing reused, nothing lost).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BatchMerkleTree, hashInferenceLeaf, hashModelId } from "../../protocol/merkle/index.ts";
import { buildProofs } from "../../protocol/toploc/index.ts";
import {
  DuplicateRecordError,
  ProofStore,
  StoreError,
  UnknownBatchError,
  toInferenceRecord,
  type PendingEntry,
  type ProofRecord,
  type StoredBatch,
} from "../../prover/store/index.ts";
import { tempDir } from "../helpers/prover-server.ts";

/** A record with well-formed proofs (of seeded activations) and its true leaf hash. */
function makeRecord(i: number): ProofRecord {
  const values = (n: number) => Float32Array.from({ length: n }, (_, j) => Math.sin(i * 7919 + j * 0.37));
  const proofs = buildProofs([values(3 * 256), values(256)], { topk: 128, decodeBatchSize: 32 }).map((p) =>
    Buffer.from(p.toBytes()).toString("base64"),
  );
  const record: Omit<ProofRecord, "leafHash"> = {
    id: `rec_${i.toString(16).padStart(32, "0")}`,
    kind: "completion",
    model: "store-test-model",
    weightsHash: "aa".repeat(32),
    promptTokens: [256, 65 + (i % 26), 66],
    outputTokens: [100 + (i % 50), 101],
    sampling: { temperature: 0.7, topP: 0.9, maxTokens: 2 },
    seed: String(1000 + i),
    seedSource: "request",
    proofs,
    toploc: { topk: 128, decodeBatchSize: 32, skipPrefill: false },
    finishReason: "length",
    createdAt: new Date(1_800_000_000_000 + i).toISOString(),
    completedAt: new Date(1_800_000_000_100 + i).toISOString(),
  };
  return { ...record, leafHash: hashInferenceLeaf(toInferenceRecord({ ...record, leafHash: "0x" } as ProofRecord)) };
}

function batchOf(store: ProofStore, entries: PendingEntry[]) {
  const tree = BatchMerkleTree.fromLeafHashes(entries.map((e) => e.leafHash));
  const id = store.nextBatchId;
  return {
    batch: {
      id,
      root: tree.root,
      leafCount: entries.length,
      manifestHash: `0x${"11".repeat(32)}` as const,
      dataUri: `http://127.0.0.1/v1/batches/${id}`,
      createdAt: new Date().toISOString(),
      model: "store-test-model",
      modelId: hashModelId("store-test-model"),
      firstSeq: entries[0]!.seq,
      lastSeq: entries[entries.length - 1]!.seq,
    },
    leaves: entries.map((e, i) => ({ recordId: e.recordId, leafHash: e.leafHash, proof: tree.proof(i) })),
    consumed: entries,
  };
}

describe("prover/store: level proof store", () => {
  const tmp = tempDir("store");
  let n = 0;
  const path = () => join(tmp.dir, `db-${n++}`);
  after(() => tmp.cleanup());

  it("round-trips records and queues them in write order", async () => {
    const store = await ProofStore.open(path(), { sync: false });
    try {
      const records = [0, 1, 2, 3].map(makeRecord);
      const entries = [];
      for (const record of records) entries.push(await store.putRecord(record));
      assert.deepEqual(
        entries.map((e) => e.seq),
        [1, 2, 3, 4],
      );
      assert.equal(store.pendingCount, 4);
      assert.deepEqual(await store.getRecord(records[2]!.id), records[2]);
      assert.equal(await store.getRecord("rec_missing"), undefined);
      assert.equal(await store.getRecordLocation(records[0]!.id), undefined);
      const pending = await store.takePending(3);
      assert.deepEqual(
        pending.map((p) => [p.seq, p.recordId, p.leafHash, p.model]),
        records.slice(0, 3).map((r, i) => [i + 1, r.id, r.leafHash, r.model]),
      );
      assert.equal(store.pendingCount, 4, "taking is only reading");
    } finally {
      await store.close();
    }
  });

  it("refuses a second record with the same id", async () => {
    const store = await ProofStore.open(path(), { sync: false });
    try {
      await store.putRecord(makeRecord(9));
      await assert.rejects(store.putRecord(makeRecord(9)), (e: unknown) => e instanceof DuplicateRecordError && e.field === "id");
      assert.equal(store.pendingCount, 1);
    } finally {
      await store.close();
    }
  });

  it("stores a batch, its leaves and the record index atomically, and consumes exactly its pending entries", async () => {
    const store = await ProofStore.open(path(), { sync: false });
    try {
      for (let i = 0; i < 5; i++) await store.putRecord(makeRecord(i));
      const entries = await store.takePending(3);
      const input = batchOf(store, entries);
      await assert.rejects(store.saveBatch({ ...input, batch: { ...input.batch, id: 2 } }), (e: unknown) => e instanceof StoreError && e.field === "batch.id");
      await assert.rejects(store.saveBatch({ ...input, consumed: entries.slice(1) }), (e: unknown) => e instanceof StoreError && e.field === "batch.leafCount");
      assert.equal(store.pendingCount, 5, "a refused batch changes nothing");

      const saved = await store.saveBatch(input);
      assert.equal(saved.status, "closed");
      assert.deepEqual(saved.commitment, { attempts: 0 });
      assert.equal(store.pendingCount, 2);
      assert.deepEqual((await store.takePending(10)).map((e) => e.seq), [4, 5]);
      assert.deepEqual(await store.getBatch(1), saved);
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await store.getLeaf(1, i), input.leaves[i]);
        assert.deepEqual(await store.getRecordLocation(entries[i]!.recordId), { batchId: 1, index: i });
      }
      assert.equal(await store.getLeaf(1, 3), undefined);
      assert.equal(await store.getBatch(2), undefined);
      assert.deepEqual(await store.uncommittedBatchIds(), [1]);
      assert.equal(store.nextBatchId, 2);
    } finally {
      await store.close();
    }
  });

  it("records commitments; a committed batch leaves the retry index", async () => {
    const store = await ProofStore.open(path(), { sync: false });
    try {
      for (let i = 0; i < 4; i++) await store.putRecord(makeRecord(i));
      await store.saveBatch(batchOf(store, await store.takePending(2)));
      await store.saveBatch(batchOf(store, await store.takePending(2)));
      const pending = await store.updateCommitment(1, "pending-commitment", { committer: "record-only", attempts: 1 });
      assert.equal(pending.status, "pending-commitment");
      assert.deepEqual(await store.uncommittedBatchIds(), [1, 2]);
      const receipt = { status: "committed", chainId: 31337, txHash: "0x01" };
      await store.updateCommitment(2, "committed", { committer: "chain", attempts: 1, receipt });
      assert.deepEqual(await store.uncommittedBatchIds(), [1]);
      assert.deepEqual((await store.getBatch(2))!.commitment.receipt, receipt);
      await assert.rejects(store.updateCommitment(3, "committed", { attempts: 1 }), (e: unknown) => e instanceof UnknownBatchError && e.field === "batchId");
    } finally {
      await store.close();
    }
  });

  it("lists batches in either order with paging", async () => {
    const store = await ProofStore.open(path(), { sync: false });
    try {
      for (let i = 0; i < 5; i++) await store.putRecord(makeRecord(i));
      for (let b = 0; b < 5; b++) await store.saveBatch(batchOf(store, await store.takePending(1)));
      const ids = (batches: StoredBatch[]) => batches.map((b) => b.id);
      assert.deepEqual(ids(await store.listBatches({ limit: 2 })), [1, 2]);
      assert.deepEqual(ids(await store.listBatches({ limit: 2, afterId: 2 })), [3, 4]);
      assert.deepEqual(ids(await store.listBatches({ limit: 2, newestFirst: true })), [5, 4]);
      assert.deepEqual(ids(await store.listBatches({ limit: 10, newestFirst: true, afterId: 3 })), [2, 1]);
    } finally {
      await store.close();
    }
  });

  it("reopens with every record, batch and counter: seqs and batch ids are never reused", async () => {
    const where = path();
    let store = await ProofStore.open(where, { sync: true });
    for (let i = 0; i < 6; i++) await store.putRecord(makeRecord(i));
    // Batch the first four; seqs 5 and 6 stay pending across the reopen.
    await store.saveBatch(batchOf(store, await store.takePending(4)));
    await store.close();

    store = await ProofStore.open(where, { sync: true });
    try {
      assert.equal(store.pendingCount, 2);
      assert.equal(store.nextBatchId, 2);
      assert.deepEqual(await store.getRecord(makeRecord(3).id), makeRecord(3));
      assert.equal((await store.getBatch(1))!.leafCount, 4);
      const next = await store.putRecord(makeRecord(6));
      assert.equal(next.seq, 7);
      // Batch everything, reopen with an empty queue: the seq still continues.
      await store.saveBatch(batchOf(store, await store.takePending(10)));
      await store.close();
      store = await ProofStore.open(where, { sync: true });
      assert.equal(store.pendingCount, 0);
      assert.equal((await store.putRecord(makeRecord(7))).seq, 8);
      assert.equal(store.nextBatchId, 3);
    } finally {
      await store.close();
    }
  });

  it("keeps records written while a batch is being closed in the queue", async () => {
    const store = await ProofStore.open(path(), { sync: false });
    try {
      for (let i = 0; i < 3; i++) await store.putRecord(makeRecord(i));
      const entries = await store.takePending(3);
      // Records land between the read and the batch write.
      await Promise.all([3, 4, 5].map((i) => store.putRecord(makeRecord(i))));
      await store.saveBatch(batchOf(store, entries));
      assert.deepEqual(
        (await store.takePending(10)).map((e) => e.recordId),
        [3, 4, 5].map((i) => makeRecord(i).id),
      );
      assert.equal(store.pendingCount, 3);
    } finally {
      await store.close();
    }
  });
});
