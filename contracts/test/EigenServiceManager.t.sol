// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {vm} from "./helpers/Vm.sol";
import {EigenServiceManager} from "../eigenlayer/EigenServiceManager.sol";
import {OperatorRegistryBase} from "../staking/OperatorRegistryBase.sol";
import {IOperatorRegistry} from "../interfaces/IOperatorRegistry.sol";
import {MockAllocationManager} from "../mocks/MockAllocationManager.sol";
import {IAllocationManager, OperatorSet} from "../interfaces/eigenlayer/IAllocationManager.sol";
import {IAVSRegistrar} from "../interfaces/eigenlayer/IAVSRegistrar.sol";
import {IStrategy} from "../interfaces/eigenlayer/IStrategy.sol";
import {IRewardsCoordinator} from "../interfaces/eigenlayer/IRewardsCoordinator.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DevStakeToken} from "../token/DevStakeToken.sol";

contract EigenServiceManagerTest {
    uint256 internal constant MIN = 100 ether;
    IStrategy internal constant S1 = IStrategy(address(0x1111));
    IStrategy internal constant S2 = IStrategy(address(0x2222));
    address internal constant OP = address(0x0E0);
    uint256 internal constant OP_KEY = 0x0E1;
    address internal constant SLASHER = address(0x51A5);

    MockAllocationManager internal am;
    EigenServiceManager internal sm;
    DevStakeToken internal token;
    IRewardsCoordinator internal constant NO_RC = IRewardsCoordinator(address(0));

    function setUp() public {
        vm.roll(100);
        vm.warp(1_000_000);
        am = new MockAllocationManager();
        IStrategy[] memory strategies = new IStrategy[](2);
        strategies[0] = S1;
        strategies[1] = S2;
        token = new DevStakeToken(address(this));
        sm = new EigenServiceManager(am, strategies, MIN, MIN, 7200, 10, address(this), token, NO_RC);
        sm.initializeAVS("https://example.invalid/avs.json");
        sm.setSlasher(SLASHER);
    }

    function _data(address account, uint256 keyPk, IOperatorRegistry.Role role) internal view returns (bytes memory) {
        uint256 deadline = block.timestamp;
        bytes32 digest = sm.registrationDigest(account, vm.addr(keyPk), role, deadline);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(keyPk, digest);
        return abi.encode(vm.addr(keyPk), deadline, abi.encodePacked(r, s, v));
    }

    function _ids(uint32 id) internal pure returns (uint32[] memory ids) {
        ids = new uint32[](1);
        ids[0] = id;
    }

    function _join(address account, uint256 keyPk, uint32 setId, uint256 perStrategy) internal {
        am.setAllocation(account, OperatorSet(address(sm), setId), S1, perStrategy);
        am.setAllocation(account, OperatorSet(address(sm), setId), S2, perStrategy);
        IOperatorRegistry.Role role = setId == 0 ? IOperatorRegistry.Role.Operator : IOperatorRegistry.Role.Prover;
        bytes memory data = _data(account, keyPk, role);
        vm.prank(account);
        am.registerForOperatorSets(account, IAllocationManager.RegisterParams(address(sm), _ids(setId), data));
    }

    function testWeightIsSlashableStakeSummedOverStrategies() public {
        _join(OP, OP_KEY, 0, 60 ether);
        vm.roll(101);
        require(sm.weightAt(vm.addr(OP_KEY), 100) == 120 ether, "weight = sum over strategies");
        require(sm.totalWeightAt(100) == 120 ether, "total weight");
        require(sm.operatorOfSigner(vm.addr(OP_KEY)) == OP, "key bound");
    }

    function testSlashGoesThroughAllocationManager() public {
        _join(OP, OP_KEY, 0, 100 ether);
        address[] memory accounts = new address[](1);
        accounts[0] = OP;
        vm.prank(SLASHER);
        require(sm.slash(accounts, 2500, address(0), bytes32(uint256(7))) == 0, "EigenLayer keeps slashed funds");
        require(am.totalSlashed(OP) == 50 ether, "25% of each strategy");
        require(sm.stakeOf(OP) == 150 ether, "weight refreshed after slash");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.NotSlasher.selector, address(this)));
        sm.slash(accounts, 2500, address(0), 0);
        vm.prank(SLASHER);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.InvalidBps.selector, 0));
        sm.slash(accounts, 0, address(0), 0);
    }

    /// @notice The challenger's reward comes from the challenge pool: one token per stake unit
    /// removed, capped by what the pool holds.
    function testSlashPaysFromTheChallengePool() public {
        _join(OP, OP_KEY, 0, 100 ether);
        token.mint(address(this), 100 ether);
        token.approve(address(sm), 100 ether);
        sm.fundPool(0, 30 ether);
        sm.fundPool(1, 70 ether);
        require(sm.challengePool() == 30 ether && sm.rewardsPool() == 70 ether, "pools funded");
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.UnknownPool.selector, 2));
        sm.fundPool(2, 1);
        address[] memory accounts = new address[](1);
        accounts[0] = OP;
        vm.prank(SLASHER);
        require(sm.slash(accounts, 1000, address(0xC4A1), 0) == 20 ether, "10% of 200 removed, paid from the pool");
        require(token.balanceOf(address(0xC4A1)) == 20 ether && sm.challengePool() == 10 ether, "paid");
        vm.prank(SLASHER);
        require(sm.slash(accounts, 5000, address(0xC4A1), 0) == 10 ether, "capped by the pool");
        require(sm.challengePool() == 0 && sm.rewardsPool() == 70 ether, "rewards pool untouched");
    }

    function testRevertsRewardsSubmissionChecks() public {
        IRewardsCoordinator.OperatorReward[] memory rewards = new IRewardsCoordinator.OperatorReward[](1);
        rewards[0] = IRewardsCoordinator.OperatorReward(OP, 1 ether);
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.NotRewardsInitiator.selector, OP));
        sm.submitOperatorRewards(rewards, 0, 1, "");
        vm.expectRevert(EigenServiceManager.RewardsDisabled.selector);
        sm.submitOperatorRewards(rewards, 0, 1, "");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.ZeroAddress.selector, "initiator"));
        sm.setRewardsInitiator(address(0));
    }

    function testDeregisteredOperatorStaysSlashableForTheDelay() public {
        _join(OP, OP_KEY, 0, 100 ether);
        vm.prank(OP);
        am.deregisterFromOperatorSets(IAllocationManager.DeregisterParams(OP, address(sm), _ids(0)));
        require(sm.stakeOf(OP) == 0, "no weight once deregistered");
        address[] memory accounts = new address[](1);
        accounts[0] = OP;
        vm.prank(SLASHER);
        sm.slash(accounts, 1000, address(0), 0);
        require(am.totalSlashed(OP) == 20 ether, "still slashable within the deallocation delay");
        vm.roll(block.number + am.DEALLOCATION_DELAY());
        vm.prank(SLASHER);
        vm.expectRevert(MockAllocationManager.OperatorNotSlashable.selector);
        sm.slash(accounts, 1000, address(0), 0);
        // Rejoining its own set needs no new registration data.
        vm.prank(OP);
        am.registerForOperatorSets(OP, IAllocationManager.RegisterParams(address(sm), _ids(0), ""));
        require(sm.stakeOf(OP) == 180 ether, "weight back after rejoining");
    }

    function testRevertsCallbackChecks() public {
        vm.startPrank(address(am));
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.WrongAVS.selector, address(1)));
        sm.registerOperator(OP, address(1), _ids(0), "");
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.InvalidOperatorSets.selector, 0));
        sm.registerOperator(OP, address(sm), new uint32[](0), "");
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.UnknownOperatorSet.selector, 5));
        sm.registerOperator(OP, address(sm), _ids(5), "");
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.WrongAVS.selector, address(1)));
        sm.deregisterOperator(OP, address(1), _ids(0));
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.InvalidOperatorSets.selector, 2));
        sm.deregisterOperator(OP, address(sm), new uint32[](2));
        bytes memory data = _data(OP, OP_KEY, IOperatorRegistry.Role.Operator);
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.StakeBelowMinimum.selector, 0, MIN));
        sm.registerOperator(OP, address(sm), _ids(0), data);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.NotAllocationManager.selector, address(this)));
        sm.registerOperator(OP, address(sm), _ids(0), "");
        vm.expectRevert(EigenServiceManager.AlreadyInitialized.selector);
        sm.initializeAVS("again");
    }

    function testRevertsRoleMismatch() public {
        _join(OP, OP_KEY, 0, 100 ether);
        am.setAllocation(OP, OperatorSet(address(sm), 1), S1, 100 ether);
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(EigenServiceManager.RoleMismatch.selector, OP));
        am.registerForOperatorSets(OP, IAllocationManager.RegisterParams(address(sm), _ids(1), ""));
    }

    function testRevertsConstructorChecks() public {
        IStrategy[] memory none = new IStrategy[](0);
        vm.expectRevert(EigenServiceManager.NoStrategies.selector);
        new EigenServiceManager(am, none, MIN, MIN, 1, 1, address(this), token, NO_RC);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.ZeroAddress.selector, "allocationManager"));
        new EigenServiceManager(IAllocationManager(address(0)), none, MIN, MIN, 1, 1, address(this), token, NO_RC);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistryBase.ZeroAddress.selector, "rewardToken"));
        new EigenServiceManager(am, none, MIN, MIN, 1, 1, address(this), IERC20(address(0)), NO_RC);
    }

    /// @notice The stand-in keeps the AllocationManager rules an AVS relies on.
    function testMockAllocationManagerRules() public {
        _join(OP, OP_KEY, 0, 100 ether);
        IStrategy[] memory strategies = new IStrategy[](2);
        strategies[0] = S1;
        strategies[1] = S2;
        uint256[] memory wads = new uint256[](2);
        wads[0] = 1e17;
        wads[1] = 1e17;
        IAllocationManager.SlashingParams memory p = IAllocationManager.SlashingParams(OP, 0, strategies, wads, "t");
        vm.expectRevert(MockAllocationManager.InvalidCaller.selector);
        am.slashOperator(address(sm), p);
        vm.startPrank(address(sm));
        p.wadsToSlash = new uint256[](1);
        vm.expectRevert(MockAllocationManager.InputArrayLengthMismatch.selector);
        am.slashOperator(address(sm), p);
        p.wadsToSlash = wads;
        (p.strategies[0], p.strategies[1]) = (S2, S1);
        vm.expectRevert(MockAllocationManager.StrategiesMustBeInAscendingOrder.selector);
        am.slashOperator(address(sm), p);
        (p.strategies[0], p.strategies[1]) = (S1, IStrategy(address(0x3333)));
        vm.expectRevert(MockAllocationManager.StrategyNotInOperatorSet.selector);
        am.slashOperator(address(sm), p);
        p.strategies[1] = S2;
        p.wadsToSlash[1] = 1e18 + 1;
        vm.expectRevert(MockAllocationManager.InvalidWadToSlash.selector);
        am.slashOperator(address(sm), p);
        p.operatorSetId = 9;
        vm.expectRevert(MockAllocationManager.InvalidOperatorSet.selector);
        am.slashOperator(address(sm), p);
        vm.stopPrank();

        vm.prank(OP);
        vm.expectRevert(MockAllocationManager.AlreadyMemberOfSet.selector);
        am.registerForOperatorSets(OP, IAllocationManager.RegisterParams(address(sm), _ids(0), ""));
        vm.expectRevert(MockAllocationManager.InvalidCaller.selector);
        am.registerForOperatorSets(OP, IAllocationManager.RegisterParams(address(sm), _ids(0), ""));
        vm.prank(address(0xAB));
        vm.expectRevert(MockAllocationManager.NotMemberOfSet.selector);
        am.deregisterFromOperatorSets(IAllocationManager.DeregisterParams(address(0xAB), address(sm), _ids(0)));

        IAllocationManager.CreateSetParamsV2[] memory sets = new IAllocationManager.CreateSetParamsV2[](1);
        sets[0] = IAllocationManager.CreateSetParamsV2(0, strategies, address(this));
        vm.expectRevert(MockAllocationManager.NonexistentAVSMetadata.selector);
        am.createOperatorSets(address(this), sets);
        vm.prank(address(sm));
        vm.expectRevert(MockAllocationManager.InvalidOperatorSet.selector);
        am.createOperatorSets(address(sm), sets);
        vm.expectRevert(MockAllocationManager.InvalidAVSRegistrar.selector);
        am.setAVSRegistrar(address(this), IAVSRegistrar(address(sm)));
    }
}
