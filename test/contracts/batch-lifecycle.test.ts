import assert from "node:assert/strict";
import { network } from "hardhat";
import { parseEventLogs, keccak256, toHex, type Hex } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { hashLeafFields } from "../../protocol/merkle/index.ts";
import { Role } from "../../protocol/eip712/index.ts";
import {
  assertRevertsWith,
  deploySystem,
  MIN_STAKE,
  randomLeaves,
  STRATEGY,
  TEST_CONFIG,
  testAccount,
  type Member,
  type Mode,
  type System,
} from "../helpers/contracts.ts";

const BatchState = { None: 0, Submitted: 1, Attested: 2, Disputed: 3, Cleared: 4, Slashed: 5, Finalized: 6, Expired: 7 } as const;
const DisputeState = { None: 0, Open: 1, Upheld: 2, Rejected: 3, Moot: 4 } as const;
const EVIDENCE = keccak256(toHex("recomputed chunk 3: 97 exponent mismatches"));

const connection = await network.create();

for (const mode of ["native", "eigenlayer"] as Mode[]) {
  describe(`BatchManager lifecycle (${mode} mode)`, () => {
    let sys: System;
    let prover: Member;
    let operators: Member[];

    before(async () => {
      sys = await deploySystem(connection, mode, "lifecycle");
      prover = await sys.addMember(Role.Prover);
      operators = [await sys.addMember(Role.Operator), await sys.addMember(Role.Operator), await sys.addMember(Role.Operator)];
    });

    async function stateOf(batchId: bigint): Promise<number> {
      return (await sys.batchManager.read.getBatch([batchId])).state;
    }

    async function openDispute(batch: Awaited<ReturnType<System["submitBatch"]>>, leafIndex: number, challenger = testAccount(`${mode}-challenger-${leafIndex}-${batch.batchId}`)) {
      await sys.fundBond(challenger);
      const leaf = batch.leaves[leafIndex]!;
      await sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [batch.batchId, leaf, batch.tree.proof(leafIndex), EVIDENCE]);
      return { disputeId: await sys.batchManager.read.disputeCount(), challenger, leafHash: hashLeafFields(leaf) };
    }

    it("Submitted -> Attested -> Finalized, with an event for each transition", async () => {
      const batch = await sys.submitBatch(prover);
      assert.equal(await stateOf(batch.batchId), BatchState.Submitted);
      assert.equal(await sys.batchManager.read.batchRoot([batch.batchId]), batch.tree.root);
      const signers = await sys.attest(batch.batchId, batch.tree.root, operators);
      assert.equal(await stateOf(batch.batchId), BatchState.Attested);
      const attested = await sys.batchManager.getEvents.BatchAttested({ batchId: batch.batchId }, { fromBlock: 0n });
      assert.equal(attested.length, 1);
      assert.deepEqual(attested[0]!.args.signers, signers);
      assert.equal(attested[0]!.args.attestedWeight, 3n * MIN_STAKE);

      await assertRevertsWith(sys.batchManager.write.finalize([batch.batchId]), "ChallengeWindowOpen");
      await sys.advance(TEST_CONFIG.challengeWindow + 1);
      await sys.batchManager.write.finalize([batch.batchId]);
      assert.equal(await stateOf(batch.batchId), BatchState.Finalized);
      assert.equal((await sys.batchManager.getEvents.BatchFinalized({ batchId: batch.batchId }, { fromBlock: 0n })).length, 1);
    });

    it("refuses an attestation below the stake threshold", async () => {
      const batch = await sys.submitBatch(prover);
      const sorted = await sys.attestationSignatures(batch.batchId, batch.tree.root, operators.slice(0, 1));
      await assertRevertsWith(sys.batchManager.write.attest([batch.batchId, batch.tree.root, 1, 4, sorted.map((s) => s.signature)]), "QuorumNotReached");
      // Two of three (66.67% >= 6667 bps) pass.
      await sys.attest(batch.batchId, batch.tree.root, operators.slice(0, 2));
      assert.equal(await stateOf(batch.batchId), BatchState.Attested);
    });

    it("expires a batch without quorum after the response window", async () => {
      const batch = await sys.submitBatch(prover);
      await assertRevertsWith(sys.batchManager.write.expire([batch.batchId]), "ResponseWindowOpen");
      await sys.advance(TEST_CONFIG.responseWindow + 1);
      const sorted = await sys.attestationSignatures(batch.batchId, batch.tree.root, operators);
      await assertRevertsWith(sys.batchManager.write.attest([batch.batchId, batch.tree.root, 1, 4, sorted.map((s) => s.signature)]), "ResponseWindowClosed");
      await sys.batchManager.write.expire([batch.batchId]);
      assert.equal(await stateOf(batch.batchId), BatchState.Expired);
    });

    it("counts stake at the batch's reference block: a later joiner's signature is refused", async () => {
      const batch = await sys.submitBatch(prover);
      const late = await sys.addMember(Role.Operator);
      const sorted = await sys.attestationSignatures(batch.batchId, batch.tree.root, [...operators, late]);
      await assertRevertsWith(sys.batchManager.write.attest([batch.batchId, batch.tree.root, 1, 4, sorted.map((s) => s.signature)]), "SignerNotStaked");
      // Its weight counts for batches submitted after it joined.
      const next = await sys.submitBatch(prover);
      await sys.attest(next.batchId, next.tree.root, [operators[0]!, late, operators[1]!]);
      operators.push(late);
    });

    it("upholds a fraud dispute: slashes prover and attesters, rewards the challenger", async () => {
      const batch = await sys.submitBatch(prover, randomLeaves(7, 42));
      const attesters = operators.slice(0, 3);
      const signers = await sys.attest(batch.batchId, batch.tree.root, attesters);
      const { disputeId, challenger, leafHash } = await openDispute(batch, 5);
      assert.equal(await stateOf(batch.batchId), BatchState.Disputed);
      await assertRevertsWith(sys.batchManager.write.finalize([batch.batchId]), "InvalidBatchState");

      const ballots = await sys.votes(disputeId, batch.batchId, leafHash, operators.slice(0, 3).map((member) => ({ member, fraud: true })));
      await sys.batchManager.write.castVotes([disputeId, ballots]);
      await assertRevertsWith(sys.batchManager.write.resolveDispute([disputeId, signers.slice(1)]), "AttestersMismatch");

      const before = await sys.token.read.balanceOf([challenger.address]);
      const treasuryBefore = await sys.token.read.balanceOf([sys.deployer]);
      const hash = await sys.batchManager.write.resolveDispute([disputeId, signers]);
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
      assert.equal(await stateOf(batch.batchId), BatchState.Slashed);
      assert.equal((await sys.batchManager.read.getDispute([disputeId])).state, DisputeState.Upheld);
      const [slashed] = parseEventLogs({ abi: batchManagerAbi, logs: receipt.logs, eventName: "BatchSlashed" });
      const seized = slashed!.args.seized;
      const reward = (seized * BigInt(TEST_CONFIG.challengerRewardBps)) / 10_000n;
      assert.equal((await sys.token.read.balanceOf([challenger.address])) - before, TEST_CONFIG.disputeBond + reward);
      assert.equal((await sys.token.read.balanceOf([sys.deployer])) - treasuryBefore, seized - reward);

      if (mode === "native") {
        // Prover loses 50%, each attester 10%.
        assert.equal(seized, MIN_STAKE / 2n + 3n * (MIN_STAKE / 10n));
        const [proverActive] = await sys.registry.read.stakeOf([prover.account.address]);
        assert.equal(proverActive, MIN_STAKE / 2n);
        const [opActive] = await sys.registry.read.stakeOf([attesters[0]!.account.address]);
        assert.equal(opActive, MIN_STAKE - MIN_STAKE / 10n);
      } else {
        // EigenLayer burns slashed stake: nothing is seized here; the AllocationManager recorded the slashes.
        assert.equal(seized, 0n);
        assert.equal(await sys.allocationManager!.read.totalSlashed([prover.account.address]), MIN_STAKE / 2n);
        assert.equal(await sys.allocationManager!.read.totalSlashed([attesters[0]!.account.address]), MIN_STAKE / 10n);
        assert.equal(await sys.serviceManager.read.stakeOf([attesters[0]!.account.address]), MIN_STAKE - MIN_STAKE / 10n);
      }
      // The slashed prover is below the minimum stake and may no longer submit.
      assert.equal(await sys.registry.read.isActiveProver([prover.account.address]), false);
      prover = await sys.addMember(Role.Prover);
    });

    it("disputes a batch nobody attested: attest and expire wait, and fraud slashes the prover alone", async () => {
      const batch = await sys.submitBatch(prover, randomLeaves(5, 77));
      const { disputeId, challenger, leafHash } = await openDispute(batch, 2);
      assert.equal(await stateOf(batch.batchId), BatchState.Disputed);
      assert.equal(await sys.batchManager.read.attestersHash([batch.batchId]), `0x${"00".repeat(32)}`);
      // A disputed batch can be neither attested nor expired, even after its response window.
      await assertRevertsWith(sys.attest(batch.batchId, batch.tree.root, operators.slice(0, 3)), "InvalidBatchState");
      await sys.advance(TEST_CONFIG.responseWindow + 1);
      await assertRevertsWith(sys.batchManager.write.expire([batch.batchId]), "InvalidBatchState");

      const operatorStakes = () =>
        Promise.all(operators.map((o) => (mode === "native" ? sys.registry.read.stakeOf([o.account.address]).then(([active]) => active) : sys.allocationManager!.read.totalSlashed([o.account.address]))));
      const operatorsBefore = await operatorStakes();
      const ballots = await sys.votes(disputeId, batch.batchId, leafHash, operators.slice(0, 3).map((member) => ({ member, fraud: true })));
      await sys.batchManager.write.castVotes([disputeId, ballots]);
      // No attestation, so no attesters to name: a non-empty list is refused.
      await assertRevertsWith(sys.batchManager.write.resolveDispute([disputeId, [operators[0]!.signingKey.address]]), "AttestersMismatch");
      const before = await sys.token.read.balanceOf([challenger.address]);
      const hash = await sys.batchManager.write.resolveDispute([disputeId, []]);
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
      assert.equal(await stateOf(batch.batchId), BatchState.Slashed);
      const [slashed] = parseEventLogs({ abi: batchManagerAbi, logs: receipt.logs, eventName: "BatchSlashed" });
      const reward = (slashed!.args.seized * BigInt(TEST_CONFIG.challengerRewardBps)) / 10_000n;
      assert.equal((await sys.token.read.balanceOf([challenger.address])) - before, TEST_CONFIG.disputeBond + reward);
      if (mode === "native") {
        assert.equal(slashed!.args.seized, MIN_STAKE / 2n, "the prover's 50%, and no attester's share");
        const [proverActive] = await sys.registry.read.stakeOf([prover.account.address]);
        assert.equal(proverActive, MIN_STAKE / 2n);
      } else {
        assert.equal(await sys.allocationManager!.read.totalSlashed([prover.account.address]), MIN_STAKE / 2n);
      }
      assert.deepEqual(await operatorStakes(), operatorsBefore, "no operator is slashed");
      prover = await sys.addMember(Role.Prover);
    });

    it("reopens a batch nobody attested when its dispute is rejected, with a fresh response window", async () => {
      const batch = await sys.submitBatch(prover);
      const { disputeId, leafHash } = await openDispute(batch, 0);
      await sys.advance(TEST_CONFIG.responseWindow - 5);
      const ballots = await sys.votes(disputeId, batch.batchId, leafHash, operators.slice(0, 3).map((member) => ({ member, fraud: false })));
      await sys.batchManager.write.castVotes([disputeId, ballots]);
      const hash = await sys.batchManager.write.resolveDispute([disputeId, []]);
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
      const [reopened] = parseEventLogs({ abi: batchManagerAbi, logs: receipt.logs, eventName: "BatchReopened" });
      const block = await sys.publicClient.getBlock({ blockNumber: receipt.blockNumber });
      assert.equal(reopened!.args.responseDeadline, block.timestamp + BigInt(TEST_CONFIG.responseWindow));
      assert.equal(await stateOf(batch.batchId), BatchState.Submitted);
      assert.equal(parseEventLogs({ abi: batchManagerAbi, logs: receipt.logs, eventName: "BatchCleared" }).length, 0);
      // The original window has passed, the fresh one has not: the batch can still be attested.
      await sys.advance(10);
      await sys.attest(batch.batchId, batch.tree.root, operators.slice(0, 3));
      assert.equal(await stateOf(batch.batchId), BatchState.Attested);
    });

    it("refuses a dispute on a Submitted batch after its response window, and on an Expired one", async () => {
      const batch = await sys.submitBatch(prover);
      const challenger = testAccount(`${mode}-late-${batch.batchId}`);
      await sys.fundBond(challenger);
      const args = [batch.batchId, batch.leaves[0]!, batch.tree.proof(0), EVIDENCE] as const;
      await sys.advance(TEST_CONFIG.responseWindow + 1);
      await assertRevertsWith(sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", args), "ResponseWindowClosed");
      await sys.batchManager.write.expire([batch.batchId]);
      await assertRevertsWith(sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", args), "InvalidBatchState");
    });

    it("rejects a dispute outvoted by stake: bond forfeited, batch Cleared, then Finalized", async () => {
      const batch = await sys.submitBatch(prover);
      await sys.attest(batch.batchId, batch.tree.root, operators.slice(0, 3));
      const { disputeId, challenger, leafHash } = await openDispute(batch, 1);
      await assertRevertsWith(sys.batchManager.write.resolveDispute([disputeId, []]), "DisputeUndecided");
      const ballots = await sys.votes(disputeId, batch.batchId, leafHash, operators.slice(0, 3).map((member) => ({ member, fraud: false })));
      await sys.batchManager.write.castVotes([disputeId, ballots]);
      const before = await sys.token.read.balanceOf([challenger.address]);
      await sys.batchManager.write.resolveDispute([disputeId, []]);
      assert.equal(await sys.token.read.balanceOf([challenger.address]), before);
      assert.equal((await sys.batchManager.read.getDispute([disputeId])).state, DisputeState.Rejected);
      assert.equal(await stateOf(batch.batchId), BatchState.Cleared);
      await assertRevertsWith(sys.batchManager.write.resolveDispute([disputeId, []]), "DisputeNotOpen");
      await sys.advance(TEST_CONFIG.challengeWindow + 1);
      await sys.batchManager.write.finalize([batch.batchId]);
      assert.equal(await stateOf(batch.batchId), BatchState.Finalized);
    });

    it("times an unresolved dispute out to Rejected after the voting window", async () => {
      const batch = await sys.submitBatch(prover);
      await sys.attest(batch.batchId, batch.tree.root, operators.slice(0, 3));
      const { disputeId, leafHash } = await openDispute(batch, 2);
      // One fraud vote of four operators: neither side decides.
      const ballots = await sys.votes(disputeId, batch.batchId, leafHash, [{ member: operators[0]!, fraud: true }]);
      await sys.batchManager.write.castVotes([disputeId, ballots]);
      await assertRevertsWith(sys.batchManager.write.castVotes([disputeId, ballots]), "AlreadyVoted");
      await assertRevertsWith(sys.batchManager.write.resolveDispute([disputeId, []]), "DisputeUndecided");
      await sys.advance(TEST_CONFIG.votingWindow + 1);
      const late = await sys.votes(disputeId, batch.batchId, leafHash, [{ member: operators[1]!, fraud: true }]);
      await assertRevertsWith(sys.batchManager.write.castVotes([disputeId, late]), "VotingClosed");
      await sys.batchManager.write.resolveDispute([disputeId, []]);
      assert.equal((await sys.batchManager.read.getDispute([disputeId])).state, DisputeState.Rejected);
      assert.equal(await stateOf(batch.batchId), BatchState.Cleared);
    });

    it("makes a second dispute moot once the batch is slashed, refunding its bond", async () => {
      const batch = await sys.submitBatch(prover);
      const signers = await sys.attest(batch.batchId, batch.tree.root, operators.slice(0, 3));
      const first = await openDispute(batch, 0);
      const second = await openDispute(batch, 3);
      await assertRevertsWith(
        sys.sendAs(second.challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [batch.batchId, batch.leaves[3]!, batch.tree.proof(3), EVIDENCE]),
        "LeafAlreadyDisputed",
      );
      const ballots = await sys.votes(first.disputeId, batch.batchId, first.leafHash, operators.map((member) => ({ member, fraud: true })));
      await sys.batchManager.write.castVotes([first.disputeId, ballots]);
      await sys.batchManager.write.resolveDispute([first.disputeId, signers]);
      const before = await sys.token.read.balanceOf([second.challenger.address]);
      await sys.batchManager.write.resolveDispute([second.disputeId, []]);
      assert.equal((await sys.batchManager.read.getDispute([second.disputeId])).state, DisputeState.Moot);
      assert.equal((await sys.token.read.balanceOf([second.challenger.address])) - before, TEST_CONFIG.disputeBond);
      prover = await sys.addMember(Role.Prover);
    });

    it("refuses a dispute over a leaf not in the batch, and after the challenge window", async () => {
      const batch = await sys.submitBatch(prover);
      await sys.attest(batch.batchId, batch.tree.root, operators.slice(0, 3));
      const challenger = testAccount(`${mode}-outsider`);
      await sys.fundBond(challenger);
      const foreign = randomLeaves(1, 999)[0]!;
      await assertRevertsWith(
        sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [batch.batchId, foreign, batch.tree.proof(0), EVIDENCE]),
        "InferenceNotInBatch",
      );
      await sys.advance(TEST_CONFIG.challengeWindow + 1);
      await assertRevertsWith(
        sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [batch.batchId, batch.leaves[0]!, batch.tree.proof(0), EVIDENCE]),
        "ChallengeWindowClosed",
      );
    });
  });
}

describe("EigenLayer mode specifics", () => {
  let sys: System;
  before(async () => {
    sys = await deploySystem(connection, "eigenlayer", "el-specific");
  });

  it("registers through the AllocationManager and reads allocated slashable stake", async () => {
    const op = await sys.addMember(Role.Operator, MIN_STAKE * 3n);
    assert.equal(await sys.serviceManager.read.stakeOf([op.account.address]), MIN_STAKE * 3n);
    const block = await sys.publicClient.getBlockNumber();
    assert.equal(await sys.registry.read.weightAt([op.signingKey.address, block]), MIN_STAKE * 3n);
    assert.equal(await sys.allocationManager!.read.isMemberOfOperatorSet([op.account.address, { avs: sys.registry.address, id: 0 }]), true);
    // A lowered allocation is picked up by updateStakes (anyone may call it).
    await sys.allocationManager!.write.setAllocation([op.account.address, { avs: sys.registry.address, id: 0 }, STRATEGY, MIN_STAKE * 2n]);
    await sys.serviceManager.write.updateStakes([[op.account.address]]);
    assert.equal(await sys.serviceManager.read.stakeOf([op.account.address]), MIN_STAKE * 2n);
  });

  it("drops weight to zero on deregistration", async () => {
    const op = await sys.addMember(Role.Operator);
    await sys.sendAs(op.account, sys.allocationManager!.address, (await import("../../protocol/contracts/abis.ts")).mockAllocationManagerAbi, "deregisterFromOperatorSets", [
      { operator: op.account.address, avs: sys.registry.address, operatorSetIds: [0] },
    ]);
    assert.equal(await sys.serviceManager.read.stakeOf([op.account.address]), 0n);
  });

  it("refuses callbacks not from the AllocationManager, and a second initialization", async () => {
    await assertRevertsWith(sys.serviceManager.write.registerOperator([sys.deployer, sys.registry.address, [0], "0x"]), "NotAllocationManager");
    await assertRevertsWith(sys.serviceManager.write.deregisterOperator([sys.deployer, sys.registry.address, [0]]), "NotAllocationManager");
    await assertRevertsWith(sys.serviceManager.write.initializeAVS(["x"]), "AlreadyInitialized");
  });

  it("refuses a member whose allocation is below the minimum", async () => {
    const account = testAccount("el-poor");
    const signingKey = testAccount("el-poor-key");
    await sys.fund(account.address);
    await sys.allocationManager!.write.setAllocation([account.address, { avs: sys.registry.address, id: 0 }, STRATEGY, MIN_STAKE - 1n]);
    const { signRegistration } = await import("../../protocol/eip712/index.ts");
    const { encodeAbiParameters } = await import("viem");
    const deadline = 2n ** 40n;
    const signature = await signRegistration(signingKey, sys.registryDomain, { operator: account.address, signingKey: signingKey.address, role: 1, deadline });
    const data: Hex = encodeAbiParameters([{ type: "address" }, { type: "uint256" }, { type: "bytes" }], [signingKey.address, deadline, signature]);
    const { mockAllocationManagerAbi } = await import("../../protocol/contracts/abis.ts");
    await assertRevertsWith(
      sys.sendAs(account, sys.allocationManager!.address, mockAllocationManagerAbi, "registerForOperatorSets", [account.address, { avs: sys.registry.address, operatorSetIds: [0], data }]),
      "StakeBelowMinimum",
    );
  });
});
