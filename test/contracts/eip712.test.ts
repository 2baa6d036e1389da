import assert from "node:assert/strict";
import { network } from "hardhat";
import { keccak256, toHex, type Hex } from "viem";
import { batchManagerAbi, stakeRegistryAbi, devStakeTokenAbi } from "../../protocol/contracts/abis.ts";
import {
  DuplicateSignerError,
  fromCompactSignature,
  hashAttestation,
  hashDisputeVote,
  hashRegistration,
  InvalidTypedDataFieldError,
  MalformedSignatureError,
  malleatedSignature,
  NonCanonicalSignatureError,
  protocolDomain,
  recoverAttestationSigner,
  recoverDisputeVoteSigner,
  Role,
  signAttestation,
  signDisputeVote,
  signRegistration,
  sortBySigner,
  toCompactSignature,
  Verdict,
} from "../../protocol/eip712/index.ts";
import { hashLeafFields } from "../../protocol/merkle/index.ts";
import { assertRevertsWith, deploySystem, MIN_STAKE, testAccount, wait, type Member, type System } from "../helpers/contracts.ts";

const connection = await network.create();
const OTHER_CONTRACT = "0x00000000000000000000000000000000deadbeef" as const;

describe("EIP-712: TypeScript helpers against the contracts", () => {
  let sys: System;
  let prover: Member;
  let operators: Member[];

  before(async () => {
    sys = await deploySystem(connection, "native", "eip712");
    prover = await sys.addMember(Role.Prover);
    operators = [await sys.addMember(Role.Operator), await sys.addMember(Role.Operator), await sys.addMember(Role.Operator)];
  });

  it("hashes Registration, Attestation and DisputeVote exactly as the contracts do", async () => {
    for (let i = 0; i < 5; i++) {
      const a = testAccount(`hash-a-${i}`).address;
      const b = testAccount(`hash-b-${i}`).address;
      const role = i % 2 === 0 ? Role.Operator : Role.Prover;
      const deadline = BigInt(i) * 2n ** 200n + 17n;
      assert.equal(
        hashRegistration(sys.registryDomain, { operator: a, signingKey: b, role, deadline }),
        await sys.registry.read.registrationDigest([a, b, role, deadline]),
      );
      const root = keccak256(toHex(`root ${i}`));
      const batchId = 2n ** BigInt(8 * i) + 1n;
      const verdict = i % 2 === 0 ? Verdict.Valid : Verdict.Invalid;
      const leavesChecked = [0, 1, 64, 65535, 0xffffffff][i]!;
      assert.equal(
        hashAttestation(sys.batchDomain, { batchId, root, verdict, leavesChecked }),
        await sys.batchManager.read.attestationDigest([batchId, root, verdict, leavesChecked]),
      );
      const fraud = i % 2 === 1;
      assert.equal(
        hashDisputeVote(sys.batchDomain, { disputeId: BigInt(i), batchId, leafHash: root, fraud }),
        await sys.batchManager.read.disputeVoteDigest([BigInt(i), batchId, root, fraud]),
      );
    }
  });

  it("a TypeScript attestation signature verifies on-chain and recovers in TypeScript", async () => {
    const batch = await sys.submitBatch(prover);
    const signed = await sys.attestationSignatures(batch.batchId, batch.tree.root, operators);
    for (const s of signed) {
      assert.equal(await recoverAttestationSigner(sys.batchDomain, { batchId: batch.batchId, root: batch.tree.root, verdict: Verdict.Valid, leavesChecked: 4 }, s.signature), s.signer);
    }
    await wait(sys.publicClient, await sys.batchManager.write.attest([batch.batchId, batch.tree.root, Verdict.Valid, 4, signed.map((s) => s.signature)]));
    assert.equal((await sys.batchManager.read.getBatch([batch.batchId])).state, 2);
  });

  describe("registration refusals", () => {
    const deadline = 2n ** 40n;
    async function tryRegister(account = testAccount("reg-acc"), signingKey = testAccount("reg-key"), opts: { domain?: ReturnType<typeof protocolDomain>; role?: number; deadline?: bigint; signer?: ReturnType<typeof testAccount>; keyArg?: `0x${string}` } = {}) {
      await sys.fund(account.address);
      await wait(sys.publicClient, await sys.token.write.mint([account.address, MIN_STAKE]));
      await sys.sendAs(account, sys.token.address, devStakeTokenAbi, "approve", [sys.registry.address, MIN_STAKE]);
      const role = opts.role ?? Role.Operator;
      const d = opts.deadline ?? deadline;
      const keyArg = opts.keyArg ?? signingKey.address;
      const signature = await signRegistration(opts.signer ?? signingKey, opts.domain ?? sys.registryDomain, {
        operator: account.address, signingKey: keyArg, role: (role === 2 ? 2 : 1), deadline: d,
      });
      return sys.sendAs(account, sys.registry.address, stakeRegistryAbi, "register", [role, MIN_STAKE, keyArg, d, signature]);
    }

    it("refuses a signature for another chain id or another registry", async () => {
      await assertRevertsWith(tryRegister(testAccount("r1"), testAccount("k1"), { domain: protocolDomain(sys.chainId + 1, sys.registry.address) }), "InvalidRegistrationSignature");
      await assertRevertsWith(tryRegister(testAccount("r2"), testAccount("k2"), { domain: protocolDomain(sys.chainId, OTHER_CONTRACT) }), "InvalidRegistrationSignature");
    });
    it("refuses a signature by a key other than the one registered (forged)", async () => {
      await assertRevertsWith(tryRegister(testAccount("r3"), testAccount("k3"), { signer: testAccount("someone else") }), "InvalidRegistrationSignature");
    });
    it("refuses an expired signature, a bad role, a reused key, the account as its own key, and a second registration", async () => {
      const now = BigInt((await sys.publicClient.getBlock()).timestamp);
      await assertRevertsWith(tryRegister(testAccount("r4"), testAccount("k4"), { deadline: now - 1n }), "RegistrationExpired");
      await assertRevertsWith(tryRegister(testAccount("r5"), testAccount("k5"), { role: 3 }), "InvalidRole");
      await assertRevertsWith(tryRegister(testAccount("r6"), operators[0]!.signingKey), "SigningKeyInUse");
      const self = testAccount("r7");
      await assertRevertsWith(tryRegister(self, self), "SigningKeyIsAccount");
      await assertRevertsWith(tryRegister(operators[1]!.account, testAccount("k8")), "AlreadyRegistered");
    });
  });

  describe("attestation refusals", () => {
    let batch: Awaited<ReturnType<System["submitBatch"]>>;
    before(async () => {
      batch = await sys.submitBatch(prover);
    });
    const attest = (signatures: { r: Hex; vs: Hex }[], overrides: { root?: Hex; verdict?: number } = {}) =>
      sys.batchManager.write.attest([batch.batchId, overrides.root ?? batch.tree.root, overrides.verdict ?? Verdict.Valid, 4, signatures]);

    it("refuses signatures made for another chain id or another contract", async () => {
      const wrongChain = await sys.attestationSignatures(batch.batchId, batch.tree.root, operators, 4, protocolDomain(sys.chainId + 1, sys.batchManager.address));
      // One at a time: several recovered (random) addresses would first trip the ordering check.
      for (const s of wrongChain) await assertRevertsWith(attest([s.signature]), "SignerNotStaked");
      const wrongContract = await sys.attestationSignatures(batch.batchId, batch.tree.root, operators, 4, protocolDomain(sys.chainId, OTHER_CONTRACT));
      for (const s of wrongContract) await assertRevertsWith(attest([s.signature]), "SignerNotStaked");
    });
    it("refuses signatures replayed from another batch", async () => {
      const other = await sys.submitBatch(prover);
      const forOther = await sys.attestationSignatures(other.batchId, other.tree.root, operators);
      for (const s of forOther) await assertRevertsWith(attest([s.signature]), "SignerNotStaked");
    });
    it("refuses forged signatures: unregistered keys, prover keys, an invalid-verdict signature used as valid", async () => {
      const outsider = { account: testAccount("outsider"), signingKey: testAccount("outsider-key") };
      const forged = await sys.attestationSignatures(batch.batchId, batch.tree.root, [...operators, outsider]);
      await assertRevertsWith(attest(forged.map((s) => s.signature)), "SignerNotStaked");
      const withProver = await sys.attestationSignatures(batch.batchId, batch.tree.root, [...operators, prover]);
      await assertRevertsWith(attest(withProver.map((s) => s.signature)), "SignerNotStaked");
      const invalid = sortBySigner(await Promise.all(operators.map((m) => signAttestation(m.signingKey, sys.batchDomain, { batchId: batch.batchId, root: batch.tree.root, verdict: Verdict.Invalid, leavesChecked: 4 }))));
      await assertRevertsWith(attest(invalid.map((s) => s.signature)), "SignerNotStaked");
      await assertRevertsWith(attest(invalid.map((s) => s.signature), { verdict: Verdict.Invalid }), "UnsupportedVerdict");
    });
    it("refuses malformed (high-s) signatures, duplicate and unsorted signers, an empty list, a wrong root", async () => {
      const sorted = await sys.attestationSignatures(batch.batchId, batch.tree.root, operators);
      const sigs = sorted.map((s) => s.signature);
      const highS = { r: sigs[0]!.r, vs: `0x${"f".repeat(64)}` as Hex };
      await assertRevertsWith(attest([highS, ...sigs.slice(1)]), "InvalidSignature");
      await assertRevertsWith(attest([sigs[0]!, sigs[0]!, sigs[1]!, sigs[2]!]), "DuplicateSigner");
      await assertRevertsWith(attest([sigs[1]!, sigs[0]!, sigs[2]!]), "SignersNotAscending");
      await assertRevertsWith(attest([]), "NoSignatures");
      await assertRevertsWith(attest(sigs, { root: keccak256(toHex("other root")) }), "RootMismatch");
    });
    it("refuses replaying the accepted attestation on the same batch", async () => {
      const sorted = await sys.attestationSignatures(batch.batchId, batch.tree.root, operators);
      await wait(sys.publicClient, await attest(sorted.map((s) => s.signature)));
      await assertRevertsWith(attest(sorted.map((s) => s.signature)), "InvalidBatchState");
    });
  });

  it("refuses dispute votes signed for another dispute or with the other choice", async () => {
    const batch = await sys.submitBatch(prover);
    await sys.attest(batch.batchId, batch.tree.root, operators);
    const challenger = testAccount("eip712-challenger");
    await sys.fundBond(challenger);
    await sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [batch.batchId, batch.leaves[0]!, batch.tree.proof(0), keccak256(toHex("evidence"))]);
    const disputeId = await sys.batchManager.read.disputeCount();
    const leafHash = hashLeafFields(batch.leaves[0]!);
    const forOther = await sys.votes(disputeId + 1n, batch.batchId, leafHash, [{ member: operators[0]!, fraud: true }]);
    await assertRevertsWith(sys.batchManager.write.castVotes([disputeId, forOther]), "SignerNotStaked");
    const flipped = (await sys.votes(disputeId, batch.batchId, leafHash, [{ member: operators[0]!, fraud: true }])).map((v) => ({ ...v, fraud: false }));
    await assertRevertsWith(sys.batchManager.write.castVotes([disputeId, flipped]), "SignerNotStaked");
    await assertRevertsWith(sys.batchManager.write.castVotes([disputeId, []]), "NoSignatures");
    const good = await signDisputeVote(operators[0]!.signingKey, sys.batchDomain, { disputeId, batchId: batch.batchId, leafHash, fraud: true });
    assert.equal(await recoverDisputeVoteSigner(sys.batchDomain, { disputeId, batchId: batch.batchId, leafHash, fraud: true }, good.signature), operators[0]!.signingKey.address);
    // A high-s copy of the good vote: refused on chain (ECDSA.tryRecover) and off chain.
    const highS = { ...good.signature, vs: `0x${(BigInt(good.signature.vs) | ((1n << 255n) - 1n)).toString(16)}` as Hex };
    await assertRevertsWith(sys.batchManager.write.castVotes([disputeId, [highS]]), "InvalidSignature");
    const full = fromCompactSignature(good.signature);
    await assert.rejects(recoverDisputeVoteSigner(sys.batchDomain, { disputeId, batchId: batch.batchId, leafHash, fraud: true }, malleatedSignature(full)), NonCanonicalSignatureError);
    await sys.batchManager.write.castVotes([disputeId, [good.signature]]);
    assert.equal(await sys.batchManager.read.hasVoted([disputeId, operators[0]!.signingKey.address]), true);
  });
});

describe("EIP-712 helpers: bad input gets typed errors", () => {
  const domain = protocolDomain(31337, "0x0000000000000000000000000000000000000001");
  const root = keccak256(toHex("r"));
  const field = (fn: () => unknown, type: new (...a: never[]) => Error, name: string) =>
    assert.throws(fn, (err: unknown) => err instanceof type && (err as unknown as { field: string }).field === name);

  it("names the field that is out of range", () => {
    field(() => hashAttestation(domain, { batchId: 1n, root: "0x1234", verdict: Verdict.Valid, leavesChecked: 1 }), InvalidTypedDataFieldError, "message.root");
    field(() => hashAttestation(domain, { batchId: 1n, root, verdict: 3 as 1, leavesChecked: 1 }), InvalidTypedDataFieldError, "message.verdict");
    field(() => hashAttestation(domain, { batchId: 1n, root, verdict: 1, leavesChecked: 2 ** 32 }), InvalidTypedDataFieldError, "message.leavesChecked");
    field(() => hashAttestation(domain, { batchId: -1n, root, verdict: 1, leavesChecked: 1 }), InvalidTypedDataFieldError, "message.batchId");
    field(() => hashAttestation({ ...domain, chainId: 0 }, { batchId: 1n, root, verdict: 1, leavesChecked: 1 }), InvalidTypedDataFieldError, "domain.chainId");
    field(() => hashAttestation({ ...domain, verifyingContract: "0x12" }, { batchId: 1n, root, verdict: 1, leavesChecked: 1 }), InvalidTypedDataFieldError, "domain.verifyingContract");
    field(() => hashRegistration(domain, { operator: "0xzz", signingKey: domain.verifyingContract, role: 1, deadline: 1n }), InvalidTypedDataFieldError, "message.operator");
    field(() => hashRegistration(domain, { operator: domain.verifyingContract, signingKey: domain.verifyingContract, role: 0 as 1, deadline: 1n }), InvalidTypedDataFieldError, "message.role");
    field(() => hashDisputeVote(domain, { disputeId: 1n, batchId: 1n, leafHash: root, fraud: "yes" as unknown as boolean }), InvalidTypedDataFieldError, "message.fraud");
  });

  it("round-trips compact signatures and refuses malformed ones", async () => {
    const key = testAccount("compact");
    const full = await key.signTypedData({ domain, types: { T: [{ name: "x", type: "uint256" }] }, primaryType: "T", message: { x: 1n } });
    assert.equal(fromCompactSignature(toCompactSignature(full)), full);
    field(() => toCompactSignature("0x1234"), MalformedSignatureError, "signature");
  });

  it("recovers only canonical signatures: a malleated (high-s) copy, v = 0/1 and zero r or s are refused, typed", async () => {
    const key = testAccount("canonical");
    const message = { batchId: 1n, root, verdict: Verdict.Valid, leavesChecked: 1 } as const;
    const signed = fromCompactSignature((await signAttestation(key, domain, message)).signature);
    assert.equal(await recoverAttestationSigner(domain, message, signed), key.address);
    const refused = async (signature: Hex) =>
      assert.rejects(recoverAttestationSigner(domain, message, signature), (e: unknown) => e instanceof NonCanonicalSignatureError && e.field === "signature");
    await refused(malleatedSignature(signed));
    await refused(`${signed.slice(0, 130)}${signed.endsWith("1b") ? "00" : "01"}` as Hex);
    await refused(`0x${"00".repeat(32)}${signed.slice(66)}` as Hex);
    await refused(`${signed.slice(0, 66)}${"00".repeat(32)}${signed.slice(130)}` as Hex);
    field(() => toCompactSignature(malleatedSignature(signed)), NonCanonicalSignatureError, "signature");
  });

  it("sorts by signer and refuses a duplicate signer", async () => {
    const keys = [testAccount("s1"), testAccount("s2"), testAccount("s3")];
    const signed = await Promise.all(keys.map((k) => signAttestation(k, domain, { batchId: 1n, root, verdict: 1, leavesChecked: 1 })));
    const sorted = sortBySigner(signed);
    for (let i = 1; i < sorted.length; i++) assert.ok(BigInt(sorted[i - 1]!.signer) < BigInt(sorted[i]!.signer));
    assert.throws(() => sortBySigner([...signed, signed[1]!]), DuplicateSignerError);
  });
});
