/**
 * Loading a node's Ethereum key: from an encrypted JSON keystore (Web3 Secret Storage, as
 * geth, Foundry and ethers write it; decrypted with ethers) or from a plain key file. Both the
 * operator (its signing key) and the aggregator (its transaction key) start through here.
 * Like ssh, every secret file (key file, keystore, password file) that group or others can
 * read or write is refused: chmod 600 it.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { decryptKeystoreJson, encryptKeystoreJson, isKeystoreJson, type EncryptOptions } from "ethers";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import type { Hex } from "viem";
import { FieldError } from "../protocol/errors.ts";

export class KeyLoadError extends FieldError {
  override name = "KeyLoadError";
}

export type KeySource =
  | { keystore: string; password: string }
  | { keyFile: string };

const PRIVATE_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

async function readText(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new KeyLoadError(`${field}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, field);
  }
}

/** Why a secret file with this mode is refused (group or other bits set), or undefined. */
export function looseModeProblem(mode: number | undefined, path: string): string | undefined {
  if (mode === undefined || (mode & 0o077) === 0) return undefined;
  return `${path} is readable or writable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`;
}

/** Loads the account a KeySource describes; every failure names the field and the file. */
export async function loadAccount(source: KeySource, fieldPrefix = "key"): Promise<PrivateKeyAccount> {
  return privateKeyToAccount(await loadSecret(source, fieldPrefix));
}

/** The 32-byte secret a KeySource holds (an Ethereum key, or the seed of a BLS key). */
export async function loadSecret(source: KeySource, fieldPrefix = "key"): Promise<Hex> {
  if ("keystore" in source) {
    const field = `${fieldPrefix}.keystore`;
    const loose = looseModeProblem((await stat(source.keystore).catch(() => undefined))?.mode, source.keystore);
    if (loose) throw new KeyLoadError(`${field}: ${loose}`, field);
    const json = await readText(source.keystore, field);
    if (!isKeystoreJson(json)) throw new KeyLoadError(`${field}: ${source.keystore} is not an encrypted JSON keystore`, field);
    let privateKey: string;
    try {
      privateKey = (await decryptKeystoreJson(json, source.password)).privateKey;
    } catch (error) {
      const reason = /password/i.test((error as Error).message) ? "wrong password" : (error as Error).message;
      throw new KeyLoadError(`${field}: cannot decrypt ${source.keystore}: ${reason}`, field);
    }
    return privateKey as Hex;
  }
  const field = `${fieldPrefix}.keyFile`;
  // Like ssh: a key others can read is a key that may already be someone else's.
  const loose = looseModeProblem((await stat(source.keyFile).catch(() => undefined))?.mode, source.keyFile);
  if (loose) throw new KeyLoadError(`${field}: ${loose}`, field);
  const text = (await readText(source.keyFile, field)).trim();
  if (!PRIVATE_KEY.test(text)) throw new KeyLoadError(`${field}: ${source.keyFile} does not hold a 32-byte hex private key`, field);
  return (text.startsWith("0x") ? text : `0x${text}`).toLowerCase() as Hex;
}

/**
 * Writes `privateKey` as an encrypted keystore (mode 0600, never overwriting); `clear` adds
 * public fields beside the ciphertext (e.g. a BLS key's hash, which the address is not).
 */
export async function writeKeystore(path: string, privateKey: Hex, password: string, options?: EncryptOptions, clear: Record<string, string> = {}): Promise<void> {
  const address = privateKeyToAccount(privateKey).address;
  const json = await encryptKeystoreJson({ address, privateKey }, password, options);
  await writeFile(path, Object.keys(clear).length ? JSON.stringify({ ...JSON.parse(json), ...clear }) : json, { mode: 0o600, flag: "wx" });
}
