import assert from "node:assert/strict";
import { network } from "hardhat";
import { keccak256, parseEventLogs, toHex, type Hex } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { Role, Verdict, signAttestation, signDisputeVote } from "../../protocol/eip712/index.ts";
import { hashLeafFields } from "../../protocol/merkle/index.ts";
import { assertRevertsWith, deploySystem, MIN_STAKE, TEST_CONFIG, testAccount, type Member, type Mode, type System } from "../helpers/contracts.ts";

const connection = await network.create();
const EVIDENCE = keccak256(toHex("recomputed: mismatch"));

for (const mode of ["native", "eigenlayer"] as Mode[]) {
  describe(`BatchManager equivocation slashing (${mode} mode)`, () => {
    let sys: System;
    let prover: Member;
    let operators: Member[];

    before(async () => {
      sys = await deploySystem(connection, mode, "equivocation");
      prover = await sys.addMember(Role.Prover);
      operators = [await sys.addMember(Role.Operator), await sys.addMember(Role.Operator), await sys.addMember(Role.Operator)];
    });

    const attestation = (member: Member, batchId: bigint, root: Hex, leavesChecked: number) =>
      signAttestation(member.signingKey, sys.batchDomain, { batchId, root, verdict: Verdict.Valid, leavesChecked });
    const body = (root: Hex, leavesChecked: number) => ({ root, verdict: Verdict.Valid, leavesChecked });
    const stakeOf = async (member: Member) =>
      mode === "native" ? (await sys.registry.read.stakeOf([member.account.address]))[0] : MIN_STAKE - (await sys.allocationManager!.read.totalSlashed([member.account.address]));

    it("slashes an operator that signed two different attestations for one batch, once, and pays the reporter", async () => {
      const batch = await sys.submitBatch(prover);
      const cheat = operators[0]!;
      const a = await attestation(cheat, batch.batchId, batch.tree.root, 4);
      const b = await attestation(cheat, batch.batchId, batch.tree.root, 3);
      const reporter = testAccount(`${mode}-reporter`);
      await sys.fund(reporter.address);
      const before = await stakeOf(cheat);
      const tokensBefore = await sys.token.read.balanceOf([reporter.address]);
      const args = [batch.batchId, body(batch.tree.root, 4), a.signature, body(batch.tree.root, 3), b.signature] as const;
      const hash = await sys.sendAs(reporter, sys.batchManager.address, batchManagerAbi, "slashAttestationEquivocation", args);
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
      const [event] = parseEventLogs({ abi: batchManagerAbi, logs: receipt.logs, eventName: "EquivocationSlashed" });
      assert.equal(event!.args.signingKey, cheat.signingKey.address);
      assert.equal(event!.args.operator, cheat.account.address);
      assert.equal(event!.args.subject, await sys.batchManager.read.equivocationSubject([false, batch.batchId]));
      assert.equal(await stakeOf(cheat), before - before / 10n, "operatorSlashBps (10%)");
      const seized = event!.args.seized;
      assert.equal((await sys.token.read.balanceOf([reporter.address])) - tokensBefore, (seized * BigInt(TEST_CONFIG.challengerRewardBps)) / 10_000n);
      if (mode === "native") assert.equal(seized, before / 10n);
      assert.equal(await sys.batchManager.read.equivocationSlashed([event!.args.subject, cheat.signingKey.address]), true);
      await assertRevertsWith(sys.sendAs(reporter, sys.batchManager.address, batchManagerAbi, "slashAttestationEquivocation", args), "EquivocationAlreadySlashed");
      // The honest operators are untouched, and the batch can still be attested by them.
      await sys.attest(batch.batchId, batch.tree.root, operators.slice(1));
    });

    it("refuses what is not an equivocation: one message twice, two signers, a forged signature, an unknown batch, a key without stake", async () => {
      const batch = await sys.submitBatch(prover);
      const [one, two] = [operators[1]!, operators[2]!];
      const a = await attestation(one, batch.batchId, batch.tree.root, 4);
      const b = await attestation(two, batch.batchId, batch.tree.root, 3);
      const send = (...args: readonly unknown[]) => sys.batchManager.write.slashAttestationEquivocation(args as never);
      await assertRevertsWith(send(batch.batchId, body(batch.tree.root, 4), a.signature, body(batch.tree.root, 4), a.signature), "NotEquivocation");
      await assertRevertsWith(send(batch.batchId, body(batch.tree.root, 4), a.signature, body(batch.tree.root, 3), b.signature), "NotEquivocation");
      // The signature of one body presented with another recovers some other address.
      await assertRevertsWith(send(batch.batchId, body(batch.tree.root, 4), a.signature, body(batch.tree.root, 2), a.signature), "NotEquivocation");
      await assertRevertsWith(send(batch.batchId, body(batch.tree.root, 4), { r: a.signature.r, vs: `0x${"ff".repeat(32)}` }, body(batch.tree.root, 3), a.signature), "InvalidSignature");
      await assertRevertsWith(send(999n, body(batch.tree.root, 4), a.signature, body(batch.tree.root, 3), a.signature), "InvalidBatchState");
      const outsider = { signingKey: testAccount(`${mode}-outsider-signer`) } as Member;
      const x = await attestation(outsider, batch.batchId, batch.tree.root, 4);
      const y = await attestation(outsider, batch.batchId, batch.tree.root, 3);
      await assertRevertsWith(send(batch.batchId, body(batch.tree.root, 4), x.signature, body(batch.tree.root, 3), y.signature), "SignerNotStaked");
    });

    it("slashes an operator that voted both fraud and clean on one dispute", async () => {
      const batch = await sys.submitBatch(prover);
      const challenger = testAccount(`${mode}-vote-challenger`);
      await sys.fundBond(challenger);
      await sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [batch.batchId, batch.leaves[1]!, batch.tree.proof(1), EVIDENCE]);
      const disputeId = await sys.batchManager.read.disputeCount();
      const leafHash = hashLeafFields(batch.leaves[1]!);
      const cheat = operators[2]!;
      const fraud = await signDisputeVote(cheat.signingKey, sys.batchDomain, { disputeId, batchId: batch.batchId, leafHash, fraud: true });
      const clean = await signDisputeVote(cheat.signingKey, sys.batchDomain, { disputeId, batchId: batch.batchId, leafHash, fraud: false });
      const before = await stakeOf(cheat);
      const compact = (s: { r: Hex; vs: Hex }) => ({ r: s.r, vs: s.vs });
      // Two fraud votes are no equivocation, and a dispute must exist.
      await assertRevertsWith(sys.batchManager.write.slashVoteEquivocation([disputeId, compact(fraud.signature), compact(fraud.signature)]), "NotEquivocation");
      await assertRevertsWith(sys.batchManager.write.slashVoteEquivocation([disputeId + 1n, compact(fraud.signature), compact(clean.signature)]), "UnknownDispute");
      await sys.batchManager.write.slashVoteEquivocation([disputeId, compact(fraud.signature), compact(clean.signature)]);
      assert.equal(await stakeOf(cheat), before - before / 10n);
      await assertRevertsWith(sys.batchManager.write.slashVoteEquivocation([disputeId, compact(fraud.signature), compact(clean.signature)]), "EquivocationAlreadySlashed");
    });
  });
}
