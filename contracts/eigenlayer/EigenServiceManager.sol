// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IRewardsCoordinator} from "../interfaces/eigenlayer/IRewardsCoordinator.sol";
import {IOperatorRegistry} from "../interfaces/IOperatorRegistry.sol";
import {IAllocationManager, OperatorSet} from "../interfaces/eigenlayer/IAllocationManager.sol";
import {IAVSRegistrar} from "../interfaces/eigenlayer/IAVSRegistrar.sol";
import {IStrategy} from "../interfaces/eigenlayer/IStrategy.sol";
import {OperatorRegistryBase} from "../staking/OperatorRegistryBase.sol";

/// @title EigenServiceManager
/// @notice EigenLayer mode: the service as an AVS. Operators join operator set 0 (verifiers) and
/// provers operator set 1 through AllocationManager.registerForOperatorSets, which calls back
/// registerOperator() here with the signing-key registration in `data`. Weight is the stake the
/// member keeps slashable by its set for `slashableLookahead` blocks (getMinimumSlashableStake,
/// summed over the set's strategies), checkpointed by block like native stake, refreshed on
/// registration, on slashing and by anyone through updateStakes(). Slashing goes through
/// AllocationManager.slashOperator, with this contract as the sets' slasher (CreateSetParamsV2).
/// The sets are not redistributing: EigenLayer burns the slashed shares. The challenger's reward
/// therefore comes from the AVS's own funds: slash() pays the BatchManager, out of the challenge
/// pool, one reward token per stake unit the slash removed (capped by the pool), which the
/// BatchManager splits as it splits seized native stake. Attesting operators are paid through
/// the RewardsCoordinator's operator-directed rewards from the rewards pool.
contract EigenServiceManager is OperatorRegistryBase, IAVSRegistrar {
    using SafeERC20 for IERC20;

    /// @notice Operator set of the verifying operators.
    uint32 public constant OPERATOR_SET_ID = 0;
    /// @notice Operator set of the provers.
    uint32 public constant PROVER_SET_ID = 1;

    /// @notice EigenLayer's AllocationManager.
    IAllocationManager public immutable allocationManager;
    /// @notice Minimum slashable stake of an operator.
    uint256 public immutable minOperatorStake;
    /// @notice Minimum slashable stake of a prover.
    uint256 public immutable minProverStake;
    /// @notice Blocks ahead for which stake must stay slashable to count.
    uint32 public immutable slashableLookahead;

    /// @notice The token of both pools (locally the stake token; a strategy's underlying token).
    IERC20 public immutable rewardToken;
    /// @notice EigenLayer's RewardsCoordinator (address(0): operator rewards disabled).
    IRewardsCoordinator public immutable rewardsCoordinator;
    /// @notice May submit operator-directed rewards (set by the owner).
    address public rewardsInitiator;
    /// @notice Reward tokens held for challengers of upheld disputes.
    uint256 public challengePool;
    /// @notice Reward tokens held for operator-directed rewards.
    uint256 public rewardsPool;

    IStrategy[] internal _strategies;
    mapping(address account => uint256) internal _cachedStake;
    mapping(address account => bool) internal _inSet;

    /// @notice The AVS metadata, registrar and operator sets were set up in the AllocationManager.
    event AVSInitialized(string metadataURI);
    /// @notice `account`'s slashable stake was read as `stake`.
    event StakeUpdated(address indexed account, uint256 stake);
    /// @notice `account` was slashed `bps` basis points through the AllocationManager.
    event SlashRequested(address indexed account, uint32 operatorSetId, uint256 bps, bytes32 indexed reason);
    /// @notice `account` left its operator set.
    event MemberDeregistered(address indexed account);
    /// @notice `amount` reward tokens were added to a pool (0 = challenge, 1 = rewards) by `from`.
    event PoolFunded(uint8 indexed pool, address indexed from, uint256 amount);
    /// @notice A challenger's reward of `amount` left the challenge pool for `recipient`.
    event ChallengeRewardPaid(address indexed recipient, uint256 amount, bytes32 indexed reason);
    /// @notice Operator-directed rewards of `total` were submitted for [start, start + duration).
    event OperatorRewardsSubmitted(uint32 startTimestamp, uint32 duration, uint256 total, uint256 operators);
    /// @notice The rewards initiator changed.
    event RewardsInitiatorSet(address indexed initiator);

    /// @notice Only the AllocationManager may call.
    error NotAllocationManager(address caller);
    /// @notice The callback named another AVS.
    error WrongAVS(address avs);
    /// @notice Exactly one known operator set per registration.
    error InvalidOperatorSets(uint256 count);
    /// @notice Operator set id not 0 or 1.
    error UnknownOperatorSet(uint32 operatorSetId);
    /// @notice A member rejoined another set than its role's.
    error RoleMismatch(address account);
    /// @notice Slashable stake below the role's minimum.
    error StakeBelowMinimum(uint256 stake, uint256 minimum);
    /// @notice initializeAVS was already called.
    error AlreadyInitialized();
    /// @notice No strategies given.
    error NoStrategies();
    /// @notice Pool id not 0 (challenge) or 1 (rewards).
    error UnknownPool(uint8 pool);
    /// @notice Only the rewards initiator may submit rewards.
    error NotRewardsInitiator(address caller);
    /// @notice No RewardsCoordinator was configured.
    error RewardsDisabled();
    /// @notice The rewards pool holds less than the submission pays.
    error RewardsPoolTooSmall(uint256 needed, uint256 available);
    /// @notice An empty rewards submission.
    error NoOperatorRewards();

    modifier onlyAllocationManager() {
        if (msg.sender != address(allocationManager)) revert NotAllocationManager(msg.sender);
        _;
    }

    bool private _initialized;

    /// @param allocationManager_ EigenLayer's AllocationManager.
    /// @param strategies_ Strategies whose stake counts (ascending addresses, as EigenLayer wants).
    /// @param minOperatorStake_ Minimum operator stake.
    /// @param minProverStake_ Minimum prover stake.
    /// @param unbondingDelay_ Seconds a leaving member stays slashable (EigenLayer's deallocation
    /// delay, in seconds); the BatchManager checks it against its windows.
    /// @param slashableLookahead_ Blocks ahead used with getMinimumSlashableStake.
    /// @param owner_ May initialize the AVS and set the slasher.
    /// @param rewardToken_ Token of the challenge and rewards pools.
    /// @param rewardsCoordinator_ EigenLayer's RewardsCoordinator, or address(0) without rewards.
    constructor(
        IAllocationManager allocationManager_,
        IStrategy[] memory strategies_,
        uint256 minOperatorStake_,
        uint256 minProverStake_,
        uint256 unbondingDelay_,
        uint32 slashableLookahead_,
        address owner_,
        IERC20 rewardToken_,
        IRewardsCoordinator rewardsCoordinator_
    ) OperatorRegistryBase(unbondingDelay_, owner_) {
        if (address(allocationManager_) == address(0)) revert ZeroAddress("allocationManager");
        if (address(rewardToken_) == address(0)) revert ZeroAddress("rewardToken");
        if (strategies_.length == 0) revert NoStrategies();
        allocationManager = allocationManager_;
        rewardToken = rewardToken_;
        rewardsCoordinator = rewardsCoordinator_;
        rewardsInitiator = owner_;
        _strategies = strategies_;
        minOperatorStake = minOperatorStake_;
        minProverStake = minProverStake_;
        slashableLookahead = slashableLookahead_;
    }

    /// @notice Publishes the AVS metadata, makes this contract the registrar and creates operator
    /// sets 0 (operators) and 1 (provers) over the configured strategies. Once, by the owner.
    /// @param metadataURI The AVS metadata URI.
    function initializeAVS(string calldata metadataURI) external onlyOwner {
        if (_initialized) revert AlreadyInitialized();
        _initialized = true;
        allocationManager.updateAVSMetadataURI(address(this), metadataURI);
        allocationManager.setAVSRegistrar(address(this), IAVSRegistrar(address(this)));
        IAllocationManager.CreateSetParamsV2[] memory sets = new IAllocationManager.CreateSetParamsV2[](2);
        sets[0] = IAllocationManager.CreateSetParamsV2(OPERATOR_SET_ID, _strategies, address(this));
        sets[1] = IAllocationManager.CreateSetParamsV2(PROVER_SET_ID, _strategies, address(this));
        allocationManager.createOperatorSets(address(this), sets);
        emit AVSInitialized(metadataURI);
    }

    /// @notice AllocationManager callback on registration. `data` is
    /// abi.encode(address signingKey, uint256 deadline, bytes signature) on first registration
    /// (the signing key's EIP-712 Registration for role 1 on set 0, role 2 on set 1); a member
    /// rejoining its own set may pass empty data.
    /// @param operator The registering operator.
    /// @param avs Must be this contract.
    /// @param operatorSetIds Exactly one of 0 or 1.
    /// @param data The registration, as above.
    function registerOperator(address operator, address avs, uint32[] calldata operatorSetIds, bytes calldata data)
        external
        onlyAllocationManager
    {
        if (avs != address(this)) revert WrongAVS(avs);
        if (operatorSetIds.length != 1) revert InvalidOperatorSets(operatorSetIds.length);
        uint32 setId = operatorSetIds[0];
        Role role = _roleOfSet(setId);
        Role current = _members[operator].role;
        if (current == Role.None) {
            (address signingKey, uint256 deadline, bytes memory signature) = abi.decode(data, (address, uint256, bytes));
            _registerMember(operator, uint8(role), signingKey, deadline, signature);
        } else if (current != role) {
            revert RoleMismatch(operator);
        }
        _inSet[operator] = true;
        uint256 stake = _readSlashableStake(operator, setId);
        uint256 minimum = _minimumStake(role);
        if (stake < minimum || stake == 0) revert StakeBelowMinimum(stake, minimum);
        _record(operator, stake);
    }

    /// @notice AllocationManager callback on deregistration: the member's weight drops to zero now;
    /// EigenLayer keeps its allocation slashable for its deallocation delay.
    /// @param operator The leaving operator.
    /// @param avs Must be this contract.
    /// @param operatorSetIds The sets left.
    function deregisterOperator(address operator, address avs, uint32[] calldata operatorSetIds)
        external
        onlyAllocationManager
    {
        if (avs != address(this)) revert WrongAVS(avs);
        if (operatorSetIds.length != 1) revert InvalidOperatorSets(operatorSetIds.length);
        _roleOfSet(operatorSetIds[0]);
        _inSet[operator] = false;
        _record(operator, 0);
        emit MemberDeregistered(operator);
    }

    /// @inheritdoc IAVSRegistrar
    function supportsAVS(address avs) external view returns (bool) {
        return avs == address(this);
    }

    /// @notice Re-reads the slashable stake of members (anyone may call, e.g. after allocations change).
    /// @param accounts Members to refresh; non-members are skipped.
    function updateStakes(address[] calldata accounts) external {
        for (uint256 i = 0; i < accounts.length; ++i) {
            _refresh(accounts[i]);
        }
    }

    /// @inheritdoc IOperatorRegistry
    /// @dev Slashes each member's set through the AllocationManager (the shares are burnt there),
    /// then pays `recipient` from the challenge pool as many reward tokens as the slash removed
    /// stake units, as far as the pool reaches: that is what `seized` reports.
    function slash(address[] calldata accounts, uint256 bps, address recipient, bytes32 reason)
        external
        onlySlasher
        returns (uint256 seized)
    {
        uint256 removed;
        _checkBps(bps);
        uint256 n = _strategies.length;
        uint256[] memory wads = new uint256[](n);
        for (uint256 j = 0; j < n; ++j) {
            wads[j] = bps * 1e14; // basis points to WAD (1e18 = 100%)
        }
        for (uint256 i = 0; i < accounts.length; ++i) {
            address account = accounts[i];
            Role role = _members[account].role;
            if (role == Role.None) continue;
            uint32 setId = role == Role.Operator ? OPERATOR_SET_ID : PROVER_SET_ID;
            allocationManager.slashOperator(
                address(this),
                IAllocationManager.SlashingParams({
                    operator: account,
                    operatorSetId: setId,
                    strategies: _strategies,
                    wadsToSlash: wads,
                    description: "verifiable-benchmarks: fraud upheld"
                })
            );
            emit SlashRequested(account, setId, bps, reason);
            uint256 before = _cachedStake[account];
            _refresh(account);
            uint256 stakeNow = _cachedStake[account];
            if (before > stakeNow) removed += before - stakeNow;
        }
        seized = removed < challengePool ? removed : challengePool;
        if (seized > 0) {
            challengePool -= seized;
            rewardToken.safeTransfer(recipient, seized);
            emit ChallengeRewardPaid(recipient, seized, reason);
        }
    }

    /// @notice Adds `amount` reward tokens (pulled from the caller) to pool 0 (challenge) or 1 (rewards).
    /// @param pool 0 = challenge pool, 1 = rewards pool.
    /// @param amount Tokens to add.
    function fundPool(uint8 pool, uint256 amount) external {
        if (pool > 1) revert UnknownPool(pool);
        rewardToken.safeTransferFrom(msg.sender, address(this), amount);
        if (pool == 0) challengePool += amount;
        else rewardsPool += amount;
        emit PoolFunded(pool, msg.sender, amount);
    }

    /// @notice Sets who may submit operator-directed rewards (owner only).
    /// @param initiator The new rewards initiator (e.g. the aggregator's account).
    function setRewardsInitiator(address initiator) external onlyOwner {
        if (initiator == address(0)) revert ZeroAddress("initiator");
        rewardsInitiator = initiator;
        emit RewardsInitiatorSet(initiator);
    }

    /// @notice Pays operators of set 0 from the rewards pool through the RewardsCoordinator's
    /// operator-directed rewards (EigenLayer's rules apply: a retroactive period whose start and
    /// duration are multiples of its calculation interval, operators ascending, amounts non-zero).
    /// Every configured strategy counts with multiplier 1e18.
    /// @param rewards Operator addresses (ascending) and amounts.
    /// @param startTimestamp Period start.
    /// @param duration Period length.
    /// @param description Carried in EigenLayer's event.
    function submitOperatorRewards(
        IRewardsCoordinator.OperatorReward[] calldata rewards,
        uint32 startTimestamp,
        uint32 duration,
        string calldata description
    ) external {
        if (msg.sender != rewardsInitiator) revert NotRewardsInitiator(msg.sender);
        if (address(rewardsCoordinator) == address(0)) revert RewardsDisabled();
        if (rewards.length == 0) revert NoOperatorRewards();
        uint256 total;
        for (uint256 i = 0; i < rewards.length; ++i) {
            total += rewards[i].amount;
        }
        if (total > rewardsPool) revert RewardsPoolTooSmall(total, rewardsPool);
        rewardsPool -= total;
        uint256 n = _strategies.length;
        IRewardsCoordinator.StrategyAndMultiplier[] memory weights = new IRewardsCoordinator.StrategyAndMultiplier[](n);
        for (uint256 j = 0; j < n; ++j) {
            weights[j] = IRewardsCoordinator.StrategyAndMultiplier(_strategies[j], 1e18);
        }
        IRewardsCoordinator.OperatorDirectedRewardsSubmission[] memory submissions =
            new IRewardsCoordinator.OperatorDirectedRewardsSubmission[](1);
        submissions[0] = IRewardsCoordinator.OperatorDirectedRewardsSubmission(
            weights, rewardToken, rewards, startTimestamp, duration, description
        );
        rewardToken.forceApprove(address(rewardsCoordinator), total);
        rewardsCoordinator.createOperatorDirectedOperatorSetRewardsSubmission(
            OperatorSet(address(this), OPERATOR_SET_ID), submissions
        );
        emit OperatorRewardsSubmitted(startTimestamp, duration, total, rewards.length);
    }

    /// @notice The strategies whose stake counts.
    /// @return The strategy list.
    function strategies() external view returns (IStrategy[] memory) {
        return _strategies;
    }

    /// @notice The last slashable stake read for a member.
    /// @param account The member.
    /// @return The stake.
    function stakeOf(address account) external view returns (uint256) {
        return _cachedStake[account];
    }

    function _refresh(address account) private {
        Role role = _members[account].role;
        if (role == Role.None) return;
        uint256 stake = _inSet[account] ? _readSlashableStake(account, role == Role.Operator ? OPERATOR_SET_ID : PROVER_SET_ID) : 0;
        _record(account, stake);
    }

    function _record(address account, uint256 stake) private {
        _cachedStake[account] = stake;
        _setWeight(account, stake);
        emit StakeUpdated(account, stake);
    }

    function _readSlashableStake(address account, uint32 setId) private view returns (uint256 total) {
        address[] memory operators = new address[](1);
        operators[0] = account;
        uint256[][] memory stakes = allocationManager.getMinimumSlashableStake(
            OperatorSet(address(this), setId),
            operators,
            _strategies,
            SafeCast.toUint32(block.number + slashableLookahead)
        );
        for (uint256 j = 0; j < stakes[0].length; ++j) {
            total += stakes[0][j];
        }
    }

    function _roleOfSet(uint32 setId) private pure returns (Role) {
        if (setId == OPERATOR_SET_ID) return Role.Operator;
        if (setId == PROVER_SET_ID) return Role.Prover;
        revert UnknownOperatorSet(setId);
    }

    function _stakeOf(address account) internal view override returns (uint256) {
        return _cachedStake[account];
    }

    function _minimumStake(Role role) internal view override returns (uint256) {
        return role == Role.Prover ? minProverStake : minOperatorStake;
    }
}
