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
 *
 * uint256 values travel as decimal strings (JSON numbers lose precision past 2^53).
 */
import type { Address, Hex } from "viem";
import { signatureProblem, type AttestationMessage, type DisputeVoteMessage, type VerdictValue } from "../eip712/index.ts";
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

export type GossipMessage = AttestationEnvelope | VoteEnvelope;

/** Topic of one deployment's attestations or votes: chain and contract are part of the name. */
export function gossipTopic(kind: "attestations" | "votes", chainId: number, contract: Address): string {
  return `/vb/${MESSAGE_VERSION}/${kind}/${chainId}/${contract.toLowerCase()}`;
}

export function encodeGossipMessage(message: GossipMessage): Uint8Array {
  const common = { v: MESSAGE_VERSION, chainId: message.chainId, contract: message.contract };
  const body =
    message.type === "attestation"
      ? {
          type: "attestation",
          ...common,
          batchId: message.message.batchId.toString(),
          root: message.message.root,
          verdict: message.message.verdict,
          leavesChecked: message.message.leavesChecked,
          signature: message.signature,
        }
      : {
          type: "vote",
          ...common,
          disputeId: message.message.disputeId.toString(),
          batchId: message.message.batchId.toString(),
          leafHash: message.message.leafHash,
          fraud: message.message.fraud,
          signature: message.signature,
        };
  return new TextEncoder().encode(JSON.stringify(body));
}

const UINT256_MAX = (1n << 256n) - 1n;
const KEYS = {
  attestation: ["type", "v", "chainId", "contract", "batchId", "root", "verdict", "leavesChecked", "signature"],
  vote: ["type", "v", "chainId", "contract", "disputeId", "batchId", "leafHash", "fraud", "signature"],
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
  if (body.type !== "attestation" && body.type !== "vote") fail("type", `must be "attestation" or "vote"`);
  const expected: readonly string[] = KEYS[body.type];
  const extra = Object.keys(body).filter((k) => !expected.includes(k));
  if (extra.length > 0) fail(extra[0]!, "is not a field of this message");
  for (const key of expected) if (!(key in body)) fail(key, "is missing");
  if (body.v !== MESSAGE_VERSION) fail("v", `must be ${MESSAGE_VERSION}`);
  const envelope = {
    chainId: integer(body.chainId, 1, Number.MAX_SAFE_INTEGER, "chainId"),
    contract: hex(body.contract, 20, "contract") as Address,
    signature: canonicalSignature(body.signature),
  };
  if (body.type === "attestation") {
    const verdict = integer(body.verdict, 1, 2, "verdict") as VerdictValue;
    return {
      type: "attestation",
      ...envelope,
      message: {
        batchId: uint256(body.batchId, "batchId"),
        root: hex(body.root, 32, "root"),
        verdict,
        leavesChecked: integer(body.leavesChecked, 0, 0xffff_ffff, "leavesChecked"),
      },
    };
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
