/**
 * The operator's leaf check against a real prover (default model, level store, HTTP on
 * loopback): a served leaf that opens the root and whose proofs match is valid; every way a
 * leaf can fail maps to its outcome (fraud, unavailable, unsupported) with a reason.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Hex } from "viem";
import { LeafChecker, LeafFormatError, parseLeafResponse, type OnchainBatch } from "../../operator/leaf-check.ts";
import { BatchMerkleTree, hashInferenceLeaf, hashModelId } from "../../protocol/merkle/index.ts";
import { Engine } from "../../prover/engine/index.ts";
import { UntrustedFetcher } from "../../runtime/untrusted-fetch.ts";
import { getJson, loadDefaultEngine, startTestServer, tempDir, waitFor, type TempDir, type TestServer } from "../helpers/prover-server.ts";

// The prover runs on loopback here: the operator's fetch policy must allow it, as the local network's does.
const loopback = new UntrustedFetcher({ allowPrivateNetworks: ["127.0.0.1/32"], maxBytes: 16 << 20, timeoutMs: 5_000, maxRedirects: 3 });

describe("operator leaf check (real prover and engine on loopback)", function () {
  this.timeout(60_000);
  let cache: TempDir;
  let data: TempDir;
  let engine: Engine;
  let server: TestServer;
  let batch: OnchainBatch;
  let checker: LeafChecker;
  let leafJson: any;
  let forger: Server | undefined;

  before(async () => {
    cache = tempDir("leaf-check-cache");
    data = tempDir("leaf-check-data");
    engine = await loadDefaultEngine(cache);
    server = await startTestServer({ engine, dataDir: data.dir, maxRecords: 3 });
    for (let i = 0; i < 3; i++) {
      await server.client.completions.create({ model: engine.info.modelId, prompt: `leaf check ${i}`, max_tokens: 6, temperature: 0, seed: i });
    }
    const listed = await waitFor(async () => {
      const { json } = await getJson(server.address, "/v1/batches");
      return json.data.length > 0 ? json.data[0] : undefined;
    }, 10_000, "a closed batch");
    batch = { batchId: 1n, root: listed.root, modelId: hashModelId(engine.info.modelId), leafCount: listed.leaf_count, dataURI: listed.data_uri };
    checker = new LeafChecker(engine, loopback);
    leafJson = (await getJson(server.address, `/v1/batches/${listed.id}/leaves/1`)).json;
  });

  after(async () => {
    await server?.stop();
    await engine?.close();
    await new Promise((r) => (forger ? forger.close(r) : r(undefined)));
    cache?.cleanup();
    data?.cleanup();
  });

  it("accepts every leaf of an honest batch", async () => {
    for (let index = 0; index < batch.leafCount; index++) {
      const result = await checker.check(batch, index);
      assert.equal(result.outcome, "valid", result.reason);
      assert.match(result.leafHash!, /^0x[0-9a-f]{64}$/);
    }
  });

  it("judges several leaves in shared prefills exactly as one at a time, each bad leaf its own outcome", async () => {
    const fetched = await Promise.all([0, 1, 2, 99, 1].map((i) => checker.fetch(batch, i)));
    // Leaf 1 a second time with a proof cut short: a malformed record among honest ones.
    const broken = structuredClone(fetched[4]!);
    broken.parsed!.record.proofs = [broken.parsed!.record.proofs[0]!.slice(0, 10)];
    fetched[4] = broken;
    const together = await checker.judgeMany(batch, fetched);
    const alone = [];
    for (const f of fetched) alone.push(await checker.judge(batch, f));
    assert.deepEqual(together.map((r) => r.outcome), ["valid", "valid", "valid", "unavailable", "unavailable"]);
    assert.deepEqual(together.map((r) => r.outcome), alone.map((r) => r.outcome));
    for (let i = 0; i < 3; i++) assert.deepEqual(together[i]!.judgement, alone[i]!.judgement, `leaf ${i}: the statistics of the batched prefill equal those of its own`);
  });

  it("checks inclusion against the on-chain root, not the served one", async () => {
    const result = await checker.check({ ...batch, root: `0x${"ab".repeat(32)}` as Hex }, 0);
    assert.equal(result.outcome, "unavailable");
    assert.match(result.reason, /does not open the on-chain root/);
  });

  it("calls a leaf whose model differs from the batch's model id fraud", async () => {
    const result = await checker.check({ ...batch, modelId: hashModelId("another-model") }, 0);
    assert.equal(result.outcome, "fraud");
    assert.match(result.evidence!, /^0x[0-9a-f]{64}$/);
  });

  it("reports a leaf it cannot fetch as unavailable and a model it does not run as unsupported", async () => {
    const gone = await checker.check({ ...batch, dataURI: "http://127.0.0.1:9/v1/batches/1" }, 0);
    assert.equal(gone.outcome, "unavailable");
    const missing = await checker.check(batch, 99);
    assert.equal(missing.outcome, "unavailable");
    assert.match(missing.reason, /404/);
    const other = await Engine.load({ cacheDir: join(cache.dir, "models"), modelId: "someone-elses-model" });
    try {
      const result = await new LeafChecker(other, loopback).check(batch, 0);
      assert.equal(result.outcome, "unsupported");
    } finally {
      await other.close();
    }
  });

  it("calls committed output tokens that the proofs do not cover fraud", async () => {
    // A prover that commits to tokens it did not compute: the leaf is genuinely in its root.
    const record = structuredClone(leafJson.record);
    record.output_tokens[0] = record.output_tokens[0] === 70 ? 71 : 70;
    const parsed = parseLeafResponse({ merkle_proof: [], record });
    const tree = BatchMerkleTree.fromLeafHashes([hashInferenceLeaf(parsed.record)]);
    forger = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ ...leafJson, root: tree.root, merkle_proof: tree.proof(0), record }));
    });
    await new Promise<void>((r) => forger!.listen(0, "127.0.0.1", r));
    const port = (forger.address() as { port: number }).port;
    const result = await checker.check({ ...batch, root: tree.root, leafCount: 1, dataURI: `http://127.0.0.1:${port}/v1/batches/9` }, 0);
    assert.equal(result.outcome, "fraud", result.reason);
    assert.match(result.reason, /request rejected under profile vb-byte-llama-4l-256h-v1\/calibrated: (garbage_rate|sq_error|token_max_margin)/);
    assert.equal(result.merkleProof!.length, 0);
  });

  it("catches a changed final token (no proof covers it; the replayed sampler does)", async () => {
    const record = structuredClone(leafJson.record);
    const last = record.output_tokens.length - 1;
    record.output_tokens[last] = record.output_tokens[last] === 70 ? 71 : 70;
    const parsed = parseLeafResponse({ merkle_proof: [], record });
    const tree = BatchMerkleTree.fromLeafHashes([hashInferenceLeaf(parsed.record)]);
    const forged = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ ...leafJson, root: tree.root, merkle_proof: tree.proof(0), record }));
    });
    await new Promise<void>((r) => forged.listen(0, "127.0.0.1", r));
    try {
      const port = (forged.address() as { port: number }).port;
      const forgedBatch = { ...batch, root: tree.root, leafCount: 1, dataURI: `http://127.0.0.1:${port}/v1/batches/9` };
      const result = await checker.check(forgedBatch, 0);
      assert.equal(result.outcome, "fraud");
      assert.match(result.reason, /token_max_margin/);
      assert.equal(result.judgement!.tokenMargins.length, record.output_tokens.length, "a margin for every output token, the last included");
      assert.ok(result.judgement!.tokenMargins[last]! > 0);
      for (let index = 0; index < batch.leafCount; index++) assert.equal((await checker.check(batch, index)).outcome, "valid");
    } finally {
      await new Promise((r) => forged.close(r));
    }
  });

  it("parses the data endpoint strictly, naming the bad field", () => {
    const cases: [unknown, string][] = [
      [null, "leaf"],
      [{ ...leafJson, merkle_proof: ["0x12"] }, "merkle_proof"],
      [{ ...leafJson, record: { ...leafJson.record, model: "" } }, "record.model"],
      [{ ...leafJson, record: { ...leafJson.record, prompt_tokens: [-1] } }, "record.prompt_tokens"],
      [{ ...leafJson, record: { ...leafJson.record, seed: 5 } }, "record.seed"],
      [{ ...leafJson, record: { ...leafJson.record, toploc: { ...leafJson.record.toploc, proofs: [] } } }, "record.toploc.proofs"],
      [{ ...leafJson, record: { ...leafJson.record, sampling: { ...leafJson.record.sampling, top_p: "1" } } }, "record.sampling.top_p"],
    ];
    for (const [input, field] of cases) {
      assert.throws(() => parseLeafResponse(input), (error: unknown) => error instanceof LeafFormatError && error.field === field, field);
    }
  });
});
