import {
  hashTypedData,
  parseSignature,
  recoverTypedDataAddress,
  serializeSignature,
  signatureToCompactSignature,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { assertCanonicalSignature } from "./canonical.ts";
import { DuplicateSignerError, InvalidTypedDataFieldError, MalformedSignatureError } from "./errors.ts";
import {
  attestationTypes,
  disputeVoteTypes,
  protocolDomain,
  registrationTypes,
  Role,
  Verdict,
  type AttestationMessage,
  type DisputeVoteMessage,
  type ProtocolDomain,
  type RegistrationMessage,
} from "./types.ts";

/** An ERC-2098 compact signature, as BatchManager.Signature takes it. */
export interface CompactSignature {
  r: Hex;
  vs: Hex;
}

/** A compact signature with the address that made it, for sorting before submission. */
export interface SignedBy<T extends CompactSignature = CompactSignature> {
  signer: Address;
  signature: T;
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const UINT256_MAX = (1n << 256n) - 1n;

function checkAddress(value: string, field: string): void {
  if (!ADDRESS.test(value)) throw new InvalidTypedDataFieldError(`${field} must be a 20-byte hex address, got ${JSON.stringify(value)}`, field);
}
function checkBytes32(value: string, field: string): void {
  if (!BYTES32.test(value)) throw new InvalidTypedDataFieldError(`${field} must be 32 bytes of hex, got ${JSON.stringify(value)}`, field);
}
function checkUint256(value: bigint, field: string): void {
  if (typeof value !== "bigint" || value < 0n || value > UINT256_MAX) {
    throw new InvalidTypedDataFieldError(`${field} must be a uint256 bigint, got ${String(value)}`, field);
  }
}
function checkDomain(domain: ProtocolDomain): void {
  if (!Number.isSafeInteger(domain.chainId) || domain.chainId <= 0) {
    throw new InvalidTypedDataFieldError(`domain.chainId must be a positive integer, got ${domain.chainId}`, "domain.chainId");
  }
  checkAddress(domain.verifyingContract, "domain.verifyingContract");
}

function checkRegistration(message: RegistrationMessage): void {
  checkAddress(message.operator, "message.operator");
  checkAddress(message.signingKey, "message.signingKey");
  if (message.role !== Role.Operator && message.role !== Role.Prover) {
    throw new InvalidTypedDataFieldError(`message.role must be 1 (operator) or 2 (prover), got ${message.role}`, "message.role");
  }
  checkUint256(message.deadline, "message.deadline");
}
function checkAttestation(message: AttestationMessage): void {
  checkUint256(message.batchId, "message.batchId");
  checkBytes32(message.root, "message.root");
  if (message.verdict !== Verdict.Valid && message.verdict !== Verdict.Invalid) {
    throw new InvalidTypedDataFieldError(`message.verdict must be 1 (valid) or 2 (invalid), got ${message.verdict}`, "message.verdict");
  }
  if (!Number.isInteger(message.leavesChecked) || message.leavesChecked < 0 || message.leavesChecked > 0xffffffff) {
    throw new InvalidTypedDataFieldError(`message.leavesChecked must be a uint32, got ${message.leavesChecked}`, "message.leavesChecked");
  }
}
function checkDisputeVote(message: DisputeVoteMessage): void {
  checkUint256(message.disputeId, "message.disputeId");
  checkUint256(message.batchId, "message.batchId");
  checkBytes32(message.leafHash, "message.leafHash");
  if (typeof message.fraud !== "boolean") {
    throw new InvalidTypedDataFieldError(`message.fraud must be a boolean, got ${String(message.fraud)}`, "message.fraud");
  }
}

/** The digest a signing key signs to register (equals StakeRegistry.registrationDigest). */
export function hashRegistration(domain: ProtocolDomain, message: RegistrationMessage): Hex {
  checkDomain(domain);
  checkRegistration(message);
  return hashTypedData({ domain, types: registrationTypes, primaryType: "Registration", message });
}

/** The digest operators sign to attest (equals BatchManager.attestationDigest). */
export function hashAttestation(domain: ProtocolDomain, message: AttestationMessage): Hex {
  checkDomain(domain);
  checkAttestation(message);
  return hashTypedData({ domain, types: attestationTypes, primaryType: "Attestation", message });
}

/** The digest operators sign to vote (equals BatchManager.disputeVoteDigest). */
export function hashDisputeVote(domain: ProtocolDomain, message: DisputeVoteMessage): Hex {
  checkDomain(domain);
  checkDisputeVote(message);
  return hashTypedData({ domain, types: disputeVoteTypes, primaryType: "DisputeVote", message });
}

/** Signs a registration with the signing key; returns the 65-byte signature register() takes. */
export async function signRegistration(signingKey: LocalAccount, domain: ProtocolDomain, message: RegistrationMessage): Promise<Hex> {
  checkDomain(domain);
  checkRegistration(message);
  return signingKey.signTypedData({ domain, types: registrationTypes, primaryType: "Registration", message });
}

/** Signs an attestation with an operator's signing key; returns the compact signature and the signer. */
export async function signAttestation(signingKey: LocalAccount, domain: ProtocolDomain, message: AttestationMessage): Promise<SignedBy> {
  checkDomain(domain);
  checkAttestation(message);
  const signature = await signingKey.signTypedData({ domain, types: attestationTypes, primaryType: "Attestation", message });
  return { signer: signingKey.address, signature: toCompactSignature(signature) };
}

/** Signs a dispute vote; returns BatchManager.Vote fields (fraud, r, vs) and the signer. */
export async function signDisputeVote(
  signingKey: LocalAccount,
  domain: ProtocolDomain,
  message: DisputeVoteMessage,
): Promise<SignedBy<CompactSignature & { fraud: boolean }>> {
  checkDomain(domain);
  checkDisputeVote(message);
  const signature = await signingKey.signTypedData({ domain, types: disputeVoteTypes, primaryType: "DisputeVote", message });
  return { signer: signingKey.address, signature: { fraud: message.fraud, ...toCompactSignature(signature) } };
}

/**
 * Recovers who signed an attestation (for the aggregator to check signatures before counting them).
 * Only a canonical signature is recovered (canonical.ts): NonCanonicalSignatureError otherwise.
 */
export async function recoverAttestationSigner(domain: ProtocolDomain, message: AttestationMessage, signature: CompactSignature | Hex): Promise<Address> {
  checkDomain(domain);
  checkAttestation(message);
  assertCanonicalSignature(signature);
  return recoverTypedDataAddress({
    domain,
    types: attestationTypes,
    primaryType: "Attestation",
    message,
    signature: typeof signature === "string" ? signature : fromCompactSignature(signature),
  });
}

/** Recovers who signed a dispute vote (canonical signatures only, as for attestations). */
export async function recoverDisputeVoteSigner(domain: ProtocolDomain, message: DisputeVoteMessage, signature: CompactSignature | Hex): Promise<Address> {
  checkDomain(domain);
  checkDisputeVote(message);
  assertCanonicalSignature(signature);
  return recoverTypedDataAddress({
    domain,
    types: disputeVoteTypes,
    primaryType: "DisputeVote",
    message,
    signature: typeof signature === "string" ? signature : fromCompactSignature(signature),
  });
}

/** A 65-byte (or already 64-byte) signature as ERC-2098 {r, vs}. */
export function toCompactSignature(signature: Hex): CompactSignature {
  if (!/^0x([0-9a-fA-F]{128}|[0-9a-fA-F]{130})$/.test(signature)) {
    throw new MalformedSignatureError(`signature must be 64 or 65 bytes of hex, got ${signature.length} characters`, "signature");
  }
  if (signature.length === 130) return { r: `0x${signature.slice(2, 66)}`, vs: `0x${signature.slice(66)}` };
  // viem would throw a plain Error on a high s; the contracts would refuse it anyway.
  assertCanonicalSignature(signature);
  const compact = signatureToCompactSignature(parseSignature(signature));
  return { r: compact.r, vs: compact.yParityAndS };
}

/** An ERC-2098 {r, vs} back to a 65-byte signature. */
export function fromCompactSignature(signature: CompactSignature): Hex {
  checkBytes32(signature.r, "signature.r");
  checkBytes32(signature.vs, "signature.vs");
  const vs = BigInt(signature.vs);
  const yParity = Number(vs >> 255n);
  const s = vs & ((1n << 255n) - 1n);
  return serializeSignature({ r: signature.r, s: `0x${s.toString(16).padStart(64, "0")}`, yParity });
}

/**
 * Orders signatures by signer address, ascending, as attest() and castVotes() require, and
 * refuses a signer that appears twice.
 */
export function sortBySigner<T extends CompactSignature>(signed: readonly SignedBy<T>[]): SignedBy<T>[] {
  const sorted = [...signed].sort((a, b) => {
    const x = BigInt(a.signer);
    const y = BigInt(b.signer);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  for (let i = 1; i < sorted.length; i++) {
    if (BigInt(sorted[i]!.signer) === BigInt(sorted[i - 1]!.signer)) {
      throw new DuplicateSignerError(`signer ${sorted[i]!.signer} appears twice`, `signatures[${i}]`);
    }
  }
  return sorted;
}

