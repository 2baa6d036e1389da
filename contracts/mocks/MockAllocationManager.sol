// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IAllocationManager, OperatorSet} from "../interfaces/eigenlayer/IAllocationManager.sol";
import {IAVSRegistrar} from "../interfaces/eigenlayer/IAVSRegistrar.sol";
import {IStrategy} from "../interfaces/eigenlayer/IStrategy.sol";

/// @title MockAllocationManager
/// @notice A small stand-in for EigenLayer's AllocationManager, for tests and local networks
/// where EigenLayer's core contracts do not exist. It keeps the published interface and the rules
/// an AVS relies on: only the AVS configures its metadata, registrar and sets; only a set's slasher (named at
/// creation) slashes; registration calls
/// the registrar back and fails when it reverts; a deregistered operator stays slashable for
/// DEALLOCATION_DELAY blocks; slashOperator takes a proportion (WAD) of each listed strategy's
/// allocation, checks ascending strategies of the set and 0 < wad <= 1e18. What it leaves out:
/// delegation, shares and allocation delays. Allocations are set directly with setAllocation.
contract MockAllocationManager is IAllocationManager {
    /// @notice Blocks a deregistered operator stays slashable.
    uint32 public constant DEALLOCATION_DELAY = 50;

    mapping(address avs => bool) public hasMetadata;
    mapping(address avs => IAVSRegistrar) internal _registrar;
    mapping(bytes32 setKey => bool) internal _setExists;
    mapping(bytes32 setKey => IStrategy[]) internal _setStrategies;
    mapping(bytes32 setKey => address) internal _slasher;
    mapping(bytes32 setKey => mapping(address operator => bool)) internal _member;
    mapping(bytes32 setKey => mapping(address operator => uint32)) internal _slashableUntil;
    mapping(bytes32 setKey => mapping(address operator => mapping(IStrategy => uint256))) internal _allocated;
    /// @notice Slashes so far per operator set.
    mapping(bytes32 setKey => uint256) public slashCount;
    /// @notice Total stake slashed from each operator (all sets, all strategies).
    mapping(address operator => uint256) public totalSlashed;

    event AVSMetadataURIUpdated(address indexed avs, string metadataURI);
    event AVSRegistrarSet(address avs, IAVSRegistrar registrar);
    event OperatorSetCreated(OperatorSet operatorSet);
    event OperatorAddedToOperatorSet(address indexed operator, OperatorSet operatorSet);
    event OperatorRemovedFromOperatorSet(address indexed operator, OperatorSet operatorSet);

    error InvalidCaller();
    error NonexistentAVSMetadata();
    error InvalidAVSRegistrar();
    error InvalidOperatorSet();
    error AlreadyMemberOfSet();
    error NotMemberOfSet();
    error OperatorNotSlashable();
    error InputArrayLengthMismatch();
    error StrategiesMustBeInAscendingOrder();
    error StrategyNotInOperatorSet();
    error InvalidWadToSlash();
    error InputAddressZero();

    /// @inheritdoc IAllocationManager
    function updateAVSMetadataURI(address avs, string calldata metadataURI) external {
        if (msg.sender != avs) revert InvalidCaller();
        hasMetadata[avs] = true;
        emit AVSMetadataURIUpdated(avs, metadataURI);
    }

    /// @inheritdoc IAllocationManager
    function setAVSRegistrar(address avs, IAVSRegistrar registrar) external {
        if (msg.sender != avs) revert InvalidCaller();
        if (!registrar.supportsAVS(avs)) revert InvalidAVSRegistrar();
        _registrar[avs] = registrar;
        emit AVSRegistrarSet(avs, registrar);
    }

    /// @inheritdoc IAllocationManager
    function createOperatorSets(address avs, CreateSetParamsV2[] calldata params) external {
        if (msg.sender != avs) revert InvalidCaller();
        if (!hasMetadata[avs]) revert NonexistentAVSMetadata();
        for (uint256 i = 0; i < params.length; ++i) {
            bytes32 key = _key(avs, params[i].operatorSetId);
            if (_setExists[key]) revert InvalidOperatorSet();
            if (params[i].slasher == address(0)) revert InputAddressZero();
            _setExists[key] = true;
            _slasher[key] = params[i].slasher;
            IStrategy[] calldata strategies = params[i].strategies;
            for (uint256 j = 0; j < strategies.length; ++j) {
                _setStrategies[key].push(strategies[j]);
            }
            emit OperatorSetCreated(OperatorSet(avs, params[i].operatorSetId));
        }
    }

    /// @inheritdoc IAllocationManager
    function registerForOperatorSets(address operator, RegisterParams calldata params) external {
        if (msg.sender != operator) revert InvalidCaller();
        for (uint256 i = 0; i < params.operatorSetIds.length; ++i) {
            bytes32 key = _key(params.avs, params.operatorSetIds[i]);
            if (!_setExists[key]) revert InvalidOperatorSet();
            if (_member[key][operator]) revert AlreadyMemberOfSet();
            _member[key][operator] = true;
            emit OperatorAddedToOperatorSet(operator, OperatorSet(params.avs, params.operatorSetIds[i]));
        }
        _registrarOf(params.avs).registerOperator(operator, params.avs, params.operatorSetIds, params.data);
    }

    /// @inheritdoc IAllocationManager
    function deregisterFromOperatorSets(DeregisterParams calldata params) external {
        if (msg.sender != params.operator && msg.sender != params.avs) revert InvalidCaller();
        for (uint256 i = 0; i < params.operatorSetIds.length; ++i) {
            bytes32 key = _key(params.avs, params.operatorSetIds[i]);
            if (!_member[key][params.operator]) revert NotMemberOfSet();
            _member[key][params.operator] = false;
            _slashableUntil[key][params.operator] = uint32(block.number) + DEALLOCATION_DELAY;
            emit OperatorRemovedFromOperatorSet(params.operator, OperatorSet(params.avs, params.operatorSetIds[i]));
        }
        _registrarOf(params.avs).deregisterOperator(params.operator, params.avs, params.operatorSetIds);
    }

    /// @inheritdoc IAllocationManager
    function slashOperator(address avs, SlashingParams calldata params)
        external
        returns (uint256 slashId, uint256[] memory shares)
    {
        bytes32 key = _key(avs, params.operatorSetId);
        if (!_setExists[key]) revert InvalidOperatorSet();
        if (msg.sender != _slasher[key]) revert InvalidCaller();
        if (!_isSlashable(key, params.operator)) revert OperatorNotSlashable();
        if (params.strategies.length != params.wadsToSlash.length) revert InputArrayLengthMismatch();
        shares = new uint256[](params.strategies.length);
        for (uint256 i = 0; i < params.strategies.length; ++i) {
            IStrategy strategy = params.strategies[i];
            if (i > 0 && address(strategy) <= address(params.strategies[i - 1])) {
                revert StrategiesMustBeInAscendingOrder();
            }
            if (!_inSet(key, strategy)) revert StrategyNotInOperatorSet();
            uint256 wad = params.wadsToSlash[i];
            if (wad == 0 || wad > 1e18) revert InvalidWadToSlash();
            uint256 allocated = _allocated[key][params.operator][strategy];
            uint256 slashed = Math.mulDiv(allocated, wad, 1e18, Math.Rounding.Ceil);
            _allocated[key][params.operator][strategy] = allocated - slashed;
            totalSlashed[params.operator] += slashed;
            shares[i] = slashed;
        }
        slashId = ++slashCount[key];
        emit OperatorSlashed(
            params.operator,
            OperatorSet(avs, params.operatorSetId),
            params.strategies,
            params.wadsToSlash,
            params.description
        );
    }

    /// @notice Test helper standing in for delegation + modifyAllocations: sets the stake
    /// `operator` allocates from `strategy` to `operatorSet`.
    /// @param operator The operator.
    /// @param operatorSet The set.
    /// @param strategy The strategy.
    /// @param amount The allocated stake.
    function setAllocation(address operator, OperatorSet calldata operatorSet, IStrategy strategy, uint256 amount)
        external
    {
        bytes32 key = _key(operatorSet.avs, operatorSet.id);
        if (!_setExists[key]) revert InvalidOperatorSet();
        if (!_inSet(key, strategy)) revert StrategyNotInOperatorSet();
        _allocated[key][operator][strategy] = amount;
    }

    /// @inheritdoc IAllocationManager
    function getAllocatedStake(OperatorSet memory operatorSet, address[] memory operators, IStrategy[] memory strategies)
        public
        view
        returns (uint256[][] memory slashableStake)
    {
        bytes32 key = _key(operatorSet.avs, operatorSet.id);
        slashableStake = new uint256[][](operators.length);
        for (uint256 i = 0; i < operators.length; ++i) {
            slashableStake[i] = new uint256[](strategies.length);
            for (uint256 j = 0; j < strategies.length; ++j) {
                slashableStake[i][j] = _allocated[key][operators[i]][strategies[j]];
            }
        }
    }

    /// @inheritdoc IAllocationManager
    /// @dev Without pending deallocations in this stand-in, the minimum slashable stake is the
    /// allocation of a slashable operator (member, or deregistered less than DEALLOCATION_DELAY
    /// blocks before `futureBlock`), zero otherwise.
    function getMinimumSlashableStake(
        OperatorSet memory operatorSet,
        address[] memory operators,
        IStrategy[] memory strategies,
        uint32 futureBlock
    ) external view returns (uint256[][] memory slashableStake) {
        slashableStake = getAllocatedStake(operatorSet, operators, strategies);
        bytes32 key = _key(operatorSet.avs, operatorSet.id);
        for (uint256 i = 0; i < operators.length; ++i) {
            bool slashable = _member[key][operators[i]] || futureBlock < _slashableUntil[key][operators[i]];
            if (!slashable) {
                for (uint256 j = 0; j < strategies.length; ++j) {
                    slashableStake[i][j] = 0;
                }
            }
        }
    }

    /// @inheritdoc IAllocationManager
    function isMemberOfOperatorSet(address operator, OperatorSet memory operatorSet) external view returns (bool) {
        return _member[_key(operatorSet.avs, operatorSet.id)][operator];
    }

    /// @inheritdoc IAllocationManager
    function getStrategiesInOperatorSet(OperatorSet memory operatorSet) external view returns (IStrategy[] memory) {
        return _setStrategies[_key(operatorSet.avs, operatorSet.id)];
    }

    function _registrarOf(address avs) private view returns (IAVSRegistrar) {
        IAVSRegistrar registrar = _registrar[avs];
        return address(registrar) == address(0) ? IAVSRegistrar(avs) : registrar;
    }

    function _isSlashable(bytes32 key, address operator) private view returns (bool) {
        return _member[key][operator] || block.number < _slashableUntil[key][operator];
    }

    function _inSet(bytes32 key, IStrategy strategy) private view returns (bool) {
        IStrategy[] storage list = _setStrategies[key];
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == strategy) return true;
        }
        return false;
    }

    function _key(address avs, uint32 id) private pure returns (bytes32) {
        return keccak256(abi.encode(avs, id));
    }
}
