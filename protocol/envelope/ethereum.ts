/**
 * Ethereum-key signatures, so that a prover registered on-chain can sign its benchmark with the
 * key the network already knows. Scheme "eip191": EIP-191 personal_sign (version 0x45) over the
 * 32 raw bytes of the content hash, i.e. keccak256("\x19Ethereum Signed Message:\n32" || hash).
 * Verification recovers the address and compares it with the claimed and the trusted address.
 * viem is loaded on first use: it costs most of the CLI's start-up time and only this needs it.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import type { Hex } from "viem";
import { KeyFormatError } from "./errors.ts";

export async function signHashEip191(contentHashHex: string, privateKey: Hex): Promise<{ address: Hex; signature: Hex }> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey)) throw new KeyFormatError("Ethereum private key must be 0x + 64 hex characters", "private_key");
  const { privateKeyToAccount } = await import("viem/accounts");
  const account = privateKeyToAccount(privateKey);
  const signature = await account.signMessage({ message: { raw: `0x${contentHashHex}` } });
  return { address: account.address, signature };
}

/** The address that produced `signature` over the hash, or null when it does not parse. */
export async function recoverEip191(contentHashHex: string, signature: string): Promise<Hex | null> {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return null;
  const { recoverMessageAddress } = await import("viem");
  try {
    return await recoverMessageAddress({ message: { raw: `0x${contentHashHex}` }, signature: signature as Hex });
  } catch {
    return null;
  }
}

/** EIP-55 checksummed form of a 20-byte hex address (any case accepted on input). */
export function normalizeAddress(address: string): Hex {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new KeyFormatError(`not an Ethereum address: "${address}"`, "address");
  const lower = address.slice(2).toLowerCase();
  const hash = keccak_256(new TextEncoder().encode(lower));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0xf;
    out += nibble >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  }
  return out as Hex;
}
