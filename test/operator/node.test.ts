/**
 * The operator node in-process against a real Hardhat node on 127.0.0.1 and a real prover
 * (default model, level store, HTTP on loopback): a hostile prover's on-chain values and an
 * unavailable prover must not freeze it.
 *   - A batch it cannot handle (leafCount beyond maxBatchLeaves; 2^25 + 1 used to pass the
 *     contract and throw in every operator's sampler, forever) and a data URI pointing at an
 *     internal address are skipped with a reason and a metric; the follower moves on and checks
 *     the honest batch that comes after them.
 *   - A batch whose prover is down when the operator first fetches is checked again with
 *     backoff, and attested once the prover is back (it used to be marked unavailable for good).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { createWalletClient, http, keccak256, toHex, type Hex } from "viem";
import { loadOperatorConfig, type OperatorConfig } from "../../operator/config.ts";
import { OperatorNode } from "../../operator/node.ts";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { hashModelId } from "../../protocol/merkle/index.ts";
import type { Engine } from "../../prover/engine/index.ts";
import { freePort, setupNetwork, startHardhatNode, type NetworkSetup, type NodeProcess } from "../../scripts/network/launch.ts";
import { loadDefaultEngine, startTestServer, tempDir, waitFor, type TempDir, type TestServer } from "../helpers/prover-server.ts";

describe("operator node: hostile on-chain values and an unavailable prover (Hardhat node, prover on loopback)", function () {
  this.timeout(180_000);
  let dir: TempDir;
  let hardhat: NodeProcess;
  let setup: NetworkSetup;
  let engine: Engine;
  let node: OperatorNode;

  const bm = () => setup.deployment.contracts.batchManager.address;

  async function submit(root: Hex, leafCount: bigint, dataURI: string, modelId: Hex = hashModelId(engine.info.modelId)): Promise<bigint> {
    const prover = setup.provers[0]!;
    const wallet = createWalletClient({ transport: http(setup.rpcUrl), account: prover.account });
    const { request, result } = await setup.publicClient.simulateContract({
      address: bm(), abi: batchManagerAbi, functionName: "submitBatch", account: prover.account,
      args: [modelId, keccak256(toHex("envelope")), root, leafCount, dataURI],
    });
    await setup.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract(request) });
    return result as bigint;
  }

  /** Two proven completions closed into a batch by a prover on `port`; returns it with the server. */
  async function proverBatch(dataDir: string, port: number): Promise<{ server: TestServer; root: Hex; leafCount: number; dataURI: string }> {
    const server = await startTestServer({ engine, dataDir, maxRecords: 2, port });
    for (let i = 0; i < 2; i++) await server.client.completions.create({ model: engine.info.modelId, prompt: `operator node ${dataDir} ${i}`, max_tokens: 4, temperature: 0, seed: i });
    const batch = await waitFor(async () => (await server.store.getBatch(server.store.nextBatchId - 1)) ?? undefined, 10_000, "a closed batch");
    return { server, root: batch.root as Hex, leafCount: batch.leafCount, dataURI: batch.dataUri };
  }

  const record = async (batchId: bigint) => node.state.batch(batchId);

  before(async () => {
    dir = tempDir("operator-node");
    const chain = await startHardhatNode(dir.dir);
    hardhat = chain.node;
    setup = await setupNetwork(chain.rpcUrl, dir.dir, {
      operators: 1,
      provers: 1,
      blockIntervalMs: 500,
      config: { attestThresholdBps: 3000, voteThresholdBps: 6000, responseWindow: 120, challengeWindow: 60, votingWindow: 60, unbondingDelay: 1000 },
    });
    engine = await loadDefaultEngine({ dir: path.join(dir.dir, "cache"), cleanup: () => undefined });
    const op = setup.operators[0]!;
    const base = loadOperatorConfig({ env: { OPERATOR_ACCOUNT_KEY_FILE: op.accountKeyFile, OPERATOR_SIGNER_KEY_FILE: op.signerKeyFile } });
    const config: OperatorConfig = {
      ...base,
      chain: { ...base.chain, rpcUrl: setup.rpcUrl, deployment: setup.deploymentFile, pollIntervalMs: 200 },
      dataDir: path.join(dir.dir, "operator"),
      http: { host: "127.0.0.1", port: 0 },
      model: { cacheDir: path.join(dir.dir, "cache", "models") },
      fetchTimeoutMs: 2_000,
      fetchPolicy: { ...base.fetchPolicy, allowPrivateNetworks: ["127.0.0.1/32"] },
      maxBatchLeaves: 64,
      retry: { baseMs: 300, maxMs: 1_000 },
      logLevel: "silent",
    };
    node = await OperatorNode.start(config);
  });

  after(async () => {
    await node?.stop();
    await engine?.close();
    await hardhat?.stop("SIGTERM");
    dir?.cleanup();
  });

  it("skips a batch beyond its limits and a data URI on an internal address, then checks the next batch", async () => {
    const port = await freePort();
    const honest = await proverBatch(path.join(dir.dir, "prover-a"), port);
    try {
      const huge = await submit(keccak256(toHex("huge")), 2n ** 25n, honest.dataURI);
      const internal = await submit(keccak256(toHex("internal")), 2n, `http://127.0.0.2:${port}/v1/batches/1`);
      const good = await submit(honest.root, BigInt(honest.leafCount), honest.dataURI);
      const valid = await waitFor(async () => ((await record(good))?.status === "valid" ? true : undefined), 60_000, "the honest batch checked");
      assert.ok(valid);
      const skippedHuge = (await record(huge))!;
      assert.equal(skippedHuge.status, "skipped");
      assert.match(skippedHuge.reason!, /leafCount 33554432 is outside 1\.\.64/);
      const skippedInternal = (await record(internal))!;
      assert.equal(skippedInternal.status, "skipped");
      assert.match(skippedInternal.reason!, /127\.0\.0\.2 is a loopback, private/);
      const metrics = await node.registry.metrics();
      assert.match(metrics, /vb_operator_skipped_total\{reason="leaf-count",role="operator"\} 1/);
      assert.match(metrics, /vb_operator_skipped_total\{reason="data-uri",role="operator"\} 1/);
      const status = (await node.status()) as { cursor: string };
      assert.ok(BigInt(status.cursor) > 0n);
    } finally {
      await honest.server.stop();
    }
  });

  it("checks again, with backoff, a batch whose prover is down, and attests it once the prover is back", async () => {
    const port = await freePort();
    const dataDir = path.join(dir.dir, "prover-b");
    const first = await proverBatch(dataDir, port);
    await first.server.stop();
    const batchId = await submit(first.root, BigInt(first.leafCount), first.dataURI);
    await waitFor(async () => {
      const r = await record(batchId);
      return r?.status === "unavailable" && (r.attempts ?? 0) >= 2 ? true : undefined;
    }, 30_000, "two failed checks");
    const restarted = await startTestServer({ engine, dataDir, maxRecords: 2, port });
    try {
      await waitFor(async () => ((await record(batchId))?.status === "valid" ? true : undefined), 30_000, "the batch attested after the restart");
      assert.match(await node.registry.metrics(), /vb_operator_retries_total\{kind="batch",role="operator"\} [2-9]/);
    } finally {
      await restarted.stop();
    }
  });
});
