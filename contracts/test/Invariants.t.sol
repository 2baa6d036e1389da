// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {vm} from "./helpers/Vm.sol";
import {Fixture} from "./helpers/Fixture.sol";
import {DevStakeToken} from "../token/DevStakeToken.sol";
import {StakeRegistry} from "../staking/StakeRegistry.sol";
import {BatchManager} from "../core/BatchManager.sol";
import {InferenceLeaf} from "../libraries/InferenceLeaf.sol";
import {IOperatorRegistry} from "../interfaces/IOperatorRegistry.sol";

/// @notice Random stake, unbond, withdraw and slash calls on a StakeRegistry whose slasher is this handler.
contract StakeHandler {
    DevStakeToken public token;
    StakeRegistry public registry;
    address[4] public actors;
    uint256 public deposited;
    uint256 public withdrawn;
    uint256 public slashed;
    bool public withdrewEarly;

    constructor() {
        token = new DevStakeToken(address(this));
        registry = new StakeRegistry(token, 10 ether, 10 ether, 1000, address(this));
        registry.setSlasher(address(this));
        for (uint256 i = 0; i < 4; ++i) {
            address account = address(uint160(0x5000 + i));
            uint256 keyPk = 0x6000 + i;
            actors[i] = account;
            uint8 role = i == 3 ? 2 : 1;
            bytes32 digest = registry.registrationDigest(account, vm.addr(keyPk), IOperatorRegistry.Role(role), block.timestamp);
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keyPk, digest);
            token.mint(account, 1000 ether);
            vm.startPrank(account);
            token.approve(address(registry), type(uint256).max);
            registry.register(role, 10 ether, vm.addr(keyPk), block.timestamp, abi.encodePacked(r, s, v));
            vm.stopPrank();
            deposited += 10 ether;
        }
    }

    function addStake(uint8 who, uint96 amount) external {
        address a = actors[who % 4];
        amount = uint96(1 + (uint256(amount) % 100 ether));
        if (token.balanceOf(a) < amount) token.mint(a, amount);
        vm.prank(a);
        registry.addStake(amount);
        deposited += amount;
    }

    function requestUnbond(uint8 who, uint96 amount) external {
        address a = actors[who % 4];
        (uint256 active,,) = registry.stakeOf(a);
        if (active == 0) return;
        uint256 x = 1 + (uint256(amount) % active);
        if (active - x != 0 && active - x < 10 ether) x = active;
        vm.prank(a);
        registry.requestUnbond(x);
    }

    function withdraw(uint8 who) external {
        address a = actors[who % 4];
        (, uint256 unbonding, uint256 releaseAt) = registry.stakeOf(a);
        vm.prank(a);
        try registry.withdraw() {
            if (block.timestamp < releaseAt) withdrewEarly = true;
            withdrawn += unbonding;
        } catch {}
    }

    function slash(uint8 who, uint16 bps) external {
        address[] memory list = new address[](1);
        list[0] = actors[who % 4];
        slashed += registry.slash(list, 1 + (uint256(bps) % 10_000), address(0xdead), bytes32(0));
    }

    function wait(uint16 secondsAhead) external {
        vm.warp(block.timestamp + secondsAhead);
        vm.roll(block.number + 1);
    }
}

contract StakeInvariantsTest {
    StakeHandler internal handler;

    function setUp() public {
        handler = new StakeHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Tokens in the registry are exactly active + unbonding stake.
    function invariantRegistryHoldsAllStake() public view {
        StakeRegistry r = handler.registry();
        require(handler.token().balanceOf(address(r)) == r.totalActive() + r.totalUnbonding(), "balance != totals");
        uint256 sum;
        for (uint256 i = 0; i < 4; ++i) {
            (uint256 active, uint256 unbonding,) = r.stakeOf(handler.actors(i));
            sum += active + unbonding;
        }
        require(sum == r.totalActive() + r.totalUnbonding(), "members != totals");
    }

    /// @notice Stake is conserved: everything deposited is still staked, withdrawn or slashed.
    function invariantStakeConserved() public view {
        StakeRegistry r = handler.registry();
        require(
            handler.deposited() == r.totalActive() + r.totalUnbonding() + handler.withdrawn() + handler.slashed(),
            "stake not conserved"
        );
    }

    /// @notice Nobody withdraws before the unbonding delay.
    function invariantNoEarlyWithdrawal() public view {
        require(!handler.withdrewEarly(), "withdrawal before unbonding delay");
    }

    /// @notice Total voting weight equals the operators' active stake (the prover has none).
    function invariantWeightIsOperatorStake() public view {
        StakeRegistry r = handler.registry();
        (uint256 proverActive,,) = r.stakeOf(handler.actors(3));
        require(r.totalWeightAt(block.number) == r.totalActive() - proverActive, "weight != operator stake");
    }
}

/// @notice Random submit / attest / dispute / vote / resolve / finalize / expire calls.
contract BatchHandler is Fixture {
    address internal constant PROVER = address(0x7000);
    uint256[] internal opKeys;
    uint256 public batches;
    uint256[] internal disputeIds;
    bool public finalizedWhileDisputed;
    bool public finalizedUnattested;
    mapping(uint256 => InferenceLeaf) internal leafA;
    mapping(uint256 => InferenceLeaf) internal leafB;

    constructor() {
        _deploy();
        _register(PROVER, 0x7001, 2, MIN_STAKE * 1000);
        for (uint256 i = 0; i < 3; ++i) {
            _register(address(uint160(0x7100 + i)), 0x7200 + i, 1, MIN_STAKE);
            opKeys.push(0x7200 + i);
        }
        token.mint(address(this), 1_000_000 ether);
        token.approve(address(manager), type(uint256).max);
        vm.roll(block.number + 1);
    }

    function manager_() external view returns (BatchManager) {
        return manager;
    }

    function submit() external {
        (InferenceLeaf memory a, InferenceLeaf memory b, bytes32 root) = _twoLeaves(batches + 1);
        vm.prank(PROVER);
        uint256 id = manager.submitBatch(keccak256("m"), keccak256("e"), root, 2, "http://127.0.0.1/b");
        leafA[id] = a;
        leafB[id] = b;
        batches = id;
        vm.roll(block.number + 1);
    }

    function attest(uint256 pick) external {
        if (batches == 0) return;
        uint256 id = 1 + (pick % batches);
        bytes32 root = manager.batchRoot(id);
        try manager.attest(id, root, 1, 4, _attestSignatures(id, root, opKeys)) {} catch {}
    }

    function dispute(uint256 pick, bool second) external {
        if (batches == 0) return;
        uint256 id = 1 + (pick % batches);
        (InferenceLeaf memory leaf, InferenceLeaf memory sibling) = second ? (leafB[id], leafA[id]) : (leafA[id], leafB[id]);
        try manager.openDispute(id, leaf, _proofOf(sibling), bytes32(uint256(1))) returns (uint256 d) {
            disputeIds.push(d);
        } catch {}
    }

    function vote(uint256 pick, bool fraud, uint8 voters) external {
        if (disputeIds.length == 0) return;
        uint256 d = disputeIds[pick % disputeIds.length];
        BatchManager.Dispute memory info = manager.getDispute(d);
        uint256 n = 1 + (voters % 3);
        uint256[] memory keys = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) keys[i] = opKeys[i];
        try manager.castVotes(d, _votes(d, info.batchId, info.leafHash, keys, fraud)) {} catch {}
    }

    function resolve(uint256 pick) external {
        if (disputeIds.length == 0) return;
        uint256 d = disputeIds[pick % disputeIds.length];
        // A batch disputed before any attestation has no attesters to name.
        bool attested = manager.attestersHash(manager.getDispute(d).batchId) != bytes32(0);
        try manager.resolveDispute(d, attested ? _signersOf(opKeys) : new address[](0)) {} catch {}
    }

    function finalize(uint256 pick) external {
        if (batches == 0) return;
        uint256 id = 1 + (pick % batches);
        BatchManager.BatchState before = manager.getBatch(id).state;
        try manager.finalize(id) {
            if (before == BatchManager.BatchState.Disputed) finalizedWhileDisputed = true;
            if (manager.attestersHash(id) == bytes32(0)) finalizedUnattested = true;
        } catch {}
    }

    function expire(uint256 pick) external {
        if (batches == 0) return;
        try manager.expire(1 + (pick % batches)) {} catch {}
    }

    function wait(uint16 secondsAhead) external {
        vm.warp(block.timestamp + secondsAhead);
        vm.roll(block.number + 1);
    }

    function openDisputeCount() external view returns (uint256 open) {
        for (uint256 i = 0; i < disputeIds.length; ++i) {
            if (manager.getDispute(disputeIds[i]).state == BatchManager.DisputeState.Open) ++open;
        }
    }
}

contract BatchInvariantsTest {
    BatchHandler internal handler;

    function setUp() public {
        handler = new BatchHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice A batch cannot be finalized while disputed or unattested; a finalized batch has no open dispute.
    function invariantNoFinalizeWhileDisputed() public view {
        require(!handler.finalizedWhileDisputed(), "finalized while disputed");
        require(!handler.finalizedUnattested(), "finalized a batch nobody attested");
        BatchManager m = handler.manager_();
        uint256 n = handler.batches();
        for (uint256 id = 1; id <= n; ++id) {
            BatchManager.Batch memory b = m.getBatch(id);
            if (b.state == BatchManager.BatchState.Finalized) require(b.openDisputes == 0, "finalized with open disputes");
            if (b.state == BatchManager.BatchState.Disputed) require(b.openDisputes > 0, "disputed without open disputes");
        }
    }

    /// @notice The manager holds exactly one bond per open dispute.
    function invariantBondsHeld() public view {
        BatchManager m = handler.manager_();
        require(m.bondToken().balanceOf(address(m)) == handler.openDisputeCount() * m.disputeBond(), "bonds != open disputes");
    }
}
