// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IStrategy} from "./IStrategy.sol";
import {IAVSRegistrar} from "./IAVSRegistrar.sol";

/// @notice An EigenLayer operator set: the AVS that owns it and its id.
struct OperatorSet {
    address avs;
    uint32 id;
}

/// @title IAllocationManager
/// @notice The subset of EigenLayer's AllocationManager that the EigenServiceManager calls, with
/// the structs, names and signatures EigenLayer publishes (v1.12). Written for this
/// project; the contracts behind it are EigenLayer's core (or MockAllocationManager in tests).
interface IAllocationManager {
    /// @notice Parameters of slashOperator.
    struct SlashingParams {
        address operator;
        uint32 operatorSetId;
        IStrategy[] strategies;
        uint256[] wadsToSlash;
        string description;
    }

    /// @notice Parameters of registerForOperatorSets.
    struct RegisterParams {
        address avs;
        uint32[] operatorSetIds;
        bytes data;
    }

    /// @notice Parameters of deregisterFromOperatorSets.
    struct DeregisterParams {
        address operator;
        address avs;
        uint32[] operatorSetIds;
    }

    /// @notice Parameters of createOperatorSets (v1.9+: the set's slasher is named at creation).
    struct CreateSetParamsV2 {
        uint32 operatorSetId;
        IStrategy[] strategies;
        address slasher;
    }

    /// @notice Parameters of modifyAllocations: new magnitudes (parts of 1e18) per strategy.
    struct AllocateParams {
        OperatorSet operatorSet;
        IStrategy[] strategies;
        uint64[] newMagnitudes;
    }

    /// @notice Emitted when an operator is slashed.
    event OperatorSlashed(
        address operator, OperatorSet operatorSet, IStrategy[] strategies, uint256[] wadSlashed, string description
    );

    /// @notice Slashes `params.operator` in one of `avs`'s operator sets (caller: the set's slasher).
    /// @return slashId The set's slash counter after this slash.
    /// @return shares Shares slashed per strategy of `params.strategies`.
    function slashOperator(address avs, SlashingParams calldata params)
        external
        returns (uint256 slashId, uint256[] memory shares);

    /// @notice Registers `operator` for operator sets of `params.avs`, then calls the AVS registrar.
    function registerForOperatorSets(address operator, RegisterParams calldata params) external;

    /// @notice Deregisters an operator from operator sets (caller: the operator or the AVS).
    function deregisterFromOperatorSets(DeregisterParams calldata params) external;

    /// @notice Sets the contract called back on (de)registration for `avs`.
    function setAVSRegistrar(address avs, IAVSRegistrar registrar) external;

    /// @notice Emits the AVS's metadata URI (required before creating operator sets).
    function updateAVSMetadataURI(address avs, string calldata metadataURI) external;

    /// @notice Creates operator sets for `avs`, each with its slasher.
    function createOperatorSets(address avs, CreateSetParamsV2[] calldata params) external;

    /// @notice Stake allocated by `operators` to `operatorSet` per strategy, whether slashable or not.
    function getAllocatedStake(OperatorSet memory operatorSet, address[] memory operators, IStrategy[] memory strategies)
        external
        view
        returns (uint256[][] memory slashableStake);

    /// @notice Stake that stays slashable by `operatorSet` until `futureBlock`.
    function getMinimumSlashableStake(
        OperatorSet memory operatorSet,
        address[] memory operators,
        IStrategy[] memory strategies,
        uint32 futureBlock
    ) external view returns (uint256[][] memory slashableStake);

    /// @notice Whether `operator` is a member of `operatorSet`.
    function isMemberOfOperatorSet(address operator, OperatorSet memory operatorSet) external view returns (bool);

    /// @notice Strategies of `operatorSet`.
    function getStrategiesInOperatorSet(OperatorSet memory operatorSet) external view returns (IStrategy[] memory);
}
