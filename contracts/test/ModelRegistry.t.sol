// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {vm} from "./helpers/Vm.sol";
import {ModelRegistry} from "../core/ModelRegistry.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract ModelRegistryTest {
    ModelRegistry internal models;
    address internal constant STRANGER = address(0xBAD);

    function setUp() public {
        models = new ModelRegistry(address(this));
    }

    function testBindsAndReplacesAProfile() public {
        bytes32 id = keccak256("vb-model");
        require(models.profileOf(id) == bytes32(0), "unregistered model has no profile");
        models.setModelProfile("vb-model", keccak256("p1"), keccak256("w"), "https://example.invalid/p1.json");
        require(models.profileOf(id) == keccak256("p1"), "bound");
        models.setModelProfile("vb-model", keccak256("p2"), keccak256("w"), "");
        ModelRegistry.Model memory m = models.getModel(id);
        require(m.profileHash == keccak256("p2") && m.weightsHash == keccak256("w"), "replaced");
    }

    function testOnlyTheOwnerRegisters() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, STRANGER));
        models.setModelProfile("x", keccak256("p"), keccak256("w"), "");
    }

    function testRefusesBadInput() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidModelId.selector, 0));
        models.setModelProfile("", keccak256("p"), keccak256("w"), "");
        bytes memory long = new bytes(257);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidModelId.selector, 257));
        models.setModelProfile(string(long), keccak256("p"), keccak256("w"), "");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ZeroHash.selector, "profileHash"));
        models.setModelProfile("x", 0, keccak256("w"), "");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ZeroHash.selector, "weightsHash"));
        models.setModelProfile("x", keccak256("p"), 0, "");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.URITooLong.selector, 2049));
        models.setModelProfile("x", keccak256("p"), keccak256("w"), string(new bytes(2049)));
    }
}
