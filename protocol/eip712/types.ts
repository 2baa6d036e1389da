import type { Address, Hex } from "viem";

/**
 * The EIP-712 domain and struct types of the protocol: the single source of truth for operators,
 * provers and the aggregator. contracts/libraries/TypedData.sol declares the same type strings;
 * test/contracts/eip712.test.ts checks that both sides hash and verify alike.
 */
export const DOMAIN_NAME = "VerifiableBenchmarks";
export const DOMAIN_VERSION = "1";

/** Membership roles, as the IOperatorRegistry.Role enum numbers them. */
export const Role = { Operator: 1, Prover: 2 } as const;
export type RoleValue = (typeof Role)[keyof typeof Role];

/** Attestation verdicts, as BatchManager.VERDICT_VALID / VERDICT_INVALID. */
export const Verdict = { Valid: 1, Invalid: 2 } as const;
export type VerdictValue = (typeof Verdict)[keyof typeof Verdict];

/** The EIP-712 domain: registrations are verified by the registry, attestations and votes by the BatchManager. */
export interface ProtocolDomain {
  name: typeof DOMAIN_NAME;
  version: typeof DOMAIN_VERSION;
  chainId: number;
  verifyingContract: Address;
}

export function protocolDomain(chainId: number | bigint, verifyingContract: Address): ProtocolDomain {
  return { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId: Number(chainId), verifyingContract };
}

export const registrationTypes = {
  Registration: [
    { name: "operator", type: "address" },
    { name: "signingKey", type: "address" },
    { name: "role", type: "uint8" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export const attestationTypes = {
  Attestation: [
    { name: "batchId", type: "uint256" },
    { name: "root", type: "bytes32" },
    { name: "verdict", type: "uint8" },
    { name: "leavesChecked", type: "uint32" },
  ],
} as const;

export const disputeVoteTypes = {
  DisputeVote: [
    { name: "disputeId", type: "uint256" },
    { name: "batchId", type: "uint256" },
    { name: "leafHash", type: "bytes32" },
    { name: "fraud", type: "bool" },
  ],
} as const;

/** Signed by a signing key to bind itself to `operator` (the staking account) for `role`. */
export interface RegistrationMessage {
  operator: Address;
  signingKey: Address;
  role: RoleValue;
  deadline: bigint;
}

/** Signed by an operator's signing key over the outcome of checking a batch. */
export interface AttestationMessage {
  batchId: bigint;
  root: Hex;
  verdict: VerdictValue;
  leavesChecked: number;
}

/** Signed by an operator's signing key to vote on a dispute over one leaf. */
export interface DisputeVoteMessage {
  disputeId: bigint;
  batchId: bigint;
  leafHash: Hex;
  fraud: boolean;
}
