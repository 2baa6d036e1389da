import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { Address, Hex } from "viem";
import { blsKeyPairFromSeed, blsSign, FIELD_MODULUS, g1ToHex, g2ToHex, hashG1 } from "../../protocol/bls/index.ts";
import { Verdict } from "../../protocol/eip712/index.ts";
import {
  MAX_GOSSIP_MESSAGE_BYTES,
  MalformedMessageError,
  decodeGossipMessage,
  encodeGossipMessage,
  gossipTopic,
  type GossipMessage,
} from "../../protocol/gossip/index.ts";

const contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Address;
// r, then a low s, then v = 27: the one canonical encoding.
const signature = `0x${"ab".repeat(32)}${"11".repeat(32)}1b` as Hex;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** The same signature with s -> n - s and v flipped: recovers the same key, but is a second encoding. */
const malleated = `0x${"ab".repeat(32)}${(N - BigInt(`0x${"11".repeat(32)}`)).toString(16)}1c`;
const attestation: GossipMessage = {
  type: "attestation",
  chainId: 31337,
  contract,
  signature,
  message: { batchId: (1n << 200n) + 5n, root: `0x${"11".repeat(32)}`, verdict: Verdict.Valid, leavesChecked: 32 },
};
const vote: GossipMessage = {
  type: "vote",
  chainId: 31337,
  contract,
  signature,
  message: { disputeId: 3n, batchId: 12n, leafHash: `0x${"22".repeat(32)}`, fraud: true },
};
const blsKey = blsKeyPairFromSeed(`0x${"42".repeat(32)}`);
const blsAttestation: GossipMessage = {
  type: "attestation-bls",
  chainId: 31337,
  contract,
  signature,
  message: { batchId: 7n, root: `0x${"11".repeat(32)}`, verdict: Verdict.Valid, leavesChecked: 32 },
  bls: { keyHash: hashG1(blsKey.pubkeyG1), pubkeyG2: g2ToHex(blsKey.pubkeyG2), signature: g1ToHex(blsSign(blsKey.secret, `0x${"33".repeat(32)}`)) },
};
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const asJson = (m: GossipMessage) => JSON.parse(new TextDecoder().decode(encodeGossipMessage(m))) as Record<string, unknown>;

describe("protocol/gossip messages", () => {
  it("round-trips attestations and votes, uint256 values included", () => {
    assert.deepEqual(decodeGossipMessage(encodeGossipMessage(attestation)), attestation);
    assert.deepEqual(decodeGossipMessage(encodeGossipMessage(vote)), vote);
  });

  it("names topics by deployment", () => {
    assert.equal(gossipTopic("attestations", 31337, contract), `/vb/1/attestations/31337/${contract.toLowerCase()}`);
  });

  const cases: [string, (o: Record<string, unknown>) => unknown, string][] = [
    ["unknown type", (o) => ({ ...o, type: "hello" }), "type"],
    ["wrong version", (o) => ({ ...o, v: 2 }), "v"],
    ["extra field", (o) => ({ ...o, signer: contract }), "signer"],
    ["missing field", ({ root: _root, ...o }) => o, "root"],
    ["batchId as a number", (o) => ({ ...o, batchId: 12 }), "batchId"],
    ["batchId with a leading zero", (o) => ({ ...o, batchId: "012" }), "batchId"],
    ["batchId above uint256", (o) => ({ ...o, batchId: (1n << 256n).toString() }), "batchId"],
    ["short root", (o) => ({ ...o, root: "0x1234" }), "root"],
    ["64-byte signature", (o) => ({ ...o, signature: `0x${"ab".repeat(64)}` }), "signature"],
    ["a high-s (malleated) signature", (o) => ({ ...o, signature: malleated }), "signature"],
    ["v = 0 instead of 27", (o) => ({ ...o, signature: `${signature.slice(0, -2)}00` }), "signature"],
    ["s = 0", (o) => ({ ...o, signature: `0x${"ab".repeat(32)}${"00".repeat(32)}1b` }), "signature"],
    ["r = n", (o) => ({ ...o, signature: `0x${N.toString(16)}${"11".repeat(32)}1b` }), "signature"],
    ["verdict 0", (o) => ({ ...o, verdict: 0 }), "verdict"],
    ["negative leavesChecked", (o) => ({ ...o, leavesChecked: -1 }), "leavesChecked"],
    ["fractional chainId", (o) => ({ ...o, chainId: 1.5 }), "chainId"],
    ["bad contract", (o) => ({ ...o, contract: "0xnope" }), "contract"],
  ];
  for (const [name, mutate, field] of cases) {
    it(`rejects an attestation with ${name}`, () => {
      assert.throws(() => decodeGossipMessage(enc(mutate(asJson(attestation)))), (e: unknown) => e instanceof MalformedMessageError && e.field === field);
    });
  }

  it("round-trips a BLS attestation (ECDSA and BLS signatures in one message)", () => {
    assert.deepEqual(decodeGossipMessage(encodeGossipMessage(blsAttestation)), blsAttestation);
    assert.ok(encodeGossipMessage(blsAttestation).length < MAX_GOSSIP_MESSAGE_BYTES);
  });

  const g2 = (blsAttestation as { bls: { pubkeyG2: Hex } }).bls.pubkeyG2;
  const g1 = (blsAttestation as { bls: { signature: Hex } }).bls.signature;
  const word = (v: bigint) => v.toString(16).padStart(64, "0");
  const blsCases: [string, (o: Record<string, unknown>) => unknown, string][] = [
    ["no ECDSA signature", ({ signature: _s, ...o }) => o, "signature"],
    ["a high-s ECDSA signature", (o) => ({ ...o, signature: malleated }), "signature"],
    ["a short keyHash", (o) => ({ ...o, keyHash: "0x1234" }), "keyHash"],
    ["a 65-byte BLS signature", (o) => ({ ...o, blsSignature: `${g1}00` }), "blsSignature"],
    ["a BLS signature off the curve", (o) => ({ ...o, blsSignature: `0x${word(1n)}${word(3n)}` }), "blsSignature"],
    ["the point at infinity as BLS signature", (o) => ({ ...o, blsSignature: `0x${"00".repeat(64)}` }), "blsSignature"],
    ["a BLS signature coordinate at the field modulus", (o) => ({ ...o, blsSignature: `0x${word(FIELD_MODULUS)}${g1.slice(66)}` }), "blsSignature"],
    ["a G2 key off the curve", (o) => ({ ...o, pubkeyG2: `0x${word(1n)}${g2.slice(66)}` }), "pubkeyG2"],
    ["a G2 key of 64 bytes", (o) => ({ ...o, pubkeyG2: g1 }), "pubkeyG2"],
    ["an ECDSA message's field set (no BLS part)", ({ keyHash: _k, pubkeyG2: _p, blsSignature: _b, ...o }) => o, "keyHash"],
  ];
  for (const [name, mutate, field] of blsCases) {
    it(`rejects a BLS attestation with ${name}`, () => {
      assert.throws(() => decodeGossipMessage(enc(mutate(asJson(blsAttestation)))), (e: unknown) => e instanceof MalformedMessageError && e.field === field);
    });
  }

  it("rejects a vote whose fraud flag is not a boolean", () => {
    assert.throws(() => decodeGossipMessage(enc({ ...asJson(vote), fraud: "yes" })), (e: unknown) => e instanceof MalformedMessageError && e.field === "fraud");
  });

  it("rejects oversized, non-JSON, non-UTF-8 and non-object payloads", () => {
    assert.throws(() => decodeGossipMessage(new Uint8Array(MAX_GOSSIP_MESSAGE_BYTES + 1)), /limit/);
    assert.throws(() => decodeGossipMessage(new TextEncoder().encode("{nope")), /not UTF-8 JSON/);
    assert.throws(() => decodeGossipMessage(new Uint8Array([0x7b, 0xff, 0x7d])), /not UTF-8 JSON/);
    assert.throws(() => decodeGossipMessage(enc([1, 2])), /JSON object/);
    assert.throws(() => decodeGossipMessage(enc(null)), /JSON object/);
  });
});
