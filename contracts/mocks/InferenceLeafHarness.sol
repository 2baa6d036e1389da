// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {InferenceLeaf, InferenceLeafLib} from "../libraries/InferenceLeaf.sol";

/// @title InferenceLeafHarness
/// @notice Test-only wrapper exposing InferenceLeafLib's internal functions.
contract InferenceLeafHarness {
    /// @notice InferenceLeafLib.hash.
    /// @param leaf The leaf fields.
    /// @return The double-hashed leaf.
    function hash(InferenceLeaf calldata leaf) external pure returns (bytes32) {
        return leaf.hash();
    }

    /// @notice InferenceLeafLib.verify.
    /// @param proof Sibling hashes from the leaf up.
    /// @param root The batch root.
    /// @param leaf The leaf fields.
    /// @return Whether the leaf is in the batch.
    function verify(bytes32[] calldata proof, bytes32 root, InferenceLeaf calldata leaf) external pure returns (bool) {
        return InferenceLeafLib.verify(proof, root, leaf);
    }

    /// @notice InferenceLeafLib.requireIncluded; reverts with InferenceNotInBatch otherwise.
    /// @param proof Sibling hashes from the leaf up.
    /// @param root The batch root.
    /// @param leaf The leaf fields.
    /// @return The leaf hash.
    function requireIncluded(bytes32[] calldata proof, bytes32 root, InferenceLeaf calldata leaf)
        external
        pure
        returns (bytes32)
    {
        return InferenceLeafLib.requireIncluded(proof, root, leaf);
    }
}
