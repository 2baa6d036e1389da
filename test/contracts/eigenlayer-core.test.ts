/**
 * The AVS on EigenLayer's real core (contracts/vendor/eigenlayer, deployed by scripts/deploy.ts
 * on the in-process chain): operators join through registerAsOperator, a deposit into the stake
 * token's strategy, modifyAllocations after the allocation delay and registerForOperatorSets;
 * quorum weight is their allocated slashable stake; an upheld dispute slashes through
 * slashOperator, the slashed shares are burnt by EigenLayer and the challenger is paid from the
 * AVS's challenge pool; attesters are paid through the RewardsCoordinator's operator-directed rewards.
 */
import assert from "node:assert/strict";
import { network } from "hardhat";
import { createWalletClient, custom, keccak256, parseEther, parseEventLogs, toHex, type Address } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import {
  batchManagerAbi,
  eigenAllocationManagerAbi,
  eigenDelegationManagerAbi,
  eigenRewardsCoordinatorAbi,
  eigenStrategyManagerAbi,
} from "../../protocol/contracts/abis.ts";
import { hashLeafFields } from "../../protocol/merkle/index.ts";
import { Role } from "../../protocol/eip712/index.ts";
import { EigenLayerJoinError, FULL_MAGNITUDE, joinEigenLayer } from "../../runtime/eigenlayer-join.ts";
import type { ChainConnection } from "../../runtime/chain.ts";
import { assertRevertsWith, deploySystem, MIN_STAKE, randomLeaves, TEST_CONFIG, testAccount, wait, type Member, type System } from "../helpers/contracts.ts";

const connection = await network.create();
const EVIDENCE = keccak256(toHex("recomputed: 40 exponent mismatches"));
const BURN_ADDRESS: Address = "0x00000000000000000000000000000000000E16E4";
const WAD = 10n ** 18n;

describe("AVS on EigenLayer's real core", function () {
  this.timeout(300_000);
  let sys: System;
  let prover: Member;
  let operators: Member[];
  let strategy: Address;

  const opSet = () => ({ avs: sys.registry.address, id: 0 });
  const operatorShares = async (account: Address) =>
    (await sys.publicClient.readContract({ address: sys.core!.delegationManager, abi: eigenDelegationManagerAbi, functionName: "getOperatorShares", args: [account, [strategy]] }))[0]!;
  const slashable = async (account: Address, setId = 0) =>
    (await sys.publicClient.readContract({
      address: sys.core!.allocationManager, abi: eigenAllocationManagerAbi, functionName: "getMinimumSlashableStake",
      args: [{ avs: sys.registry.address, id: setId }, [account], [strategy], Number(await sys.publicClient.getBlockNumber())],
    }))[0]![0]!;
  const magnitude = async (account: Address, setId = 0) =>
    (await sys.publicClient.readContract({ address: sys.core!.allocationManager, abi: eigenAllocationManagerAbi, functionName: "getAllocation", args: [account, { avs: sys.registry.address, id: setId }, strategy] })).currentMagnitude;

  before(async () => {
    sys = await deploySystem(connection, "eigenlayer-core", "core");
    strategy = sys.core!.strategies[0]!;
    prover = await sys.addMember(Role.Prover);
    operators = [await sys.addMember(Role.Operator), await sys.addMember(Role.Operator), await sys.addMember(Role.Operator)];
  });

  it("deploys the core as EigenLayer's local script wires it, and the AVS's sets with itself as slasher", async () => {
    const core = sys.core!;
    assert.equal(core.local, true);
    for (const address of [core.allocationManager, core.delegationManager, core.strategyManager, core.rewardsCoordinator, strategy]) {
      assert.notEqual(await sys.publicClient.getCode({ address }), undefined);
    }
    for (const id of [0, 1]) {
      const set = { avs: sys.registry.address, id };
      assert.equal(await sys.publicClient.readContract({ address: core.allocationManager, abi: eigenAllocationManagerAbi, functionName: "getSlasher", args: [set] }), sys.registry.address);
      assert.deepEqual(await sys.publicClient.readContract({ address: core.allocationManager, abi: eigenAllocationManagerAbi, functionName: "getStrategiesInOperatorSet", args: [set] }), [strategy]);
    }
    assert.equal(await sys.publicClient.readContract({ address: core.allocationManager, abi: eigenAllocationManagerAbi, functionName: "getAVSRegistrar", args: [sys.registry.address] }), sys.registry.address);
    assert.equal(await sys.publicClient.readContract({ address: core.strategyManager, abi: eigenStrategyManagerAbi, functionName: "strategyIsWhitelistedForDeposit", args: [strategy] }), true);
    assert.equal(await sys.publicClient.readContract({ address: core.allocationManager, abi: eigenAllocationManagerAbi, functionName: "DEALLOCATION_DELAY" }), 900);
  });

  it("weighs each member by its allocated slashable stake: deposit shares x magnitude", async () => {
    for (const op of operators) {
      assert.equal(await sys.publicClient.readContract({ address: sys.core!.allocationManager, abi: eigenAllocationManagerAbi, functionName: "isMemberOfOperatorSet", args: [op.account.address, opSet()] }), true);
      assert.equal(await magnitude(op.account.address), FULL_MAGNITUDE);
      assert.equal(await operatorShares(op.account.address), MIN_STAKE);
      assert.equal(await slashable(op.account.address), MIN_STAKE);
      assert.equal(await sys.serviceManager.read.stakeOf([op.account.address]), MIN_STAKE);
    }
    const block = await sys.publicClient.getBlockNumber();
    assert.equal(await sys.registry.read.totalWeightAt([block]), 3n * MIN_STAKE);
    assert.equal(await sys.registry.read.isActiveProver([prover.account.address]), true);
  });

  it("waits out the allocation delay: nothing is slashable while the allocation is pending", async () => {
    const account = testAccount("core-delay-account") as PrivateKeyAccount;
    await sys.fund(account.address);
    await wait(sys.publicClient, await sys.token.write.mint([account.address, MIN_STAKE]));
    const conn = {
      chainId: sys.chainId, chain: sys.publicClient.chain!, publicClient: sys.publicClient, account,
      walletClient: createWalletClient({ chain: sys.publicClient.chain, transport: custom(connection.provider), account }),
    } as unknown as ChainConnection;
    const waits: number[] = [];
    let mined = 0;
    const steps = await joinEigenLayer(conn, sys.core!, sys.registry.address, 0, {
      stake: MIN_STAKE, allocationDelay: 5, magnitude: WAD / 2n, metadataURI: "", pollMs: 5,
      onWait: async (head) => {
        waits.push(head);
        // Before the effect block the allocation is pending: nothing is slashable yet.
        if (mined === 0) assert.equal(await magnitude(account.address), 0n);
        mined++;
        await sys.testClient.mine({ blocks: 1 });
      },
    });
    assert.deepEqual(steps, ["registered-as-operator", "deposited", "allocated", "allocation-effective"]);
    assert.ok(waits.length >= 4, `waited ${waits.length} polls for a 5-block delay`);
    assert.equal(await magnitude(account.address), WAD / 2n);
    assert.equal(await slashable(account.address), 0n, "not slashable before registering for the set");
    const bad = await joinEigenLayer(conn, sys.core!, sys.registry.address, 0, { stake: MIN_STAKE, allocationDelay: 5, magnitude: WAD / 2n, metadataURI: "" });
    assert.deepEqual(bad, [], "every step already done");
    await assert.rejects(joinEigenLayer(conn, sys.core!, sys.registry.address, 0, { stake: MIN_STAKE, allocationDelay: 5, magnitude: WAD + 1n, metadataURI: "" }), EigenLayerJoinError);
    const poor = testAccount("core-poor-account") as PrivateKeyAccount;
    await sys.fund(poor.address);
    const poorConn = { ...conn, account: poor, walletClient: createWalletClient({ chain: sys.publicClient.chain, transport: custom(connection.provider), account: poor }) } as unknown as ChainConnection;
    await assert.rejects(joinEigenLayer(poorConn, sys.core!, sys.registry.address, 0, { stake: MIN_STAKE, allocationDelay: 1, magnitude: WAD, metadataURI: "" }), (e: unknown) => e instanceof EigenLayerJoinError && e.field === "stake");
  });

  it("an upheld dispute slashes through slashOperator: slashable shares fall by the wads, burnt; the challenger is paid from the pool", async () => {
    // The AVS's challenge pool.
    await wait(sys.publicClient, await sys.token.write.mint([sys.deployer, parseEther("100")]));
    await wait(sys.publicClient, await sys.token.write.approve([sys.registry.address, parseEther("100")]));
    await wait(sys.publicClient, await sys.serviceManager.write.fundPool([0, parseEther("100")]));

    const batch = await sys.submitBatch(prover, randomLeaves(6, 61));
    const signers = await sys.attest(batch.batchId, batch.tree.root, operators);
    const challenger = testAccount("core-challenger");
    await sys.fundBond(challenger);
    await sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [batch.batchId, batch.leaves[2]!, batch.tree.proof(2), EVIDENCE]);
    const disputeId = await sys.batchManager.read.disputeCount();
    const ballots = await sys.votes(disputeId, batch.batchId, hashLeafFields(batch.leaves[2]!), operators.map((member) => ({ member, fraud: true })));
    await sys.batchManager.write.castVotes([disputeId, ballots]);

    const cheater = operators[0]!.account.address;
    const sharesBefore = await operatorShares(cheater);
    const challengerBefore = await sys.token.read.balanceOf([challenger.address]);
    const hash = await sys.batchManager.write.resolveDispute([disputeId, signers]);
    const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, "success");

    // Each attester lost operatorSlashBps (10%) = 1e17 wads of its allocation, the prover 50%.
    const wads = BigInt(TEST_CONFIG.operatorSlashBps) * 10n ** 14n;
    const slashes = parseEventLogs({ abi: eigenAllocationManagerAbi, logs: receipt.logs, eventName: "OperatorSlashed" });
    assert.equal(slashes.length, 4, "prover + 3 attesters");
    const mine = slashes.find((e) => e.args.operator === cheater)!;
    assert.deepEqual(mine.args.wadSlashed, [wads]);
    assert.equal(await magnitude(cheater), FULL_MAGNITUDE - wads);
    assert.equal(await operatorShares(cheater), sharesBefore - (sharesBefore * wads) / WAD);
    assert.equal(await slashable(cheater), MIN_STAKE - MIN_STAKE / 10n);
    assert.equal(await sys.serviceManager.read.stakeOf([cheater]), MIN_STAKE - MIN_STAKE / 10n);
    assert.equal(await slashable(prover.account.address, 1), MIN_STAKE / 2n);

    // The challenger: bond back plus challengerRewardBps of what the pool paid for the removed stake.
    const [slashed] = parseEventLogs({ abi: batchManagerAbi, logs: receipt.logs, eventName: "BatchSlashed" });
    const removed = MIN_STAKE / 2n + 3n * (MIN_STAKE / 10n);
    assert.equal(slashed!.args.seized, removed);
    assert.equal(await sys.serviceManager.read.challengePool(), parseEther("100") - removed);
    const reward = (removed * BigInt(TEST_CONFIG.challengerRewardBps)) / 10_000n;
    assert.equal((await sys.token.read.balanceOf([challenger.address])) - challengerBefore, TEST_CONFIG.disputeBond + reward);

    // The sets are not redistributing: the slashed shares wait in the StrategyManager and anyone
    // sends their tokens to EigenLayer's burn address.
    const burnBefore = await sys.token.read.balanceOf([BURN_ADDRESS]);
    const ids = await sys.publicClient.readContract({ address: sys.core!.strategyManager, abi: eigenStrategyManagerAbi, functionName: "getPendingSlashIds", args: [opSet()] });
    for (const id of ids) {
      await wait(sys.publicClient, await sys.viem.getWalletClients().then((w: { writeContract: (a: unknown) => Promise<`0x${string}`> }[]) =>
        w[0]!.writeContract({ address: sys.core!.strategyManager, abi: eigenStrategyManagerAbi, functionName: "clearBurnOrRedistributableShares", args: [opSet(), id] })));
    }
    assert.equal((await sys.token.read.balanceOf([BURN_ADDRESS])) - burnBefore, 3n * (MIN_STAKE / 10n), "the attesters' slashed tokens burnt");
    await assertRevertsWith(sys.serviceManager.write.fundPool([2, 1n]), "UnknownPool");
  });

  it("pays attesting operators operator-directed rewards through the RewardsCoordinator", async () => {
    const pool = parseEther("30");
    await wait(sys.publicClient, await sys.token.write.mint([sys.deployer, pool]));
    await wait(sys.publicClient, await sys.token.write.approve([sys.registry.address, pool]));
    await wait(sys.publicClient, await sys.serviceManager.write.fundPool([1, pool]));
    const interval = BigInt(sys.core!.calculationIntervalSeconds);
    const now = (await sys.publicClient.getBlock()).timestamp;
    // EigenLayer takes operator-directed rewards only for a past period: the last complete interval.
    const start = (now / interval) * interval - interval;
    const rewards = operators.map((o) => ({ operator: o.account.address, amount: parseEther("10") }))
      .sort((a, b) => (BigInt(a.operator) < BigInt(b.operator) ? -1 : 1));
    const rcBefore = await sys.token.read.balanceOf([sys.core!.rewardsCoordinator]);
    await assertRevertsWith(sys.serviceManager.write.submitOperatorRewards([[...rewards].reverse(), Number(start), Number(interval), "attestations"]), "OperatorsNotInAscendingOrder");
    const hash = await sys.serviceManager.write.submitOperatorRewards([rewards, Number(start), Number(interval), "attestations"]);
    const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, "success");
    const [created] = parseEventLogs({ abi: eigenRewardsCoordinatorAbi, logs: receipt.logs, eventName: "OperatorDirectedOperatorSetRewardsSubmissionCreated" });
    assert.equal(created!.args.operatorSet.avs, sys.registry.address);
    assert.deepEqual(created!.args.operatorDirectedRewardsSubmission.operatorRewards.map((r) => r.operator), rewards.map((r) => r.operator));
    assert.equal((await sys.token.read.balanceOf([sys.core!.rewardsCoordinator])) - rcBefore, pool);
    assert.equal(await sys.serviceManager.read.rewardsPool(), 0n);
    await assertRevertsWith(sys.serviceManager.write.submitOperatorRewards([rewards, Number(start), Number(interval), "again"]), "RewardsPoolTooSmall");
  });
});
