// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IOperatorRegistry} from "../interfaces/IOperatorRegistry.sol";
import {OperatorRegistryBase} from "./OperatorRegistryBase.sol";

/// @title StakeRegistry
/// @notice Native staking mode (the default): operators and provers lock an ERC-20 stake here,
/// leave through an unbonding delay, and are slashed by the BatchManager. Unbonding stake stops
/// counting as voting weight at once but stays slashable until withdrawn.
contract StakeRegistry is OperatorRegistryBase, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice A member's stake.
    struct Stake {
        uint128 active;
        uint128 unbonding;
        uint64 releaseAt;
    }

    /// @notice The staked token.
    IERC20 public immutable stakeToken;
    /// @notice Minimum active stake of an operator.
    uint256 public immutable minOperatorStake;
    /// @notice Minimum active stake of a prover.
    uint256 public immutable minProverStake;

    /// @notice Sum of all active stake.
    uint256 public totalActive;
    /// @notice Sum of all stake waiting out its unbonding delay.
    uint256 public totalUnbonding;

    mapping(address account => Stake) internal _stakes;

    /// @notice `account` added `amount` to its active stake.
    event StakeAdded(address indexed account, uint256 amount, uint256 active);
    /// @notice `account` moved `amount` to unbonding, withdrawable from `releaseAt`.
    event UnbondRequested(address indexed account, uint256 amount, uint256 unbonding, uint256 releaseAt);
    /// @notice `account` withdrew `amount`.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice `account` lost `amount` (active + unbonding) to a slash labelled `reason`.
    event Slashed(address indexed account, uint256 amount, bytes32 indexed reason);

    /// @notice A zero amount where a positive one is required.
    error ZeroAmount();
    /// @notice Active stake would be below the role's minimum (and not zero).
    error StakeBelowMinimum(uint256 amount, uint256 minimum);
    /// @notice More was asked for than is active.
    error InsufficientStake(uint256 requested, uint256 available);
    /// @notice No unbonded stake to withdraw.
    error NothingToWithdraw(address account);
    /// @notice The unbonding delay has not passed.
    error UnbondingNotOver(uint256 releaseAt, uint256 timestamp);

    /// @param token The staked ERC-20.
    /// @param minOperatorStake_ Minimum operator stake.
    /// @param minProverStake_ Minimum prover stake.
    /// @param unbondingDelay_ Seconds between requestUnbond and withdraw.
    /// @param owner_ May set the slasher once.
    constructor(
        IERC20 token,
        uint256 minOperatorStake_,
        uint256 minProverStake_,
        uint256 unbondingDelay_,
        address owner_
    ) OperatorRegistryBase(unbondingDelay_, owner_) {
        if (address(token) == address(0)) revert ZeroAddress("token");
        stakeToken = token;
        minOperatorStake = minOperatorStake_;
        minProverStake = minProverStake_;
    }

    /// @notice Joins as an operator (role 1) or prover (role 2) with `amount` of stake, binding a
    /// signing key that proves itself with an EIP-712 Registration signature.
    /// @param role 1 = Operator, 2 = Prover.
    /// @param amount Initial stake (at least the role's minimum); approve it first.
    /// @param signingKey The key that signs attestations and votes (not msg.sender).
    /// @param deadline Last timestamp at which `signature` is valid.
    /// @param signature The signing key's signature over Registration(msg.sender, signingKey, role, deadline).
    function register(uint8 role, uint256 amount, address signingKey, uint256 deadline, bytes calldata signature)
        external
        nonReentrant
    {
        _registerMember(msg.sender, role, signingKey, deadline, signature);
        uint256 minimum = _minimumStake(Role(role));
        if (amount < minimum || amount == 0) revert StakeBelowMinimum(amount, minimum);
        _deposit(msg.sender, amount);
    }

    /// @notice Adds `amount` to the caller's active stake.
    /// @param amount Tokens to add; approve them first.
    function addStake(uint256 amount) external nonReentrant {
        if (_members[msg.sender].role == Role.None) revert NotRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        _deposit(msg.sender, amount);
    }

    /// @notice Moves `amount` of active stake to unbonding. It stops counting as weight now, stays
    /// slashable, and can be withdrawn after unbondingDelay (the clock restarts on each request).
    /// @param amount Tokens to unbond; what stays active must be zero or at least the minimum.
    function requestUnbond(uint256 amount) external {
        Stake storage s = _stakes[msg.sender];
        if (amount == 0) revert ZeroAmount();
        if (amount > s.active) revert InsufficientStake(amount, s.active);
        uint256 remaining = s.active - amount;
        uint256 minimum = _minimumStake(_members[msg.sender].role);
        if (remaining != 0 && remaining < minimum) revert StakeBelowMinimum(remaining, minimum);
        s.active = uint128(remaining);
        s.unbonding += uint128(amount);
        s.releaseAt = uint64(block.timestamp + unbondingDelay);
        totalActive -= amount;
        totalUnbonding += amount;
        _setWeight(msg.sender, remaining);
        emit UnbondRequested(msg.sender, amount, s.unbonding, s.releaseAt);
    }

    /// @notice Withdraws all unbonding stake once its delay has passed.
    function withdraw() external nonReentrant {
        Stake storage s = _stakes[msg.sender];
        uint256 amount = s.unbonding;
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        if (block.timestamp < s.releaseAt) revert UnbondingNotOver(s.releaseAt, block.timestamp);
        s.unbonding = 0;
        totalUnbonding -= amount;
        stakeToken.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    /// @inheritdoc IOperatorRegistry
    function slash(address[] calldata accounts, uint256 bps, address recipient, bytes32 reason)
        external
        onlySlasher
        nonReentrant
        returns (uint256 seized)
    {
        _checkBps(bps);
        for (uint256 i = 0; i < accounts.length; ++i) {
            Stake storage s = _stakes[accounts[i]];
            uint256 fromActive = (uint256(s.active) * bps) / 10_000;
            uint256 fromUnbonding = (uint256(s.unbonding) * bps) / 10_000;
            if (fromActive + fromUnbonding == 0) continue;
            s.active -= uint128(fromActive);
            s.unbonding -= uint128(fromUnbonding);
            totalActive -= fromActive;
            totalUnbonding -= fromUnbonding;
            seized += fromActive + fromUnbonding;
            if (fromActive != 0) _setWeight(accounts[i], s.active);
            emit Slashed(accounts[i], fromActive + fromUnbonding, reason);
        }
        if (seized != 0) stakeToken.safeTransfer(recipient, seized);
    }

    /// @notice A member's stake.
    /// @param account The member.
    /// @return active Stake that counts as weight.
    /// @return unbonding Stake waiting out the delay.
    /// @return releaseAt When `unbonding` becomes withdrawable.
    function stakeOf(address account) external view returns (uint256 active, uint256 unbonding, uint256 releaseAt) {
        Stake memory s = _stakes[account];
        return (s.active, s.unbonding, s.releaseAt);
    }

    function _deposit(address account, uint256 amount) private {
        Stake storage s = _stakes[account];
        s.active = SafeCast.toUint128(s.active + amount);
        totalActive += amount;
        _setWeight(account, s.active);
        emit StakeAdded(account, amount, s.active);
        stakeToken.safeTransferFrom(account, address(this), amount);
    }

    function _stakeOf(address account) internal view override returns (uint256) {
        return _stakes[account].active;
    }

    function _minimumStake(Role role) internal view override returns (uint256) {
        return role == Role.Prover ? minProverStake : minOperatorStake;
    }
}
