/**
 * JSON shapes of the data endpoint (snake_case, as the rest of the API). A leaf response holds
 * everything an operator needs: the record to re-encode the leaf (hashInferenceLeaf) and to
 * recompute the proofs, the leaf's Merkle proof, and the root it proves against.
 */
import type { ProofRecord, RecordLocation, StoredBatch, StoredLeaf } from "../store/index.ts";
import { redactText } from "../../runtime/redact.ts";

export function recordJson(record: ProofRecord, location: RecordLocation | undefined): Record<string, unknown> {
  return {
    id: record.id,
    object: "proof_record",
    kind: record.kind,
    model: record.model,
    weights_hash: record.weightsHash,
    prompt_tokens: record.promptTokens,
    output_tokens: record.outputTokens,
    sampling: {
      temperature: record.sampling.temperature,
      top_p: record.sampling.topP,
      max_tokens: record.sampling.maxTokens,
      sampler: record.sampling.sampler ?? 1,
    },
    seed: record.seed,
    seed_source: record.seedSource,
    toploc: {
      topk: record.toploc.topk,
      decode_batch_size: record.toploc.decodeBatchSize,
      skip_prefill: record.toploc.skipPrefill,
      proofs: record.proofs,
    },
    finish_reason: record.finishReason,
    created_at: record.createdAt,
    completed_at: record.completedAt,
    leaf_hash: record.leafHash,
    batch: location === undefined ? null : { id: location.batchId, index: location.index },
  };
}

export function batchJson(batch: StoredBatch): Record<string, unknown> {
  const { commitment } = batch;
  return {
    id: batch.id,
    object: "batch",
    root: batch.root,
    leaf_count: batch.leafCount,
    manifest_hash: batch.manifestHash,
    data_uri: batch.dataUri,
    created_at: batch.createdAt,
    model: batch.model,
    model_id: batch.modelId,
    status: batch.status,
    commitment: {
      committer: commitment.committer ?? null,
      attempts: commitment.attempts,
      updated_at: commitment.updatedAt ?? null,
      // Redacted again when served: a record written before redaction existed may still hold a secret.
      last_error: commitment.lastError === undefined ? null : redactText(commitment.lastError),
      receipt: commitment.receipt ?? null,
    },
  };
}

export function leafJson(batch: StoredBatch, index: number, leaf: StoredLeaf, record: ProofRecord): Record<string, unknown> {
  return {
    object: "batch.leaf",
    batch_id: batch.id,
    index,
    leaf_count: batch.leafCount,
    root: batch.root,
    leaf_hash: leaf.leafHash,
    merkle_proof: leaf.proof,
    record: recordJson(record, { batchId: batch.id, index }),
  };
}
