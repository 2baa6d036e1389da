// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title DevStakeToken
/// @notice The stake token of local and test networks: a plain OpenZeppelin ERC-20 whose owner
/// mints. Production deployments pass an existing token to the StakeRegistry instead.
contract DevStakeToken is ERC20, Ownable {
    /// @param owner_ The account allowed to mint.
    constructor(address owner_) ERC20("Verifiable Benchmarks Dev Stake", "VBSTAKE") Ownable(owner_) {}

    /// @notice Mints `amount` to `to`.
    /// @param to Recipient.
    /// @param amount Amount in wei units (18 decimals).
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
