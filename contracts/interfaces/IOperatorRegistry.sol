// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {BN254} from "../libraries/BN254.sol";

/// @title IOperatorRegistry
/// @notice What the BatchManager needs from a staking back end. Two implement it: the native
/// StakeRegistry (ERC-20 stake held by the registry) and the EigenServiceManager (stake allocated
/// to an EigenLayer operator set, slashed through the AllocationManager).
interface IOperatorRegistry {
    /// @notice The two kinds of member. Operators attest and vote; provers submit batches.
    enum Role {
        None,
        Operator,
        Prover
    }

    /// @notice Voting weight of each signing key at `blockNumber` (0 for unknown keys, provers and
    /// keys without stake then).
    /// @param signingKeys Signing-key addresses, in any order.
    /// @param blockNumber A past or current block.
    /// @return weights One weight per key, in the order given.
    function signerWeightsAt(address[] calldata signingKeys, uint256 blockNumber)
        external
        view
        returns (uint256[] memory weights);

    /// @notice Sum of the voting weights of `signingKeys` at `blockNumber`, stopping at the first
    /// key without weight.
    /// @param signingKeys Signing-key addresses.
    /// @param blockNumber A past or current block.
    /// @return sum The summed weight (of the keys before `firstUnstaked`).
    /// @return firstUnstaked Index of the first key without weight, type(uint256).max if none.
    function sumSignerWeightsAt(address[] calldata signingKeys, uint256 blockNumber)
        external
        view
        returns (uint256 sum, uint256 firstUnstaked);

    /// @notice Sum of all operators' voting weight at `blockNumber`.
    /// @param blockNumber A past or current block.
    /// @return The total weight.
    function totalWeightAt(uint256 blockNumber) external view returns (uint256);

    /// @notice Whether `prover` is registered as a prover with at least the minimum prover stake.
    /// @param prover The prover's address (the account that submits batches).
    /// @return True when it may submit batches now.
    function isActiveProver(address prover) external view returns (bool);

    /// @notice The operator address a signing key was registered for (address(0) if none).
    /// @param signingKey The signing-key address.
    /// @return The operator address.
    function operatorOfSigner(address signingKey) external view returns (address);

    /// @notice Seconds a member waits between leaving and getting its stake back.
    /// @return The delay in seconds.
    function unbondingDelay() external view returns (uint256);

    /// @notice The signers' side of a BLS certificate for a batch with reference block `refBlock`:
    /// the aggregate G1 key of the operators keyed at that block (apk history entry `apkIndex`)
    /// minus the `nonSigners`' keys, and the signers' weight (the keyed operators' weight minus
    /// the non-signers'). Non-signer keys must be registered, keyed by then, and strictly ascending
    /// by BN254.hashG1.
    /// @return apk The signers' aggregate key.
    /// @return signedWeight The signers' weight at `refBlock`.
    function blsSignersAt(uint256 refBlock, uint32 apkIndex, BN254.G1Point[] calldata nonSigners)
        external
        view
        returns (BN254.G1Point memory apk, uint256 signedWeight);

    /// @notice The sum of the BLS keys of the operators with these signing keys (each keyed at or
    /// before `refBlock`): what an attester list must add up to for a BLS-attested batch.
    function blsApkOfSigningKeys(address[] calldata signingKeys, uint256 refBlock)
        external
        view
        returns (BN254.G1Point memory apk);

    /// @notice Slashes `bps` basis points of each account's stake. Only the slasher may call.
    /// @param accounts Operator or prover addresses (not signing keys).
    /// @param bps Basis points of current stake (active + unbonding) to take, 1..10000.
    /// @param recipient Where slashed tokens go, when this back end holds them.
    /// @param reason A label carried in events (e.g. the dispute id).
    /// @return seized Tokens transferred to `recipient` (0 where slashed stake is burnt elsewhere).
    function slash(address[] calldata accounts, uint256 bps, address recipient, bytes32 reason)
        external
        returns (uint256 seized);
}
