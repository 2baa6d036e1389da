/**
 * The aggregator node in-process against a real Hardhat node on 127.0.0.1: what a hostile
 * operator or a broken dependency must not be able to do to it.
 *   - A high-s copy of an operator's attestation, stored in level by a version that admitted
 *     it, is dropped on restart with a log line (it used to be replayed, shut the genuine copy
 *     out as a duplicate, and then throw on every tick outside the loop's error handling, so no
 *     batch was attested again); unusable stored evidence likewise.
 *   - One phase failing (eth_getLogs refused on every call) does not stop submissions.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { createWalletClient, http, keccak256, toHex, type Hex } from "viem";
import { loadAggregatorConfig, type AggregatorConfig } from "../../aggregator/config.ts";
import { AggregatorNode } from "../../aggregator/node.ts";
import { AggregatorState } from "../../aggregator/state.ts";
import { ensureRegistered } from "../../operator/registration.ts";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { fromCompactSignature, malleatedSignature, signAttestation, Verdict } from "../../protocol/eip712/index.ts";
import { encodeGossipMessage, type GossipMessage } from "../../protocol/gossip/index.ts";
import { connectChain } from "../../runtime/chain.ts";
import { setupNetwork, startHardhatNode, type NetworkSetup, type NodeProcess } from "../../scripts/network/launch.ts";
import { startFlakyRpc } from "../helpers/flaky-rpc.ts";
import { until } from "../helpers/poll.ts";


/** A pino logger whose lines are kept for assertions. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { logger: pino({ level: "info" }, stream), lines };
}

describe("aggregator node: poison messages and isolated work (Hardhat node on loopback)", function () {
  this.timeout(120_000);
  let dir: string;
  let hardhat: NodeProcess;
  let setup: NetworkSetup;
  let batchCounter = 0;

  const bm = () => setup.deployment.contracts.batchManager.address;
  const domain = () => ({ name: "VerifiableBenchmarks" as const, version: "1" as const, chainId: setup.deployment.chainId, verifyingContract: bm() });
  const batchState = async (id: bigint) => ((await setup.publicClient.readContract({ address: bm(), abi: batchManagerAbi, functionName: "getBatch", args: [id] })) as { state: number }).state;

  async function submitBatch(): Promise<{ batchId: bigint; root: Hex }> {
    const prover = setup.provers[0]!;
    const wallet = createWalletClient({ transport: http(setup.rpcUrl), account: prover.account });
    const root = keccak256(toHex(`aggregator node test batch ${++batchCounter}`));
    const { request, result } = await setup.publicClient.simulateContract({
      address: bm(), abi: batchManagerAbi, functionName: "submitBatch", account: prover.account,
      args: [keccak256(toHex("model")), keccak256(toHex("envelope")), root, 4n, "http://127.0.0.1:1/v1/batches/1"],
    });
    await setup.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract(request) });
    return { batchId: result as bigint, root };
  }

  async function attestation(operator: number, batchId: bigint, root: Hex): Promise<GossipMessage> {
    const message = { batchId, root, verdict: Verdict.Valid, leavesChecked: 4 };
    const signed = await signAttestation(setup.operators[operator]!.signer, domain(), message);
    return { type: "attestation", chainId: setup.deployment.chainId, contract: bm(), signature: fromCompactSignature(signed.signature), message };
  }

  function config(name: string, rpcUrl = setup.rpcUrl): AggregatorConfig {
    const base = loadAggregatorConfig({ env: { AGGREGATOR_KEY_FILE: setup.aggregator.accountKeyFile } });
    return {
      ...base,
      chain: { ...base.chain, rpcUrl, deployment: setup.deploymentFile, pollIntervalMs: 100 },
      account: { keyFile: setup.aggregator.accountKeyFile },
      dataDir: path.join(dir, name),
      http: { ...base.http, port: 0 },
      graceMs: 0,
      retry: { baseMs: 100, maxMs: 1000 },
      logLevel: "silent",
    };
  }

  const post = (node: AggregatorNode, message: GossipMessage) =>
    fetch(`${node.address}/v1/attestations`, { method: "POST", headers: { "content-type": "application/json" }, body: Buffer.from(encodeGossipMessage(message)) });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "vb-aggregator-node-"));
    const chain = await startHardhatNode(dir);
    hardhat = chain.node;
    setup = await setupNetwork(chain.rpcUrl, dir, {
      operators: 3,
      provers: 1,
      // The batches name model "model": bind it to a profile, or BatchManager refuses them.
      models: [{ model: "model", profileHash: keccak256(toHex("profile of model")), weightsHash: keccak256(toHex("weights of model")) }],
      config: { attestThresholdBps: 3000, voteThresholdBps: 6000, responseWindow: 600, challengeWindow: 600, votingWindow: 600, unbondingDelay: 4000 },
    });
    for (const op of setup.operators) {
      const conn = await connectChain(setup.rpcUrl, setup.deployment, op.account);
      await ensureRegistered(conn, op.signer, 10n ** 20n);
    }
  });

  after(async () => {
    await hardhat?.stop("SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("drops a stored high-s copy on restart (log line, metric) and still attests both batches", async () => {
    const a = await submitBatch();
    const b = await submitBatch();
    const genuineA = await attestation(0, a.batchId, a.root);
    const copyA = { ...genuineA, signature: malleatedSignature(genuineA.signature) };
    // What an aggregator that admitted the copy left in level.
    const cfg = config("poisoned");
    const stored = new AggregatorState(path.join(cfg.dataDir, "state"));
    await stored.open();
    const signer = setup.operators[0]!.signer.address.toLowerCase();
    await stored.putMessage(`attestation:${a.batchId}:${signer}`, Buffer.from(encodeGossipMessage(copyA)).toString("hex"));
    const otherA = await attestation(0, a.batchId, keccak256(toHex("another root")));
    await stored.putEquivocation({ key: `attestations:${a.batchId}:${signer}`, kind: "attestations", messages: [Buffer.from(encodeGossipMessage(copyA)).toString("hex"), Buffer.from(encodeGossipMessage(otherA)).toString("hex")] });
    await stored.close();

    const { logger, lines } = capturingLogger();
    const node = await AggregatorNode.start(cfg, { logger });
    try {
      assert.ok(lines.some((l) => /dropped a stored message that is refused on replay/.test(l) && /canonical/.test(l)), lines.join(""));
      assert.ok(lines.some((l) => /dropped stored equivocation evidence/.test(l)), lines.join(""));
      assert.deepEqual(await node.state.allMessages(), []);
      assert.deepEqual(await node.state.openEquivocations(), []);
      assert.match(await node.registry.metrics(), /vb_aggregator_skipped_total\{reason="stored-message-refused",role="aggregator"\} 1/);
      // The data folder an older version left readable is tightened: folders 0700, files 0600.
      const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [path.join(d, e.name), ...walk(path.join(d, e.name))] : [path.join(d, e.name)]));
      assert.equal(statSync(cfg.dataDir).mode & 0o777, 0o700);
      for (const entry of walk(cfg.dataDir)) assert.equal(statSync(entry).mode & 0o777, statSync(entry).isDirectory() ? 0o700 : 0o600, entry);

      assert.equal((await post(node, genuineA)).status, 202, "the genuine copy is admitted, not refused as a duplicate");
      assert.equal((await post(node, await attestation(1, b.batchId, b.root))).status, 202);
      await until("both batches attested", 30_000, async () => ((await batchState(a.batchId)) === 2 && (await batchState(b.batchId)) === 2 ? true : undefined));
    } finally {
      await node.stop();
    }
  });

  it("refuses a high-s copy over HTTP with 400 naming the signature", async () => {
    const c = await submitBatch();
    const node = await AggregatorNode.start(config("refusing"));
    try {
      const genuine = await attestation(2, c.batchId, c.root);
      const response = await post(node, { ...genuine, signature: malleatedSignature(genuine.signature) });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: { field: string } }).error.field, "signature");
      assert.equal((await post(node, genuine)).status, 202);
      await until("the batch attested", 30_000, async () => ((await batchState(c.batchId)) === 2 ? true : undefined));
      // Whatever refuses a request answers in one shape: { error: { message, field } }.
      const shape = async (response: Response, status: number, field: string) => {
        assert.equal(response.status, status);
        const body = (await response.json()) as { error: { message: string; field: string } };
        assert.equal(typeof body.error.message, "string");
        assert.equal(body.error.field, field);
      };
      await shape(await fetch(`${node.address}/v1/nothing`), 404, "url");
      await shape(await fetch(`${node.address}/v1/attestations`, { method: "DELETE" }), 404, "url");
      await shape(await fetch(`${node.address}/v1/attestations`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }), 415, "content-type");
      await shape(await fetch(`${node.address}/v1/attestations`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(8000) }), 413, "request");
      await shape(await fetch(`${node.address}/%zz`), 400, "url");
      await shape(await fetch(`${node.address}/v1/status`, { headers: { "x-big": "a".repeat(20_000) } }), 431, "request");
    } finally {
      await node.stop();
    }
  });

  it("keeps submitting while another phase fails on every tick (eth_getLogs always refused)", async () => {
    const d = await submitBatch();
    const flaky = await startFlakyRpc(setup.rpcUrl, "eth_getLogs", Number.MAX_SAFE_INTEGER);
    const node = await AggregatorNode.start(config("no-logs", flaky.url));
    try {
      assert.equal((await post(node, await attestation(0, d.batchId, d.root))).status, 202);
      await until("the batch attested without event logs", 30_000, async () => ((await batchState(d.batchId)) === 2 ? true : undefined));
      assert.ok(flaky.refused() > 0, "the follower did try (and fail)");
      assert.match(await node.registry.metrics(), /vb_aggregator_job_failures_total\{kind="follow",role="aggregator"\} [1-9]/);
    } finally {
      await node.stop();
      await flaky.close();
    }
  });
});
