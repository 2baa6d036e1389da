import assert from "node:assert/strict";
import { network } from "hardhat";
import { encodeAbiParameters, keccak256, parseEventLogs, toHex, type Hex, type PublicClient } from "viem";
import { buildCertificate, CertificateError } from "../../aggregator/bls-certificates.ts";
import { BlsKeyDirectory } from "../../runtime/bls-key-directory.ts";
import { Admission, IngestError } from "../../aggregator/ingest.ts";
import { aggregateG1, blsKeyPairFromSeed, blsSign, g1ToHex, g1Words, g2ToHex, g2Words, hashG1, type BlsKeyPair } from "../../protocol/bls/index.ts";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { fromCompactSignature, hashAttestation, protocolDomain, Role, malleatedSignature, signAttestation, signDisputeVote, Verdict, type AttestationMessage } from "../../protocol/eip712/index.ts";
import { encodeGossipMessage, type GossipMessage } from "../../protocol/gossip/index.ts";
import { hashLeafFields } from "../../protocol/merkle/index.ts";
import { deploySystem, MIN_STAKE, testAccount, type Member, type System } from "../helpers/contracts.ts";

const connection = await network.create();

/** The other encoding of the same signature: s -> n - s, v flipped. It recovers the same signer. */
const malleate = malleatedSignature;

async function refusal(admission: Admission, data: Uint8Array, field: string, status: number): Promise<void> {
  await assert.rejects(admission.admit(data), (error: unknown) => {
    assert.ok(error instanceof IngestError, String(error));
    assert.equal(error.field, field, error.message);
    assert.equal(error.status, status, error.message);
    return true;
  });
}

describe("aggregator admission: signatures and stake checked against the chain", () => {
  let sys: System;
  let operators: Member[];
  let admission: Admission;
  let batchId: bigint;
  let root: Hex;

  before(async () => {
    sys = await deploySystem(connection, "native", "ingest");
    const prover = await sys.addMember(Role.Prover);
    operators = [await sys.addMember(Role.Operator), await sys.addMember(Role.Operator, MIN_STAKE * 2n)];
    const submitted = await sys.submitBatch(prover);
    batchId = submitted.batchId;
    root = submitted.tree.root;
    admission = new Admission(sys.publicClient as PublicClient, sys.batchDomain, sys.registry.address);
  });

  async function attestation(member: { signingKey: Parameters<typeof signAttestation>[0] }, message: Partial<AttestationMessage> = {}, domain = sys.batchDomain): Promise<GossipMessage> {
    const full: AttestationMessage = { batchId, root, verdict: Verdict.Valid, leavesChecked: 4, ...message };
    const signed = await signAttestation(member.signingKey, domain, full);
    return { type: "attestation", chainId: domain.chainId, contract: domain.verifyingContract, signature: fromCompactSignature(signed.signature), message: full };
  }

  it("admits a staked operator's attestation with its weight at the reference block and the total", async () => {
    const admitted = await admission.admit(encodeGossipMessage(await attestation(operators[1]!)));
    assert.equal(admitted.kind, "attestation");
    assert.equal(admitted.signer, operators[1]!.signingKey.address);
    assert.equal(admitted.weight, MIN_STAKE * 2n);
    assert.equal(admitted.batch.totalWeight, MIN_STAKE * 3n);
  });

  it("refuses malformed bytes, naming the field", async () => {
    await refusal(admission, new TextEncoder().encode("{not json"), "message", 400);
    const good = JSON.parse(new TextDecoder().decode(encodeGossipMessage(await attestation(operators[0]!))));
    await refusal(admission, new TextEncoder().encode(JSON.stringify({ ...good, extra: 1 })), "extra", 400);
    await refusal(admission, new TextEncoder().encode(JSON.stringify({ ...good, root: "0x12" })), "root", 400);
    await refusal(admission, new Uint8Array(5000), "message", 400);
  });

  it("refuses another chain id or contract", async () => {
    const other = protocolDomain(sys.chainId + 1, sys.batchManager.address);
    await refusal(admission, encodeGossipMessage(await attestation(operators[0]!, {}, other)), "chainId", 400);
    const otherContract = protocolDomain(sys.chainId, sys.registry.address);
    await refusal(admission, encodeGossipMessage(await attestation(operators[0]!, {}, otherContract)), "contract", 400);
  });

  it("refuses a high-s (malleated) copy of a genuine attestation, then admits the genuine one", async () => {
    const genuine = await attestation(operators[0]!);
    const copy = { ...genuine, signature: malleate(genuine.signature) };
    await refusal(admission, encodeGossipMessage(copy), "signature", 400);
    const admitted = await admission.admit(encodeGossipMessage(genuine));
    assert.equal(admitted.signer, operators[0]!.signingKey.address);
  });

  it("refuses a signer without stake (a forged or unregistered key) and a signature over other fields", async () => {
    await refusal(admission, encodeGossipMessage(await attestation({ signingKey: testAccount("stranger") })), "signature", 403);
    // Signed for 4 leaves, claimed for 5: recovers to some other address, which has no stake.
    const honest = await attestation(operators[0]!);
    const tampered = { ...honest, message: { ...(honest as { message: AttestationMessage }).message, leavesChecked: 5 } } as GossipMessage;
    await refusal(admission, encodeGossipMessage(tampered), "signature", 403);
  });

  it("refuses the wrong root, an unknown batch, and an invalid verdict", async () => {
    await refusal(admission, encodeGossipMessage(await attestation(operators[0]!, { root: `0x${"11".repeat(32)}` })), "root", 400);
    await refusal(admission, encodeGossipMessage(await attestation(operators[0]!, { batchId: 999n })), "batchId", 404);
    await refusal(admission, encodeGossipMessage(await attestation(operators[0]!, { verdict: Verdict.Invalid })), "verdict", 400);
  });

  it("refuses attestations once the batch is attested, and votes on a dispute that does not exist", async () => {
    await sys.attest(batchId, root, operators);
    await refusal(admission, encodeGossipMessage(await attestation(operators[0]!)), "batchId", 409);
    const leafHash = hashLeafFields({ modelId: root, promptHash: root, outputHash: root, samplingHash: root, seed: 1n, proofsHash: root });
    const vote = await signDisputeVote(operators[0]!.signingKey, sys.batchDomain, { disputeId: 7n, batchId, leafHash, fraud: true });
    const message: GossipMessage = {
      type: "vote", chainId: sys.chainId, contract: sys.batchManager.address, signature: fromCompactSignature(vote.signature),
      message: { disputeId: 7n, batchId, leafHash, fraud: true },
    };
    await refusal(admission, encodeGossipMessage(message), "disputeId", 404);
    await refusal(admission, encodeGossipMessage({ ...message, signature: malleate(message.signature) }), "signature", 400);
  });
});

describe("aggregator admission and certificates: BLS attestations against the registry's keys", function () {
  this.timeout(120_000);
  let sys: System;
  let prover: Member;
  const ops: { member: Member; bls: BlsKeyPair }[] = [];
  let admission: Admission;

  async function registerBls(op: { member: Member; bls: BlsKeyPair }): Promise<void> {
    const message = (await sys.registry.read.blsRegistrationMessage([op.member.account.address])) as Hex;
    await sys.sendAs(op.member.account, sys.registry.address, sys.registry.abi, "registerBLSKey", [g1Words(op.bls.pubkeyG1), g2Words(op.bls.pubkeyG2), g1Words(blsSign(op.bls.secret, message))]);
  }

  /** An attestation by `op`'s signing key, with a BLS half; `tweak` changes the BLS half only. */
  async function blsAttestation(op: { member: Member; bls: BlsKeyPair }, batchId: bigint, root: Hex, tweak: { key?: BlsKeyPair; digest?: Hex; keyHash?: Hex } = {}): Promise<GossipMessage> {
    const message: AttestationMessage = { batchId, root, verdict: Verdict.Valid, leavesChecked: 4 };
    const signed = await signAttestation(op.member.signingKey, sys.batchDomain, message);
    const key = tweak.key ?? op.bls;
    return {
      type: "attestation-bls", chainId: sys.chainId, contract: sys.batchManager.address, signature: fromCompactSignature(signed.signature), message,
      bls: { keyHash: tweak.keyHash ?? hashG1(op.bls.pubkeyG1), pubkeyG2: g2ToHex(key.pubkeyG2), signature: g1ToHex(blsSign(key.secret, tweak.digest ?? hashAttestation(sys.batchDomain, message))) },
    };
  }

  before(async () => {
    sys = await deploySystem(connection, "native", "ingest-bls");
    prover = await sys.addMember(Role.Prover);
    for (let i = 0; i < 4; i++) ops.push({ member: await sys.addMember(Role.Operator), bls: blsKeyPairFromSeed(keccak256(toHex(`ingest bls ${i}`))) });
    for (const op of ops.slice(0, 3)) await registerBls(op);
    admission = new Admission(sys.publicClient as PublicClient, sys.batchDomain, sys.registry.address);
  });

  it("admits the BLS half of a keyed operator's attestation, signer recovered from the ECDSA half", async () => {
    const { batchId, tree } = await sys.submitBatch(prover);
    const admitted = await admission.admit(encodeGossipMessage(await blsAttestation(ops[0]!, batchId, tree.root)));
    assert.equal(admitted.kind, "attestation");
    assert.equal(admitted.signer, ops[0]!.member.signingKey.address);
    assert.equal(admitted.kind === "attestation" && admitted.bls?.keyHash, hashG1(ops[0]!.bls.pubkeyG1));
  });

  it("refuses a BLS half that is not the signer's: another operator's key, an unknown key, a bad signature, a G2 key of another secret", async () => {
    const { batchId, tree } = await sys.submitBatch(prover);
    await refusal(admission, encodeGossipMessage(await blsAttestation(ops[0]!, batchId, tree.root, { keyHash: hashG1(ops[1]!.bls.pubkeyG1) })), "keyHash", 403);
    await refusal(admission, encodeGossipMessage(await blsAttestation(ops[0]!, batchId, tree.root, { keyHash: keccak256(toHex("no such key")) })), "keyHash", 403);
    await refusal(admission, encodeGossipMessage(await blsAttestation(ops[0]!, batchId, tree.root, { digest: keccak256(toHex("another digest")) })), "blsSignature", 400);
    // Its own key hash, but signed (and G2 key) with operator 1's secret: the G1 and G2 keys disagree.
    await refusal(admission, encodeGossipMessage(await blsAttestation(ops[0]!, batchId, tree.root, { key: ops[1]!.bls })), "blsSignature", 400);
    // The ECDSA half still has to hold: a BLS half does not lend a stranger stake.
    const stranger = { member: { ...ops[0]!.member, signingKey: testAccount("bls stranger") }, bls: ops[0]!.bls };
    await refusal(admission, encodeGossipMessage(await blsAttestation(stranger, batchId, tree.root)), "signature", 403);
  });

  it("counts a key registered after the reference block by its ECDSA half only", async () => {
    const { batchId, tree } = await sys.submitBatch(prover);
    await registerBls(ops[3]!);
    const admitted = await admission.admit(encodeGossipMessage(await blsAttestation(ops[3]!, batchId, tree.root)));
    assert.equal(admitted.signer, ops[3]!.member.signingKey.address);
    assert.equal(admitted.kind === "attestation" && admitted.bls, undefined);
  });

  it("builds the certificate attestBLS accepts, and maps its non-signers back to the signers' keys", async () => {
    const { batchId, tree } = await sys.submitBatch(prover);
    const parts = [];
    for (const op of [ops[0]!, ops[2]!, ops[3]!]) {
      const admitted = await admission.admit(encodeGossipMessage(await blsAttestation(op, batchId, tree.root)));
      if (admitted.kind === "attestation" && admitted.bls) parts.push(admitted.bls);
    }
    assert.equal(parts.length, 3);
    const directory = new BlsKeyDirectory({ publicClient: sys.publicClient as PublicClient, registry: sys.registry.address, fromBlock: 0n, logRange: 3 });
    const { refBlock } = await admission.batch(batchId);
    const message: AttestationMessage = { batchId, root: tree.root, verdict: Verdict.Valid, leavesChecked: 4 };
    const certificate = await buildCertificate(directory, refBlock, hashAttestation(sys.batchDomain, message), parts);
    assert.equal(certificate.nonSigners.length, 1, "operator 1 did not sign");
    await assert.rejects(
      buildCertificate(directory, refBlock, hashAttestation(sys.batchDomain, { ...message, leavesChecked: 5 }), parts),
      (e: unknown) => e instanceof CertificateError && e.field === "signature",
    );
    const hash = await sys.sendAs(prover.account, sys.batchManager.address, sys.batchManager.abi, "attestBLS", [batchId, tree.root, Verdict.Valid, 4, certificate]);
    const receipt = await sys.publicClient.getTransactionReceipt({ hash });
    const [event] = parseEventLogs({ abi: batchManagerAbi, logs: receipt.logs, eventName: "BatchAttestedBLS" }) as unknown as { args: { nonSignerKeyHashes: Hex[] } }[];
    assert.deepEqual(event!.args.nonSignerKeyHashes, [hashG1(ops[1]!.bls.pubkeyG1)]);
    const signers = await directory.signersOf(refBlock, event!.args.nonSignerKeyHashes);
    const expected = [ops[0]!, ops[2]!, ops[3]!].map((o) => o.member.signingKey.address).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    assert.deepEqual(signers, expected);
    // What resolveDispute checks the attesters against.
    assert.equal(await sys.batchManager.read.attestersHash([batchId]), keccak256(encodeAbiParameters([{ type: "string" }, { type: "uint256" }, { type: "uint256" }], ["BLS attesters", ...(() => { const w = g1Words(aggregateG1(parts.map((p) => p.pubkeyG1))); return [w.X, w.Y] as const; })()])));
  });
});
