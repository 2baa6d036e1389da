// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IOperatorRegistry} from "../interfaces/IOperatorRegistry.sol";
import {TypedData} from "../libraries/TypedData.sol";
import {BN254} from "../libraries/BN254.sol";

/// @title OperatorRegistryBase
/// @notice Membership, signing keys and block-checkpointed voting weight shared by the native
/// StakeRegistry and the EigenLayer service manager. Where the stake comes from (an ERC-20 held
/// here, or EigenLayer allocations) is the subclass's business.
/// @dev Voting weight is kept per signing key, because attestations and votes arrive signed by
/// keys: one storage read per signer. Each key's history is an OpenZeppelin Checkpoints.Trace208
/// (block number => weight); a copy of its newest checkpoint sits in one packed slot so that the
/// common case (no change since the reference block) costs a single cold SLOAD.
abstract contract OperatorRegistryBase is IOperatorRegistry, EIP712, Ownable {
    using Checkpoints for Checkpoints.Trace208;

    /// @notice A member's role and signing key.
    struct Member {
        Role role;
        address signingKey;
    }

    /// @notice The account that may call slash() (the BatchManager), set once.
    address public slasher;

    /// @inheritdoc IOperatorRegistry
    uint256 public immutable override unbondingDelay;

    mapping(address account => Member) internal _members;
    mapping(address signingKey => address account) internal _accountOfKey;
    mapping(address signingKey => Checkpoints.Trace208) internal _weightHistory;
    mapping(address signingKey => Checkpoints.Checkpoint208) internal _latestWeight;
    Checkpoints.Trace208 internal _totalWeight;

    /// @notice An operator's BLS key (G1; its G2 twin is only checked at registration).
    struct BLSKey {
        address account;
        uint32 registeredBlock;
        BN254.G1Point pubkey;
    }

    /// @notice The aggregate G1 key of every keyed operator, from block `fromBlock` on.
    struct ApkUpdate {
        uint32 fromBlock;
        BN254.G1Point apk;
    }

    /// @notice BN254.hashG1 of each operator's BLS key (zero: none).
    mapping(address account => bytes32) public blsKeyHashOf;
    mapping(bytes32 keyHash => BLSKey) internal _blsKeys;
    ApkUpdate[] internal _apkHistory;
    /// @dev Weight of the operators that have a BLS key, by block: what a BLS certificate can reach.
    Checkpoints.Trace208 internal _blsWeight;

    /// @notice `account` joined with `role` and `signingKey`.
    event MemberRegistered(address indexed account, Role role, address indexed signingKey);
    /// @notice The voting weight of `signingKey` (operator `account`) became `weight` at this block.
    event WeightChanged(address indexed account, address indexed signingKey, uint256 weight, uint256 totalWeight);
    /// @notice The slasher was set.
    event SlasherSet(address indexed slasher);
    /// @notice `account` registered the BLS key with hash `keyHash`; apk history entry `apkIndex` includes it.
    event BLSKeyRegistered(address indexed account, bytes32 indexed keyHash, uint256 pubkeyX, uint256 pubkeyY, uint32 apkIndex);

    /// @notice A required address argument was zero.
    error ZeroAddress(string field);
    /// @notice `account` is already a member.
    error AlreadyRegistered(address account);
    /// @notice `signingKey` is already bound to a member (or is the zero address).
    error SigningKeyInUse(address signingKey);
    /// @notice The signing key must differ from the account that stakes.
    error SigningKeyIsAccount(address account);
    /// @notice Role must be Operator or Prover.
    error InvalidRole(uint8 role);
    /// @notice The registration signature's deadline has passed.
    error RegistrationExpired(uint256 deadline, uint256 timestamp);
    /// @notice The registration signature was not made by the signing key.
    error InvalidRegistrationSignature(address signingKey, address recovered);
    /// @notice Only the slasher may slash.
    error NotSlasher(address caller);
    /// @notice The slasher is set once.
    error SlasherAlreadySet(address slasher);
    /// @notice Basis points outside 1..10000.
    error InvalidBps(uint256 bps);
    /// @notice `account` is not a member.
    error NotRegistered(address account);
    /// @notice Only operators register BLS keys, once.
    error BLSKeyNotAllowed(address account);
    /// @notice The key is the point at infinity, off the field, or already registered.
    error InvalidBLSKey(bytes32 keyHash);
    /// @notice The proof of possession does not verify under the key.
    error InvalidBLSProofOfPossession(address account);
    /// @notice `apkIndex` is not the apk history entry in force at the reference block.
    error WrongApkIndex(uint32 apkIndex, uint256 refBlock);
    /// @notice Non-signer `index` is unknown, keyed after the reference block, or out of order.
    error InvalidNonSigner(uint256 index);
    /// @notice Signing key `index` has no BLS key in force at the reference block.
    error NoBLSKey(uint256 index);

    modifier onlySlasher() {
        if (msg.sender != slasher) revert NotSlasher(msg.sender);
        _;
    }

    constructor(uint256 unbondingDelay_, address owner_)
        EIP712(TypedData.DOMAIN_NAME, TypedData.DOMAIN_VERSION)
        Ownable(owner_)
    {
        unbondingDelay = unbondingDelay_;
    }

    /// @notice Sets the only account allowed to slash (the BatchManager). Once.
    /// @param slasher_ The slasher address.
    function setSlasher(address slasher_) external onlyOwner {
        if (slasher != address(0)) revert SlasherAlreadySet(slasher);
        if (slasher_ == address(0)) revert ZeroAddress("slasher");
        slasher = slasher_;
        emit SlasherSet(slasher_);
    }

    /// @notice The EIP-712 digest a signing key signs to register for `account`.
    /// @param account The staking account.
    /// @param signingKey The signing-key address.
    /// @param role 1 = Operator, 2 = Prover.
    /// @param deadline Last valid timestamp.
    /// @return The digest.
    function registrationDigest(address account, address signingKey, Role role, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(TypedData.REGISTRATION_TYPEHASH, account, signingKey, uint8(role), deadline)));
    }

    /// @notice A member's role and signing key.
    /// @param account The member's account.
    /// @return role The role (None if not a member).
    /// @return signingKey The bound signing key.
    function memberOf(address account) external view returns (Role role, address signingKey) {
        Member memory m = _members[account];
        return (m.role, m.signingKey);
    }

    /// @inheritdoc IOperatorRegistry
    function operatorOfSigner(address signingKey) external view returns (address) {
        return _accountOfKey[signingKey];
    }

    /// @inheritdoc IOperatorRegistry
    function signerWeightsAt(address[] calldata signingKeys, uint256 blockNumber)
        external
        view
        returns (uint256[] memory weights)
    {
        uint48 key = SafeCast.toUint48(blockNumber);
        uint256 n = signingKeys.length;
        weights = new uint256[](n);
        for (uint256 i = 0; i < n;) {
            weights[i] = _weightAt(signingKeys[i], key);
            unchecked {
                ++i;
            }
        }
    }

    /// @inheritdoc IOperatorRegistry
    function sumSignerWeightsAt(address[] calldata signingKeys, uint256 blockNumber)
        external
        view
        returns (uint256 sum, uint256 firstUnstaked)
    {
        uint48 key = SafeCast.toUint48(blockNumber);
        uint256 n = signingKeys.length;
        firstUnstaked = type(uint256).max;
        for (uint256 i = 0; i < n;) {
            uint256 w = _weightAt(signingKeys[i], key);
            if (w == 0) return (sum, i);
            sum += w;
            unchecked {
                ++i;
            }
        }
    }

    /// @notice Voting weight of one signing key at `blockNumber`.
    /// @param signingKey The key.
    /// @param blockNumber A past or current block.
    /// @return The weight.
    function weightAt(address signingKey, uint256 blockNumber) external view returns (uint256) {
        return _weightAt(signingKey, SafeCast.toUint48(blockNumber));
    }

    /// @inheritdoc IOperatorRegistry
    function totalWeightAt(uint256 blockNumber) external view returns (uint256) {
        return _lookup(_totalWeight, SafeCast.toUint48(blockNumber));
    }

    /// @dev A trace's value at `key`: the newest checkpoint when it is not newer than `key` (the
    /// common case, a reference block after the last change: two SLOADs whatever the history's
    /// length), otherwise OpenZeppelin's search.
    function _lookup(Checkpoints.Trace208 storage trace, uint48 key) internal view returns (uint256) {
        (bool exists, uint48 newest, uint208 value) = trace.latestCheckpoint();
        if (exists && newest <= key) return value;
        return trace.upperLookupRecent(key);
    }

    /// @inheritdoc IOperatorRegistry
    function isActiveProver(address prover) external view returns (bool) {
        return _members[prover].role == Role.Prover && _stakeOf(prover) >= _minimumStake(Role.Prover);
    }

    /// @notice The message an operator's BLS key signs as its proof of possession.
    /// @param account The operator.
    /// @return The EIP-712 digest (domain: this registry).
    function blsRegistrationMessage(address account) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(TypedData.BLS_REGISTRATION_TYPEHASH, account)));
    }

    /// @notice Binds a BLS key to the calling operator, proven by its signature over
    /// blsRegistrationMessage (checked with the G2 key, which must carry the same secret). Once.
    /// @param pubkey The G1 key (what aggregates and non-signers use).
    /// @param pubkeyG2 The same secret on G2.
    /// @param proofOfPossession The G1 signature of blsRegistrationMessage(msg.sender).
    function registerBLSKey(
        BN254.G1Point calldata pubkey,
        BN254.G2Point calldata pubkeyG2,
        BN254.G1Point calldata proofOfPossession
    ) external {
        Member memory m = _members[msg.sender];
        if (m.role != Role.Operator || blsKeyHashOf[msg.sender] != bytes32(0)) revert BLSKeyNotAllowed(msg.sender);
        bytes32 keyHash = BN254.hashG1(pubkey);
        if ((pubkey.X == 0 && pubkey.Y == 0) || pubkey.X >= BN254.P || pubkey.Y >= BN254.P || _blsKeys[keyHash].account != address(0)) {
            revert InvalidBLSKey(keyHash);
        }
        if (!BN254.verify(blsRegistrationMessage(msg.sender), pubkey, pubkeyG2, proofOfPossession)) {
            revert InvalidBLSProofOfPossession(msg.sender);
        }
        uint32 nowBlock = SafeCast.toUint32(block.number);
        blsKeyHashOf[msg.sender] = keyHash;
        _blsKeys[keyHash] = BLSKey(msg.sender, nowBlock, pubkey);
        uint256 n = _apkHistory.length;
        BN254.G1Point memory apk = n == 0 ? BN254.G1Point(0, 0) : _apkHistory[n - 1].apk;
        apk = BN254.plus(apk, pubkey);
        if (n > 0 && _apkHistory[n - 1].fromBlock == nowBlock) {
            _apkHistory[n - 1].apk = apk;
        } else {
            _apkHistory.push(ApkUpdate(nowBlock, apk));
            n += 1;
        }
        uint208 weight = SafeCast.toUint208(_weightAt(m.signingKey, SafeCast.toUint48(block.number)));
        _blsWeight.push(SafeCast.toUint48(block.number), _blsWeight.latest() + weight);
        emit BLSKeyRegistered(msg.sender, keyHash, pubkey.X, pubkey.Y, uint32(n - 1));
    }

    /// @notice Number of entries in the aggregate-key history.
    function apkHistoryLength() external view returns (uint256) {
        return _apkHistory.length;
    }

    /// @notice One entry of the aggregate-key history.
    /// @param index The entry.
    /// @return fromBlock First block it is in force.
    /// @return apk The aggregate G1 key of every operator keyed by then.
    function apkAt(uint256 index) external view returns (uint32 fromBlock, BN254.G1Point memory apk) {
        ApkUpdate memory u = _apkHistory[index];
        return (u.fromBlock, u.apk);
    }

    /// @notice An operator's BLS key by its hash.
    /// @param keyHash BN254.hashG1 of the key.
    /// @return account The operator (address(0): unknown).
    /// @return registeredBlock Block it was registered in.
    /// @return pubkey The G1 key.
    function blsKey(bytes32 keyHash) external view returns (address account, uint32 registeredBlock, BN254.G1Point memory pubkey) {
        BLSKey memory k = _blsKeys[keyHash];
        return (k.account, k.registeredBlock, k.pubkey);
    }

    /// @inheritdoc IOperatorRegistry
    function blsSignersAt(uint256 refBlock, uint32 apkIndex, BN254.G1Point[] calldata nonSigners)
        external
        view
        returns (BN254.G1Point memory apk, uint256 signedWeight)
    {
        uint256 n = _apkHistory.length;
        if (apkIndex >= n || _apkHistory[apkIndex].fromBlock > refBlock || (apkIndex + 1 < n && _apkHistory[apkIndex + 1].fromBlock <= refBlock)) {
            revert WrongApkIndex(apkIndex, refBlock);
        }
        uint48 key = SafeCast.toUint48(refBlock);
        apk = _apkHistory[apkIndex].apk;
        signedWeight = _lookup(_blsWeight, key);
        bytes32 previous;
        for (uint256 i = 0; i < nonSigners.length; ++i) {
            bytes32 h = BN254.hashG1(nonSigners[i]);
            BLSKey storage k = _blsKeys[h];
            if (h <= previous || k.account == address(0) || k.registeredBlock > refBlock) revert InvalidNonSigner(i);
            previous = h;
            apk = BN254.plus(apk, BN254.negate(nonSigners[i]));
            signedWeight -= _weightAt(_members[k.account].signingKey, key);
        }
    }

    /// @inheritdoc IOperatorRegistry
    function blsApkOfSigningKeys(address[] calldata signingKeys, uint256 refBlock)
        external
        view
        returns (BN254.G1Point memory apk)
    {
        for (uint256 i = 0; i < signingKeys.length; ++i) {
            BLSKey storage k = _blsKeys[blsKeyHashOf[_accountOfKey[signingKeys[i]]]];
            if (k.account == address(0) || k.registeredBlock > refBlock) revert NoBLSKey(i);
            apk = BN254.plus(apk, k.pubkey);
        }
    }

    /// @dev Current stake of a member, in the back end's units.
    function _stakeOf(address account) internal view virtual returns (uint256);

    /// @dev Minimum stake for a role.
    function _minimumStake(Role role) internal view virtual returns (uint256);

    /// @dev Records a new member after checking the signing key's EIP-712 registration signature.
    function _registerMember(address account, uint8 role, address signingKey, uint256 deadline, bytes memory signature)
        internal
    {
        if (role != uint8(Role.Operator) && role != uint8(Role.Prover)) revert InvalidRole(role);
        if (_members[account].role != Role.None) revert AlreadyRegistered(account);
        if (signingKey == address(0) || _accountOfKey[signingKey] != address(0)) revert SigningKeyInUse(signingKey);
        if (signingKey == account) revert SigningKeyIsAccount(account);
        if (block.timestamp > deadline) revert RegistrationExpired(deadline, block.timestamp);
        bytes32 digest = registrationDigest(account, signingKey, Role(role), deadline);
        (address recovered,,) = ECDSA.tryRecover(digest, signature);
        if (recovered != signingKey) revert InvalidRegistrationSignature(signingKey, recovered);
        _members[account] = Member(Role(role), signingKey);
        _accountOfKey[signingKey] = account;
        emit MemberRegistered(account, Role(role), signingKey);
    }

    /// @dev Sets an operator's voting weight from this block on (provers have none).
    function _setWeight(address account, uint256 weight) internal {
        Member memory m = _members[account];
        if (m.role != Role.Operator) return;
        uint48 nowBlock = SafeCast.toUint48(block.number);
        uint208 newWeight = SafeCast.toUint208(weight);
        (uint208 oldWeight,) = _weightHistory[m.signingKey].push(nowBlock, newWeight);
        _latestWeight[m.signingKey] = Checkpoints.Checkpoint208(nowBlock, newWeight);
        uint208 total = _totalWeight.latest() - oldWeight + newWeight;
        _totalWeight.push(nowBlock, total);
        if (blsKeyHashOf[account] != bytes32(0)) {
            _blsWeight.push(nowBlock, _blsWeight.latest() - oldWeight + newWeight);
        }
        emit WeightChanged(account, m.signingKey, weight, total);
    }

    /// @dev Weight of a key at a block: the cached newest checkpoint when it is not newer than the
    /// block (one SLOAD), otherwise a lookup in the full history.
    function _weightAt(address signingKey, uint48 blockNumber) internal view returns (uint256) {
        Checkpoints.Checkpoint208 storage last = _latestWeight[signingKey];
        uint256 packed;
        assembly ("memory-safe") {
            packed := sload(last.slot)
        }
        // Checkpoint208 packs _key (uint48) in the low bits and _value (uint208) above it.
        if (uint48(packed) <= blockNumber) return packed >> 48;
        return _weightHistory[signingKey].upperLookupRecent(blockNumber);
    }

    /// @dev Checks a basis-point argument.
    function _checkBps(uint256 bps) internal pure {
        if (bps == 0 || bps > 10_000) revert InvalidBps(bps);
    }
}
