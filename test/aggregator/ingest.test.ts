import assert from "node:assert/strict";
import { network } from "hardhat";
import type { Hex, PublicClient } from "viem";
import { Admission, IngestError } from "../../aggregator/ingest.ts";
import { fromCompactSignature, protocolDomain, Role, malleatedSignature, signAttestation, signDisputeVote, Verdict, type AttestationMessage } from "../../protocol/eip712/index.ts";
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
