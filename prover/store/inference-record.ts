/** A stored record as protocol/merkle's InferenceRecord: the exact input of hashInferenceLeaf. */
import type { InferenceRecord } from "../../protocol/merkle/index.ts";
import type { ProofRecord } from "./types.ts";

export function toInferenceRecord(record: ProofRecord): InferenceRecord {
  return {
    model: record.model,
    promptTokens: record.promptTokens,
    outputTokens: record.outputTokens,
    sampling: { ...record.sampling },
    seed: BigInt(record.seed),
    proofs: record.proofs.map((proof) => new Uint8Array(Buffer.from(proof, "base64"))),
    proofParams: { topk: record.toploc.topk, decodeBatchSize: record.toploc.decodeBatchSize },
  };
}
