// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IOperatorRegistry} from "../interfaces/IOperatorRegistry.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {InferenceLeaf, InferenceLeafLib} from "../libraries/InferenceLeaf.sol";
import {TypedData} from "../libraries/TypedData.sol";
import {BN254} from "../libraries/BN254.sol";

/// @title BatchManager
/// @notice Batch commitments, stake-weighted quorum attestations, disputes over single leaves and
/// the slashing that follows. Works with either staking back end (IOperatorRegistry).
/// @dev Batch life: Submitted -> Attested -> Finalized; Submitted -> Expired (no quorum within the
/// response window); Attested/Cleared -> Disputed -> Slashed (fraud upheld) or Cleared (every open
/// dispute rejected), and a Cleared batch finalizes after the (unchanged) challenge deadline.
/// A Submitted batch can be disputed too: Submitted -> Disputed -> Slashed (the prover alone) or
/// back to Submitted with a fresh response window (every dispute rejected).
contract BatchManager is EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Where a batch is in its life.
    enum BatchState {
        None,
        Submitted,
        Attested,
        Disputed,
        Cleared,
        Slashed,
        Finalized,
        Expired
    }

    /// @notice Where a dispute is.
    enum DisputeState {
        None,
        Open,
        Upheld,
        Rejected,
        Moot
    }

    /// @notice An ERC-2098 compact ECDSA signature.
    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A BLS quorum certificate: one aggregate signature over the attestation digest
    /// (hashed to G1) by every keyed operator except `nonSigners` (ascending by BN254.hashG1),
    /// against apk history entry `apkIndex` of the registry; `apkG2` is the signers' aggregate G2
    /// key, checked against their G1 aggregate in the same pairing.
    struct BLSCertificate {
        uint32 apkIndex;
        BN254.G1Point[] nonSigners;
        BN254.G2Point apkG2;
        BN254.G1Point sigma;
    }

    /// @notice A signed dispute vote.
    struct Vote {
        bool fraud;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice What an attestation signs besides the batch id.
    struct AttestationBody {
        bytes32 root;
        uint8 verdict;
        uint32 leavesChecked;
    }

    /// @notice Deployment parameters (all immutable).
    struct Config {
        uint16 attestThresholdBps; // share of total weight an attestation needs
        uint16 voteThresholdBps; // share of total weight that upholds a dispute
        uint32 responseWindow; // seconds from submission to attestation
        uint32 challengeWindow; // seconds from attestation during which disputes open
        uint32 votingWindow; // seconds from a dispute's opening during which votes count
        uint16 proverSlashBps; // of the prover's stake, on fraud
        uint16 operatorSlashBps; // of each attester's stake, on fraud
        uint16 challengerRewardBps; // of seized stake, to the challenger
        uint128 disputeBond; // in bondToken
    }

    /// @notice Stored per batch: one packed slot plus the root.
    struct Batch {
        address prover;
        uint40 refBlock; // stake is counted at this block
        uint40 deadline; // response deadline while Submitted, challenge deadline after
        BatchState state;
        uint8 openDisputes;
    }

    /// @notice Stored per dispute.
    struct Dispute {
        uint48 batchId;
        address challenger;
        uint40 votingDeadline;
        DisputeState state;
        bytes32 leafHash;
        uint128 fraudWeight;
        uint128 cleanWeight;
    }

    /// @notice Verdict of an attestation that a batch checked out (the only one attest accepts).
    uint8 public constant VERDICT_VALID = 1;
    /// @notice Verdict of a failed check (signed off chain; disputes carry it on chain).
    uint8 public constant VERDICT_INVALID = 2;
    uint256 private constant BPS = 10_000;
    /// @notice Most leaves a batch may commit: what a Merkle tree of the protocol holds (2^25,
    /// protocol/merkle MAX_BATCH_LEAVES). Operators sample leaf indices below leafCount; a larger
    /// count could never be checked.
    uint64 public constant MAX_LEAF_COUNT = 2 ** 25;
    /// @notice Longest data URI, in bytes: operators fetch it, and every event carries it.
    uint256 public constant MAX_DATA_URI_BYTES = 2048;
    /// @notice Longest response, challenge or voting window (30 days): deadlines every off-chain
    /// party can plan around, and unbonding delays that stay within reach.
    uint32 public constant MAX_WINDOW = 30 days;

    /// @notice The staking back end.
    IOperatorRegistry public immutable registry;
    /// @notice Where each model's verification profile is bound.
    IModelRegistry public immutable models;
    /// @notice Token of dispute bonds (the stake token in native mode).
    IERC20 public immutable bondToken;
    /// @notice Receives forfeited bonds and the slashed stake not paid to challengers.
    address public immutable treasury;

    /// @notice Share of total weight (basis points) an attestation needs.
    uint16 public immutable attestThresholdBps;
    /// @notice Share of total weight (basis points) of fraud votes that upholds a dispute.
    uint16 public immutable voteThresholdBps;
    /// @notice Seconds from submission during which a batch can be attested.
    uint32 public immutable responseWindow;
    /// @notice Seconds from attestation during which disputes can be opened.
    uint32 public immutable challengeWindow;
    /// @notice Seconds from a dispute's opening during which votes count.
    uint32 public immutable votingWindow;
    /// @notice Basis points of the prover's stake slashed on upheld fraud.
    uint16 public immutable proverSlashBps;
    /// @notice Basis points of each attester's stake slashed on upheld fraud.
    uint16 public immutable operatorSlashBps;
    /// @notice Basis points of the seized stake paid to a successful challenger.
    uint16 public immutable challengerRewardBps;
    /// @notice Bond (in bondToken) posted to open a dispute.
    uint128 public immutable disputeBond;

    // Next ids, starting at 1 and set in the constructor, so that the first submission does not
    // pay for a zero-to-non-zero storage write.
    uint256 private _nextBatchId;
    uint256 private _nextDisputeId;

    mapping(uint256 batchId => Batch) internal _batches;
    /// @notice The Merkle root committed by each batch.
    mapping(uint256 batchId => bytes32) public batchRoot;
    /// @notice keccak256(abi.encodePacked(signing keys)) of the attestation that moved a batch to
    /// Attested; zero while a batch has never been attested.
    mapping(uint256 batchId => bytes32) public attestersHash;
    mapping(uint256 disputeId => Dispute) internal _disputes;
    /// @notice Whether a leaf of a batch has been disputed (one dispute per leaf).
    mapping(uint256 batchId => mapping(bytes32 leafHash => bool)) public leafDisputed;
    /// @notice Whether a signing key has voted on a dispute.
    mapping(uint256 disputeId => mapping(address signingKey => bool)) public hasVoted;
    /// @notice Whether a signing key was slashed for equivocating on a subject
    /// (equivocationSubject: a batch's attestations or a dispute's votes).
    mapping(bytes32 subject => mapping(address signingKey => bool)) public equivocationSlashed;

    /// @notice A prover committed a batch; `profileHash` is the verification profile bound to the
    /// model at submission, the one every operator and every dispute judges the batch by.
    event BatchSubmitted(
        uint256 indexed batchId,
        address indexed prover,
        bytes32 indexed modelId,
        bytes32 envelopeHash,
        bytes32 root,
        uint64 leafCount,
        string dataURI,
        uint256 refBlock,
        uint256 responseDeadline,
        bytes32 profileHash
    );
    /// @notice A quorum attested the batch; `signers` are the signing keys, ascending.
    event BatchAttested(
        uint256 indexed batchId,
        bytes32 root,
        uint32 leavesChecked,
        uint256 attestedWeight,
        uint256 totalWeight,
        uint256 challengeDeadline,
        address[] signers
    );
    /// @notice A batch was attested by a BLS certificate (BatchAttested follows, with no signer
    /// list): every keyed operator at apk entry `apkIndex` signed except these non-signers.
    event BatchAttestedBLS(uint256 indexed batchId, uint32 apkIndex, bytes32[] nonSignerKeyHashes);
    /// @notice No quorum within the response window.
    event BatchExpired(uint256 indexed batchId);
    /// @notice The batch is disputed (first open dispute).
    event BatchDisputed(uint256 indexed batchId, uint256 indexed disputeId);
    /// @notice Every open dispute on an attested batch was rejected.
    event BatchCleared(uint256 indexed batchId);
    /// @notice Every open dispute on a batch disputed before any attestation was rejected: it is
    /// Submitted again, with a fresh response window (attestation was blocked while disputed).
    event BatchReopened(uint256 indexed batchId, uint256 responseDeadline);
    /// @notice Fraud upheld: prover and attesters slashed.
    event BatchSlashed(uint256 indexed batchId, uint256 indexed disputeId, uint256 seized);
    /// @notice The challenge window passed without an open dispute.
    event BatchFinalized(uint256 indexed batchId);
    /// @notice A dispute over one leaf was opened.
    event DisputeOpened(
        uint256 indexed disputeId,
        uint256 indexed batchId,
        address indexed challenger,
        bytes32 leafHash,
        bytes32 evidence,
        uint256 votingDeadline
    );
    /// @notice Votes were counted.
    event VotesCast(uint256 indexed disputeId, uint256 voters, uint256 fraudWeight, uint256 cleanWeight);
    /// @notice A signing key signed two different messages on one subject; its operator was slashed.
    event EquivocationSlashed(bytes32 indexed subject, address indexed signingKey, address indexed operator, uint256 seized);
    /// @notice A dispute was closed; `paidToChallenger` includes the returned bond.
    event DisputeResolved(uint256 indexed disputeId, DisputeState outcome, uint256 paidToChallenger);

    /// @notice The two signed messages are the same, or not by one signing key.
    error NotEquivocation();
    /// @notice The signing key was already slashed for equivocating on this subject.
    error EquivocationAlreadySlashed(address signingKey);
    /// @notice No dispute has this id.
    error UnknownDispute(uint256 disputeId);

    /// @notice A configuration value is out of range.
    error InvalidConfig(string field);
    /// @notice registry.unbondingDelay() must exceed response + challenge + voting windows.
    error UnbondingDelayTooShort(uint256 unbondingDelay, uint256 required);
    /// @notice The caller is not a registered prover with the minimum stake.
    error NotActiveProver(address account);
    /// @notice A zero Merkle root.
    error ZeroRoot();
    /// @notice A batch of zero leaves.
    error EmptyBatch();
    /// @notice More leaves than a tree of the protocol holds (MAX_LEAF_COUNT).
    error LeafCountTooLarge(uint64 leafCount, uint64 max);
    /// @notice A zero model id (keccak256 of the model's name is never zero).
    error ZeroModelId();
    /// @notice An empty data URI, or one longer than MAX_DATA_URI_BYTES.
    error InvalidDataURI(uint256 length, uint256 max);
    /// @notice The model has no verification profile in the ModelRegistry: nobody could judge it.
    error ModelNotRegistered(bytes32 modelId);
    /// @notice The batch is not in a state that allows this call.
    error InvalidBatchState(uint256 batchId, BatchState state);
    /// @notice The response window of the batch is over.
    error ResponseWindowClosed(uint256 batchId, uint256 deadline);
    /// @notice The response window of the batch is not over yet.
    error ResponseWindowOpen(uint256 batchId, uint256 deadline);
    /// @notice The challenge window of the batch is over.
    error ChallengeWindowClosed(uint256 batchId, uint256 deadline);
    /// @notice The challenge window of the batch is not over yet.
    error ChallengeWindowOpen(uint256 batchId, uint256 deadline);
    /// @notice The attested root is not the batch's root.
    error RootMismatch(uint256 batchId, bytes32 root);
    /// @notice attest only takes VERDICT_VALID.
    error UnsupportedVerdict(uint8 verdict);
    /// @notice No signatures given.
    error NoSignatures();
    /// @notice The BLS certificate's pairing check failed.
    error InvalidBLSCertificate(uint256 batchId);
    /// @notice Signature `index` is malformed (bad length, s too high, unrecoverable).
    error InvalidSignature(uint256 index);
    /// @notice Signer `index` is not above the previous one (signers must be strictly ascending).
    error SignersNotAscending(uint256 index);
    /// @notice The same signer appears twice.
    error DuplicateSigner(address signer);
    /// @notice The signer had no operator stake at the batch's reference block.
    error SignerNotStaked(address signer);
    /// @notice The signers' weight is below the threshold.
    error QuorumNotReached(uint256 weight, uint256 totalWeight);
    /// @notice Evidence must be a non-zero hash.
    error ZeroEvidence();
    /// @notice That leaf of that batch was already disputed.
    error LeafAlreadyDisputed(uint256 batchId, bytes32 leafHash);
    /// @notice Too many disputes open at once on one batch.
    error TooManyOpenDisputes(uint256 batchId);
    /// @notice The dispute does not exist or is closed.
    error DisputeNotOpen(uint256 disputeId);
    /// @notice The voting window is over.
    error VotingClosed(uint256 disputeId, uint256 votingDeadline);
    /// @notice The signer already voted on the dispute.
    error AlreadyVoted(address signer);
    /// @notice Neither side has won and the voting window is open.
    error DisputeUndecided(uint256 disputeId, uint256 fraudWeight, uint256 cleanWeight, uint256 totalWeight);
    /// @notice The attester list passed does not match the stored attestation.
    error AttestersMismatch(uint256 batchId);

    /// @param registry_ The staking back end (StakeRegistry or EigenServiceManager).
    /// @param models_ The ModelRegistry that binds models to verification profiles.
    /// @param bondToken_ Token of dispute bonds.
    /// @param treasury_ Receives forfeited bonds and the rest of seized stake.
    /// @param config Thresholds, windows, slashing shares and the bond.
    constructor(IOperatorRegistry registry_, IModelRegistry models_, IERC20 bondToken_, address treasury_, Config memory config)
        EIP712(TypedData.DOMAIN_NAME, TypedData.DOMAIN_VERSION)
    {
        if (address(registry_) == address(0)) revert InvalidConfig("registry");
        if (address(models_) == address(0)) revert InvalidConfig("models");
        if (address(bondToken_) == address(0)) revert InvalidConfig("bondToken");
        if (treasury_ == address(0)) revert InvalidConfig("treasury");
        if (config.attestThresholdBps == 0 || config.attestThresholdBps > BPS) revert InvalidConfig("attestThresholdBps");
        if (config.voteThresholdBps == 0 || config.voteThresholdBps > BPS) revert InvalidConfig("voteThresholdBps");
        if (config.responseWindow == 0 || config.responseWindow > MAX_WINDOW) revert InvalidConfig("responseWindow");
        if (config.challengeWindow == 0 || config.challengeWindow > MAX_WINDOW) revert InvalidConfig("challengeWindow");
        if (config.votingWindow == 0 || config.votingWindow > MAX_WINDOW) revert InvalidConfig("votingWindow");
        if (config.proverSlashBps == 0 || config.proverSlashBps > BPS) revert InvalidConfig("proverSlashBps");
        if (config.operatorSlashBps == 0 || config.operatorSlashBps > BPS) revert InvalidConfig("operatorSlashBps");
        if (config.challengerRewardBps > BPS) revert InvalidConfig("challengerRewardBps");
        if (config.disputeBond == 0) revert InvalidConfig("disputeBond");
        uint256 required = uint256(config.responseWindow) + config.challengeWindow + config.votingWindow;
        uint256 delay = registry_.unbondingDelay();
        if (delay <= required) revert UnbondingDelayTooShort(delay, required);
        registry = registry_;
        models = models_;
        bondToken = bondToken_;
        treasury = treasury_;
        attestThresholdBps = config.attestThresholdBps;
        voteThresholdBps = config.voteThresholdBps;
        responseWindow = config.responseWindow;
        challengeWindow = config.challengeWindow;
        votingWindow = config.votingWindow;
        proverSlashBps = config.proverSlashBps;
        operatorSlashBps = config.operatorSlashBps;
        challengerRewardBps = config.challengerRewardBps;
        disputeBond = config.disputeBond;
        _nextBatchId = 1;
        _nextDisputeId = 1;
    }

    // ------------------------------------------------------------------ batches

    /// @notice Commits a batch of proven inferences. Stake is counted at the previous block. The
    /// batch is judged by the verification profile bound to the model now (see BatchSubmitted).
    /// @param modelId keccak256 of the model id string.
    /// @param envelopeHash Hash of the batch's envelope (metadata document).
    /// @param root Merkle root over the batch's leaves (protocol/merkle).
    /// @param leafCount Number of leaves, 1..MAX_LEAF_COUNT.
    /// @param dataURI Where operators fetch leaves and proofs (1..MAX_DATA_URI_BYTES bytes).
    /// @return batchId The new batch's id.
    function submitBatch(bytes32 modelId, bytes32 envelopeHash, bytes32 root, uint64 leafCount, string calldata dataURI)
        external
        returns (uint256 batchId)
    {
        if (!registry.isActiveProver(msg.sender)) revert NotActiveProver(msg.sender);
        if (root == bytes32(0)) revert ZeroRoot();
        if (leafCount == 0) revert EmptyBatch();
        if (leafCount > MAX_LEAF_COUNT) revert LeafCountTooLarge(leafCount, MAX_LEAF_COUNT);
        if (modelId == bytes32(0)) revert ZeroModelId();
        uint256 uriLength = bytes(dataURI).length;
        if (uriLength == 0 || uriLength > MAX_DATA_URI_BYTES) revert InvalidDataURI(uriLength, MAX_DATA_URI_BYTES);
        bytes32 profileHash = models.profileOf(modelId);
        if (profileHash == bytes32(0)) revert ModelNotRegistered(modelId);
        batchId = _nextBatchId++;
        uint256 refBlock = block.number - 1;
        uint256 deadline = block.timestamp + responseWindow;
        _batches[batchId] = Batch(msg.sender, uint40(refBlock), uint40(deadline), BatchState.Submitted, 0);
        batchRoot[batchId] = root;
        emit BatchSubmitted(batchId, msg.sender, modelId, envelopeHash, root, leafCount, dataURI, refBlock, deadline, profileHash);
    }

    /// @notice Moves a Submitted batch to Attested with signatures of operators' signing keys over
    /// the EIP-712 Attestation(batchId, root, verdict, leavesChecked), sorted by signer address.
    /// @param batchId The batch.
    /// @param root The batch's root (as signed).
    /// @param verdict Must be VERDICT_VALID.
    /// @param leavesChecked How many leaves the operators checked (as signed).
    /// @param signatures Compact signatures, signers strictly ascending.
    function attest(uint256 batchId, bytes32 root, uint8 verdict, uint32 leavesChecked, Signature[] calldata signatures)
        external
    {
        Batch memory b = _batches[batchId];
        if (b.state != BatchState.Submitted) revert InvalidBatchState(batchId, b.state);
        if (block.timestamp > b.deadline) revert ResponseWindowClosed(batchId, b.deadline);
        if (root != batchRoot[batchId]) revert RootMismatch(batchId, root);
        if (verdict != VERDICT_VALID) revert UnsupportedVerdict(verdict);
        if (signatures.length == 0) revert NoSignatures();

        address[] memory signers = _recoverSigners(attestationDigest(batchId, root, verdict, leavesChecked), signatures);
        (uint256 weight, uint256 total) = _attestedWeight(signers, b.refBlock);
        if (weight * BPS < total * attestThresholdBps) revert QuorumNotReached(weight, total);

        uint256 challengeDeadline = block.timestamp + challengeWindow;
        Batch storage stored = _batches[batchId];
        stored.state = BatchState.Attested;
        stored.deadline = uint40(challengeDeadline);
        attestersHash[batchId] = _hashAddresses(signers);
        emit BatchAttested(batchId, root, leavesChecked, weight, total, challengeDeadline, signers);
    }

    /// @notice Attests a Submitted batch with a BLS quorum certificate: one pairing check, whatever
    /// the number of signers; each non-signer costs a key lookup and a point addition. Same rules
    /// as attest otherwise (verdict 1, within the response window, weight at the reference block).
    /// @param batchId The batch.
    /// @param root Its Merkle root.
    /// @param verdict Must be 1 (valid).
    /// @param leavesChecked Leaves each operator checked (signed over).
    /// @param certificate The aggregate signature and its non-signers.
    function attestBLS(uint256 batchId, bytes32 root, uint8 verdict, uint32 leavesChecked, BLSCertificate calldata certificate)
        external
    {
        Batch memory b = _batches[batchId];
        if (b.state != BatchState.Submitted) revert InvalidBatchState(batchId, b.state);
        if (block.timestamp > b.deadline) revert ResponseWindowClosed(batchId, b.deadline);
        if (root != batchRoot[batchId]) revert RootMismatch(batchId, root);
        if (verdict != VERDICT_VALID) revert UnsupportedVerdict(verdict);

        (BN254.G1Point memory apk, uint256 weight) = registry.blsSignersAt(b.refBlock, certificate.apkIndex, certificate.nonSigners);
        uint256 total = registry.totalWeightAt(b.refBlock);
        if (weight == 0 || weight * BPS < total * attestThresholdBps) revert QuorumNotReached(weight, total);
        bytes32 digest = attestationDigest(batchId, root, verdict, leavesChecked);
        if (!BN254.verify(digest, apk, certificate.apkG2, certificate.sigma)) revert InvalidBLSCertificate(batchId);

        uint256 challengeDeadline = block.timestamp + challengeWindow;
        Batch storage stored = _batches[batchId];
        stored.state = BatchState.Attested;
        stored.deadline = uint40(challengeDeadline);
        attestersHash[batchId] = _blsAttestersHash(apk);
        uint256 n = certificate.nonSigners.length;
        bytes32[] memory nonSignerHashes = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            nonSignerHashes[i] = BN254.hashG1(certificate.nonSigners[i]);
        }
        emit BatchAttestedBLS(batchId, certificate.apkIndex, nonSignerHashes);
        emit BatchAttested(batchId, root, leavesChecked, weight, total, challengeDeadline, new address[](0));
    }

    /// @notice Marks a Submitted batch whose response window passed without quorum as Expired.
    /// @param batchId The batch.
    function expire(uint256 batchId) external {
        Batch storage b = _batches[batchId];
        if (b.state != BatchState.Submitted) revert InvalidBatchState(batchId, b.state);
        if (block.timestamp <= b.deadline) revert ResponseWindowOpen(batchId, b.deadline);
        b.state = BatchState.Expired;
        emit BatchExpired(batchId);
    }

    /// @notice Finalizes an Attested or Cleared batch after its challenge deadline.
    /// @param batchId The batch.
    function finalize(uint256 batchId) external {
        Batch storage b = _batches[batchId];
        if (b.state != BatchState.Attested && b.state != BatchState.Cleared) revert InvalidBatchState(batchId, b.state);
        if (block.timestamp <= b.deadline) revert ChallengeWindowOpen(batchId, b.deadline);
        b.state = BatchState.Finalized;
        emit BatchFinalized(batchId);
    }

    // ------------------------------------------------------------------ disputes

    /// @notice Disputes one leaf of a batch: a Submitted one within its response window (operators
    /// need not wait for someone to attest a batch they found fraudulent), or an Attested (or
    /// Disputed/Cleared) one within its window. Proves the leaf's inclusion and names the
    /// evidence; takes the bond (approve first). A disputed batch cannot be attested, expired or
    /// finalized until its disputes are resolved.
    /// @param batchId The batch.
    /// @param leaf The disputed leaf's fields.
    /// @param proof Its Merkle proof (sibling hashes from the leaf up).
    /// @param evidence Hash of the challenger's recomputation result.
    /// @return disputeId The new dispute's id.
    function openDispute(uint256 batchId, InferenceLeaf calldata leaf, bytes32[] calldata proof, bytes32 evidence)
        external
        nonReentrant
        returns (uint256 disputeId)
    {
        Batch memory b = _batches[batchId];
        if (b.state == BatchState.Submitted) {
            if (block.timestamp > b.deadline) revert ResponseWindowClosed(batchId, b.deadline);
        } else if (b.state == BatchState.Attested || b.state == BatchState.Disputed || b.state == BatchState.Cleared) {
            if (block.timestamp > b.deadline) revert ChallengeWindowClosed(batchId, b.deadline);
        } else {
            revert InvalidBatchState(batchId, b.state);
        }
        if (b.openDisputes == type(uint8).max) revert TooManyOpenDisputes(batchId);
        if (evidence == bytes32(0)) revert ZeroEvidence();
        bytes32 leafHash = InferenceLeafLib.requireIncluded(proof, batchRoot[batchId], leaf);
        if (leafDisputed[batchId][leafHash]) revert LeafAlreadyDisputed(batchId, leafHash);

        disputeId = _recordDispute(batchId, b, leafHash, evidence);
        bondToken.safeTransferFrom(msg.sender, address(this), disputeBond);
    }

    /// @notice Counts operators' signed votes DisputeVote(disputeId, batchId, leafHash, fraud),
    /// weighted by stake at the batch's reference block. Signers strictly ascending within a call;
    /// each signing key votes once per dispute. Anyone may submit (typically the aggregator).
    /// @param disputeId The dispute.
    /// @param votes Votes with compact signatures.
    function castVotes(uint256 disputeId, Vote[] calldata votes) external {
        Dispute storage d = _disputes[disputeId];
        if (d.state != DisputeState.Open) revert DisputeNotOpen(disputeId);
        if (block.timestamp > d.votingDeadline) revert VotingClosed(disputeId, d.votingDeadline);
        uint256 n = votes.length;
        if (n == 0) revert NoSignatures();
        uint256 batchId = d.batchId;
        bytes32 fraudDigest = disputeVoteDigest(disputeId, batchId, d.leafHash, true);
        bytes32 cleanDigest = disputeVoteDigest(disputeId, batchId, d.leafHash, false);

        address[] memory signers = new address[](n);
        address previous = address(0);
        for (uint256 i = 0; i < n; ++i) {
            Vote calldata v = votes[i];
            address signer = _recover(v.fraud ? fraudDigest : cleanDigest, v.r, v.vs, i);
            _checkAscending(previous, signer, i);
            if (hasVoted[disputeId][signer]) revert AlreadyVoted(signer);
            hasVoted[disputeId][signer] = true;
            signers[i] = signer;
            previous = signer;
        }
        uint256[] memory weights = registry.signerWeightsAt(signers, _batches[batchId].refBlock);
        uint256 fraudWeight = d.fraudWeight;
        uint256 cleanWeight = d.cleanWeight;
        for (uint256 i = 0; i < n; ++i) {
            uint256 w = weights[i];
            if (w == 0) revert SignerNotStaked(signers[i]);
            if (votes[i].fraud) fraudWeight += w;
            else cleanWeight += w;
        }
        d.fraudWeight = uint128(fraudWeight);
        d.cleanWeight = uint128(cleanWeight);
        emit VotesCast(disputeId, n, fraudWeight, cleanWeight);
    }

    /// @notice Closes a dispute. Upheld when fraud votes reach voteThresholdBps of total weight:
    /// the prover and every attester (none, for a batch never attested) are slashed, the
    /// challenger gets the bond back plus challengerRewardBps of the seized stake (the rest to the
    /// treasury), the batch is Slashed. Rejected when fraud can no longer reach the threshold, or
    /// when the voting window ended without it (the defined time-out outcome): the bond goes to
    /// the treasury, and once no dispute on the batch is open it is Cleared (if it was attested)
    /// or Submitted again with a fresh response window (if not). Moot when the batch was already
    /// slashed by another dispute: the bond is returned. Anyone may call.
    /// @param disputeId The dispute.
    /// @param attesters The batch's attesting signing keys as emitted in BatchAttested (only read
    /// when the dispute is upheld; pass [] otherwise, and for a batch never attested).
    function resolveDispute(uint256 disputeId, address[] calldata attesters) external nonReentrant {
        Dispute storage d = _disputes[disputeId];
        if (d.state != DisputeState.Open) revert DisputeNotOpen(disputeId);
        uint256 batchId = d.batchId;
        Batch storage b = _batches[batchId];
        address challenger = d.challenger;
        uint256 bond = disputeBond;
        b.openDisputes -= 1;

        if (b.state == BatchState.Slashed) {
            d.state = DisputeState.Moot;
            emit DisputeResolved(disputeId, DisputeState.Moot, bond);
            bondToken.safeTransfer(challenger, bond);
            return;
        }

        uint256 total = registry.totalWeightAt(b.refBlock);
        if (uint256(d.fraudWeight) * BPS >= total * voteThresholdBps && total != 0) {
            if (!_attestersMatch(batchId, b.refBlock, attesters)) revert AttestersMismatch(batchId);
            d.state = DisputeState.Upheld;
            b.state = BatchState.Slashed;
            uint256 seized = _slashBatch(b.prover, attesters, disputeId);
            uint256 reward = (seized * challengerRewardBps) / BPS;
            emit BatchSlashed(batchId, disputeId, seized);
            emit DisputeResolved(disputeId, DisputeState.Upheld, bond + reward);
            bondToken.safeTransfer(challenger, bond + reward);
            if (seized > reward) bondToken.safeTransfer(treasury, seized - reward);
            return;
        }

        bool fraudOutvoted = uint256(d.cleanWeight) * BPS > total * (BPS - voteThresholdBps);
        if (!fraudOutvoted && block.timestamp <= d.votingDeadline) {
            revert DisputeUndecided(disputeId, d.fraudWeight, d.cleanWeight, total);
        }
        d.state = DisputeState.Rejected;
        if (b.openDisputes == 0) {
            if (attestersHash[batchId] != bytes32(0)) {
                b.state = BatchState.Cleared;
                emit BatchCleared(batchId);
            } else {
                uint256 responseDeadline = block.timestamp + responseWindow;
                b.state = BatchState.Submitted;
                b.deadline = uint40(responseDeadline);
                emit BatchReopened(batchId, responseDeadline);
            }
        }
        emit DisputeResolved(disputeId, DisputeState.Rejected, 0);
        bondToken.safeTransfer(treasury, bond);
    }

    // ------------------------------------------------------------------ equivocation

    /// @notice Slashes the operator whose signing key signed two different attestations for one
    /// batch (operatorSlashBps of its stake); the caller gets challengerRewardBps of what is
    /// seized, the rest goes to the treasury. Once per signing key and batch; anyone may call.
    /// @param batchId The batch both attestations name.
    /// @param a One signed attestation body.
    /// @param sigA Its signature.
    /// @param b Another, different body.
    /// @param sigB Its signature, by the same key.
    /// @return seized Stake seized (0 in EigenLayer mode, where slashed stake is burned).
    function slashAttestationEquivocation(
        uint256 batchId,
        AttestationBody calldata a,
        Signature calldata sigA,
        AttestationBody calldata b,
        Signature calldata sigB
    ) external nonReentrant returns (uint256 seized) {
        Batch memory batch = _batches[batchId];
        if (batch.state == BatchState.None) revert InvalidBatchState(batchId, batch.state);
        if (a.root == b.root && a.verdict == b.verdict && a.leavesChecked == b.leavesChecked) revert NotEquivocation();
        address signer = _recover(attestationDigest(batchId, a.root, a.verdict, a.leavesChecked), sigA.r, sigA.vs, 0);
        if (_recover(attestationDigest(batchId, b.root, b.verdict, b.leavesChecked), sigB.r, sigB.vs, 1) != signer) {
            revert NotEquivocation();
        }
        seized = _slashEquivocator(equivocationSubject(false, batchId), signer, batch.refBlock);
    }

    /// @notice Slashes the operator whose signing key voted both fraud and clean on one dispute,
    /// as slashAttestationEquivocation does for attestations.
    /// @param disputeId The dispute.
    /// @param fraudVote The key's signature over the fraud vote.
    /// @param cleanVote Its signature over the clean vote.
    /// @return seized Stake seized.
    function slashVoteEquivocation(uint256 disputeId, Signature calldata fraudVote, Signature calldata cleanVote)
        external
        nonReentrant
        returns (uint256 seized)
    {
        Dispute memory d = _disputes[disputeId];
        if (d.state == DisputeState.None) revert UnknownDispute(disputeId);
        address signer = _recover(disputeVoteDigest(disputeId, d.batchId, d.leafHash, true), fraudVote.r, fraudVote.vs, 0);
        if (_recover(disputeVoteDigest(disputeId, d.batchId, d.leafHash, false), cleanVote.r, cleanVote.vs, 1) != signer) {
            revert NotEquivocation();
        }
        seized = _slashEquivocator(equivocationSubject(true, disputeId), signer, _batches[d.batchId].refBlock);
    }

    // ------------------------------------------------------------------ views

    /// @notice The key of equivocationSlashed for a batch's attestations or a dispute's votes.
    /// @param votes True for a dispute's votes, false for a batch's attestations.
    /// @param id The dispute id or the batch id.
    /// @return The subject.
    function equivocationSubject(bool votes, uint256 id) public pure returns (bytes32) {
        return keccak256(abi.encode(votes ? "votes" : "attestations", id));
    }

    /// @notice The EIP-712 digest operators sign to attest a batch.
    /// @param batchId The batch.
    /// @param root Its root.
    /// @param verdict The verdict.
    /// @param leavesChecked Leaves checked.
    /// @return The digest.
    function attestationDigest(uint256 batchId, bytes32 root, uint8 verdict, uint32 leavesChecked)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(TypedData.ATTESTATION_TYPEHASH, batchId, root, verdict, leavesChecked)));
    }

    /// @notice The EIP-712 digest operators sign to vote on a dispute.
    /// @param disputeId The dispute.
    /// @param batchId Its batch.
    /// @param leafHash The disputed leaf.
    /// @param fraud The vote.
    /// @return The digest.
    function disputeVoteDigest(uint256 disputeId, uint256 batchId, bytes32 leafHash, bool fraud)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(TypedData.DISPUTE_VOTE_TYPEHASH, disputeId, batchId, leafHash, fraud)));
    }

    /// @notice Number of batches submitted (ids start at 1).
    /// @return The count, which is also the newest batch id.
    function batchCount() external view returns (uint256) {
        return _nextBatchId - 1;
    }

    /// @notice Number of disputes opened (ids start at 1).
    /// @return The count, which is also the newest dispute id.
    function disputeCount() external view returns (uint256) {
        return _nextDisputeId - 1;
    }

    /// @notice A batch's stored state.
    /// @param batchId The batch.
    /// @return The batch (prover, refBlock, deadline, state, openDisputes).
    function getBatch(uint256 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    /// @notice A dispute's stored state.
    /// @param disputeId The dispute.
    /// @return The dispute.
    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    // ------------------------------------------------------------------ internals

    function _recordDispute(uint256 batchId, Batch memory b, bytes32 leafHash, bytes32 evidence)
        private
        returns (uint256 disputeId)
    {
        leafDisputed[batchId][leafHash] = true;
        disputeId = _nextDisputeId++;
        uint256 votingDeadline = block.timestamp + votingWindow;
        _disputes[disputeId] =
            Dispute(uint48(batchId), msg.sender, uint40(votingDeadline), DisputeState.Open, leafHash, 0, 0);
        Batch storage stored = _batches[batchId];
        stored.openDisputes = b.openDisputes + 1;
        if (b.state != BatchState.Disputed) {
            stored.state = BatchState.Disputed;
            emit BatchDisputed(batchId, disputeId);
        }
        emit DisputeOpened(disputeId, batchId, msg.sender, leafHash, evidence, votingDeadline);
    }

    /// @dev The per-signer hot loop of attest(): reads each (r, vs) straight from calldata and
    /// calls the ecrecover precompile directly (the same checks as OpenZeppelin's ECDSA.tryRecover:
    /// s in the lower half order, non-zero result), so that a signer costs little more than the
    /// precompile, its calldata and one storage read.
    function _recoverSigners(bytes32 digest, Signature[] calldata signatures)
        private
        view
        returns (address[] memory signers)
    {
        uint256 n = signatures.length;
        signers = new address[](n);
        uint256 previous = 0;
        for (uint256 i = 0; i < n;) {
            uint256 signer;
            bool malformed;
            assembly ("memory-safe") {
                let p := add(signatures.offset, shl(6, i))
                let vs := calldataload(add(p, 32))
                let sValue := and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
                malformed := gt(sValue, 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0)
                let m := mload(0x40)
                mstore(m, digest)
                mstore(add(m, 0x20), add(shr(255, vs), 27))
                mstore(add(m, 0x40), calldataload(p))
                mstore(add(m, 0x60), sValue)
                mstore(0x00, 0)
                pop(staticcall(gas(), 0x01, m, 0x80, 0x00, 0x20))
                signer := mload(0x00)
            }
            if (malformed || signer == 0) revert InvalidSignature(i);
            if (signer <= previous) {
                if (signer == previous) revert DuplicateSigner(address(uint160(signer)));
                revert SignersNotAscending(i);
            }
            assembly ("memory-safe") {
                mstore(add(add(signers, 0x20), shl(5, i)), signer)
            }
            previous = signer;
            unchecked {
                ++i;
            }
        }
    }

    function _attestedWeight(address[] memory signers, uint256 refBlock)
        private
        view
        returns (uint256 weight, uint256 total)
    {
        uint256 firstUnstaked;
        (weight, firstUnstaked) = registry.sumSignerWeightsAt(signers, refBlock);
        if (firstUnstaked != type(uint256).max) revert SignerNotStaked(signers[firstUnstaked]);
        total = registry.totalWeightAt(refBlock);
    }

    /// @dev keccak256(abi.encodePacked(list)) without copying the array (each address is padded
    /// to 32 bytes either way).
    /// @dev ECDSA batches: the signer list itself. BLS batches: the signers' signing keys,
    /// strictly ascending, whose BLS keys add up to the certificate's aggregate key (keys proven
    /// by possession, so no other set of registered keys sums to it).
    function _attestersMatch(uint256 batchId, uint256 refBlock, address[] calldata attesters) private view returns (bool) {
        bytes32 expected = attestersHash[batchId];
        if (expected == bytes32(0)) return attesters.length == 0;
        if (keccak256(abi.encodePacked(attesters)) == expected) return true;
        for (uint256 i = 1; i < attesters.length; ++i) {
            if (attesters[i] <= attesters[i - 1]) return false;
        }
        if (attesters.length == 0) return false;
        try registry.blsApkOfSigningKeys(attesters, refBlock) returns (BN254.G1Point memory apk) {
            return _blsAttestersHash(apk) == expected;
        } catch {
            return false; // a key without a BLS key in force: not the certificate's signers
        }
    }

    function _blsAttestersHash(BN254.G1Point memory apk) private pure returns (bytes32) {
        return keccak256(abi.encode("BLS attesters", apk.X, apk.Y));
    }

    function _hashAddresses(address[] memory list) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            h := keccak256(add(list, 0x20), shl(5, mload(list)))
        }
    }

    function _recover(bytes32 digest, bytes32 r, bytes32 vs, uint256 index) private pure returns (address signer) {
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(digest, r, vs);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(index);
    }

    function _checkAscending(address previous, address signer, uint256 index) private pure {
        if (signer <= previous) {
            if (signer == previous) revert DuplicateSigner(signer);
            revert SignersNotAscending(index);
        }
    }

    /// @dev Checks-effects-interactions: the key is marked before the registry and token calls.
    function _slashEquivocator(bytes32 subject, address signer, uint256 refBlock) private returns (uint256 seized) {
        if (equivocationSlashed[subject][signer]) revert EquivocationAlreadySlashed(signer);
        address[] memory keys = new address[](1);
        keys[0] = signer;
        if (registry.signerWeightsAt(keys, refBlock)[0] == 0) revert SignerNotStaked(signer);
        equivocationSlashed[subject][signer] = true;
        address[] memory operators = new address[](1);
        operators[0] = registry.operatorOfSigner(signer);
        seized = registry.slash(operators, operatorSlashBps, address(this), subject);
        uint256 reward = (seized * challengerRewardBps) / BPS;
        emit EquivocationSlashed(subject, signer, operators[0], seized);
        if (reward > 0) bondToken.safeTransfer(msg.sender, reward);
        if (seized > reward) bondToken.safeTransfer(treasury, seized - reward);
    }

    function _slashBatch(address prover, address[] calldata attesters, uint256 disputeId)
        private
        returns (uint256 seized)
    {
        bytes32 reason = bytes32(disputeId);
        address[] memory proverOnly = new address[](1);
        proverOnly[0] = prover;
        seized = registry.slash(proverOnly, proverSlashBps, address(this), reason);
        uint256 n = attesters.length;
        if (n == 0) return seized;
        address[] memory operators = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            operators[i] = registry.operatorOfSigner(attesters[i]);
        }
        seized += registry.slash(operators, operatorSlashBps, address(this), reason);
    }
}
