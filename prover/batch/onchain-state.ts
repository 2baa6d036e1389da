/**
 * What the chain says about the prover's committed batches, for its batch list: the on-chain
 * batch id (from the commitment receipt) and the batch's state, read from BatchManager. States a
 * batch cannot leave (Finalized, Slashed, Expired) are cached for good, the others for `ttlMs`.
 */
import type { Address, PublicClient } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { batchStateName, type BatchStateName } from "../../protocol/contracts/states.ts";
import type { StoredBatch } from "../store/index.ts";

export interface OnchainBatchState {
  batchId: string;
  /** null when the chain could not be read just now (`error` says why). */
  state: BatchStateName | null;
  error?: string;
}

const FINAL: ReadonlySet<BatchStateName> = new Set(["Finalized", "Slashed", "Expired"]);

export class OnchainBatchStates {
  private readonly cache = new Map<string, { state: BatchStateName; at: number }>();

  constructor(
    private readonly client: PublicClient,
    private readonly batchManager: Address,
    private readonly ttlMs = 2_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** undefined for a batch that is not committed on chain (or committed to another contract). */
  async of(batch: StoredBatch): Promise<OnchainBatchState | undefined> {
    const receipt = batch.commitment.receipt;
    if (batch.status !== "committed" || typeof receipt?.onchainBatchId !== "string") return undefined;
    if (String(receipt.contract).toLowerCase() !== this.batchManager.toLowerCase()) return undefined;
    const batchId = receipt.onchainBatchId;
    const cached = this.cache.get(batchId);
    if (cached && (FINAL.has(cached.state) || this.now() - cached.at < this.ttlMs)) return { batchId, state: cached.state };
    try {
      const onchain = (await this.client.readContract({ address: this.batchManager, abi: batchManagerAbi, functionName: "getBatch", args: [BigInt(batchId)] })) as { state: number };
      const state = batchStateName(onchain.state);
      this.cache.set(batchId, { state, at: this.now() });
      return { batchId, state };
    } catch (error) {
      return { batchId, state: null, error: `chain unreadable: ${(error as Error).message.split("\n")[0]}` };
    }
  }
}
