// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title BN254
/// @notice The BN254 (alt_bn128) operations BLS aggregate signatures need, on the EVM precompiles
/// (EIP-196 add and multiply at 0x06 / 0x07, EIP-197 pairing at 0x08, modexp at 0x05). G2
/// coordinates are in the precompile's order: imaginary part first (X = [x1, x0]).
/// Hash to G1 is try-and-increment over keccak256, the construction EigenLayer's middleware uses.
library BN254 {
    /// @notice Base field modulus p.
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice Scalar field modulus r (the group order).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    struct G1Point {
        uint256 X;
        uint256 Y;
    }

    struct G2Point {
        uint256[2] X;
        uint256[2] Y;
    }

    /// @notice A precompile call failed (a point off the curve, or out of gas).
    error PrecompileFailed(uint256 precompile);
    /// @notice A coordinate is not below p.
    error NotAFieldElement();

    /// @notice The generator of G1.
    function generatorG1() internal pure returns (G1Point memory) {
        return G1Point(1, 2);
    }

    /// @notice The negated generator of G2 (-g2), for checks of the form e(a, -g2) e(b, Q) == 1.
    function negGeneratorG2() internal pure returns (G2Point memory) {
        return G2Point(
            [
                11559732032986387107991004021392285783925812861821192530917403151452391805634,
                10857046999023057135944570762232829481370756359578518086990519993285655852781
            ],
            [
                17805874995975841540914202342111839520379459829704422454583296818431106115052,
                13392588948715843804641432497768002650278120570034223513918757245338268106653
            ]
        );
    }

    /// @notice -p, the negation (the point at infinity is its own).
    function negate(G1Point memory p) internal pure returns (G1Point memory) {
        if (p.X == 0 && p.Y == 0) return p;
        return G1Point(p.X, P - (p.Y % P));
    }

    /// @notice a + b.
    function plus(G1Point memory a, G1Point memory b) internal view returns (G1Point memory r) {
        uint256[4] memory input = [a.X, a.Y, b.X, b.Y];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x06, input, 0x80, r, 0x40)
        }
        if (!ok) revert PrecompileFailed(6);
    }

    /// @notice s * p.
    function scalarMul(G1Point memory p, uint256 s) internal view returns (G1Point memory r) {
        uint256[3] memory input = [p.X, p.Y, s];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, input, 0x60, r, 0x40)
        }
        if (!ok) revert PrecompileFailed(7);
    }

    /// @notice Whether e(a1, a2) * e(b1, b2) == 1.
    function pairing2(G1Point memory a1, G2Point memory a2, G1Point memory b1, G2Point memory b2)
        internal
        view
        returns (bool)
    {
        uint256[12] memory input = [
            a1.X, a1.Y, a2.X[0], a2.X[1], a2.Y[0], a2.Y[1],
            b1.X, b1.Y, b2.X[0], b2.X[1], b2.Y[0], b2.Y[1]
        ];
        uint256[1] memory out;
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x08, input, 0x180, out, 0x20)
        }
        if (!ok) revert PrecompileFailed(8);
        return out[0] == 1;
    }

    /// @notice keccak256 of a G1 point's coordinates: the point's identity in registries.
    function hashG1(G1Point memory p) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            h := keccak256(p, 0x40)
        }
    }

    /// @notice Maps a 32-byte message to G1: x = message mod p, then x + 1, ... until x^3 + 3 is
    /// a square; y is its square root (y = beta^((p+1)/4), as p = 3 mod 4).
    function hashToG1(bytes32 message) internal view returns (G1Point memory point) {
        uint256 x = uint256(message) % P;
        for (;;) {
            uint256 beta = addmod(mulmod(mulmod(x, x, P), x, P), 3, P);
            uint256 y = _expMod(beta, (P + 1) / 4);
            if (mulmod(y, y, P) == beta) {
                point = G1Point(x, y);
                break;
            }
            x = addmod(x, 1, P);
        }
    }

    /// @notice BLS check with the same-secret proof between a G1 and a G2 key, as EigenLayer's
    /// BLSSignatureChecker does: with gamma = H(message, apk, apkG2, sigma) mod r,
    /// e(sigma + gamma * apk, -g2) * e(H(message) + gamma * g1, apkG2) == 1. It holds when sigma
    /// is the signature of `message` under the secret of apk, and apkG2 carries the same secret.
    function verify(bytes32 message, G1Point memory apk, G2Point memory apkG2, G1Point memory sigma)
        internal
        view
        returns (bool)
    {
        _requireField(apk);
        _requireField(sigma);
        uint256 gamma = uint256(
            keccak256(
                abi.encodePacked(
                    message, apk.X, apk.Y, apkG2.X[0], apkG2.X[1], apkG2.Y[0], apkG2.Y[1], sigma.X, sigma.Y
                )
            )
        ) % R;
        return pairing2(
            plus(sigma, scalarMul(apk, gamma)),
            negGeneratorG2(),
            plus(hashToG1(message), scalarMul(generatorG1(), gamma)),
            apkG2
        );
    }

    function _requireField(G1Point memory p) private pure {
        if (p.X >= P || p.Y >= P) revert NotAFieldElement();
    }

    function _expMod(uint256 base, uint256 exponent) private view returns (uint256 result) {
        uint256[6] memory input = [uint256(32), 32, 32, base, exponent, P];
        uint256[1] memory out;
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x05, input, 0xc0, out, 0x20)
        }
        if (!ok) revert PrecompileFailed(5);
        result = out[0];
    }
}
