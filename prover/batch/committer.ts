/**
 * The hand-off from batching to on-chain commitment. The batcher stores a closed batch first
 * and only then offers it to a committer, so the chain never holds a root whose leaves the
 * prover could fail to serve. A committer that throws leaves the batch "closed"; the batcher
 * retries it later and on every start.
 */
import type { Hex } from "viem";

/** What goes on chain for one batch (plus the local id it is stored under). */
export interface ClosedBatch {
  /** The prover's local batch id (the data endpoint's /v1/batches/:id). */
  id: number;
  /** The model every leaf names, and keccak256 of it (submitBatch's modelId). */
  model: string;
  modelId: Hex;
  root: Hex;
  leafCount: number;
  /** keccak256 of the batch manifest (prover/batch/manifest.ts): submitBatch's envelopeHash. */
  manifestHash: Hex;
  /** Where operators fetch leaves and Merkle proofs. */
  dataUri: string;
  createdAt: string;
}

/** The root is on chain. */
export interface CommittedReceipt {
  status: "committed";
  chainId: number;
  /** The batch registry contract the root was posted to. */
  contract: Hex;
  txHash: Hex;
  blockNumber: string;
  /** The id the contract gave the batch, as a decimal string. */
  onchainBatchId: string;
}

/** Nothing was posted; the batch waits for a committer that can. */
export interface PendingReceipt {
  status: "pending";
  reason: string;
}

export type CommitReceipt = CommittedReceipt | PendingReceipt;

export interface BatchCommitter {
  /** Shown in the batch's commitment info. */
  readonly name: string;
  /**
   * Posts the batch or says why not. Must be idempotent per batch id: after a crash between a
   * successful post and the store update, the same batch is offered again, and a chain
   * committer must recognise its own earlier transaction (e.g. look the root up) rather than
   * post it twice.
   */
  commit(batch: ClosedBatch): Promise<CommitReceipt>;
}

/** The default: no chain configured, so the batch is only marked "pending commitment". */
export class RecordOnlyCommitter implements BatchCommitter {
  readonly name = "record-only";

  async commit(_batch: ClosedBatch): Promise<CommitReceipt> {
    return { status: "pending", reason: "no chain committer configured; root recorded locally only" };
  }
}
