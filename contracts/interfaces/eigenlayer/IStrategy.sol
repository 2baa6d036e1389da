// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IStrategy
/// @notice The part of EigenLayer's IStrategy this project uses: strategies are only named (as
/// addresses in operator sets and slashing parameters); the token is informational.
interface IStrategy {
    /// @notice The token this strategy holds.
    /// @return The underlying ERC-20.
    function underlyingToken() external view returns (IERC20);
}
