// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {vm} from "./Vm.sol";
import {DevStakeToken} from "../../token/DevStakeToken.sol";
import {StakeRegistry} from "../../staking/StakeRegistry.sol";
import {BatchManager} from "../../core/BatchManager.sol";
import {ModelRegistry} from "../../core/ModelRegistry.sol";
import {IOperatorRegistry} from "../../interfaces/IOperatorRegistry.sol";
import {InferenceLeaf} from "../../libraries/InferenceLeaf.sol";

/// @notice Native-mode system plus helpers shared by the Solidity tests.
abstract contract Fixture {
    uint256 internal constant MIN_STAKE = 100 ether;
    uint256 internal constant UNBONDING = 7200;
    uint128 internal constant BOND = 10 ether;

    DevStakeToken internal token;
    StakeRegistry internal registry;
    BatchManager internal manager;
    ModelRegistry internal models;

    /// @dev Staking account => signing-key private key.
    mapping(address => uint256) internal keyOf;

    function _config() internal pure returns (BatchManager.Config memory) {
        return BatchManager.Config({
            attestThresholdBps: 6666,
            voteThresholdBps: 5000,
            responseWindow: 600,
            challengeWindow: 3600,
            votingWindow: 1800,
            proverSlashBps: 5000,
            operatorSlashBps: 1000,
            challengerRewardBps: 5000,
            disputeBond: BOND
        });
    }

    function _deploy() internal {
        token = new DevStakeToken(address(this));
        registry = new StakeRegistry(token, MIN_STAKE, MIN_STAKE, UNBONDING, address(this));
        models = new ModelRegistry(address(this));
        // The model ids the tests submit under, each bound to a profile.
        models.setModelProfile("model", keccak256("profile of model"), keccak256("weights"), "");
        models.setModelProfile("m", keccak256("profile of m"), keccak256("weights"), "");
        manager = new BatchManager(registry, models, token, address(0xFEE), _config());
        registry.setSlasher(address(manager));
    }

    function _registrationSignature(uint256 keyPk, address account, uint8 role, uint256 deadline)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest = registry.registrationDigest(account, vm.addr(keyPk), IOperatorRegistry.Role(role), deadline);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(keyPk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Registers `account` (role 1 operator, 2 prover) with `stake` and signing key `keyPk`.
    function _register(address account, uint256 keyPk, uint8 role, uint256 stake) internal {
        token.mint(account, stake);
        bytes memory sig = _registrationSignature(keyPk, account, role, block.timestamp + 1);
        vm.startPrank(account);
        token.approve(address(registry), stake);
        registry.register(role, stake, vm.addr(keyPk), block.timestamp + 1, sig);
        vm.stopPrank();
        keyOf[account] = keyPk;
    }

    function _compact(uint256 pk, bytes32 digest) internal pure returns (BatchManager.Signature memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return BatchManager.Signature(r, bytes32(uint256(s) | (v == 28 ? 1 << 255 : 0)));
    }

    /// @dev Sorts private keys by their address, ascending (insertion sort; small arrays).
    function _sortByAddress(uint256[] memory pks) internal pure returns (uint256[] memory) {
        for (uint256 i = 1; i < pks.length; ++i) {
            uint256 pk = pks[i];
            address a = vm.addr(pk);
            uint256 j = i;
            while (j > 0 && vm.addr(pks[j - 1]) > a) {
                pks[j] = pks[j - 1];
                --j;
            }
            pks[j] = pk;
        }
        return pks;
    }

    function _attestSignatures(uint256 batchId, bytes32 root, uint256[] memory pks)
        internal
        view
        returns (BatchManager.Signature[] memory sigs)
    {
        pks = _sortByAddress(pks);
        bytes32 digest = manager.attestationDigest(batchId, root, 1, 4);
        sigs = new BatchManager.Signature[](pks.length);
        for (uint256 i = 0; i < pks.length; ++i) {
            sigs[i] = _compact(pks[i], digest);
        }
    }

    function _signersOf(uint256[] memory pks) internal pure returns (address[] memory signers) {
        pks = _sortByAddress(pks);
        signers = new address[](pks.length);
        for (uint256 i = 0; i < pks.length; ++i) {
            signers[i] = vm.addr(pks[i]);
        }
    }

    function _votes(uint256 disputeId, uint256 batchId, bytes32 leafHash, uint256[] memory pks, bool fraud)
        internal
        view
        returns (BatchManager.Vote[] memory votes)
    {
        pks = _sortByAddress(pks);
        bytes32 digest = manager.disputeVoteDigest(disputeId, batchId, leafHash, fraud);
        votes = new BatchManager.Vote[](pks.length);
        for (uint256 i = 0; i < pks.length; ++i) {
            BatchManager.Signature memory s = _compact(pks[i], digest);
            votes[i] = BatchManager.Vote(fraud, s.r, s.vs);
        }
    }

    /// @dev A two-leaf batch: returns the leaves and the root (sorted-pair hash of their hashes).
    function _twoLeaves(uint256 salt) internal pure returns (InferenceLeaf memory a, InferenceLeaf memory b, bytes32 root) {
        a = InferenceLeaf(keccak256("model"), keccak256(abi.encode("p", salt)), keccak256(abi.encode("o", salt)), keccak256("s"), uint64(salt), keccak256(abi.encode("f", salt)));
        b = InferenceLeaf(keccak256("model"), keccak256(abi.encode("p2", salt)), keccak256(abi.encode("o2", salt)), keccak256("s"), uint64(salt + 1), keccak256(abi.encode("f2", salt)));
        bytes32 ha = a.hash();
        bytes32 hb = b.hash();
        root = ha < hb ? keccak256(abi.encodePacked(ha, hb)) : keccak256(abi.encodePacked(hb, ha));
    }

    function _proofOf(InferenceLeaf memory sibling) internal pure returns (bytes32[] memory proof) {
        proof = new bytes32[](1);
        proof[0] = sibling.hash();
    }

    function _assertEq(uint256 a, uint256 b, string memory what) internal pure {
        require(a == b, what);
    }
}
