/**
 * The batcher over a level store, with records made by the real engine (embedded default
 * model): batches close by count and by age, every leaf's Merkle proof verifies against its
 * root, the committer hand-off is retried until it succeeds, and a restart picks up both
 * waiting records and uncommitted batches.
 */
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { batchJson } from "../../prover/server/data-wire.ts";
import { hashInferenceLeaf, hashModelId, merkleRoot, verifyMerkleProof } from "../../protocol/merkle/index.ts";
import {
  Batcher,
  BatchConfigError,
  RecordOnlyCommitter,
  canonicalManifest,
  manifestHash,
  type BatchCommitter,
  type ClosedBatch,
  type CommitReceipt,
} from "../../prover/batch/index.ts";
import type { Engine } from "../../prover/engine/index.ts";
import { ProofStore, toInferenceRecord, type ProofRecord } from "../../prover/store/index.ts";
import { loadDefaultEngine, tempDir, waitFor } from "../helpers/prover-server.ts";

/**
 * A committer whose first `failures` calls throw, then commits (the contracts' committer is
 * wired later; this one exercises the hand-off contract: retry, receipt, idempotence).
 */
class FlakyCommitter implements BatchCommitter {
  readonly name = "flaky-test-committer";
  readonly calls: ClosedBatch[] = [];
  constructor(private failures: number) {}
  async commit(batch: ClosedBatch): Promise<CommitReceipt> {
    this.calls.push(batch);
    if (this.failures-- > 0) throw new Error(`rpc unavailable (batch ${batch.id})`);
    return {
      status: "committed",
      chainId: 31337,
      contract: `0x${"cc".repeat(20)}`,
      txHash: `0x${batch.root.slice(2)}`,
      blockNumber: String(100 + batch.id),
      onchainBatchId: String(batch.id),
    };
  }
}

describe("prover/batch: batcher on real engine records", () => {
  const cache = tempDir("batcher-cache");
  const tmp = tempDir("batcher");
  let engine: Engine;
  let dbCount = 0;
  const records: ProofRecord[] = [];
  const openStore = (path = join(tmp.dir, `db-${dbCount++}`)) => ProofStore.open(path, { sync: false });

  /** A fresh record id over one of the real generations (ids must be unique per store). */
  let nextId = 0;
  const recordCopy = (i: number): ProofRecord => ({
    ...records[i % records.length]!,
    id: `rec_${(nextId++).toString(16).padStart(32, "0")}`,
    completedAt: new Date().toISOString(),
  });

  before(async () => {
    engine = await loadDefaultEngine(cache);
    for (let i = 0; i < 5; i++) {
      const promptTokens = engine.tokenizer.chatPrompt([{ role: "user", content: `question ${i}` }]);
      const sampling = { temperature: 0.8, topP: 0.95, maxTokens: 12 + i };
      const seed = BigInt(7 + i);
      const g = await engine.generate({ promptTokens, ...sampling, seed });
      const partial = {
        id: "",
        kind: "chat" as const,
        model: engine.info.modelId,
        weightsHash: engine.info.weightsHash,
        promptTokens: g.promptTokens,
        outputTokens: g.outputTokens,
        sampling,
        seed: seed.toString(),
        seedSource: "request" as const,
        proofs: g.proofs.map((p) => Buffer.from(p).toString("base64")),
        toploc: { ...g.toploc },
        finishReason: g.finishReason,
        createdAt: new Date().toISOString(),
        completedAt: new Date().toISOString(),
        leafHash: "0x" as const,
      };
      records.push({ ...partial, leafHash: hashInferenceLeaf(toInferenceRecord(partial)) });
    }
  });
  after(async () => {
    await engine?.close();
    cache.cleanup();
    tmp.cleanup();
  });

  it("rejects out-of-range options with a BatchConfigError naming the field", async () => {
    const store = await openStore();
    try {
      for (const [options, field] of [
        [{ maxRecords: 0, maxAgeMs: 1000 }, "batch.maxRecords"],
        [{ maxRecords: 1.5, maxAgeMs: 1000 }, "batch.maxRecords"],
        [{ maxRecords: 4, maxAgeMs: 0 }, "batch.maxAgeMs"],
        [{ maxRecords: 4, maxAgeMs: 1000, commitRetryMs: -1 }, "batch.commitRetryMs"],
      ] as const) {
        assert.throws(() => new Batcher(store, options), (e: unknown) => e instanceof BatchConfigError && e.field === field);
      }
    } finally {
      await store.close();
    }
  });

  it("closes full batches by count, in write order, with a tree whose proofs open every leaf", async () => {
    const store = await openStore();
    const batcher = new Batcher(store, { maxRecords: 3, maxAgeMs: 3_600_000, publicUrl: "http://127.0.0.1:9/" });
    try {
      const written: ProofRecord[] = [];
      for (let i = 0; i < 7; i++) {
        const record = recordCopy(i);
        written.push(record);
        await store.putRecord(record);
        batcher.notifyRecord();
      }
      await waitFor(async () => (store.nextBatchId === 3 ? true : undefined), 5_000, "two full batches");
      assert.equal(store.pendingCount, 1, "the seventh record waits for more");
      for (const [id, slice] of [[1, written.slice(0, 3)], [2, written.slice(3, 6)]] as const) {
        const batch = (await store.getBatch(id))!;
        assert.equal(batch.root, merkleRoot(slice.map((r) => r.leafHash)));
        assert.equal(batch.dataUri, `http://127.0.0.1:9/v1/batches/${id}`);
        assert.equal(batch.manifestHash, manifestHash({ version: 1, root: batch.root, leafCount: 3, model: engine.info.modelId, createdAt: batch.createdAt }));
        for (let index = 0; index < 3; index++) {
          const leaf = (await store.getLeaf(id, index))!;
          const record = (await store.getRecord(leaf.recordId))!;
          assert.equal(record.id, slice[index]!.id);
          const recomputed = hashInferenceLeaf(toInferenceRecord(record));
          assert.equal(recomputed, leaf.leafHash);
          assert.equal(verifyMerkleProof(leaf.proof, batch.root, recomputed), true);
          // A record altered after the fact (another seed) no longer opens its leaf.
          const altered = hashInferenceLeaf(toInferenceRecord({ ...record, seed: String(BigInt(record.seed) + 1n) }));
          assert.equal(verifyMerkleProof(leaf.proof, batch.root, altered), false);
        }
      }
    } finally {
      await batcher.stop();
      await store.close();
    }
  });

  it("closes a batch by age, not before, and flush closes what is left", async () => {
    const store = await openStore();
    const batcher = new Batcher(store, { maxRecords: 100, maxAgeMs: 300 });
    try {
      const started = Date.now();
      await store.putRecord(recordCopy(0));
      batcher.notifyRecord();
      await store.putRecord(recordCopy(1));
      batcher.notifyRecord();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(store.nextBatchId, 1, "too young to close at 100 ms");
      await waitFor(async () => (store.nextBatchId === 2 ? true : undefined), 5_000, "the age timer");
      assert.ok(Date.now() - started >= 290, `closed after ${Date.now() - started} ms`);
      assert.equal((await store.getBatch(1))!.leafCount, 2);

      await store.putRecord(recordCopy(2));
      const flushed = await batcher.flush();
      assert.deepEqual(flushed.map((b) => [b.id, b.leafCount]), [[2, 1]]);
      assert.equal(store.pendingCount, 0);
      assert.deepEqual(await batcher.flush(), [], "nothing left to flush");
    } finally {
      await batcher.stop();
      await store.close();
    }
  });

  it("hands each stored batch to the committer, retries failures, and keeps the receipt", async () => {
    const store = await openStore();
    const committer = new FlakyCommitter(2);
    const errors: string[] = [];
    const batcher = new Batcher(store, {
      maxRecords: 2,
      maxAgeMs: 3_600_000,
      commitRetryMs: 30,
      committer,
      onError: (_error, context) => errors.push(context),
    });
    try {
      for (let i = 0; i < 2; i++) {
        await store.putRecord(recordCopy(i));
        batcher.notifyRecord();
      }
      const committed = await waitFor(async () => {
        const batch = await store.getBatch(1);
        return batch?.status === "committed" ? batch : undefined;
      }, 5_000, "the commitment to succeed");
      assert.equal(committer.calls.length, 3);
      assert.ok(committer.calls.every((c) => c.id === 1 && c.root === committed.root && c.leafCount === 2));
      assert.equal(committed.commitment.attempts, 3);
      assert.equal(committed.commitment.committer, "flaky-test-committer");
      assert.equal(committed.commitment.lastError, undefined);
      assert.deepEqual(committed.commitment.receipt, await new FlakyCommitter(0).commit(committer.calls[0]!));
      assert.deepEqual(await store.uncommittedBatchIds(), []);
      assert.equal(errors.filter((e) => e === "committing batch 1").length, 2);
    } finally {
      await batcher.stop();
      await store.close();
    }
  });

  it("on start, batches what an earlier run left waiting and re-offers uncommitted batches", async () => {
    const where = join(tmp.dir, "restart");
    let store = await openStore(where);
    // First run: the committer is down, one batch closes uncommitted, one record waits.
    let batcher = new Batcher(store, { maxRecords: 2, maxAgeMs: 3_600_000, commitRetryMs: 3_600_000, committer: new FlakyCommitter(1) });
    for (let i = 0; i < 3; i++) {
      await store.putRecord(recordCopy(i));
      batcher.notifyRecord();
    }
    await waitFor(async () => ((await store.getBatch(1))?.commitment.attempts === 1 ? true : undefined), 5_000, "the failed attempt");
    assert.equal((await store.getBatch(1))!.status, "closed");
    assert.match((await store.getBatch(1))!.commitment.lastError!, /rpc unavailable/);
    await batcher.stop();
    await store.close();

    // Second run, long after: the waiting record is overdue, and the chain is back.
    store = await openStore(where);
    const committer = new FlakyCommitter(0);
    batcher = new Batcher(store, { maxRecords: 2, maxAgeMs: 50, committer, now: () => Date.now() + 60_000 });
    try {
      await batcher.start();
      await waitFor(async () => ((await store.uncommittedBatchIds()).length === 0 ? true : undefined), 5_000, "both batches committed");
      assert.deepEqual(committer.calls.map((c) => c.id), [1, 2]);
      assert.equal((await store.getBatch(1))!.commitment.attempts, 2);
      assert.equal((await store.getBatch(2))!.leafCount, 1);
      assert.equal(store.pendingCount, 0);
    } finally {
      await batcher.stop();
      await store.close();
    }
  });

  it("records 'pending commitment' with the default committer, and never loses or repeats a record under load", async () => {
    const store = await openStore();
    const batcher = new Batcher(store, { maxRecords: 4, maxAgeMs: 3_600_000, committer: new RecordOnlyCommitter() });
    try {
      const written = Array.from({ length: 22 }, (_, i) => recordCopy(i));
      await Promise.all(
        written.map(async (record) => {
          await store.putRecord(record);
          batcher.notifyRecord();
        }),
      );
      await waitFor(async () => (store.nextBatchId === 6 ? true : undefined), 5_000, "five full batches");
      await batcher.flush();
      const seen: string[] = [];
      for (let id = 1; id < store.nextBatchId; id++) {
        const batch = (await store.getBatch(id))!;
        for (let index = 0; index < batch.leafCount; index++) seen.push((await store.getLeaf(id, index))!.recordId);
      }
      assert.equal(seen.length, 22);
      assert.deepEqual(new Set(seen), new Set(written.map((r) => r.id)));
      await waitFor(async () => ((await store.getBatch(6))?.status === "pending-commitment" ? true : undefined), 5_000, "commitments");
      const first = (await store.getBatch(1))!;
      assert.equal(first.status, "pending-commitment");
      assert.deepEqual(first.commitment.receipt, { status: "pending", reason: "no chain committer configured; root recorded locally only" });
      assert.deepEqual(await store.uncommittedBatchIds(), [1, 2, 3, 4, 5, 6], "pending batches stay in the index for a future chain committer");
    } finally {
      await batcher.stop();
      await store.close();
    }
  });

  it("never mixes models in a batch: a model change ends the batch early", async () => {
    const store = await openStore();
    const batcher = new Batcher(store, { maxRecords: 10, maxAgeMs: 3_600_000 });
    try {
      // Records an earlier run made with another model, then records of the engine's model.
      const other = (i: number): ProofRecord => {
        const record = { ...recordCopy(i), model: "an-earlier-model" };
        return { ...record, leafHash: hashInferenceLeaf(toInferenceRecord(record)) };
      };
      for (const record of [other(0), other(1), recordCopy(2), recordCopy(3), recordCopy(4)]) await store.putRecord(record);
      const closed = await batcher.closeDue();
      assert.deepEqual(closed.map((b) => [b.model, b.leafCount]), [["an-earlier-model", 2]], "young records of the current model wait");
      assert.equal(closed[0]!.modelId, hashModelId("an-earlier-model"));
      assert.equal(store.pendingCount, 3);
      const rest = await batcher.flush();
      assert.deepEqual(rest.map((b) => [b.model, b.leafCount]), [[engine.info.modelId, 3]]);
    } finally {
      await batcher.stop();
      await store.close();
    }
  });

  it("never keeps or serves the RPC URL's key in last_error (GET /v1/batches/:id is unauthenticated)", async () => {
    const store = await openStore();
    const rpcUrl = "https://eth-mainnet.example.com/v2/sk_live_4f9a8b7c6d5e4f3a2b1c";
    // What viem's HttpRequestError says when the endpoint is down.
    const leaky: BatchCommitter = { name: "leaky", commit: async () => { throw new Error(`HTTP request failed.\n\nStatus: 503\nURL: ${rpcUrl}\nRequest body: {"method":"eth_chainId"}`); } };
    const batcher = new Batcher(store, { maxRecords: 1, maxAgeMs: 3_600_000, commitRetryMs: 3_600_000, committer: leaky });
    try {
      await store.putRecord(recordCopy(0));
      batcher.notifyRecord();
      const batch = await waitFor(async () => ((await store.getBatch(1))?.commitment.attempts === 1 ? store.getBatch(1) : undefined), 5_000, "the failed attempt");
      assert.doesNotMatch(batch!.commitment.lastError!, /sk_live/);
      assert.match(batch!.commitment.lastError!, /URL: https:\/\/eth-mainnet\.example\.com\/v2\/\*\*\*/);
      // A record written before redaction existed is redacted when served.
      await store.updateCommitment(1, "closed", { ...batch!.commitment, lastError: `connect failed: https://user:hunter2@rpc.example/?apikey=abcdef123456` });
      const served = JSON.stringify(batchJson((await store.getBatch(1))!));
      assert.doesNotMatch(served, /hunter2|abcdef123456/);
    } finally {
      await batcher.stop();
      await store.close();
    }
  });

  it("creates its data folder 0700 and its files 0600", async () => {
    const where = join(tmp.dir, "modes", "store");
    const store = await openStore(where);
    try {
      await store.putRecord(recordCopy(0));
      assert.equal(statSync(where).mode & 0o777, 0o700);
      const files = readdirSync(where);
      assert.ok(files.length > 0);
      for (const file of files) assert.equal(statSync(join(where, file)).mode & 0o777, 0o600, file);
    } finally {
      await store.close();
    }
  });

  it("hashes the manifest over a canonical JSON with a fixed key order", () => {
    const manifest = { version: 1 as const, root: `0x${"ab".repeat(32)}` as const, leafCount: 3, model: "m", createdAt: "2026-11-23T00:00:00.000Z" };
    assert.equal(canonicalManifest(manifest), `{"version":1,"root":"0x${"ab".repeat(32)}","leafCount":3,"model":"m","createdAt":"2026-11-23T00:00:00.000Z"}`);
    const { createdAt, model, leafCount, root, version } = manifest;
    assert.equal(manifestHash({ createdAt, model, leafCount, root, version }), manifestHash(manifest), "key order of the input does not matter");
    assert.notEqual(manifestHash({ ...manifest, leafCount: 4 }), manifestHash(manifest));
  });
});
