/**
 * What the prover keeps on disk. Records are the operator's raw material: everything needed to
 * re-encode the Merkle leaf (protocol/merkle hashInferenceLeaf) and to recompute the proofs.
 */
import type { Hex } from "viem";

export interface StoredSampling {
  temperature: number;
  topP: number;
  maxTokens: number;
  /** Token sampler version (protocol/sampler); absent in records written before it was recorded (version 1). */
  sampler?: number;
}

export interface StoredToplocParams {
  topk: number;
  decodeBatchSize: number;
  skipPrefill: boolean;
}

/** One served completion, as persisted before its response completes. */
export interface ProofRecord {
  id: string;
  /** Which endpoint served it. */
  kind: "completion" | "chat";
  /** The model id committed in the leaf (the engine's manifest id). */
  model: string;
  /** Content hash of the weights that produced it. */
  weightsHash: string;
  promptTokens: number[];
  outputTokens: number[];
  sampling: StoredSampling;
  /** uint64 sampling seed as a decimal string (JSON numbers cannot hold 64 bits). */
  seed: string;
  /** Whether the client chose the seed or the prover drew it. */
  seedSource: "request" | "drawn";
  /** TOPLOC proofs, standard base64, one per chunk. */
  proofs: string[];
  toploc: StoredToplocParams;
  finishReason: "stop" | "length";
  /** When the request was accepted and when the record was written (ISO 8601). */
  createdAt: string;
  completedAt: string;
  /** hashInferenceLeaf of this record, computed once when it is written. */
  leafHash: Hex;
}

/** Where a record sits once its batch is closed. */
export interface RecordLocation {
  batchId: number;
  index: number;
}

/** A record waiting for a batch, in the order records were written. */
export interface PendingEntry {
  seq: number;
  recordId: string;
  model: string;
  leafHash: Hex;
  completedAt: string;
}

/**
 * closed: tree built and stored, not yet accepted by a committer (or the last attempt failed).
 * pending-commitment: recorded by the no-chain committer; waits for a chain to be configured.
 * committed: the root is on chain (receipt in `commitment.receipt`).
 */
export type BatchStatus = "closed" | "pending-commitment" | "committed";

export interface CommitmentState {
  /** Name of the committer that last handled the batch. */
  committer?: string;
  attempts: number;
  updatedAt?: string;
  lastError?: string;
  /** What the committer reported (chain id, tx hash, on-chain batch id, ...). */
  receipt?: Record<string, unknown>;
}

export interface StoredBatch {
  id: number;
  root: Hex;
  leafCount: number;
  /** keccak256 of the batch manifest (see prover/batch/manifest.ts); committed with the root. */
  manifestHash: Hex;
  /** Where operators fetch the leaves (the data endpoint's batch URL). */
  dataUri: string;
  createdAt: string;
  /** The model every leaf of the batch names (a batch never mixes models). */
  model: string;
  /** keccak256(utf8(model)): BatchManager.submitBatch's modelId. */
  modelId: Hex;
  firstSeq: number;
  lastSeq: number;
  status: BatchStatus;
  commitment: CommitmentState;
}

/** One leaf of a closed batch, with its Merkle proof against the batch root. */
export interface StoredLeaf {
  recordId: string;
  leafHash: Hex;
  proof: Hex[];
}
