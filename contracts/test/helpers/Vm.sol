// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @notice The few Foundry-compatible cheatcodes these tests use, declared here because forge-std
/// is not available offline (the npm `forge-std` package is an outdated 1.1.2). Hardhat's
/// Solidity test runner serves them at the standard cheatcode address.
interface Vm {
    function warp(uint256 newTimestamp) external;
    function roll(uint256 newHeight) external;
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert() external;
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address);
    function assume(bool condition) external pure;
    function chainId(uint256 newChainId) external;
}

Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
