import assert from "node:assert/strict";
import { network } from "hardhat";
import type { PublicClient } from "viem";
import { checkCommitment } from "../../benchmark/commitment.ts";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { Role } from "../../protocol/eip712/index.ts";
import { VerificationError, type Commitment } from "../../protocol/envelope/index.ts";
import { hashLeafFields } from "../../protocol/merkle/index.ts";
import { deploySystem, TEST_CONFIG, testAccount, type Member, type System } from "../helpers/contracts.ts";

const connection = await network.create();

describe("vb verify --rpc-url: a vb.envelope/1 batch commitment checked on chain (at most unverified)", () => {
  let sys: System;
  let client: PublicClient;
  let operators: Member[];
  before(async () => {
    sys = await deploySystem(connection, "native", "commitment");
    client = sys.publicClient as unknown as PublicClient;
    operators = [await sys.addMember(Role.Operator), await sys.addMember(Role.Operator)];
  });

  const fails = (commitment: Commitment, pattern: RegExp) =>
    assert.rejects(checkCommitment(commitment, client), (e: unknown) => e instanceof VerificationError && e.check === "commitment" && pattern.test(e.message), pattern.source);

  it("never passes a v1 commitment (its traces name no proof records), but checks root and state", async () => {
    const prover = await sys.addMember(Role.Prover);
    const batch = await sys.submitBatch(prover);
    const commitment = { chain_id: sys.chainId, contract: sys.batchManager.address, batch_id: batch.batchId.toString(), root: batch.tree.root };
    const pending = await checkCommitment(commitment, client);
    assert.equal(pending.result, "unverified");
    assert.match(pending.detail, /root matches, Submitted \(not attested yet\)/);
    await sys.attest(batch.batchId, batch.tree.root, operators);
    const attested = await checkCommitment(commitment, client);
    assert.deepEqual([attested.result, attested.check], ["unverified", "commitment"]);
    assert.match(attested.detail, new RegExp(`batch ${batch.batchId} of ${sys.batchManager.address} on chain ${sys.chainId}: root matches, Attested; but this vb.envelope/1 records no proof-record ids`));

    await fails({ ...commitment, root: `0x${"ab".repeat(32)}` }, /committed another root[\s\S]*stored: +0xabab[\s\S]*recomputed: +0x/);
    await fails({ ...commitment, chain_id: 1 }, /commits to chain 1, but the endpoint is chain 31337/);
    await fails({ ...commitment, batch_id: "999" }, /batch 999 .* does not exist/);
    await fails({ ...commitment, contract: testAccount("not-a-contract").address }, /no contract at/);
    await fails({ ...commitment, contract: sys.token.address }, /does not answer as a BatchManager/);
  });

  it("fails a batch that was slashed, or that expired without attestation", async () => {
    const prover = await sys.addMember(Role.Prover);
    const fraudulent = await sys.submitBatch(prover);
    const challenger = testAccount("commitment-challenger");
    await sys.fundBond(challenger);
    await sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [fraudulent.batchId, fraudulent.leaves[0]!, fraudulent.tree.proof(0), `0x${"11".repeat(32)}`]);
    const disputeId = await sys.batchManager.read.disputeCount();
    // Every operator votes fraud: upheld, and the batch (never attested) is Slashed.
    const ballots = await sys.votes(disputeId, fraudulent.batchId, hashLeafFields(fraudulent.leaves[0]!), operators.map((member) => ({ member, fraud: true })));
    await sys.batchManager.write.castVotes([disputeId, ballots]);
    await sys.batchManager.write.resolveDispute([disputeId, []]);
    const slashed = { chain_id: sys.chainId, contract: sys.batchManager.address, batch_id: fraudulent.batchId.toString(), root: fraudulent.tree.root };
    await fails(slashed, /was slashed: a dispute over it was upheld/);

    const unattested = await sys.submitBatch(await sys.addMember(Role.Prover));
    await sys.advance(TEST_CONFIG.responseWindow + 1);
    await sys.batchManager.write.expire([unattested.batchId]);
    await fails({ ...slashed, batch_id: unattested.batchId.toString(), root: unattested.tree.root }, /expired: no quorum of operators ever attested it/);
  });
});
