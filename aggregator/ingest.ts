/**
 * Admission of one signed message, whichever way it came (gossip or HTTP): decode strictly,
 * check it names this deployment, recover the signer from the EIP-712 signature (never trust a
 * claimed signer), check the subject on chain (batch Submitted with this root; dispute Open over
 * this leaf) and the signer's stake at the batch's reference block. A BLS attestation names its
 * key: the G1 key comes from the registry (it must have been registered by the reference block,
 * or the certificate's aggregate key would not hold it), and the signature is checked against it
 * and the message's G2 key. Every refusal is an IngestError with an HTTP status and the field
 * at fault.
 */
import type { Address, Hex, PublicClient } from "viem";
import { batchManagerAbi, stakeRegistryAbi } from "../protocol/contracts/abis.ts";
import { blsVerify, g1FromHex, g2FromHex } from "../protocol/bls/index.ts";
import { BlsKeyDirectory } from "../runtime/bls-key-directory.ts";
import { hashAttestation, recoverAttestationSigner, recoverDisputeVoteSigner, Verdict, type ProtocolDomain } from "../protocol/eip712/index.ts";
import { FieldError } from "../protocol/errors.ts";
import { decodeGossipMessage, MalformedMessageError, type AttestationEnvelope, type BlsAttestationEnvelope, type VoteEnvelope } from "../protocol/gossip/index.ts";
import type { BlsPart } from "./quorum.ts";

export class IngestError extends FieldError {
  override name = "IngestError";
  constructor(
    message: string,
    field: string,
    /** HTTP status the API answers with. */
    readonly status: number,
  ) {
    super(message, field);
  }
}

export interface BatchInfo {
  refBlock: bigint;
  root: Hex;
  state: number;
  totalWeight: bigint;
}

export interface DisputeInfo {
  batchId: bigint;
  leafHash: Hex;
  state: number;
  votingDeadline: bigint;
}

export type Admitted =
  | { kind: "attestation"; envelope: AttestationEnvelope | BlsAttestationEnvelope; signer: Address; weight: bigint; batch: BatchInfo; bls?: BlsPart }
  | { kind: "vote"; envelope: VoteEnvelope; signer: Address; weight: bigint; batch: BatchInfo; dispute: DisputeInfo };

const SUBMITTED = 1;
const DISPUTE_OPEN = 1;

export class Admission {
  // Reference blocks and roots never change; total weight at a past block never changes.
  private readonly batches = new Map<bigint, BatchInfo>();

  constructor(
    private readonly publicClient: PublicClient,
    private readonly domain: ProtocolDomain,
    private readonly registry: Address,
    /** Where BLS keys are looked up (the aggregator shares its own); key lookups need no event history. */
    private readonly blsKeys = new BlsKeyDirectory({ publicClient, registry, fromBlock: 0n, logRange: 2000 }),
  ) {}

  async batch(batchId: bigint, fresh = false): Promise<BatchInfo> {
    const cached = this.batches.get(batchId);
    if (cached && !fresh) return cached;
    const bm = this.domain.verifyingContract;
    const b = (await this.publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "getBatch", args: [batchId] })) as { refBlock: number; state: number };
    if (b.state === 0) throw new IngestError(`batch ${batchId} does not exist on chain`, "batchId", 404);
    const root = cached?.root ?? ((await this.publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "batchRoot", args: [batchId] })) as Hex);
    const refBlock = BigInt(b.refBlock);
    const totalWeight = cached?.totalWeight ?? ((await this.publicClient.readContract({ address: this.registry, abi: stakeRegistryAbi, functionName: "totalWeightAt", args: [refBlock] })) as bigint);
    const info = { refBlock, root, state: b.state, totalWeight };
    this.batches.set(batchId, info);
    return info;
  }

  async weight(signer: Address, refBlock: bigint): Promise<bigint> {
    const [w] = (await this.publicClient.readContract({ address: this.registry, abi: stakeRegistryAbi, functionName: "signerWeightsAt", args: [[signer], refBlock] })) as bigint[];
    return w ?? 0n;
  }

  async admit(data: Uint8Array): Promise<Admitted> {
    let decoded;
    try {
      decoded = decodeGossipMessage(data);
    } catch (error) {
      if (error instanceof MalformedMessageError) throw new IngestError(error.message, error.field, 400);
      throw error;
    }
    if (decoded.chainId !== this.domain.chainId) throw new IngestError(`chainId ${decoded.chainId} is not this deployment's ${this.domain.chainId}`, "chainId", 400);
    if (decoded.contract.toLowerCase() !== this.domain.verifyingContract.toLowerCase()) {
      throw new IngestError(`contract ${decoded.contract} is not this deployment's ${this.domain.verifyingContract}`, "contract", 400);
    }
    if (decoded.type === "attestation" || decoded.type === "attestation-bls") {
      const m = decoded.message;
      if (m.verdict !== Verdict.Valid) throw new IngestError("only verdict 1 (valid) attestations can be submitted on chain", "verdict", 400);
      const signer = await recover(() => recoverAttestationSigner(this.domain, m, decoded.signature));
      const batch = await this.batch(m.batchId, true);
      if (m.root.toLowerCase() !== batch.root.toLowerCase()) throw new IngestError(`root ${m.root} is not batch ${m.batchId}'s root ${batch.root}`, "root", 400);
      if (batch.state !== SUBMITTED) throw new IngestError(`batch ${m.batchId} is no longer awaiting attestations (state ${batch.state})`, "batchId", 409);
      const weight = await this.weight(signer, batch.refBlock);
      if (weight === 0n) throw new IngestError(`signer ${signer} had no operator stake at block ${batch.refBlock}`, "signature", 403);
      const bls = decoded.type === "attestation-bls" ? await this.checkBls(decoded, signer, batch.refBlock) : undefined;
      return { kind: "attestation", envelope: decoded, signer, weight, batch, ...(bls ? { bls } : {}) };
    }
    const m = decoded.message;
    const signer = await recover(() => recoverDisputeVoteSigner(this.domain, m, decoded.signature));
    const d = (await this.publicClient.readContract({ address: this.domain.verifyingContract, abi: batchManagerAbi, functionName: "getDispute", args: [m.disputeId] })) as {
      batchId: number | bigint; leafHash: Hex; state: number; votingDeadline: number | bigint;
    };
    if (d.state === 0) throw new IngestError(`dispute ${m.disputeId} does not exist on chain`, "disputeId", 404);
    if (BigInt(d.batchId) !== m.batchId) throw new IngestError(`dispute ${m.disputeId} is about batch ${d.batchId}, not ${m.batchId}`, "batchId", 400);
    if (d.leafHash.toLowerCase() !== m.leafHash.toLowerCase()) throw new IngestError(`dispute ${m.disputeId} is about leaf ${d.leafHash}`, "leafHash", 400);
    if (d.state !== DISPUTE_OPEN) throw new IngestError(`dispute ${m.disputeId} is closed (state ${d.state})`, "disputeId", 409);
    const batch = await this.batch(m.batchId);
    const weight = await this.weight(signer, batch.refBlock);
    if (weight === 0n) throw new IngestError(`signer ${signer} had no operator stake at block ${batch.refBlock}`, "signature", 403);
    return {
      kind: "vote", envelope: decoded, signer, weight, batch,
      dispute: { batchId: BigInt(d.batchId), leafHash: d.leafHash, state: d.state, votingDeadline: BigInt(d.votingDeadline) },
    };
  }

  /**
   * The BLS half of an attestation whose ECDSA half recovered `signer`: the key must be the
   * signer's operator's, and the signature must verify (else the whole message is refused). A
   * key registered after the reference block is not in that block's aggregate key: the
   * attestation then counts by its ECDSA signature alone.
   */
  private async checkBls(decoded: BlsAttestationEnvelope, signer: Address, refBlock: bigint): Promise<BlsPart | undefined> {
    const { keyHash } = decoded.bls;
    const key = await this.blsKeys.key(keyHash);
    if (!key) throw new IngestError(`no BLS key ${keyHash} is registered`, "keyHash", 403);
    if (key.signingKey.toLowerCase() !== signer.toLowerCase()) throw new IngestError(`BLS key ${keyHash} belongs to operator ${key.account}, not to signer ${signer}`, "keyHash", 403);
    const signature = g1FromHex(decoded.bls.signature, "blsSignature");
    const pubkeyG2 = g2FromHex(decoded.bls.pubkeyG2, "pubkeyG2");
    if (!blsVerify(hashAttestation(this.domain, decoded.message), key.pubkey, pubkeyG2, signature)) {
      throw new IngestError(`BLS signature does not verify against key ${keyHash}`, "blsSignature", 400);
    }
    if (key.registeredBlock > refBlock) return undefined;
    return { keyHash, pubkeyG1: key.pubkey, pubkeyG2, signature };
  }

}

async function recover(fn: () => Promise<Address>): Promise<Address> {
  try {
    return await fn();
  } catch (error) {
    throw new IngestError(`signature does not recover: ${(error as Error).message.split("\n")[0]}`, "signature", 400);
  }
}
