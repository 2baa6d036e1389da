/**
 * Ethereum-key signatures, so that a prover registered on-chain can sign its benchmark with the
 * key the network already knows. Scheme "eip191": EIP-191 personal_sign (version 0x45) over the
 * 32 raw bytes of the content hash, i.e. keccak256("\x19Ethereum Signed Message:\n32" || hash).
 * Verification recovers the address and compares it with the claimed and the trusted address.
 */
import { recoverMessageAddress, isAddress, getAddress, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { KeyFormatError } from "./errors.ts";

export async function signHashEip191(contentHashHex: string, privateKey: Hex): Promise<{ address: Hex; signature: Hex }> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey)) throw new KeyFormatError("Ethereum private key must be 0x + 64 hex characters", "private_key");
  const account = privateKeyToAccount(privateKey);
  const signature = await account.signMessage({ message: { raw: `0x${contentHashHex}` } });
  return { address: account.address, signature };
}

/** The address that produced `signature` over the hash, or null when it does not parse. */
export async function recoverEip191(contentHashHex: string, signature: string): Promise<Hex | null> {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return null;
  try {
    return await recoverMessageAddress({ message: { raw: `0x${contentHashHex}` }, signature: signature as Hex });
  } catch {
    return null;
  }
}

export function normalizeAddress(address: string): Hex {
  if (!isAddress(address, { strict: false })) throw new KeyFormatError(`not an Ethereum address: "${address}"`, "address");
  return getAddress(address);
}
