// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @notice One proven inference as committed in a batch Merkle tree. Every field but the seed is
/// a keccak256 digest computed off chain; protocol/merkle/leaf.ts is the spec for each encoding:
/// modelId = keccak256(utf8(model)); promptHash / outputHash = keccak256 of the tokens as packed
/// 4-byte big-endian uint32s; samplingHash = keccak256(abi.encode(uint32 maxTokens,
/// uint32 temperatureMicros, uint32 topPMicros)); proofsHash = keccak256(abi.encode(uint32 topk,
/// uint32 decodeBatchSize, bytes[] proofs)).
struct InferenceLeaf {
    bytes32 modelId;
    bytes32 promptHash;
    bytes32 outputHash;
    bytes32 samplingHash;
    uint64 seed;
    bytes32 proofsHash;
}

/// @title InferenceLeafLib
/// @notice Leaf hashing and inclusion proofs for batches of proven inferences. The tree is the one
/// protocol/merkle/tree.ts builds: sorted pairs (OpenZeppelin's commutative keccak256), an odd
/// node promoted unchanged, so OpenZeppelin's MerkleProof verifies its proofs as they are.
library InferenceLeafLib {
    /// @notice `leafHash` is not in the tree committed to by `root` along the given proof.
    error InferenceNotInBatch(bytes32 root, bytes32 leafHash);

    /// @notice The leaf hash: keccak256(bytes.concat(keccak256(abi.encode(fields...)))).
    /// @dev Hashed twice, as OpenZeppelin's StandardMerkleTree does: a leaf preimage is then a
    /// 32-byte digest, never 64 bytes, so an inner node cannot be presented as a leaf.
    /// @param leaf The leaf fields.
    /// @return The leaf hash, equal to hashInferenceLeaf() in protocol/merkle/leaf.ts.
    function hash(InferenceLeaf memory leaf) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(
                        leaf.modelId, leaf.promptHash, leaf.outputHash, leaf.samplingHash, leaf.seed, leaf.proofsHash
                    )
                )
            )
        );
    }

    /// @notice Whether `leaf` is part of the batch committed to by `root`.
    /// @param proof Sibling hashes from the leaf up, as BatchMerkleTree.proof() returns them.
    /// @param root The batch root.
    /// @param leaf The leaf fields.
    /// @return True when the proof leads from hash(leaf) to `root`.
    function verify(bytes32[] calldata proof, bytes32 root, InferenceLeaf memory leaf) internal pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, hash(leaf));
    }

    /// @notice Like verify(), but reverts when the leaf is not in the batch.
    /// @param proof Sibling hashes from the leaf up.
    /// @param root The batch root.
    /// @param leaf The leaf fields.
    /// @return leafHash hash(leaf), for callers that record which leaves were opened.
    /// @custom:error InferenceNotInBatch when the proof does not lead to `root`.
    function requireIncluded(bytes32[] calldata proof, bytes32 root, InferenceLeaf memory leaf)
        internal
        pure
        returns (bytes32 leafHash)
    {
        leafHash = hash(leaf);
        if (!MerkleProof.verifyCalldata(proof, root, leafHash)) revert InferenceNotInBatch(root, leafHash);
    }
}

using InferenceLeafLib for InferenceLeaf global;
