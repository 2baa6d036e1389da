/**
 * BLS signatures on BN254 as the contracts check them (contracts/libraries/BN254.sol), over
 * @noble/curves' bn254: secret keys in the scalar field, public keys on G1 (aggregated and
 * subtracted on chain) with a G2 twin, signatures on G1 over a 32-byte digest hashed to G1 by
 * try-and-increment. Verification is the contract's: with
 * gamma = keccak256(message, apk, apkG2, sigma) mod r,
 * e(sigma + gamma * apk, -g2) * e(H(message) + gamma * g1, apkG2) == 1.
 */
import { bn254 } from "@noble/curves/bn254.js";
import { encodePacked, hexToBigInt, keccak256, encodeAbiParameters, type Hex } from "viem";
import { FieldError } from "../errors.ts";

export class BlsError extends FieldError {
  override name = "BlsError";
}

const G1 = bn254.G1.Point;
const G2 = bn254.G2.Point;
type G1P = InstanceType<typeof G1>;
type G2P = InstanceType<typeof G2>;
export type { G1P as BlsG1Point, G2P as BlsG2Point };

/** Base field modulus p. */
export const FIELD_MODULUS = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;
/** Scalar field modulus r. */
export const GROUP_ORDER = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** A G1 point as the contracts take it. */
export interface G1Words {
  X: bigint;
  Y: bigint;
}

/** A G2 point as the contracts (and the EIP-197 precompile) take it: imaginary part first. */
export interface G2Words {
  X: readonly [bigint, bigint];
  Y: readonly [bigint, bigint];
}

/** A BLS key pair: the secret and both public keys. */
export interface BlsKeyPair {
  secret: bigint;
  pubkeyG1: G1P;
  pubkeyG2: G2P;
}

/** The key pair of a secret in 1..r-1. */
export function blsKeyPair(secret: bigint): BlsKeyPair {
  if (secret <= 0n || secret >= GROUP_ORDER) throw new BlsError("a BLS secret key must be in 1..r-1", "secret");
  return { secret, pubkeyG1: G1.BASE.multiply(secret), pubkeyG2: G2.BASE.multiply(secret) };
}

/** The key pair of a 32-byte seed (a key file's content): the seed's keccak256 reduced mod r. */
export function blsKeyPairFromSeed(seed: Hex): BlsKeyPair {
  if (!/^0x[0-9a-fA-F]{64}$/.test(seed)) throw new BlsError("a BLS key seed must be 32 bytes of 0x-hex", "seed");
  const secret = hexToBigInt(keccak256(encodePacked(["string", "bytes32"], ["vb.bls-key/1", seed]))) % GROUP_ORDER;
  return blsKeyPair(secret === 0n ? 1n : secret);
}

/** The contract's hash to G1: x = message mod p, then x + 1, ... until x^3 + 3 is a square. */
export function hashToG1(message: Hex): G1P {
  if (!/^0x[0-9a-fA-F]{64}$/.test(message)) throw new BlsError("a BLS message must be a 32-byte digest", "message");
  const Fp = bn254.fields.Fp;
  let x = hexToBigInt(message) % FIELD_MODULUS;
  for (;;) {
    const beta = Fp.add(Fp.mul(Fp.mul(x, x), x), 3n);
    const y = Fp.pow(beta, (FIELD_MODULUS + 1n) / 4n);
    if (Fp.eql(Fp.mul(y, y), beta)) return G1.fromAffine({ x, y });
    x = Fp.add(x, 1n);
  }
}

/** The signature of a 32-byte digest. */
export function blsSign(secret: bigint, message: Hex): G1P {
  return hashToG1(message).multiply(secret);
}

/** The sum of G1 points (signatures or keys); the identity for none. */
export function aggregateG1(points: readonly G1P[]): G1P {
  return points.reduce((sum, p) => sum.add(p), G1.ZERO);
}

/** The sum of G2 points. */
export function aggregateG2(points: readonly G2P[]): G2P {
  return points.reduce((sum, p) => sum.add(p), G2.ZERO);
}

export function g1Words(p: G1P): G1Words {
  if (p.equals(G1.ZERO)) return { X: 0n, Y: 0n };
  const a = p.toAffine();
  return { X: a.x, Y: a.y };
}

export function g2Words(p: G2P): G2Words {
  const a = p.toAffine();
  return { X: [a.x.c1, a.x.c0], Y: [a.y.c1, a.y.c0] };
}

/** A G1 point from the contracts' words; refuses coordinates off the curve. */
export function g1FromWords(w: G1Words, field = "point"): G1P {
  if (w.X === 0n && w.Y === 0n) return G1.ZERO;
  try {
    const p = G1.fromAffine({ x: w.X, y: w.Y });
    p.assertValidity();
    return p;
  } catch (error) {
    throw new BlsError(`not a G1 point: ${(error as Error).message}`, field);
  }
}

/** A G2 point from the contracts' words; refuses points off the curve or outside the subgroup. */
export function g2FromWords(w: G2Words, field = "point"): G2P {
  try {
    const p = G2.fromAffine({ x: { c0: w.X[1], c1: w.X[0] }, y: { c0: w.Y[1], c1: w.Y[0] } });
    p.assertValidity();
    return p;
  } catch (error) {
    throw new BlsError(`not a G2 point: ${(error as Error).message}`, field);
  }
}

/** keccak256 of a G1 point's two words: the key's identity in the registry (BN254.hashG1). */
export function hashG1(p: G1P): Hex {
  const w = g1Words(p);
  return keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [w.X, w.Y]));
}

/** The contract's check of `sigma` over `message` by the secret behind both `apk` and `apkG2`. */
export function blsVerify(message: Hex, apk: G1P, apkG2: G2P, sigma: G1P): boolean {
  if (apk.equals(G1.ZERO) || sigma.equals(G1.ZERO)) return false;
  const a = g1Words(apk);
  const q = g2Words(apkG2);
  const s = g1Words(sigma);
  const gamma = hexToBigInt(keccak256(encodePacked(
    ["bytes32", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256"],
    [message, a.X, a.Y, q.X[0], q.X[1], q.Y[0], q.Y[1], s.X, s.Y],
  ))) % GROUP_ORDER;
  const left = sigma.add(apk.multiply(gamma));
  const right = hashToG1(message).add(G1.BASE.multiply(gamma));
  const gt = bn254.pairingBatch([
    { g1: left, g2: G2.BASE.negate() },
    { g1: right, g2: apkG2 },
  ]);
  return bn254.fields.Fp12.eql(gt, bn254.fields.Fp12.ONE);
}

/** What BatchManager.attestBLS takes as its certificate. */
export interface BlsCertificateWords {
  apkIndex: number;
  nonSigners: G1Words[];
  apkG2: G2Words;
  sigma: G1Words;
}

/** One signer's contribution to a certificate. */
export interface BlsPartial {
  pubkeyG2: G2P;
  signature: G1P;
}

/**
 * The certificate of `partials` (the signers) against apk history entry `apkIndex`: the
 * aggregate signature and G2 key, and the keyed operators that did not sign, ascending by key
 * hash as the registry wants them.
 */
export function blsCertificate(apkIndex: number, partials: readonly BlsPartial[], nonSigners: readonly G1P[]): BlsCertificateWords {
  if (partials.length === 0) throw new BlsError("a certificate needs at least one signature", "partials");
  const sorted = [...nonSigners].map((p) => ({ p, h: BigInt(hashG1(p)) })).sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.h === sorted[i - 1]!.h) throw new BlsError("a non-signer is listed twice", "nonSigners");
  }
  return {
    apkIndex,
    nonSigners: sorted.map((x) => g1Words(x.p)),
    apkG2: g2Words(aggregateG2(partials.map((p) => p.pubkeyG2))),
    sigma: g1Words(aggregateG1(partials.map((p) => p.signature))),
  };
}

const WORD = /^0x[0-9a-fA-F]+$/;

function words(hex: string, count: number, field: string): bigint[] {
  if (typeof hex !== "string" || !WORD.test(hex) || hex.length !== 2 + 64 * count) throw new BlsError(`must be ${32 * count} bytes of 0x-hex`, field);
  return Array.from({ length: count }, (_, i) => BigInt(`0x${hex.slice(2 + 64 * i, 66 + 64 * i)}`));
}

function wordsHex(values: readonly bigint[]): Hex {
  return `0x${values.map((v) => v.toString(16).padStart(64, "0")).join("")}`;
}

/** A G1 point as 64 bytes of hex (X ‖ Y), the way messages carry signatures. */
export function g1ToHex(p: G1P): Hex {
  const w = g1Words(p);
  return wordsHex([w.X, w.Y]);
}

/** A G1 point from 64 bytes of hex; refuses the identity and points off the curve. */
export function g1FromHex(hex: string, field = "point"): G1P {
  const [X, Y] = words(hex, 2, field) as [bigint, bigint];
  if (X >= FIELD_MODULUS || Y >= FIELD_MODULUS) throw new BlsError("coordinates must be below the field modulus", field);
  const p = g1FromWords({ X, Y }, field);
  if (p.equals(G1.ZERO)) throw new BlsError("must not be the point at infinity", field);
  return p;
}

/** A G2 point as 128 bytes of hex, in the contracts' word order (X.c1 ‖ X.c0 ‖ Y.c1 ‖ Y.c0). */
export function g2ToHex(p: G2P): Hex {
  const w = g2Words(p);
  return wordsHex([w.X[0], w.X[1], w.Y[0], w.Y[1]]);
}

/** A G2 point from 128 bytes of hex; refuses points off the curve or outside the subgroup. */
export function g2FromHex(hex: string, field = "point"): G2P {
  const [x1, x0, y1, y0] = words(hex, 4, field) as [bigint, bigint, bigint, bigint];
  if ([x1, x0, y1, y0].some((v) => v >= FIELD_MODULUS)) throw new BlsError("coordinates must be below the field modulus", field);
  return g2FromWords({ X: [x1, x0], Y: [y1, y0] }, field);
}

