/**
 * Canonical ECDSA signatures only. secp256k1 accepts two signatures for every (digest, key):
 * (r, s, v) and (r, n - s, v ^ 1). Both recover the same signer, so a relay can re-encode a
 * genuine message into a second, different-looking one. Ethereum (EIP-2) and OpenZeppelin's
 * ECDSA only accept the low-s form; so do the contracts (BatchManager refuses s > n / 2), and so
 * must every door off chain: a high-s copy admitted first would shut out the genuine one and
 * then fail on chain. Here: r and s in range, s in the lower half, v 27 or 28 (the encoding
 * signTypedData produces; 0/1 recover the same key and are refused too).
 */
import type { Hex } from "viem";
import { NonCanonicalSignatureError } from "./errors.ts";

/** Order n of the secp256k1 group. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** Largest s a canonical signature may carry (n / 2, rounded down). */
export const SECP256K1_HALF_N = SECP256K1_N >> 1n;

const SIGNATURE65 = /^0x[0-9a-fA-F]{130}$/;
const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/** Why (r, s) is not canonical, or undefined when it is. */
function rsProblem(r: bigint, s: bigint): string | undefined {
  if (r === 0n || r >= SECP256K1_N) return "r is outside 1..n-1";
  if (s === 0n) return "s is zero";
  if (s > SECP256K1_HALF_N) return "s is in the upper half of the curve order (a malleated copy of a low-s signature)";
  return undefined;
}

/** Why a 65-byte (r, s, v) signature is not canonical, or undefined when it is. */
export function signatureProblem(signature: string): string | undefined {
  if (typeof signature !== "string" || !SIGNATURE65.test(signature)) return "must be 65 bytes of 0x-hex (r, s, v)";
  const v = Number.parseInt(signature.slice(130, 132), 16);
  if (v !== 27 && v !== 28) return `v is ${v}; a canonical signature has v = 27 or 28`;
  return rsProblem(BigInt(`0x${signature.slice(2, 66)}`), BigInt(`0x${signature.slice(66, 130)}`));
}

/** Why an ERC-2098 compact {r, vs} is not canonical, or undefined when it is. */
export function compactSignatureProblem(signature: { r: string; vs: string }): string | undefined {
  if (!BYTES32.test(signature.r) || !BYTES32.test(signature.vs)) return "r and vs must be 32 bytes of 0x-hex each";
  return rsProblem(BigInt(signature.r), BigInt(signature.vs) & ((1n << 255n) - 1n));
}

/** Throws NonCanonicalSignatureError naming `field` unless the signature is canonical. */
export function assertCanonicalSignature(signature: Hex | { r: Hex; vs: Hex }, field = "signature"): void {
  const problem = typeof signature === "string" ? signatureProblem(signature) : compactSignatureProblem(signature);
  if (problem) throw new NonCanonicalSignatureError(`${field} is not a canonical signature: ${problem}`, field);
}

/**
 * The second encoding of a 65-byte signature: (r, n - s, v ^ 1). It recovers the same signer;
 * canonical doors refuse it. For tests, the fuzzer and the chaos run's hostile operator.
 */
export function malleatedSignature(signature: Hex): Hex {
  if (!SIGNATURE65.test(signature)) throw new NonCanonicalSignatureError("signature must be 65 bytes of 0x-hex (r, s, v)", "signature");
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  const flipped = v === 27 ? 28 : v === 28 ? 27 : v ^ 1;
  return `0x${signature.slice(2, 66)}${((SECP256K1_N - s) % SECP256K1_N).toString(16).padStart(64, "0")}${flipped.toString(16).padStart(2, "0")}`;
}
