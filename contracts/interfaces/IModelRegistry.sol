// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title IModelRegistry
/// @notice What the BatchManager needs to know about a model: the verification profile its
/// batches are judged by (protocol/verification/profile.ts, by content hash).
interface IModelRegistry {
    /// @notice The profile currently bound to `modelId`, or zero when the model is not registered.
    /// @param modelId keccak256(utf8(model id)), as in every inference leaf.
    /// @return profileHash keccak256 of the profile's canonical JSON.
    function profileOf(bytes32 modelId) external view returns (bytes32 profileHash);
}
