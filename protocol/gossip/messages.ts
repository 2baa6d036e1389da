/**
 * What operators send the aggregator, over the gossip mesh or its HTTP fallback: signed
 * attestations and dispute votes, as compact JSON. The signer is never taken from the message:
 * it is recovered from the EIP-712 signature over the decoded fields, so a message cannot claim
 * someone else's stake. Decoding is strict (exact keys, types and ranges, canonical low-s
 * signatures only) because every byte comes from an untrusted peer.
 *
 *   {"type":"attestation","v":1,"chainId":31337,"contract":"0x…","batchId":"12",
 *    "root":"0x…32 bytes","verdict":1,"leavesChecked":4,"signature":"0x…65 bytes"}
 *   {"type":"vote","v":1,"chainId":31337,"contract":"0x…","disputeId":"3","batchId":"12",
 *    "leafHash":"0x…","fraud":true,"signature":"0x…"}
 *   {"type":"attestation-bls","v":1,"chainId":31337,"contract":"0x…","batchId":"12",
 *    "root":"0x…","verdict":1,"leavesChecked":4,"signature":"0x…65 bytes",
 *    "keyHash":"0x…32 bytes","pubkeyG2":"0x…128 bytes","blsSignature":"0x…64 bytes"}
 *
 * An operator with a BLS key signs its attestation both ways in one message: the ECDSA signature
 * names the signer (and is the evidence slashAttestationEquivocation takes), the BLS signature
 * joins a certificate (attestBLS). A BLS signature recovers nobody, so the message names its key
 * (keyHash, as registered on chain) and carries the key's G2 half; the aggregator takes the G1
 * half from the registry and checks the signature against both. The aggregator can always fall
 * back to the ECDSA signatures (a key registered after the batch's reference block, a set too
 * small for a certificate to pay). Points are checked on the curve (and in the subgroup, for G2)
 * at decoding.
 *
 * uint256 values travel as decimal strings (JSON numbers lose precision past 2^53).
 */
import type { Address, Hex } from "viem";
import { signatureProblem, type AttestationMessage, type DisputeVoteMessage, type VerdictValue } from "../eip712/index.ts";
import { BlsError, g1FromHex, g2FromHex } from "../bls/index.ts";
import { GossipError } from "./errors.ts";

export const MESSAGE_VERSION = 1;
export const MAX_GOSSIP_MESSAGE_BYTES = 4096;

export class MalformedMessageError extends GossipError {
  override name = "MalformedMessageError";
}

interface Envelope {
  chainId: number;
  contract: Address;
  signature: Hex;
}

export interface AttestationEnvelope extends Envelope {
  type: "attestation";
  message: AttestationMessage;
}

export interface VoteEnvelope extends Envelope {
  type: "vote";
  message: DisputeVoteMessage;
}

/** A BLS attestation's key and signature, as hex. */
export interface BlsSignatureFields {
  /** BN254.hashG1 of the signer's registered G1 key. */
  keyHash: Hex;
  /** The same key on G2, 128 bytes in the contracts' word order. */
  pubkeyG2: Hex;
  /** The G1 signature over the attestation digest, 64 bytes. */
  signature: Hex;
}

/** An attestation signed with the signing key (ECDSA) and with the operator's BLS key. */
export interface BlsAttestationEnvelope extends Envelope {
  type: "attestation-bls";
  message: AttestationMessage;
  bls: BlsSignatureFields;
}

export type GossipMessage = AttestationEnvelope | VoteEnvelope | BlsAttestationEnvelope;

/** Topic of one deployment's attestations or votes: chain and contract are part of the name. */
export function gossipTopic(kind: "attestations" | "votes", chainId: number, contract: Address): string {
  return `/vb/${MESSAGE_VERSION}/${kind}/${chainId}/${contract.toLowerCase()}`;
}

export function encodeGossipMessage(message: GossipMessage): Uint8Array {
  const common = { type: message.type, v: MESSAGE_VERSION, chainId: message.chainId, contract: message.contract };
  let body: Record<string, unknown>;
  if (message.type === "vote") {
    const m = message.message;
    body = { ...common, disputeId: m.disputeId.toString(), batchId: m.batchId.toString(), leafHash: m.leafHash, fraud: m.fraud, signature: message.signature };
  } else {
    const m = message.message;
    body = { ...common, batchId: m.batchId.toString(), root: m.root, verdict: m.verdict, leavesChecked: m.leavesChecked, signature: message.signature };
    if (message.type === "attestation-bls") Object.assign(body, { keyHash: message.bls.keyHash, pubkeyG2: message.bls.pubkeyG2, blsSignature: message.bls.signature });
  }
  return new TextEncoder().encode(JSON.stringify(body));
}

const UINT256_MAX = (1n << 256n) - 1n;
const KEYS = {
  attestation: ["type", "v", "chainId", "contract", "batchId", "root", "verdict", "leavesChecked", "signature"],
  vote: ["type", "v", "chainId", "contract", "disputeId", "batchId", "leafHash", "fraud", "signature"],
  "attestation-bls": ["type", "v", "chainId", "contract", "batchId", "root", "verdict", "leavesChecked", "signature", "keyHash", "pubkeyG2", "blsSignature"],
} as const;

function fail(field: string, why: string): never {
  throw new MalformedMessageError(`${field} ${why}`, field);
}

function hex(value: unknown, bytes: number, field: string): Hex {
  if (typeof value !== "string" || !new RegExp(`^0x[0-9a-fA-F]{${2 * bytes}}$`).test(value)) fail(field, `must be ${bytes} bytes of 0x-hex`);
  return value as Hex;
}

/** 65 bytes, low s, v 27/28: a malleated copy of a genuine signature is refused at the door. */
function canonicalSignature(value: unknown): Hex {
  const signature = hex(value, 65, "signature");
  const problem = signatureProblem(signature);
  if (problem) fail("signature", `is not canonical: ${problem}`);
  return signature;
}

/** A curve point's check, its BlsError turned into this codec's error. */
function point(check: () => unknown): void {
  try {
    check();
  } catch (error) {
    if (error instanceof BlsError) fail(error.field, `is not a valid point: ${error.message}`);
    throw error;
  }
}

function uint256(value: unknown, field: string): bigint {
  if (typeof value !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(value)) fail(field, "must be a decimal uint256 string");
  const n = BigInt(value);
  if (n > UINT256_MAX) fail(field, "exceeds uint256");
  return n;
}

function integer(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) fail(field, `must be an integer in ${min}..${max}`);
  return value;
}

/** Parses and validates an incoming message; throws MalformedMessageError naming the field. */
export function decodeGossipMessage(data: Uint8Array): GossipMessage {
  if (data.length > MAX_GOSSIP_MESSAGE_BYTES) fail("message", `is ${data.length} bytes; the limit is ${MAX_GOSSIP_MESSAGE_BYTES}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch (error) {
    fail("message", `is not UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) fail("message", "must be a JSON object");
  const body = parsed as Record<string, unknown>;
  if (body.type !== "attestation" && body.type !== "vote" && body.type !== "attestation-bls") fail("type", `must be "attestation", "attestation-bls" or "vote"`);
  const expected: readonly string[] = KEYS[body.type];
  const extra = Object.keys(body).filter((k) => !expected.includes(k));
  if (extra.length > 0) fail(extra[0]!, "is not a field of this message");
  for (const key of expected) if (!(key in body)) fail(key, "is missing");
  if (body.v !== MESSAGE_VERSION) fail("v", `must be ${MESSAGE_VERSION}`);
  const chainId = integer(body.chainId, 1, Number.MAX_SAFE_INTEGER, "chainId");
  const contract = hex(body.contract, 20, "contract") as Address;
  const attestation = (): AttestationMessage => ({
    batchId: uint256(body.batchId, "batchId"),
    root: hex(body.root, 32, "root"),
    verdict: integer(body.verdict, 1, 2, "verdict") as VerdictValue,
    leavesChecked: integer(body.leavesChecked, 0, 0xffff_ffff, "leavesChecked"),
  });
  const envelope = { chainId, contract, signature: canonicalSignature(body.signature) };
  if (body.type === "attestation") return { type: "attestation", ...envelope, message: attestation() };
  if (body.type === "attestation-bls") {
    const message = attestation();
    const keyHash = hex(body.keyHash, 32, "keyHash");
    const pubkeyG2 = hex(body.pubkeyG2, 128, "pubkeyG2");
    const signature = hex(body.blsSignature, 64, "blsSignature");
    point(() => g2FromHex(pubkeyG2, "pubkeyG2"));
    point(() => g1FromHex(signature, "blsSignature"));
    return { type: "attestation-bls", ...envelope, message, bls: { keyHash, pubkeyG2, signature } };
  }
  if (typeof body.fraud !== "boolean") fail("fraud", "must be a boolean");
  return {
    type: "vote",
    ...envelope,
    message: {
      disputeId: uint256(body.disputeId, "disputeId"),
      batchId: uint256(body.batchId, "batchId"),
      leafHash: hex(body.leafHash, 32, "leafHash"),
      fraud: body.fraud,
    },
  };
}
