/**
 * The operator's key folder: encrypted JSON keystores (Web3 Secret Storage, written and read by
 * ethers, as geth and Foundry write them) for its keys, named <name>.account.json (the staking
 * account: holds the stake, pays gas), <name>.signer.json (the signing key bound at registration:
 * signs attestations and votes only) and <name>.bls.json (the 32-byte seed of its BN254 BLS key,
 * which signs attestations for certificates). Files are 0600 in a 0700 folder and never
 * overwritten; listing reads only what each keystore carries in clear: the address, or for a BLS
 * key the hash of its public key (written beside the ciphertext, as `blsKeyHash`).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { getAddress, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { FieldError } from "../../protocol/errors.ts";
import { blsKeyPairFromSeed, hashG1, type BlsKeyPair } from "../../protocol/bls/index.ts";
import { loadAccount, loadSecret, writeKeystore } from "../../runtime/keys.ts";

export type KeyRole = "account" | "signer" | "bls";
export const KEY_ROLES: readonly KeyRole[] = ["account", "signer", "bls"];

export class KeystoreError extends FieldError {
  override name = "KeystoreError";
}

export interface KeystoreEntry {
  name: string;
  role: KeyRole;
  /** The key's address; for a BLS key, the hash of its G1 public key (what the registry binds). */
  address: Address | Hex;
  file: string;
  modifiedAt: string;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const PRIVATE_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

export class KeystoreFolder {
  constructor(readonly dir: string) {}

  file(name: string, role: KeyRole): string {
    checkName(name);
    return path.join(this.dir, `${name}.${role}.json`);
  }

  /** A new staking account, signing key and BLS key under `name`; refuses a name already in use. */
  async create(name: string, password: string): Promise<{ account: KeystoreEntry; signer: KeystoreEntry; bls: KeystoreEntry }> {
    this.ensureDir();
    for (const role of KEY_ROLES) if (existsSync(this.file(name, role))) throw new KeystoreError(`keys "${name}" exist already (${this.file(name, role)}); pick another --name`, "name");
    checkPassword(password);
    const account = await this.write(name, "account", generatePrivateKey(), password);
    const signer = await this.write(name, "signer", generatePrivateKey(), password);
    const bls = await this.write(name, "bls", generatePrivateKey(), password);
    return { account, signer, bls };
  }

  /** An existing private key (a 0600 key file's contents) as the keystore `name`.`role`. */
  async import(name: string, role: KeyRole, privateKey: string, password: string): Promise<KeystoreEntry> {
    if (!KEY_ROLES.includes(role)) throw new KeystoreError(`--role must be account, signer or bls, got ${JSON.stringify(role)}`, "role");
    const key = privateKey.trim();
    if (!PRIVATE_KEY.test(key)) throw new KeystoreError("the key file does not hold a 32-byte hex private key", "key-file");
    this.ensureDir();
    if (existsSync(this.file(name, role))) throw new KeystoreError(`${this.file(name, role)} exists already; pick another --name`, "name");
    const hex = (key.startsWith("0x") ? key : `0x${key}`).toLowerCase() as Hex;
    const other = this.list().find((e) => e.address === (role === "bls" ? blsKeyHash(hex) : privateKeyToAccount(hex).address));
    if (other) throw new KeystoreError(`that key is already in this folder as ${other.name}.${other.role}`, "key-file");
    checkPassword(password);
    return this.write(name, role, hex, password);
  }

  /** Every keystore in the folder (no password needed: the address is stored in clear). */
  list(): KeystoreEntry[] {
    if (!existsSync(this.dir)) return [];
    const entries: KeystoreEntry[] = [];
    for (const file of readdirSync(this.dir).sort()) {
      const m = /^([a-z0-9][a-z0-9_-]{0,63})\.(account|signer|bls)\.json$/.exec(file);
      if (!m) continue;
      const full = path.join(this.dir, file);
      let address: Address | Hex;
      try {
        const json = JSON.parse(readFileSync(full, "utf8")) as { address?: string; blsKeyHash?: string };
        if (m[2] === "bls") {
          if (!/^0x[0-9a-f]{64}$/.test(String(json.blsKeyHash))) continue;
          address = json.blsKeyHash as Hex;
        } else {
          address = getAddress(`0x${String(json.address).replace(/^0x/, "")}`);
        }
      } catch {
        continue; // not a keystore we wrote; left alone
      }
      entries.push({ name: m[1]!, role: m[2] as KeyRole, address, file: full, modifiedAt: statSync(full).mtime.toISOString() });
    }
    return entries;
  }

  /** Decrypts keystore `name`.`role` (account or signer). */
  async load(name: string, role: "account" | "signer", password: string) {
    const file = this.file(name, role);
    if (!existsSync(file)) throw new KeystoreError(`no keystore ${file} (npm run operator -- keys list)`, "name");
    return loadAccount({ keystore: file, password }, role);
  }

  /** Decrypts the BLS key `name`.bls (its seed). */
  async loadBlsKey(name: string, password: string): Promise<BlsKeyPair> {
    const file = this.file(name, "bls");
    if (!existsSync(file)) throw new KeystoreError(`no keystore ${file} (npm run operator -- keys list)`, "name");
    return blsKeyPairFromSeed(await loadSecret({ keystore: file, password }, "bls"));
  }

  private ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
  }

  private async write(name: string, role: KeyRole, privateKey: Hex, password: string): Promise<KeystoreEntry> {
    const file = this.file(name, role);
    const address = role === "bls" ? blsKeyHash(privateKey) : privateKeyToAccount(privateKey).address;
    await writeKeystore(file, privateKey, password, undefined, role === "bls" ? { blsKeyHash: address } : {});
    return { name, role, address, file, modifiedAt: new Date().toISOString() };
  }
}

/** The registry's identity of the BLS key a seed derives. */
function blsKeyHash(seed: Hex): Hex {
  return hashG1(blsKeyPairFromSeed(seed).pubkeyG1).toLowerCase() as Hex;
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new KeystoreError(`--name must be 1-64 lowercase letters, digits, - or _, starting with a letter or digit; got ${JSON.stringify(name)}`, "name");
}

function checkPassword(password: string): void {
  if (password.length < 8) throw new KeystoreError("the keystore password must be at least 8 characters", "password");
}
