/**
 * BLS quorum certificates on chain (contracts/libraries/BN254.sol, the registry's BLS keys,
 * BatchManager.attestBLS) against protocol/bls (@noble/curves' bn254): keys registered with a
 * proof of possession, one aggregate signature per batch, non-signers subtracted, the weight
 * rule, and a BLS-attested fraud's attesters slashed by naming them.
 */
import assert from "node:assert/strict";
import { network } from "hardhat";
import { keccak256, parseEventLogs, toHex, type Address, type Hex } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { hashLeafFields } from "../../protocol/merkle/index.ts";
import { Role, Verdict } from "../../protocol/eip712/index.ts";
import {
  aggregateG1, blsCertificate, blsKeyPairFromSeed, blsSign, blsVerify, g1Words, g2Words, hashG1, hashToG1, type BlsKeyPair,
} from "../../protocol/bls/index.ts";
import { assertRevertsWith, deploySystem, MIN_STAKE, randomLeaves, testAccount, type Member, type System } from "../helpers/contracts.ts";

const connection = await network.create();
const EVIDENCE = keccak256(toHex("bls fraud evidence"));

describe("BLS quorum certificates (BN254)", function () {
  this.timeout(120_000);
  let sys: System;
  let prover: Member;
  const ops: { member: Member; bls: BlsKeyPair }[] = [];

  async function registerBls(member: Member, bls: BlsKeyPair, popOf: Address = member.account.address) {
    const message = (await sys.registry.read.blsRegistrationMessage([popOf])) as Hex;
    const pop = blsSign(bls.secret, message);
    return sys.sendAs(member.account, sys.registry.address, sys.registry.abi, "registerBLSKey", [g1Words(bls.pubkeyG1), g2Words(bls.pubkeyG2), g1Words(pop)]);
  }

  const digestOf = async (batchId: bigint, root: Hex) => (await sys.batchManager.read.attestationDigest([batchId, root, Verdict.Valid, 4])) as Hex;
  const certificate = async (batchId: bigint, root: Hex, signers: typeof ops, apkIndex?: number) => {
    const digest = await digestOf(batchId, root);
    const nonSigners = ops.filter((o) => !signers.includes(o)).map((o) => o.bls.pubkeyG1);
    const index = apkIndex ?? Number(await sys.registry.read.apkHistoryLength()) - 1;
    return blsCertificate(index, signers.map((o) => ({ pubkeyG2: o.bls.pubkeyG2, signature: blsSign(o.bls.secret, digest) })), nonSigners);
  };

  before(async () => {
    sys = await deploySystem(connection, "native", "bls");
    prover = await sys.addMember(Role.Prover);
    for (let i = 0; i < 5; i++) {
      const member = await sys.addMember(Role.Operator);
      const bls = blsKeyPairFromSeed(keccak256(toHex(`bls test key ${i}`)));
      ops.push({ member, bls });
    }
  });

  it("hashes to G1 and checks pairings exactly as @noble/curves does", async () => {
    const message = keccak256(toHex("a message"));
    const sig = blsSign(ops[0]!.bls.secret, message);
    assert.equal(blsVerify(message, ops[0]!.bls.pubkeyG1, ops[0]!.bls.pubkeyG2, sig), true);
    assert.equal(blsVerify(message, ops[1]!.bls.pubkeyG1, ops[0]!.bls.pubkeyG2, sig), false, "G1 and G2 keys of different secrets");
    assert.equal(blsVerify(keccak256(toHex("another")), ops[0]!.bls.pubkeyG1, ops[0]!.bls.pubkeyG2, sig), false);
    // Deterministic: the same digest always lands on the same point.
    assert.ok(hashToG1(message).equals(hashToG1(message)));
  });

  it("registers BLS keys only with a proof of possession, once per operator and key", async () => {
    const [a, b] = ops;
    // A proof made for another account (a replayed registration) is refused.
    await assertRevertsWith(registerBls(a!.member, a!.bls, b!.member.account.address), "InvalidBLSProofOfPossession");
    for (const o of ops) await registerBls(o.member, o.bls);
    await assertRevertsWith(registerBls(a!.member, a!.bls), "BLSKeyNotAllowed");
    // Provers hold no BLS key; nor does a second operator reuse one.
    await assertRevertsWith(registerBls(prover, blsKeyPairFromSeed(keccak256(toHex("prover bls")))), "BLSKeyNotAllowed");
    const extra = await sys.addMember(Role.Operator);
    await assertRevertsWith(registerBls(extra, a!.bls), "InvalidBLSKey");
    assert.equal(await sys.registry.read.blsKeyHashOf([a!.member.account.address]), hashG1(a!.bls.pubkeyG1));
    const n = Number(await sys.registry.read.apkHistoryLength());
    const [, apk] = (await sys.registry.read.apkAt([BigInt(n - 1)])) as [number, { X: bigint; Y: bigint }];
    assert.deepEqual(apk, g1Words(aggregateG1(ops.map((o) => o.bls.pubkeyG1))));
  });

  it("attests with one aggregate signature; non-signers are subtracted and their weight left out", async () => {
    const batch = await sys.submitBatch(prover);
    const signers = ops.slice(0, 4); // 400 of the 600 staked (the extra operator has no BLS key)
    const cert = await certificate(batch.batchId, batch.tree.root, signers);
    const hash = await sys.batchManager.write.attestBLS([batch.batchId, batch.tree.root, Verdict.Valid, 4, cert]);
    const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, "success");
    const [attested] = parseEventLogs({ abi: batchManagerAbi, logs: receipt.logs, eventName: "BatchAttested" });
    assert.equal(attested!.args.attestedWeight, 4n * MIN_STAKE);
    assert.equal(attested!.args.totalWeight, 6n * MIN_STAKE);
    const [bls] = parseEventLogs({ abi: batchManagerAbi, logs: receipt.logs, eventName: "BatchAttestedBLS" });
    assert.deepEqual(bls!.args.nonSignerKeyHashes, [hashG1(ops[4]!.bls.pubkeyG1)]);
  });

  it("refuses bad certificates: forged signature, wrong message, missing or unordered non-signers, stale apk, no quorum", async () => {
    const batch = await sys.submitBatch(prover);
    const root = batch.tree.root;
    const good = await certificate(batch.batchId, root, ops.slice(0, 4));
    const attest = (cert: typeof good) => sys.batchManager.write.attestBLS([batch.batchId, root, Verdict.Valid, 4, cert]);
    // A signature from a key outside the signer set.
    const forged = { ...good, sigma: g1Words(blsSign(12345n, await digestOf(batch.batchId, root))) };
    await assertRevertsWith(attest(forged), "InvalidBLSCertificate");
    // Signed over another batch.
    const other = await sys.submitBatch(prover);
    const replayed = await certificate(other.batchId, other.tree.root, ops.slice(0, 4));
    await assertRevertsWith(attest(replayed), "InvalidBLSCertificate");
    // Claiming a non-signer signed: the aggregate key no longer matches.
    await assertRevertsWith(attest({ ...good, nonSigners: [] }), "InvalidBLSCertificate");
    // Two non-signers, in the wrong order.
    const twoOut = await certificate(batch.batchId, root, ops.slice(0, 3));
    await assertRevertsWith(attest({ ...twoOut, nonSigners: [...twoOut.nonSigners].reverse() }), "InvalidNonSigner");
    await assertRevertsWith(attest({ ...twoOut, nonSigners: [twoOut.nonSigners[0]!, twoOut.nonSigners[0]!] }), "InvalidNonSigner");
    await assertRevertsWith(attest({ ...good, nonSigners: [g1Words(blsKeyPairFromSeed(keccak256(toHex("stranger"))).pubkeyG1)] }), "InvalidNonSigner");
    await assertRevertsWith(attest({ ...good, apkIndex: good.apkIndex + 1 }), "WrongApkIndex");
    await assertRevertsWith(attest({ ...good, apkIndex: 0 }), "WrongApkIndex");
    // One signer: 100 of 600 < 2/3.
    await assertRevertsWith(attest(await certificate(batch.batchId, root, ops.slice(0, 1))), "QuorumNotReached");
    await attest(good);
  });

  it("a BLS-attested fraud slashes the attesters the resolver names, checked against the aggregate key", async () => {
    const batch = await sys.submitBatch(prover, randomLeaves(4, 901));
    const signers = ops.slice(0, 4);
    await sys.batchManager.write.attestBLS([batch.batchId, batch.tree.root, Verdict.Valid, 4, await certificate(batch.batchId, batch.tree.root, signers)]);
    const challenger = testAccount("bls-challenger");
    await sys.fundBond(challenger);
    await sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [batch.batchId, batch.leaves[1]!, batch.tree.proof(1), EVIDENCE]);
    const disputeId = await sys.batchManager.read.disputeCount();
    const ballots = await sys.votes(disputeId, batch.batchId, hashLeafFields(batch.leaves[1]!), ops.map((o) => ({ member: o.member, fraud: true })));
    await sys.batchManager.write.castVotes([disputeId, ballots]);
    const keys = (list: typeof ops) => list.map((o) => o.member.signingKey.address).sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1));
    await assertRevertsWith(sys.batchManager.write.resolveDispute([disputeId, keys(ops.slice(0, 3))]), "AttestersMismatch");
    await assertRevertsWith(sys.batchManager.write.resolveDispute([disputeId, keys(ops)]), "AttestersMismatch");
    await assertRevertsWith(sys.batchManager.write.resolveDispute([disputeId, [...keys(signers)].reverse()]), "AttestersMismatch");
    await sys.batchManager.write.resolveDispute([disputeId, keys(signers)]);
    for (const o of signers) assert.equal((await sys.registry.read.stakeOf([o.member.account.address]))[0], MIN_STAKE - MIN_STAKE / 10n);
    assert.equal((await sys.registry.read.stakeOf([ops[4]!.member.account.address]))[0], MIN_STAKE, "the non-signer keeps its stake");
  });
});
