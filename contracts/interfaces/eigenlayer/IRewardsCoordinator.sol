// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IStrategy} from "./IStrategy.sol";
import {OperatorSet} from "./IAllocationManager.sol";

/// @title IRewardsCoordinator
/// @notice The part of EigenLayer's RewardsCoordinator (v1.12) this project calls: operator-directed
/// rewards for an operator set. Names, structs and signatures as EigenLayer publishes them;
/// written for this project.
interface IRewardsCoordinator {
    /// @notice A strategy and its weight in the rewards calculation (1e18 = 1x).
    struct StrategyAndMultiplier {
        IStrategy strategy;
        uint96 multiplier;
    }

    /// @notice What one operator is paid.
    struct OperatorReward {
        address operator;
        uint256 amount;
    }

    /// @notice One operator-directed submission: retroactive (start + duration before now),
    /// start and duration multiples of CALCULATION_INTERVAL_SECONDS, operators ascending.
    struct OperatorDirectedRewardsSubmission {
        StrategyAndMultiplier[] strategiesAndMultipliers;
        IERC20 token;
        OperatorReward[] operatorRewards;
        uint32 startTimestamp;
        uint32 duration;
        string description;
    }

    /// @notice Pays `operatorSet`'s operators as directed; pulls the total from the caller (the AVS).
    function createOperatorDirectedOperatorSetRewardsSubmission(
        OperatorSet calldata operatorSet,
        OperatorDirectedRewardsSubmission[] calldata operatorDirectedRewardsSubmissions
    ) external;

    /// @notice The rewards calculation interval in seconds.
    function CALCULATION_INTERVAL_SECONDS() external view returns (uint32);
}
