import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { Address, Hex } from "viem";
import { AttestationPool, QuorumError, type CheckedAttestation } from "../../aggregator/quorum.ts";
import { blsKeyPairFromSeed, blsSign, hashG1 } from "../../protocol/bls/index.ts";
import { Verdict, type AttestationMessage } from "../../protocol/eip712/index.ts";

const root = `0x${"11".repeat(32)}` as Hex;
const message: AttestationMessage = { batchId: 1n, root, verdict: Verdict.Valid, leavesChecked: 4 };
const signer = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as Address;
const att = (n: number, weight: bigint, m: AttestationMessage = message): CheckedAttestation => ({
  message: m,
  signer: signer(n),
  signature: LOW_S,
  weight,
});
// Content is not checked by the pool, only the encoding: a canonical (low-s, v = 27) shape.
const LOW_S = `0x${"aa".repeat(32)}${"22".repeat(32)}1b` as Hex;
const HIGH_S = `0x${"aa".repeat(32)}${"ee".repeat(32)}1c` as Hex;

/** The same attestation with a BLS part (the pool does not check BLS signatures either). */
const withBls = (a: CheckedAttestation): CheckedAttestation => {
  const key = blsKeyPairFromSeed(`0x${a.signer.slice(2).padStart(64, "0")}`);
  return { ...a, bls: { keyHash: hashG1(key.pubkeyG1), pubkeyG1: key.pubkeyG1, pubkeyG2: key.pubkeyG2, signature: blsSign(key.secret, root) } };
};

function pool(graceMs = 0) {
  let clock = 1000;
  const p = new AttestationPool({ thresholdBps: 6666, graceMs, now: () => clock });
  return { p, advance: (ms: number) => (clock += ms) };
}

describe("aggregator/quorum", () => {
  it("refuses a non-canonical (high-s) signature: it could never be submitted on chain", () => {
    const { p } = pool();
    p.open(1n, 300n);
    assert.throws(() => p.add({ ...att(1, 100n), signature: HIGH_S }), (e: unknown) => e instanceof QuorumError && e.field === "signature");
    assert.equal(p.add(att(1, 100n)), "accepted", "the genuine copy still counts");
  });

  it("is ready once two thirds of stake signed the same content, signers ascending", () => {
    const { p } = pool();
    p.open(1n, 300n);
    assert.equal(p.add(att(3, 100n)), "accepted");
    assert.equal(p.ready(1n), undefined);
    assert.equal(p.add(att(1, 100n)), "accepted");
    const ready = p.ready(1n)!;
    assert.equal(ready.weight, 200n);
    assert.deepEqual(ready.attestations.map((a) => a.signer), [signer(1), signer(3)]);
  });

  it("waits for the grace period before submitting, and includes late signers", () => {
    const { p, advance } = pool(500);
    p.open(1n, 300n);
    p.add(att(1, 100n));
    p.add(att(2, 100n));
    assert.equal(p.ready(1n), undefined);
    advance(200);
    p.add(att(3, 100n));
    advance(300);
    assert.equal(p.ready(1n)!.attestations.length, 3);
  });

  it("counts a duplicate once and refuses additions after close", () => {
    const { p } = pool();
    p.open(1n, 300n);
    p.add(att(1, 150n));
    assert.equal(p.add(att(1, 150n)), "duplicate");
    assert.equal(p.ready(1n), undefined);
    p.close(1n);
    assert.equal(p.add(att(2, 150n)), "closed");
    assert.equal(p.ready(1n), undefined);
  });

  it("drops an equivocating signer's stake from every content", () => {
    const { p } = pool();
    p.open(1n, 300n);
    p.add(att(1, 100n));
    p.add(att(2, 100n));
    assert.ok(p.ready(1n));
    assert.equal(p.add(att(2, 100n, { ...message, verdict: Verdict.Invalid })), "conflict");
    assert.equal(p.ready(1n), undefined);
    assert.equal(p.add(att(2, 100n)), "conflict");
    assert.deepEqual(p.equivocators(1n), [signer(2)]);
  });

  it("keeps the first two different attestations of an equivocator as slashing evidence", () => {
    const { p } = pool();
    p.open(1n, 300n);
    const first = att(2, 100n);
    const second = att(2, 100n, { ...message, leavesChecked: 3 });
    p.add(first);
    assert.equal(p.evidence(1n, signer(2)), undefined);
    p.add(second);
    p.add(att(2, 100n, { ...message, leavesChecked: 2 }));
    assert.deepEqual(p.evidence(1n, signer(2)), [first, second]);
    assert.equal(p.evidence(1n, signer(1)), undefined);
    // After submission (closed), a signer that flips is still caught.
    p.add(att(3, 100n));
    p.close(1n);
    assert.equal(p.add(att(3, 100n, { ...message, leavesChecked: 1 })), "conflict");
    assert.ok(p.evidence(1n, signer(3)));
    assert.equal(p.add(att(4, 100n)), "closed");
  });

  it("does not mix different contents: under threshold on each side is not quorum", () => {
    const { p } = pool();
    p.open(1n, 300n);
    p.add(att(1, 150n));
    p.add(att(2, 150n, { ...message, leavesChecked: 5 }));
    assert.equal(p.ready(1n), undefined);
  });

  it("rejects bad configuration and unknown batches", () => {
    assert.throws(() => new AttestationPool({ thresholdBps: 0, graceMs: 0 }), QuorumError);
    assert.throws(() => new AttestationPool({ thresholdBps: 10_001, graceMs: 0 }), QuorumError);
    assert.throws(() => new AttestationPool({ thresholdBps: 5000, graceMs: -1 }), QuorumError);
    const { p } = pool();
    assert.throws(() => p.add(att(1, 1n)), (e: unknown) => e instanceof QuorumError && e.field === "batchId");
    assert.throws(() => p.open(2n, 0n), QuorumError);
  });

  it("offers a BLS certificate only when the BLS signers alone hold quorum", () => {
    const { p } = pool();
    p.open(1n, 300n);
    p.add(withBls(att(1, 100n)));
    p.add(att(2, 100n));
    let ready = p.ready(1n)!;
    assert.equal(ready.weight, 200n, "ECDSA: both signers");
    assert.equal(ready.bls, undefined, "100 of 300 signed with BLS: below two thirds");
    p.add(withBls(att(3, 100n)));
    ready = p.ready(1n)!;
    assert.equal(ready.weight, 300n);
    assert.deepEqual(ready.bls?.attestations.map((a) => a.signer), [signer(1), signer(3)]);
    assert.equal(ready.bls?.weight, 200n);
  });

  it("keeps the BLS copy when a signer sends the same content again with a BLS signature", () => {
    const { p } = pool();
    p.open(1n, 300n);
    assert.equal(p.add(att(1, 100n)), "accepted");
    assert.equal(p.add(withBls(att(2, 100n))), "accepted");
    assert.equal(p.add(withBls(att(1, 100n))), "accepted", "upgraded");
    assert.equal(p.add(withBls(att(1, 100n))), "duplicate");
    assert.equal(p.add(att(1, 100n)), "duplicate", "an ECDSA-only copy does not replace the BLS one");
    const ready = p.ready(1n)!;
    assert.equal(ready.weight, 200n, "counted once");
    assert.equal(ready.bls?.weight, 200n);
  });

  it("treats two contents as equivocation whichever signature schemes carry them", () => {
    const { p } = pool();
    p.open(1n, 300n);
    p.add(withBls(att(1, 100n)));
    p.add(withBls(att(2, 100n)));
    const other = { ...message, root: `0x${"22".repeat(32)}` as Hex };
    assert.equal(p.add(att(1, 100n, other)), "conflict");
    assert.equal(p.ready(1n), undefined, "signer 1 counts for neither content");
    const [first, second] = p.evidence(1n, signer(1))!;
    assert.ok(first.bls && !second.bls, "both halves kept, each with its ECDSA signature for the slashing call");
  });
});
