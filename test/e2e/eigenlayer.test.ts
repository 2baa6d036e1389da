/**
 * END-TO-END in EigenLayer mode (separate processes on 127.0.0.1, ~1.5 minutes): a Hardhat node
 * with EigenLayer's real core deployed by `npm run deploy -- --mode eigenlayer`'s code, the AVS
 * on it, an honest prover and one that edits a token after proving, three operators (the third
 * colludes with the lying prover) and an aggregator over libp2p.
 *
 *   1. operators join the real way on start: registerAsOperator, a deposit into the stake
 *      token's strategy, modifyAllocations, the allocation delay, registerForOperatorSets (the
 *      second operator is registered beforehand through the operator CLI, `register` with a
 *      BLS key file, and its node finds itself registered);
 *   2. an honest batch is attested with their allocated slashable stake, by one BLS certificate
 *      (attestBLS: each operator bound a BLS key with a proof of possession on start), then
 *      finalized;
 *   3. the lying prover's batch is disputed and upheld: slashOperator takes half of the
 *      prover's allocation (its operator shares fall by 5e17 wads), the colluder loses 10% if
 *      its attestation landed first, and the challenger is paid from the AVS's challenge pool;
 *   4. the attesters of the finalized batch are paid operator-directed rewards through the
 *      RewardsCoordinator.
 *
 * Part of `npm test`; VB_E2E=0 skips it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createWalletClient, http, parseEther, parseEventLogs, type Address, type Hex } from "viem";
import { blsKeyPairFromSeed, hashG1 } from "../../protocol/bls/index.ts";
import {
  batchManagerAbi,
  devStakeTokenAbi,
  eigenAllocationManagerAbi,
  eigenDelegationManagerAbi,
  eigenRewardsCoordinatorAbi,
  eigenServiceManagerAbi,
  stakeRegistryAbi,
} from "../../protocol/contracts/abis.ts";
import { runOperatorCli } from "../../operator/cli/program.ts";
import { attestationRewards, submitRewards } from "../../scripts/eigenlayer/rewards.ts";
import { launchAggregator, launchOperator, launchProver, setupNetwork, startHardhatNode, type NetworkSetup, type NodeProcess } from "../../scripts/network/launch.ts";
import { until as poll } from "../helpers/poll.ts";

const ENABLED = process.env.VB_E2E !== "0";
const DEFAULT_MODEL = "vb-byte-llama-4l-256h-v1";
const State = { Submitted: 1, Attested: 2, Disputed: 3, Cleared: 4, Slashed: 5, Finalized: 6, Expired: 7 } as const;
const WAD = 10n ** 18n;

const until = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) => poll(what, timeoutMs, probe, 200);

async function complete(proverUrl: string, count: number, label: string): Promise<void> {
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    const response = await fetch(`${proverUrl}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: DEFAULT_MODEL, prompt: `${label} request ${i}: the quick brown fox`, max_tokens: 12, temperature: 0, seed: i }),
      signal: AbortSignal.timeout(60_000),
    });
    assert.equal(response.status, 200, await response.text());
  }));
}

(ENABLED ? describe : describe.skip)("e2e: EigenLayer mode on EigenLayer's real core (prover, cheater, 3 operators, aggregator)", function () {
  this.timeout(420_000);
  let dir: string;
  let hardhat: NodeProcess | undefined;
  let setup: NetworkSetup;
  const procs: NodeProcess[] = [];
  let honestBatchId: bigint;
  const nodeUrls: string[] = [];
  let cliOutput: string[] = [];
  const blsKeyHashOf = (account: Address) => setup.publicClient.readContract({ address: sm(), abi: stakeRegistryAbi, functionName: "blsKeyHashOf", args: [account] });

  const bm = () => setup.deployment.contracts.batchManager.address;
  const sm = () => setup.deployment.contracts.registry.address;
  const core = () => setup.deployment.eigenLayer!;
  const batchState = async (id: bigint) => ((await setup.publicClient.readContract({ address: bm(), abi: batchManagerAbi, functionName: "getBatch", args: [id] })) as { state: number }).state;
  const weight = (account: Address) => setup.publicClient.readContract({ address: sm(), abi: eigenServiceManagerAbi, functionName: "stakeOf", args: [account] });
  const shares = async (account: Address) =>
    (await setup.publicClient.readContract({ address: core().delegationManager, abi: eigenDelegationManagerAbi, functionName: "getOperatorShares", args: [account, [core().strategies[0]!]] }))[0]!;
  const submittedBy = (prover: Address) =>
    until(`a batch from ${prover}`, 90_000, async () => {
      const logs = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "BatchSubmitted", args: { prover }, fromBlock: 0n });
      return (logs[0]?.args as { batchId: bigint } | undefined)?.batchId;
    });

  before(async function () {
    dir = mkdtempSync(path.join(tmpdir(), "vb-e2e-el-"));
    const chain = await startHardhatNode(dir);
    hardhat = chain.node;
    setup = await setupNetwork(chain.rpcUrl, dir, {
      mode: "eigenlayer",
      operators: 3,
      provers: 2,
      blockIntervalMs: 1000,
      challengePool: parseEther("200"),
      config: { attestThresholdBps: 3000, voteThresholdBps: 6000, responseWindow: 60, challengeWindow: 20, votingWindow: 120, unbondingDelay: 1000 },
    });
    // The second operator joins through the CLI first, as someone running `npm run operator -- register` would.
    const second = setup.operators[1]!;
    const cli = { out: [] as string[], err: [] as string[] };
    const code = await runOperatorCli(
      ["register", "--stake", "100", "--account-key-file", second.accountKeyFile, "--signer-key-file", second.signerKeyFile, "--bls-key-file", second.blsKeyFile!, "--rpc-url", setup.rpcUrl, "--deployment", setup.deploymentFile],
      async () => undefined, process.env, { out: (line) => cli.out.push(line), err: (text) => cli.err.push(text) },
    );
    assert.equal(code, 0, cli.err.join(""));
    cliOutput = cli.out;
    // Operators sign with BLS keys too; the aggregator submits one certificate per batch.
    const aggregator = await launchAggregator(setup, { AGGREGATOR_GRACE_MS: "6000", AGGREGATOR_ATTESTATION_SCHEME: "bls" });
    procs.push(aggregator.proc);
    nodeUrls.push(aggregator.url);
    const colluder = setup.provers[1]!.account.address;
    // Each is pushed as soon as it is up, so that a failing start stops the others.
    const up = <T extends { proc: NodeProcess; url: string }>(launched: Promise<T>) => launched.then((x) => (procs.push(x.proc), nodeUrls.push(x.url), x));
    const results = await Promise.allSettled([
      up(launchOperator(setup, { index: 0, aggregatorUrl: aggregator.url, bootstrap: [aggregator.mesh], bls: true })),
      up(launchOperator(setup, { index: 1, aggregatorUrl: aggregator.url, bootstrap: [aggregator.mesh], bls: true })),
      up(launchOperator(setup, { index: 2, aggregatorUrl: aggregator.url, bootstrap: [aggregator.mesh], bls: true, script: "test/helpers/colluding-operator.ts", env: { VB_COLLUDE_WITH: colluder } })),
    ]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });

  after(async function () {
    await Promise.all(procs.map((p) => p.stop("SIGTERM").catch(() => undefined)));
    await hardhat?.stop("SIGTERM");
    if (dir && !process.env.VB_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it("operators joined through EigenLayer: operator, deposit, full allocation, operator set 0, weight = slashable stake, BLS key bound", async () => {
    assert.equal(core().local, true);
    for (const op of setup.operators) {
      const a = op.account.address;
      assert.equal(await setup.publicClient.readContract({ address: core().delegationManager, abi: eigenDelegationManagerAbi, functionName: "isOperator", args: [a] }), true);
      assert.equal(await shares(a), parseEther("100"));
      const allocation = await setup.publicClient.readContract({ address: core().allocationManager, abi: eigenAllocationManagerAbi, functionName: "getAllocation", args: [a, { avs: sm(), id: 0 }, core().strategies[0]!] });
      assert.equal(allocation.currentMagnitude, WAD);
      assert.equal(await setup.publicClient.readContract({ address: core().allocationManager, abi: eigenAllocationManagerAbi, functionName: "isMemberOfOperatorSet", args: [a, { avs: sm(), id: 0 }] }), true);
      assert.equal(await weight(a), parseEther("100"));
      const [role, key] = (await setup.publicClient.readContract({ address: sm(), abi: stakeRegistryAbi, functionName: "memberOf", args: [a] })) as [number, Address];
      assert.equal(role, 1);
      assert.equal(key, setup.operators[setup.operators.indexOf(op)]!.signer.address);
      // The BLS key from its key file, bound with a proof of possession on start.
      const bls = blsKeyPairFromSeed(readFileSync(op.blsKeyFile!, "utf8").trim() as Hex);
      assert.equal(await blsKeyHashOf(a), hashG1(bls.pubkeyG1));
    }
    const second = setup.operators[1]!;
    assert.ok(cliOutput.some((l) => l === `registered ${second.account.address} with signing key ${second.signer.address}`), cliOutput.join("\n"));
    const secondKey = await blsKeyHashOf(second.account.address);
    assert.ok(cliOutput.some((l) => l.startsWith(`bound BLS key ${secondKey}`)), cliOutput.join("\n"));
  });

  it("every node answers EigenLayer's node API and exports eigen_ metrics", async () => {
    for (const url of nodeUrls) {
      const info = (await (await fetch(`${url}/eigen/node`)).json()) as { node_name: string; spec_version: string };
      assert.match(info.node_name, /^verifiable-benchmarks-(operator|aggregator)$/);
      assert.equal(info.spec_version, "v0.0.1");
      // 206 while the gossip mesh forms, then 200.
      await until(`${url}: every service up`, 30_000, async () => ((await fetch(`${url}/eigen/node/health`)).status === 200 ? true : undefined));
      const { services } = (await (await fetch(`${url}/eigen/node/services`)).json()) as { services: { id: string; status: string }[] };
      for (const s of services) assert.equal((await fetch(`${url}/eigen/node/services/${s.id}/health`)).status, 200, s.id);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const stake = info.node_name.endsWith("operator") ? "100" : "300";
      assert.match(metrics, new RegExp(`eigen_registered_stakes\\{quorum_number="0",quorum_name="operators"[^}]*\\} ${stake}\\b`));
      assert.match(metrics, /eigen_performance_score\{[^}]*\} 100/);
      assert.match(metrics, /eigen_rpc_request_total\{method="eth_blockNumber"/);
      assert.match(metrics, /eigen_rpc_request_duration_seconds_bucket\{/);
    }
  });

  it("an honest batch is attested by the three operators and finalized", async () => {
    const prover = await launchProver(setup, { index: 0, env: { PROVER_BATCH_MAX_RECORDS: "8", PROVER_BATCH_MAX_AGE_MS: "600000" } });
    procs.push(prover.proc);
    await complete(prover.url, 8, "honest");
    honestBatchId = await submittedBy(setup.provers[0]!.account.address);
    await until("the honest batch attested", 60_000, async () => ((await batchState(honestBatchId)) >= State.Attested ? true : undefined));
    // One BLS certificate, nobody left out: no non-signer.
    const [certificate] = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "BatchAttestedBLS", args: { batchId: honestBatchId }, fromBlock: 0n });
    assert.ok(certificate, "attested through attestBLS");
    assert.deepEqual((certificate!.args as { nonSignerKeyHashes: string[] }).nonSignerKeyHashes, []);
    const [attested] = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "BatchAttested", args: { batchId: honestBatchId }, fromBlock: 0n });
    assert.equal((attested!.args as { attestedWeight: bigint }).attestedWeight, parseEther("300"));
    // The chain's clock runs ~100 s ahead of the wall clock (the core's deployment mines a block
    // per transaction, each at least a second after its parent): the aggregator goes by it.
    await until("the honest batch finalized", 120_000, async () => ((await batchState(honestBatchId)) === State.Finalized ? true : undefined));
  });

  it("the lying prover is disputed and slashed through slashOperator; the challenger is paid from the challenge pool", async () => {
    const prover = await launchProver(setup, { index: 1, script: "test/helpers/lying-prover.ts", env: { PROVER_BATCH_MAX_RECORDS: "8", PROVER_BATCH_MAX_AGE_MS: "600000" } });
    procs.push(prover.proc);
    const cheater = setup.provers[1]!.account.address;
    const colluder = setup.operators[2]!;
    const before = { cheater: await shares(cheater), colluder: await shares(colluder.account.address), pool: await setup.publicClient.readContract({ address: sm(), abi: eigenServiceManagerAbi, functionName: "challengePool" }) };
    assert.equal(before.cheater, parseEther("100"));
    await complete(prover.url, 8, "lying");
    const batchId = await submittedBy(cheater);
    await until(`batch ${batchId} slashed`, 120_000, async () => ((await batchState(batchId)) === State.Slashed ? true : undefined));

    // EigenLayer's AllocationManager slashed the prover's allocation to set 1 by proverSlashBps.
    const slashes = await setup.publicClient.getContractEvents({ address: core().allocationManager, abi: eigenAllocationManagerAbi, eventName: "OperatorSlashed", fromBlock: 0n });
    const cheaterSlash = slashes.find((l) => (l.args as { operator: Address }).operator === cheater);
    assert.ok(cheaterSlash, "slashOperator was called for the cheater");
    assert.deepEqual((cheaterSlash!.args as { wadSlashed: bigint[] }).wadSlashed, [5n * 10n ** 17n]);
    assert.equal(await shares(cheater), before.cheater / 2n, "the cheater's operator shares fell by the slashed wads");
    assert.equal(await weight(cheater), parseEther("50"));

    // The colluder is slashed too when its rubber stamp landed before the honest dispute.
    // Its certificate names the two honest operators as non-signers: resolveDispute's attesters
    // (the aggregator rebuilds them from the registry's keys) are the colluder alone.
    const [attested] = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "BatchAttestedBLS", args: { batchId }, fromBlock: 0n });
    const removed = parseEther("50") + (attested ? parseEther("10") : 0n);
    if (attested) {
      const honestKeys = await Promise.all([0, 1].map((i) => blsKeyHashOf(setup.operators[i]!.account.address)));
      assert.deepEqual([...(attested.args as { nonSignerKeyHashes: string[] }).nonSignerKeyHashes].sort(), [...honestKeys].sort());
      assert.equal(await shares(colluder.account.address), before.colluder - before.colluder / 10n);
    } else {
      assert.equal(await shares(colluder.account.address), before.colluder);
    }
    for (const honest of setup.operators.slice(0, 2)) assert.equal(await shares(honest.account.address), parseEther("100"));

    // The challenger's reward came out of the AVS's pool (EigenLayer burns the slashed shares).
    const paid = await setup.publicClient.getContractEvents({ address: sm(), abi: eigenServiceManagerAbi, eventName: "ChallengeRewardPaid", fromBlock: 0n });
    assert.equal(paid.length, 1);
    assert.equal((paid[0]!.args as { amount: bigint }).amount, removed);
    assert.equal(await setup.publicClient.readContract({ address: sm(), abi: eigenServiceManagerAbi, functionName: "challengePool" }), before.pool - removed);
  });

  it("the finalized batch's attesters are paid operator-directed rewards through the RewardsCoordinator", async () => {
    const wallet = createWalletClient({ transport: http(setup.rpcUrl) });
    const deployer = setup.deployment.deployer;
    const rewards = await attestationRewards(setup.publicClient, setup.deployment, { fromBlock: 0n, toBlock: await setup.publicClient.getBlockNumber() }, parseEther("1"));
    assert.deepEqual(rewards.map((r) => r.operator).sort(), setup.operators.map((o) => o.account.address).sort(), "the three attesters of the honest batch");
    const total = rewards.reduce((s, r) => s + r.amount, 0n);
    const token = setup.deployment.contracts.stakeToken.address;
    const send = async (address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[]) =>
      setup.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract({ address, abi: abi as never, functionName: functionName as never, args: args as never, account: deployer, chain: null }) });
    await send(token, devStakeTokenAbi, "mint", [deployer, total]);
    await send(token, devStakeTokenAbi, "approve", [sm(), total]);
    await send(sm(), eigenServiceManagerAbi, "fundPool", [1, total]);
    const hash = await submitRewards({ publicClient: setup.publicClient, walletClient: wallet, account: deployer }, setup.deployment, rewards, "e2e attestations");
    const receipt = await setup.publicClient.getTransactionReceipt({ hash });
    const [created] = parseEventLogs({ abi: eigenRewardsCoordinatorAbi, logs: receipt.logs, eventName: "OperatorDirectedOperatorSetRewardsSubmissionCreated" });
    assert.ok(created, "the RewardsCoordinator took the submission");
    assert.equal(created!.args.operatorDirectedRewardsSubmission.operatorRewards.length, 3);
    assert.equal(await setup.publicClient.readContract({ address: token, abi: devStakeTokenAbi, functionName: "balanceOf", args: [core().rewardsCoordinator] }), total);
  });
});
