// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {vm} from "./helpers/Vm.sol";
import {Fixture} from "./helpers/Fixture.sol";
import {BatchManager} from "../core/BatchManager.sol";
import {StakeRegistry} from "../staking/StakeRegistry.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {IOperatorRegistry} from "../interfaces/IOperatorRegistry.sol";
import {InferenceLeaf, InferenceLeafLib} from "../libraries/InferenceLeaf.sol";

contract BatchManagerTest is Fixture {
    address internal constant PROVER = address(0x9000);
    address internal constant CHALLENGER = address(0xC0FFEE);
    uint256[] internal opKeys;

    function setUp() public {
        _deploy();
        vm.roll(10);
        vm.warp(1_000_000);
        _register(PROVER, 0x9001, 2, MIN_STAKE);
        for (uint256 i = 0; i < 3; ++i) {
            address account = address(uint160(0x1000 + i));
            _register(account, 0x2000 + i, 1, MIN_STAKE);
            opKeys.push(0x2000 + i);
        }
        vm.roll(11);
        token.mint(CHALLENGER, 100 * uint256(BOND));
        vm.prank(CHALLENGER);
        token.approve(address(manager), type(uint256).max);
    }

    function _submit(bytes32 root) internal returns (uint256 batchId) {
        vm.prank(PROVER);
        batchId = manager.submitBatch(keccak256("model"), keccak256("env"), root, 2, "http://127.0.0.1/b");
        vm.roll(block.number + 1);
    }

    function _attested(uint256 salt) internal returns (uint256 batchId, InferenceLeaf memory a, InferenceLeaf memory b) {
        bytes32 root;
        (a, b, root) = _twoLeaves(salt);
        batchId = _submit(root);
        manager.attest(batchId, root, 1, 4, _attestSignatures(batchId, root, opKeys));
    }

    function _state(uint256 batchId) internal view returns (BatchManager.BatchState) {
        return manager.getBatch(batchId).state;
    }

    // ------------------------------------------------------------- signature refusals (fuzzed)

    /// @notice A signature from any key that is not a staked operator is refused.
    function testFuzzForgedSignerRefused(uint256 pk) public {
        pk = 1 + (pk % (0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140));
        vm.assume(registry.operatorOfSigner(vm.addr(pk)) == address(0));
        (,, bytes32 root) = _twoLeaves(1);
        uint256 batchId = _submit(root);
        BatchManager.Signature[] memory sigs = new BatchManager.Signature[](1);
        sigs[0] = _compact(pk, manager.attestationDigest(batchId, root, 1, 4));
        vm.expectRevert(abi.encodeWithSelector(BatchManager.SignerNotStaked.selector, vm.addr(pk)));
        manager.attest(batchId, root, 1, 4, sigs);
    }

    /// @notice Signatures over any other batch id, root or leaf count recover to other addresses.
    function testFuzzSignatureOverOtherMessageRefused(uint256 otherBatch, bytes32 otherRoot, uint32 otherLeaves) public {
        (,, bytes32 root) = _twoLeaves(2);
        uint256 batchId = _submit(root);
        vm.assume(otherBatch != batchId || otherRoot != root || otherLeaves != 4);
        bytes32 digest = manager.attestationDigest(otherBatch, otherRoot, 1, otherLeaves);
        BatchManager.Signature[] memory sigs = new BatchManager.Signature[](1);
        sigs[0] = _compact(opKeys[0], digest);
        vm.expectRevert();
        manager.attest(batchId, root, 1, 4, sigs);
        require(_state(batchId) == BatchManager.BatchState.Submitted, "still submitted");
    }

    function testWrongChainIdInDomainRefused() public {
        (,, bytes32 root) = _twoLeaves(3);
        uint256 batchId = _submit(root);
        BatchManager.Signature[] memory sigs = _attestSignatures(batchId, root, opKeys);
        vm.chainId(block.chainid + 7);
        vm.expectRevert();
        manager.attest(batchId, root, 1, 4, sigs);
        vm.chainId(block.chainid - 7);
        manager.attest(batchId, root, 1, 4, sigs);
    }

    function testWrongContractInDomainRefused() public {
        (,, bytes32 root) = _twoLeaves(4);
        uint256 batchId = _submit(root);
        BatchManager other = new BatchManager(registry, models, token, address(0xFEE), _config());
        // Signed for `other` (same batch id and root): refused here.
        uint256[] memory one = new uint256[](1);
        one[0] = opKeys[0];
        bytes32 digest = other.attestationDigest(batchId, root, 1, 4);
        BatchManager.Signature[] memory sigs = new BatchManager.Signature[](1);
        sigs[0] = _compact(opKeys[0], digest);
        vm.expectRevert();
        manager.attest(batchId, root, 1, 4, sigs);
    }

    function testDuplicateUnsortedUnderThresholdRefused() public {
        (,, bytes32 root) = _twoLeaves(5);
        uint256 batchId = _submit(root);
        BatchManager.Signature[] memory sorted = _attestSignatures(batchId, root, opKeys);
        address[] memory signers = _signersOf(opKeys);

        BatchManager.Signature[] memory dup = new BatchManager.Signature[](2);
        dup[0] = sorted[0];
        dup[1] = sorted[0];
        vm.expectRevert(abi.encodeWithSelector(BatchManager.DuplicateSigner.selector, signers[0]));
        manager.attest(batchId, root, 1, 4, dup);

        BatchManager.Signature[] memory unsorted = new BatchManager.Signature[](2);
        unsorted[0] = sorted[1];
        unsorted[1] = sorted[0];
        vm.expectRevert(abi.encodeWithSelector(BatchManager.SignersNotAscending.selector, 1));
        manager.attest(batchId, root, 1, 4, unsorted);

        BatchManager.Signature[] memory one = new BatchManager.Signature[](1);
        one[0] = sorted[0];
        vm.expectRevert(abi.encodeWithSelector(BatchManager.QuorumNotReached.selector, MIN_STAKE, 3 * MIN_STAKE));
        manager.attest(batchId, root, 1, 4, one);

        BatchManager.Signature[] memory bad = new BatchManager.Signature[](1);
        bad[0] = BatchManager.Signature(sorted[0].r, bytes32(type(uint256).max));
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidSignature.selector, 0));
        manager.attest(batchId, root, 1, 4, bad);

        manager.attest(batchId, root, 1, 4, sorted);
        // Replayed as is: the batch is no longer Submitted.
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidBatchState.selector, batchId, BatchManager.BatchState.Attested));
        manager.attest(batchId, root, 1, 4, sorted);
    }

    // ------------------------------------------------------------- every BatchManager revert

    function testRevertsSubmitChecks() public {
        vm.expectRevert(abi.encodeWithSelector(BatchManager.NotActiveProver.selector, address(this)));
        manager.submitBatch(0, 0, bytes32(uint256(1)), 1, "");
        vm.startPrank(PROVER);
        vm.expectRevert(BatchManager.ZeroRoot.selector);
        manager.submitBatch(0, 0, 0, 1, "");
        vm.expectRevert(BatchManager.EmptyBatch.selector);
        manager.submitBatch(0, 0, bytes32(uint256(1)), 0, "");
        vm.expectRevert(abi.encodeWithSelector(BatchManager.ModelNotRegistered.selector, keccak256("unknown model")));
        manager.submitBatch(keccak256("unknown model"), 0, bytes32(uint256(1)), 1, "http://127.0.0.1/b");
        vm.stopPrank();
    }

    /// @notice Every on-chain value an operator acts on is bounded at submission: the leaf count
    /// (2^25 + 1 used to be accepted, and every operator's sampler then refused the batch on
    /// every retry), the model id, the data URI's length.
    function testRevertsSubmitBounds() public {
        bytes32 root = bytes32(uint256(1));
        bytes32 model = keccak256("model");
        uint64 max = manager.MAX_LEAF_COUNT();
        require(max == 2 ** 25, "a tree holds 2^25 leaves");
        vm.startPrank(PROVER);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.LeafCountTooLarge.selector, max + 1, max));
        manager.submitBatch(model, 0, root, max + 1, "http://127.0.0.1/b");
        vm.expectRevert(abi.encodeWithSelector(BatchManager.LeafCountTooLarge.selector, type(uint64).max, max));
        manager.submitBatch(model, 0, root, type(uint64).max, "http://127.0.0.1/b");
        vm.expectRevert(BatchManager.ZeroModelId.selector);
        manager.submitBatch(0, 0, root, 1, "http://127.0.0.1/b");
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidDataURI.selector, 0, 2048));
        manager.submitBatch(model, 0, root, 1, "");
        bytes memory long = new bytes(2049);
        for (uint256 i = 0; i < long.length; ++i) long[i] = "a";
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidDataURI.selector, 2049, 2048));
        manager.submitBatch(model, 0, root, 1, string(long));
        // The bounds themselves are accepted.
        bytes memory longest = new bytes(2048);
        for (uint256 i = 0; i < longest.length; ++i) longest[i] = "a";
        manager.submitBatch(model, 0, root, max, string(longest));
        vm.stopPrank();
    }

    /// @notice The leaf count bound holds for every value.
    function testFuzzLeafCountBound(uint64 leafCount) public {
        vm.prank(PROVER);
        if (leafCount == 0) {
            vm.expectRevert(BatchManager.EmptyBatch.selector);
        } else if (leafCount > 2 ** 25) {
            vm.expectRevert(abi.encodeWithSelector(BatchManager.LeafCountTooLarge.selector, leafCount, uint64(2 ** 25)));
        }
        manager.submitBatch(keccak256("model"), 0, bytes32(uint256(1)), leafCount, "http://127.0.0.1/b");
    }

    function testRevertsAttestChecks() public {
        (,, bytes32 root) = _twoLeaves(6);
        uint256 batchId = _submit(root);
        BatchManager.Signature[] memory none = new BatchManager.Signature[](0);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.RootMismatch.selector, batchId, bytes32(uint256(5))));
        manager.attest(batchId, bytes32(uint256(5)), 1, 4, none);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.UnsupportedVerdict.selector, 2));
        manager.attest(batchId, root, 2, 4, none);
        vm.expectRevert(BatchManager.NoSignatures.selector);
        manager.attest(batchId, root, 1, 4, none);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidBatchState.selector, 99, BatchManager.BatchState.None));
        manager.attest(99, root, 1, 4, none);
        uint256 deadline = block.timestamp + 600;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.ResponseWindowClosed.selector, batchId, deadline));
        manager.attest(batchId, root, 1, 4, none);
    }

    function testRevertsExpireAndFinalizeWindows() public {
        (,, bytes32 root) = _twoLeaves(7);
        uint256 batchId = _submit(root);
        uint256 responseDeadline = block.timestamp + 600;
        vm.expectRevert(abi.encodeWithSelector(BatchManager.ResponseWindowOpen.selector, batchId, responseDeadline));
        manager.expire(batchId);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidBatchState.selector, batchId, BatchManager.BatchState.Submitted));
        manager.finalize(batchId);
        manager.attest(batchId, root, 1, 4, _attestSignatures(batchId, root, opKeys));
        uint256 challengeDeadline = block.timestamp + 3600;
        vm.expectRevert(abi.encodeWithSelector(BatchManager.ChallengeWindowOpen.selector, batchId, challengeDeadline));
        manager.finalize(batchId);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidBatchState.selector, batchId, BatchManager.BatchState.Attested));
        manager.expire(batchId);
        vm.warp(challengeDeadline + 1);
        manager.finalize(batchId);
        require(_state(batchId) == BatchManager.BatchState.Finalized, "finalized");
    }

    function testRevertsDisputeChecks() public {
        (uint256 batchId, InferenceLeaf memory a, InferenceLeaf memory b) = _attested(8);
        vm.startPrank(CHALLENGER);
        vm.expectRevert(BatchManager.ZeroEvidence.selector);
        manager.openDispute(batchId, a, _proofOf(b), 0);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceLeafLib.InferenceNotInBatch.selector, manager.batchRoot(batchId), a.hash())
        );
        manager.openDispute(batchId, a, _proofOf(a), bytes32(uint256(1)));
        uint256 disputeId = manager.openDispute(batchId, a, _proofOf(b), bytes32(uint256(1)));
        vm.expectRevert(abi.encodeWithSelector(BatchManager.LeafAlreadyDisputed.selector, batchId, a.hash()));
        manager.openDispute(batchId, a, _proofOf(b), bytes32(uint256(1)));
        vm.stopPrank();


        BatchManager.Vote[] memory none = new BatchManager.Vote[](0);
        vm.expectRevert(BatchManager.NoSignatures.selector);
        manager.castVotes(disputeId, none);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.DisputeNotOpen.selector, 77));
        manager.castVotes(77, none);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.DisputeNotOpen.selector, 77));
        manager.resolveDispute(77, new address[](0));

        BatchManager.Vote[] memory fraud = _votes(disputeId, batchId, a.hash(), opKeys, true);
        BatchManager.Vote[] memory first = new BatchManager.Vote[](1);
        first[0] = fraud[0];
        manager.castVotes(disputeId, first);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.AlreadyVoted.selector, _signersOf(opKeys)[0]));
        manager.castVotes(disputeId, first);
        // 1/3 fraud: neither side has won yet.
        vm.expectRevert(abi.encodeWithSelector(BatchManager.DisputeUndecided.selector, disputeId, MIN_STAKE, 0, 3 * MIN_STAKE));
        manager.resolveDispute(disputeId, new address[](0));
        BatchManager.Vote[] memory second = new BatchManager.Vote[](1);
        second[0] = fraud[1];
        manager.castVotes(disputeId, second);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.AttestersMismatch.selector, batchId));
        manager.resolveDispute(disputeId, new address[](0));
        vm.warp(block.timestamp + 1801);
        BatchManager.Vote[] memory third = new BatchManager.Vote[](1);
        third[0] = fraud[2];
        uint256 votingDeadline = manager.getDispute(disputeId).votingDeadline;
        vm.expectRevert(abi.encodeWithSelector(BatchManager.VotingClosed.selector, disputeId, votingDeadline));
        manager.castVotes(disputeId, third);

        // A batch cannot be finalized while disputed, even after its challenge deadline.
        uint256 challengeDeadline = manager.getBatch(batchId).deadline;
        vm.warp(challengeDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidBatchState.selector, batchId, BatchManager.BatchState.Disputed));
        manager.finalize(batchId);
        bytes32[] memory proofB = _proofOf(a);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.ChallengeWindowClosed.selector, batchId, challengeDeadline));
        manager.openDispute(batchId, b, proofB, bytes32(uint256(1)));
        manager.resolveDispute(disputeId, _signersOf(opKeys));
        require(_state(batchId) == BatchManager.BatchState.Slashed, "slashed");
    }

    function testRevertsVoteFromNonMember() public {
        (uint256 batchId, InferenceLeaf memory a, InferenceLeaf memory b) = _attested(9);
        vm.prank(CHALLENGER);
        uint256 disputeId = manager.openDispute(batchId, a, _proofOf(b), bytes32(uint256(1)));
        uint256[] memory outsider = new uint256[](1);
        outsider[0] = 0xDEAD;
        BatchManager.Vote[] memory outsiderVotes = _votes(disputeId, batchId, a.hash(), outsider, true);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.SignerNotStaked.selector, vm.addr(0xDEAD)));
        manager.castVotes(disputeId, outsiderVotes);
        // Votes are counted only once per key, and unsorted votes are refused.
        BatchManager.Vote[] memory v = _votes(disputeId, batchId, a.hash(), opKeys, false);
        BatchManager.Vote[] memory swapped = new BatchManager.Vote[](2);
        swapped[0] = v[1];
        swapped[1] = v[0];
        vm.expectRevert(abi.encodeWithSelector(BatchManager.SignersNotAscending.selector, 1));
        manager.castVotes(disputeId, swapped);
        manager.castVotes(disputeId, v);
        manager.resolveDispute(disputeId, new address[](0));
        require(_state(batchId) == BatchManager.BatchState.Cleared, "cleared");
        require(token.balanceOf(address(0xFEE)) == BOND, "bond forfeited to treasury");
    }

    function testRevertsTooManyOpenDisputes() public {
        // 256 leaves: a full sorted-pair tree built here, one dispute per leaf until the cap.
        uint256 n = 256;
        InferenceLeaf[] memory leaves = new InferenceLeaf[](n);
        bytes32[] memory layer = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            leaves[i] = InferenceLeaf(bytes32(i + 1), bytes32(i), bytes32(i), bytes32(i), uint64(i), bytes32(i));
            layer[i] = leaves[i].hash();
        }
        bytes32[][] memory layers = new bytes32[][](9);
        layers[0] = layer;
        for (uint256 d = 1; d < 9; ++d) {
            bytes32[] memory prev = layers[d - 1];
            bytes32[] memory next = new bytes32[](prev.length / 2);
            for (uint256 i = 0; i < next.length; ++i) {
                (bytes32 x, bytes32 y) = (prev[2 * i], prev[2 * i + 1]);
                next[i] = x < y ? keccak256(abi.encodePacked(x, y)) : keccak256(abi.encodePacked(y, x));
            }
            layers[d] = next;
        }
        bytes32 root = layers[8][0];
        uint256 batchId = _submit(root);
        manager.attest(batchId, root, 1, 4, _attestSignatures(batchId, root, opKeys));
        token.mint(CHALLENGER, 300 * uint256(BOND));
        vm.startPrank(CHALLENGER);
        for (uint256 i = 0; i < n; ++i) {
            bytes32[] memory proof = new bytes32[](8);
            uint256 index = i;
            for (uint256 d = 0; d < 8; ++d) {
                proof[d] = layers[d][index ^ 1];
                index >>= 1;
            }
            if (i == 255) vm.expectRevert(abi.encodeWithSelector(BatchManager.TooManyOpenDisputes.selector, batchId));
            manager.openDispute(batchId, leaves[i], proof, bytes32(uint256(1)));
        }
        vm.stopPrank();
    }

    function testRevertsConstructorChecks() public {
        BatchManager.Config memory c = _config();
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidConfig.selector, "registry"));
        new BatchManager(IOperatorRegistry(address(0)), models, token, address(1), c);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidConfig.selector, "models"));
        new BatchManager(registry, IModelRegistry(address(0)), token, address(1), c);
        c.attestThresholdBps = 0;
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidConfig.selector, "attestThresholdBps"));
        new BatchManager(registry, models, token, address(1), c);
        c = _config();
        c.voteThresholdBps = 10_001;
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidConfig.selector, "voteThresholdBps"));
        new BatchManager(registry, models, token, address(1), c);
        c = _config();
        c.disputeBond = 0;
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidConfig.selector, "disputeBond"));
        new BatchManager(registry, models, token, address(1), c);
        c = _config();
        c.responseWindow = 30 days + 1;
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidConfig.selector, "responseWindow"));
        new BatchManager(registry, models, token, address(1), c);
        c = _config();
        c.challengeWindow = 30 days + 1;
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidConfig.selector, "challengeWindow"));
        new BatchManager(registry, models, token, address(1), c);
        c = _config();
        c.votingWindow = type(uint32).max;
        vm.expectRevert(abi.encodeWithSelector(BatchManager.InvalidConfig.selector, "votingWindow"));
        new BatchManager(registry, models, token, address(1), c);
        c = _config();
        c.challengeWindow = uint32(UNBONDING);
        vm.expectRevert(abi.encodeWithSelector(BatchManager.UnbondingDelayTooShort.selector, UNBONDING, UNBONDING + 600 + 1800));
        new BatchManager(registry, models, token, address(1), c);
    }
}
