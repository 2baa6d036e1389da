// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title TypedData
/// @notice The EIP-712 domain and struct types every signer of this protocol uses. The TypeScript
/// twin is protocol/eip712/types.ts; a test checks that both hash the same way.
/// @dev Domain: name DOMAIN_NAME, version DOMAIN_VERSION, the chain id and the verifying contract
/// (the registry for registrations, the BatchManager for attestations and votes).
library TypedData {
    string internal constant DOMAIN_NAME = "VerifiableBenchmarks";
    string internal constant DOMAIN_VERSION = "1";

    /// @notice Signed by a signing key to bind itself to `operator` for `role`.
    bytes32 internal constant REGISTRATION_TYPEHASH =
        keccak256("Registration(address operator,address signingKey,uint8 role,uint256 deadline)");

    /// @notice Signed by an operator's BLS key (hashed to G1) to prove it holds the key: its
    /// proof of possession, which rules out rogue-key aggregates.
    bytes32 internal constant BLS_REGISTRATION_TYPEHASH = keccak256("BLSRegistration(address operator)");

    /// @notice Signed by an operator's signing key over the result of checking a batch.
    bytes32 internal constant ATTESTATION_TYPEHASH =
        keccak256("Attestation(uint256 batchId,bytes32 root,uint8 verdict,uint32 leavesChecked)");

    /// @notice Signed by an operator's signing key to vote on a dispute over one leaf.
    bytes32 internal constant DISPUTE_VOTE_TYPEHASH =
        keccak256("DisputeVote(uint256 disputeId,uint256 batchId,bytes32 leafHash,bool fraud)");
}
