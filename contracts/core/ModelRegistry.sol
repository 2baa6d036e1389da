// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Binds each model id the network serves to the verification profile its batches are
/// judged by and to the hash of the fp32 reference weights that profile was calibrated on, where
/// provers, operators and the BatchManager all read the same values. A batch takes the profile
/// bound when it is submitted (BatchSubmitted carries it), so a later change never re-judges it.
/// @dev Governance (the owner) registers models; ownership moves in two steps.
contract ModelRegistry is IModelRegistry, Ownable2Step {
    /// @notice What is bound to one model id.
    struct Model {
        bytes32 profileHash;
        bytes32 weightsHash;
    }

    /// @notice Longest model id string accepted (bytes of UTF-8).
    uint256 public constant MAX_MODEL_ID_BYTES = 256;
    /// @notice Longest profile URI accepted (bytes).
    uint256 public constant MAX_URI_BYTES = 2048;

    mapping(bytes32 modelId => Model) internal _models;

    /// @notice A model's profile was set (first registration or a replacement).
    /// @param modelId keccak256(utf8(model)).
    /// @param model The model id string.
    /// @param profileHash Content hash of the profile.
    /// @param weightsHash sha256 of the fp32 reference model file the profile was calibrated on.
    /// @param profileURI Where the profile document can be fetched (its hash is what counts).
    event ModelProfileSet(bytes32 indexed modelId, string model, bytes32 profileHash, bytes32 weightsHash, string profileURI);

    /// @notice The model id string is empty or longer than MAX_MODEL_ID_BYTES.
    error InvalidModelId(uint256 length);
    /// @notice A zero profile or weights hash.
    error ZeroHash(string field);
    /// @notice The profile URI is longer than MAX_URI_BYTES.
    error URITooLong(uint256 length);

    /// @param owner_ Governance: the only account that registers models.
    constructor(address owner_) Ownable(owner_) {}

    /// @notice Binds `model` to a profile and reference weights, replacing any earlier binding for
    /// batches submitted from now on.
    /// @param model The model id string (as in the records' `model` field).
    /// @param profileHash Content hash of the profile (non-zero).
    /// @param weightsHash sha256 of the fp32 reference model file (non-zero).
    /// @param profileURI Where the profile can be fetched.
    function setModelProfile(string calldata model, bytes32 profileHash, bytes32 weightsHash, string calldata profileURI)
        external
        onlyOwner
    {
        uint256 length = bytes(model).length;
        if (length == 0 || length > MAX_MODEL_ID_BYTES) revert InvalidModelId(length);
        if (profileHash == bytes32(0)) revert ZeroHash("profileHash");
        if (weightsHash == bytes32(0)) revert ZeroHash("weightsHash");
        if (bytes(profileURI).length > MAX_URI_BYTES) revert URITooLong(bytes(profileURI).length);
        bytes32 modelId = keccak256(bytes(model));
        _models[modelId] = Model(profileHash, weightsHash);
        emit ModelProfileSet(modelId, model, profileHash, weightsHash, profileURI);
    }

    /// @inheritdoc IModelRegistry
    function profileOf(bytes32 modelId) external view returns (bytes32) {
        return _models[modelId].profileHash;
    }

    /// @notice Everything bound to `modelId` (zeros when unregistered).
    /// @param modelId keccak256(utf8(model)).
    /// @return The model's profile and weights hashes.
    function getModel(bytes32 modelId) external view returns (Model memory) {
        return _models[modelId];
    }
}
