/**
 * BLS quorum certificates for BatchManager.attestBLS. The contract starts from the registry's
 * aggregate key in force at the batch's reference block (apk history entry `apkIndex`) and
 * subtracts the keys of the operators that did not sign, so the aggregator needs every key
 * registered by that block: it reads them from the registry's BLSKeyRegistered events, once,
 * in log-range chunks, and keeps them (a key is bound for good). The same directory turns a
 * BatchAttestedBLS event's non-signers back into the signers' signing keys, which
 * resolveDispute wants as the attesters of a batch.
 */
import type { Address, Hex, PublicClient } from "viem";
import { aggregateG1, aggregateG2, blsCertificate, blsVerify, g1FromWords, type BlsCertificateWords, type BlsG1Point } from "../protocol/bls/index.ts";
import { stakeRegistryAbi } from "../protocol/contracts/abis.ts";
import { FieldError } from "../protocol/errors.ts";
import type { BlsPart } from "./quorum.ts";

export class CertificateError extends FieldError {
  override name = "CertificateError";
}

interface RegisteredKey {
  keyHash: Hex;
  account: Address;
  pubkey: BlsG1Point;
  block: bigint;
  apkIndex: number;
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
  private readonly keys: RegisteredKey[] = [];
  private readonly signingKeys = new Map<string, Address>();
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
  async keysAt(refBlock: bigint): Promise<RegisteredKey[]> {
    await this.sync(refBlock);
    return this.keys.filter((k) => k.block <= refBlock);
  }

  /**
   * The certificate of `signers` (their BLS parts) for `digest` at `refBlock`: the apk entry in
   * force then, every other key registered by then as a non-signer, and the aggregate signature,
   * checked here against the aggregate key the contract will compute.
   */
  async certificate(refBlock: bigint, digest: Hex, signers: readonly BlsPart[]): Promise<BlsCertificateWords> {
    const keys = await this.keysAt(refBlock);
    if (keys.length === 0) throw new CertificateError(`no BLS key was registered by block ${refBlock}`, "refBlock");
    const signed = new Set(signers.map((s) => s.keyHash.toLowerCase()));
    for (const s of signers) {
      if (!keys.some((k) => k.keyHash.toLowerCase() === s.keyHash.toLowerCase())) {
        throw new CertificateError(`BLS key ${s.keyHash} is not in the aggregate key at block ${refBlock}`, "keyHash");
      }
    }
    const apkIndex = keys.at(-1)!.apkIndex;
    const nonSigners = keys.filter((k) => !signed.has(k.keyHash.toLowerCase())).map((k) => k.pubkey);
    const certificate = blsCertificate(apkIndex, signers.map((s) => ({ pubkeyG2: s.pubkeyG2, signature: s.signature })), nonSigners);
    const sigma = aggregateG1(signers.map((s) => s.signature));
    const apk = aggregateG1(signers.map((s) => s.pubkeyG1));
    if (!blsVerify(digest, apk, aggregateG2(signers.map((s) => s.pubkeyG2)), sigma)) throw new CertificateError("the aggregate signature does not verify against the signers' aggregate key", "signature");
    return certificate;
  }

  /**
   * The signing keys of a certificate's signers, ascending (resolveDispute's `attesters`): every
   * key in force at `refBlock` except the non-signers.
   */
  async signersOf(refBlock: bigint, nonSignerKeyHashes: readonly Hex[]): Promise<Address[]> {
    const skip = new Set(nonSignerKeyHashes.map((h) => h.toLowerCase()));
    const signers: Address[] = [];
    for (const key of await this.keysAt(refBlock)) {
      if (skip.has(key.keyHash.toLowerCase())) continue;
      signers.push(await this.signingKeyOf(key.account));
    }
    return signers.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  }

  private async signingKeyOf(account: Address): Promise<Address> {
    const cached = this.signingKeys.get(account.toLowerCase());
    if (cached) return cached;
    const [, signingKey] = (await this.options.publicClient.readContract({ address: this.options.registry, abi: stakeRegistryAbi, functionName: "memberOf", args: [account] })) as [number, Address];
    this.signingKeys.set(account.toLowerCase(), signingKey);
    return signingKey;
  }
}
