/**
 * The operators' BLS keys as the registry bound them, read from its BLSKeyRegistered events once,
 * in log-range chunks, and kept (a key is bound for good). A certificate's aggregate key at a
 * reference block holds every key registered by then: the aggregator needs them all to name the
 * non-signers (aggregator/bls-certificates.ts), and whoever reads a BatchAttestedBLS event
 * (the aggregator for resolveDispute's attesters, the rewards script) turns its non-signers back
 * into the signers' signing keys here.
 */
import type { Address, Hex, PublicClient } from "viem";
import { g1FromWords, type BlsG1Point } from "../protocol/bls/index.ts";
import { stakeRegistryAbi } from "../protocol/contracts/abis.ts";

export interface RegisteredBlsKey {
  keyHash: Hex;
  account: Address;
  pubkey: BlsG1Point;
  block: bigint;
  apkIndex: number;
}

/** A key as the registry holds it (blsKey), with its operator's signing key. */
export interface BoundBlsKey {
  account: Address;
  registeredBlock: bigint;
  pubkey: BlsG1Point;
  signingKey: Address;
}

/**
 * The signers of a certificate at `refBlock`: every key registered by then (the aggregate key's
 * members) except the non-signers. The one rule the aggregator, the rewards script and the chain
 * history apply to BatchAttestedBLS.
 */
export function certificateSigners<K extends { keyHash: string; block: bigint }>(keys: readonly K[], refBlock: bigint, nonSignerKeyHashes: readonly string[]): K[] {
  const skip = new Set(nonSignerKeyHashes.map((h) => h.toLowerCase()));
  return keys.filter((k) => k.block <= refBlock && !skip.has(k.keyHash.toLowerCase()));
}

export interface BlsKeyDirectoryOptions {
  publicClient: PublicClient;
  registry: Address;
  /** The deployment's block: no key is older. */
  fromBlock: bigint;
  /** Most blocks per getLogs call. */
  logRange: number;
}

export class BlsKeyDirectory {
  private readonly keys: RegisteredBlsKey[] = [];
  private readonly signingKeys = new Map<string, Address>();
  private readonly bound = new Map<string, BoundBlsKey>();
  private syncedTo: bigint;
  private syncing: Promise<void> = Promise.resolve();

  constructor(private readonly options: BlsKeyDirectoryOptions) {
    this.syncedTo = options.fromBlock - 1n;
  }

  /** Reads the keys registered up to `toBlock` that it does not hold yet (one reader at a time). */
  sync(toBlock: bigint): Promise<void> {
    const run = this.syncing.then(() => this.read(toBlock));
    this.syncing = run.catch(() => undefined);
    return run;
  }

  private async read(toBlock: bigint): Promise<void> {
    const { publicClient, registry, logRange } = this.options;
    while (this.syncedTo < toBlock) {
      const from = this.syncedTo + 1n;
      const to = from + BigInt(logRange) - 1n < toBlock ? from + BigInt(logRange) - 1n : toBlock;
      const logs = await publicClient.getContractEvents({ address: registry, abi: stakeRegistryAbi, eventName: "BLSKeyRegistered", fromBlock: from, toBlock: to, strict: true });
      for (const log of logs) {
        const a = log.args as { account: Address; keyHash: Hex; pubkeyX: bigint; pubkeyY: bigint; apkIndex: number };
        this.keys.push({ keyHash: a.keyHash, account: a.account, pubkey: g1FromWords({ X: a.pubkeyX, Y: a.pubkeyY }, "BLSKeyRegistered"), block: log.blockNumber!, apkIndex: Number(a.apkIndex) });
      }
      this.syncedTo = to;
    }
  }

  /** Keys in the aggregate key at `refBlock`: registered in it or before. */
  async keysAt(refBlock: bigint): Promise<RegisteredBlsKey[]> {
    await this.sync(refBlock);
    return this.keys.filter((k) => k.block <= refBlock);
  }

  /**
   * The signing keys of a certificate's signers, ascending (resolveDispute's `attesters`): every
   * key in force at `refBlock` except the non-signers.
   */
  async signersOf(refBlock: bigint, nonSignerKeyHashes: readonly Hex[]): Promise<Address[]> {
    const signers: Address[] = [];
    for (const key of certificateSigners(await this.keysAt(refBlock), refBlock, nonSignerKeyHashes)) signers.push(await this.signingKeyOf(key.account));
    return signers.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  }

  /**
   * One key by its hash, read from the registry (whatever block it was registered in), with its
   * operator's signing key; undefined when no operator bound it. Kept once found: a key and a
   * signing key are bound for good.
   */
  async key(keyHash: Hex): Promise<BoundBlsKey | undefined> {
    const cached = this.bound.get(keyHash.toLowerCase());
    if (cached) return cached;
    const [account, registeredBlock, pubkey] = (await this.options.publicClient.readContract({ address: this.options.registry, abi: stakeRegistryAbi, functionName: "blsKey", args: [keyHash] })) as [Address, number, { X: bigint; Y: bigint }];
    if (BigInt(account) === 0n) return undefined;
    const key = { account, registeredBlock: BigInt(registeredBlock), pubkey: g1FromWords(pubkey, "keyHash"), signingKey: await this.signingKeyOf(account) };
    this.bound.set(keyHash.toLowerCase(), key);
    return key;
  }

  private async signingKeyOf(account: Address): Promise<Address> {
    const cached = this.signingKeys.get(account.toLowerCase());
    if (cached) return cached;
    const [, signingKey] = (await this.options.publicClient.readContract({ address: this.options.registry, abi: stakeRegistryAbi, functionName: "memberOf", args: [account] })) as [number, Address];
    this.signingKeys.set(account.toLowerCase(), signingKey);
    return signingKey;
  }
}
