/**
 * Response bodies and stream chunks in the OpenAI shapes, plus the `proof` extension field
 * every response carries: the record id under which the prover keeps the completion, and the
 * TOPLOC proofs themselves.
 */
import type { ProofRecord } from "../store/index.ts";
import type { CompletionOutcome } from "./completion-service.ts";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ProofExtension {
  record_id: string;
  leaf_hash: string;
  seed: string;
  weights_hash: string;
  toploc: { topk: number; decode_batch_size: number; skip_prefill: boolean; proofs: string[] };
}

export function usageOf(record: ProofRecord): Usage {
  const prompt = record.promptTokens.length;
  const completion = record.outputTokens.length;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function proofExtension(record: ProofRecord): ProofExtension {
  return {
    record_id: record.id,
    leaf_hash: record.leafHash,
    seed: record.seed,
    weights_hash: record.weightsHash,
    toploc: {
      topk: record.toploc.topk,
      decode_batch_size: record.toploc.decodeBatchSize,
      skip_prefill: record.toploc.skipPrefill,
      proofs: record.proofs,
    },
  };
}

/** Identifies the weights a response came from (OpenAI's system_fingerprint slot). */
export function fingerprint(weightsHash: string): string {
  return `fp_${weightsHash.replace(/^0x/, "").slice(0, 16)}`;
}

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
  systemFingerprint: string;
}

export function completionBody(meta: ResponseMeta, outcome: CompletionOutcome): Record<string, unknown> {
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.systemFingerprint,
    choices: [{ text: outcome.text, index: 0, logprobs: null, finish_reason: outcome.finishReason }],
    usage: usageOf(outcome.record),
    proof: proofExtension(outcome.record),
  };
}

export function chatBody(meta: ResponseMeta, outcome: CompletionOutcome): Record<string, unknown> {
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.systemFingerprint,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: outcome.text, refusal: null },
        logprobs: null,
        finish_reason: outcome.finishReason,
      },
    ],
    usage: usageOf(outcome.record),
    proof: proofExtension(outcome.record),
  };
}

/** Builds the chunks of one stream; `kind` picks the completions or the chat shape. */
export class ChunkFactory {
  constructor(
    private readonly kind: "completion" | "chat",
    private readonly meta: ResponseMeta,
    private readonly includeUsage: boolean,
  ) {}

  private envelope(choices: unknown[]): Record<string, unknown> {
    const chunk: Record<string, unknown> = {
      id: this.meta.id,
      object: this.kind === "chat" ? "chat.completion.chunk" : "text_completion",
      created: this.meta.created,
      model: this.meta.model,
      system_fingerprint: this.meta.systemFingerprint,
      choices,
    };
    // With include_usage, OpenAI sends usage: null on every chunk but the last.
    if (this.includeUsage) chunk.usage = null;
    return chunk;
  }

  /** Chat streams open with the assistant role; completion streams have no such chunk. */
  opening(): Record<string, unknown> | undefined {
    if (this.kind !== "chat") return undefined;
    return this.envelope([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
  }

  text(delta: string): Record<string, unknown> {
    return this.kind === "chat"
      ? this.envelope([{ index: 0, delta: { content: delta }, logprobs: null, finish_reason: null }])
      : this.envelope([{ text: delta, index: 0, logprobs: null, finish_reason: null }]);
  }

  /** The chunk with finish_reason; carries the proof unless a usage chunk follows. */
  finish(outcome: CompletionOutcome): Record<string, unknown> {
    const chunk =
      this.kind === "chat"
        ? this.envelope([{ index: 0, delta: {}, logprobs: null, finish_reason: outcome.finishReason }])
        : this.envelope([{ text: "", index: 0, logprobs: null, finish_reason: outcome.finishReason }]);
    if (!this.includeUsage) chunk.proof = proofExtension(outcome.record);
    return chunk;
  }

  /** The last chunk when include_usage is set: empty choices, usage, and the proof. */
  usage(outcome: CompletionOutcome): Record<string, unknown> {
    return { ...this.envelope([]), usage: usageOf(outcome.record), proof: proofExtension(outcome.record) };
  }
}
