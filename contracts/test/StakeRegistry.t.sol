// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {vm} from "./helpers/Vm.sol";
import {Fixture} from "./helpers/Fixture.sol";
import {StakeRegistry} from "../staking/StakeRegistry.sol";
import {OperatorRegistryBase} from "../staking/OperatorRegistryBase.sol";
import {IOperatorRegistry} from "../interfaces/IOperatorRegistry.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract StakeRegistryTest is Fixture {
    address internal constant ALICE = address(0xA11CE);
    uint256 internal constant ALICE_KEY = 0xA11CE5;

    function setUp() public {
        _deploy();
        vm.roll(100);
        vm.warp(1_000_000);
    }

    function testRegisterCheckpointsWeightByBlock() public {
        _register(ALICE, ALICE_KEY, 1, MIN_STAKE);
        address key = vm.addr(ALICE_KEY);
        vm.roll(101);
        token.mint(ALICE, 50 ether);
        vm.startPrank(ALICE);
        token.approve(address(registry), 50 ether);
        registry.addStake(50 ether);
        vm.stopPrank();
        vm.roll(102);
        _assertEq(registry.weightAt(key, 99), 0, "no weight before registering");
        _assertEq(registry.weightAt(key, 100), MIN_STAKE, "weight at registration block");
        _assertEq(registry.weightAt(key, 101), MIN_STAKE + 50 ether, "weight after adding");
        _assertEq(registry.totalWeightAt(100), MIN_STAKE, "total at 100");
        require(registry.operatorOfSigner(key) == ALICE, "key maps to account");
        (IOperatorRegistry.Role role, address signingKey) = registry.memberOf(ALICE);
        require(role == IOperatorRegistry.Role.Operator && signingKey == key, "member record");
    }

    /// @notice Nobody withdraws before the unbonding delay; everyone can after it.
    function testFuzzUnbondingDelay(uint96 extra, uint32 waited) public {
        uint256 stake = MIN_STAKE + uint256(extra);
        _register(ALICE, ALICE_KEY, 1, stake);
        vm.prank(ALICE);
        registry.requestUnbond(stake);
        uint256 releaseAt = block.timestamp + UNBONDING;
        vm.roll(block.number + 1);
        _assertEq(registry.weightAt(vm.addr(ALICE_KEY), block.number), 0, "unbonding stake has no weight");
        vm.warp(block.timestamp + waited);
        if (block.timestamp < releaseAt) {
            vm.expectRevert(abi.encodeWithSelector(StakeRegistry.UnbondingNotOver.selector, releaseAt, block.timestamp));
            vm.prank(ALICE);
            registry.withdraw();
        } else {
            vm.prank(ALICE);
            registry.withdraw();
            _assertEq(token.balanceOf(ALICE), stake, "withdrawn in full");
        }
    }

    /// @notice Slashing takes the same share of active and unbonding stake and conserves tokens.
    function testFuzzSlashConservesStake(uint96 extra, uint96 unbond, uint16 bps) public {
        bps = uint16(1 + (uint256(bps) % 10_000));
        uint256 stake = MIN_STAKE + uint256(extra);
        _register(ALICE, ALICE_KEY, 1, stake);
        uint256 toUnbond = uint256(unbond) % (stake - MIN_STAKE + 1);
        if (toUnbond > 0) {
            vm.prank(ALICE);
            registry.requestUnbond(toUnbond);
        }
        address[] memory accounts = new address[](1);
        accounts[0] = ALICE;
        vm.prank(address(manager));
        uint256 seized = registry.slash(accounts, bps, address(0xBEEF), bytes32(0));
        (uint256 active, uint256 unbonding,) = registry.stakeOf(ALICE);
        _assertEq(active + unbonding + seized, stake, "stake conserved");
        _assertEq(token.balanceOf(address(0xBEEF)), seized, "seized paid out");
        _assertEq(token.balanceOf(address(registry)), registry.totalActive() + registry.totalUnbonding(), "registry holds totals");
    }

    function testRevertsZeroAmount() public {
        _register(ALICE, ALICE_KEY, 1, MIN_STAKE);
        vm.startPrank(ALICE);
        vm.expectRevert(StakeRegistry.ZeroAmount.selector);
        registry.addStake(0);
        vm.expectRevert(StakeRegistry.ZeroAmount.selector);
        registry.requestUnbond(0);
        vm.stopPrank();
    }

    function testRevertsStakeBelowMinimum() public {
        bytes memory sig = _registrationSignature(ALICE_KEY, ALICE, 1, block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(StakeRegistry.StakeBelowMinimum.selector, MIN_STAKE - 1, MIN_STAKE));
        vm.prank(ALICE);
        registry.register(1, MIN_STAKE - 1, vm.addr(ALICE_KEY), block.timestamp, sig);
        _register(ALICE, ALICE_KEY, 1, MIN_STAKE + 10);
        vm.expectRevert(abi.encodeWithSelector(StakeRegistry.StakeBelowMinimum.selector, MIN_STAKE - 10, MIN_STAKE));
        vm.prank(ALICE);
        registry.requestUnbond(20);
    }

    function testRevertsInsufficientStakeAndNothingToWithdraw() public {
        _register(ALICE, ALICE_KEY, 1, MIN_STAKE);
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(StakeRegistry.InsufficientStake.selector, MIN_STAKE + 1, MIN_STAKE));
        registry.requestUnbond(MIN_STAKE + 1);
        vm.expectRevert(abi.encodeWithSelector(StakeRegistry.NothingToWithdraw.selector, ALICE));
        registry.withdraw();
        vm.stopPrank();
    }

    function testRevertsNotRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.NotRegistered.selector, ALICE));
        vm.prank(ALICE);
        registry.addStake(1);
    }

    function testRevertsSlasherRules() public {
        address[] memory accounts = new address[](0);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.NotSlasher.selector, ALICE));
        vm.prank(ALICE);
        registry.slash(accounts, 1, ALICE, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.SlasherAlreadySet.selector, address(manager)));
        registry.setSlasher(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, ALICE));
        vm.prank(ALICE);
        registry.setSlasher(ALICE);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.InvalidBps.selector, 10_001));
        vm.prank(address(manager));
        registry.slash(accounts, 10_001, ALICE, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.InvalidBps.selector, 0));
        vm.prank(address(manager));
        registry.slash(accounts, 0, ALICE, bytes32(0));
    }

    function testRevertsZeroAddress() public {
        StakeRegistry fresh = new StakeRegistry(token, 1, 1, 1, address(this));
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.ZeroAddress.selector, "slasher"));
        fresh.setSlasher(address(0));
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.ZeroAddress.selector, "token"));
        new StakeRegistry(IERC20(address(0)), 1, 1, 1, address(this));
    }

    function testRevertsRegistrationSignatureRules() public {
        address key = vm.addr(ALICE_KEY);
        uint256 deadline = block.timestamp;
        bytes memory sig = _registrationSignature(ALICE_KEY, ALICE, 1, deadline);
        token.mint(ALICE, MIN_STAKE);
        vm.prank(ALICE);
        token.approve(address(registry), MIN_STAKE);

        // Signed for role 1, submitted as role 2: the digest differs, so the recovered key does too.
        vm.prank(ALICE);
        vm.expectRevert();
        registry.register(2, MIN_STAKE, key, deadline, sig);
        // Signed by another key.
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(0xBAD, registry.registrationDigest(ALICE, key, IOperatorRegistry.Role.Operator, deadline));
        bytes memory forged = abi.encodePacked(r, s, v);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.InvalidRegistrationSignature.selector, key, vm.addr(0xBAD)));
        registry.register(1, MIN_STAKE, key, deadline, forged);
        // Another chain id: the domain separator changes under the same signature.
        vm.chainId(block.chainid + 1);
        vm.prank(ALICE);
        vm.expectRevert();
        registry.register(1, MIN_STAKE, key, deadline, sig);
        vm.chainId(block.chainid - 1);
        // Expired.
        vm.warp(deadline + 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.RegistrationExpired.selector, deadline, deadline + 1));
        registry.register(1, MIN_STAKE, key, deadline, sig);
        // Role 0 and zero key.
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.InvalidRole.selector, 0));
        registry.register(0, MIN_STAKE, key, deadline, sig);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.SigningKeyInUse.selector, address(0)));
        registry.register(1, MIN_STAKE, address(0), deadline, sig);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.SigningKeyIsAccount.selector, ALICE));
        registry.register(1, MIN_STAKE, ALICE, deadline, sig);
        // Registered once; a second registration and a reused key are refused.
        vm.warp(deadline);
        vm.prank(ALICE);
        registry.register(1, MIN_STAKE, key, deadline, sig);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.AlreadyRegistered.selector, ALICE));
        registry.register(1, MIN_STAKE, key, deadline, sig);
        vm.prank(address(0xB0B));
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.SigningKeyInUse.selector, key));
        registry.register(1, MIN_STAKE, key, deadline, sig);
    }
}
