/**
 * What the server, batching and CLI need from an inference engine. prover/engine's Engine
 * satisfies it structurally; keeping the port this narrow lets the serving half depend on three
 * members (info, tokenizer, generate) rather than on how inference is done.
 */
import type { ToplocParams } from "../protocol/toploc/index.ts";

export interface EngineInfoLike {
  modelId: string;
  weightsHash: string;
  hiddenSize: number;
  vocabSize: number;
  maxContext: number;
  toploc: ToplocParams;
  bosTokenId?: number;
  eosTokenId?: number;
}

export interface TokenizerLike {
  encode(text: string): number[];
  decode(tokens: readonly number[]): string;
  chatPrompt(messages: { role: string; content: string }[]): number[];
  /** A raw prompt with the special tokens the tokenizer adds (absent: BOS, when known, then encode). */
  promptTokens?(text: string): number[];
  /** Incremental detokenization for streaming (absent: the whole output is decoded at each token). */
  streamDecoder?(): { push(tokens: readonly number[]): string; flush(): string };
}

export interface GenerateRequestLike {
  promptTokens: number[];
  temperature: number;
  topP: number;
  maxTokens: number;
  seed: bigint;
  /** Asked after each new token; true ends generation with finishReason "stop". */
  shouldStop?: (outputTokens: readonly number[]) => boolean;
  onToken?: (token: number, index: number) => void;
  signal?: AbortSignal;
}

export interface GenerationLike {
  promptTokens: number[];
  outputTokens: number[];
  finishReason: "stop" | "length";
  proofs: Uint8Array[];
  toploc: ToplocParams;
  /** Token sampler version (protocol/sampler); absent: version 1. Committed in the leaf. */
  sampler?: number;
}

export interface InferenceEngine {
  readonly info: EngineInfoLike;
  readonly tokenizer: TokenizerLike;
  generate(request: GenerateRequestLike): Promise<GenerationLike>;
  /** Generations the engine takes at once (a batching engine's batch size); absent: 1. */
  readonly concurrency?: number;
  /** Seconds until a refused request should come back (Retry-After); absent: 1. */
  retryAfterSeconds?(): number;
}
