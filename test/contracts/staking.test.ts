import assert from "node:assert/strict";
import { network } from "hardhat";
import { stakeRegistryAbi } from "../../protocol/contracts/abis.ts";
import { Role } from "../../protocol/eip712/index.ts";
import { assertRevertsWith, deploySystem, MIN_STAKE, UNBONDING_DELAY, type Member, type System } from "../helpers/contracts.ts";

const connection = await network.create();

describe("StakeRegistry (native mode) through viem", () => {
  let sys: System;
  let prover: Member;
  let operators: Member[];

  before(async () => {
    sys = await deploySystem(connection, "native", "staking");
    prover = await sys.addMember(Role.Prover);
    operators = [await sys.addMember(Role.Operator), await sys.addMember(Role.Operator), await sys.addMember(Role.Operator)];
  });

  it("an operator who unbonds after a batch's reference block still counts for that batch, not for later ones", async () => {
    const before = await sys.submitBatch(prover);
    const leaving = operators[2]!;
    await sys.sendAs(leaving.account, sys.registry.address, stakeRegistryAbi, "requestUnbond", [MIN_STAKE]);
    const after = await sys.submitBatch(prover);
    // Counted at the first batch's reference block: all three sign, quorum reached.
    await sys.attest(before.batchId, before.tree.root, operators);
    // For the second batch the leaving operator has no weight any more.
    const sorted = await sys.attestationSignatures(after.batchId, after.tree.root, operators);
    await assertRevertsWith(sys.batchManager.write.attest([after.batchId, after.tree.root, 1, 4, sorted.map((s) => s.signature)]), "SignerNotStaked");
    await sys.attest(after.batchId, after.tree.root, operators.slice(0, 2));
  });

  it("withdraws only after the unbonding delay, and the tokens come back", async () => {
    const leaving = operators[2]!;
    const [, unbonding, releaseAt] = await sys.registry.read.stakeOf([leaving.account.address]);
    assert.equal(unbonding, MIN_STAKE);
    await assertRevertsWith(sys.sendAs(leaving.account, sys.registry.address, stakeRegistryAbi, "withdraw", []), "UnbondingNotOver");
    const now = BigInt((await sys.publicClient.getBlock()).timestamp);
    assert.ok(releaseAt - now <= UNBONDING_DELAY);
    await sys.advance(releaseAt - now);
    const balance = await sys.token.read.balanceOf([leaving.account.address]);
    await sys.sendAs(leaving.account, sys.registry.address, stakeRegistryAbi, "withdraw", []);
    assert.equal((await sys.token.read.balanceOf([leaving.account.address])) - balance, MIN_STAKE);
    await assertRevertsWith(sys.sendAs(leaving.account, sys.registry.address, stakeRegistryAbi, "withdraw", []), "NothingToWithdraw");
    assert.equal(await sys.token.read.balanceOf([sys.registry.address]), (await sys.registry.read.totalActive()) + (await sys.registry.read.totalUnbonding()));
  });
});
