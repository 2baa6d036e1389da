/**
 * A scripted engine for the few server cases the real engine cannot produce on demand: a
 * failure in the middle of a stream, and a generation held busy while a test fills the queue. It obeys
 * the engine's contract (byte-level tokens, shouldStop after every token, seeded output, one
 * real TOPLOC proof per chunk of pseudo-activations), so the server code under test runs
 * unchanged. Everything else is tested against the real engine.
 */
import { buildProofs, DEFAULT_TOPLOC_PARAMS } from "../../protocol/toploc/index.ts";
import type { GenerateRequestLike, GenerationLike, InferenceEngine } from "../../prover/inference-engine.ts";
import { rng as mulberry32 } from "../../benchmark/rng.ts";

export interface ScriptedEngineOptions {
  /** Throw after producing this many tokens. */
  failAfterTokens?: number;
  /** Awaited before each generation starts: lets a test hold the engine busy while it fills the queue. */
  hold?: () => Promise<void>;
}

const HIDDEN = 256;
const BOS = 256;
const EOS = 257;

export class ScriptedEngine implements InferenceEngine {
  readonly info = {
    modelId: "scripted-test-engine",
    weightsHash: "0x" + "ab".repeat(32),
    hiddenSize: HIDDEN,
    vocabSize: 258,
    maxContext: 512,
    toploc: { ...DEFAULT_TOPLOC_PARAMS },
    bosTokenId: BOS,
    eosTokenId: EOS,
  };
  readonly tokenizer = {
    encode: (text: string): number[] => [...Buffer.from(text, "utf8")],
    decode: (tokens: readonly number[]): string => Buffer.from(tokens.filter((t) => t < 256)).toString("utf8"),
    chatPrompt: (messages: { role: string; content: string }[]): number[] => [
      BOS,
      ...Buffer.from(messages.map((m) => `<${m.role}>${m.content}\n`).join("") + "<assistant>", "utf8"),
    ],
  };
  generations = 0;

  constructor(private readonly options: ScriptedEngineOptions = {}) {}

  async generate(request: GenerateRequestLike): Promise<GenerationLike> {
    this.generations++;
    await this.options.hold?.();
    const next = mulberry32(Number(request.seed & 0xffffffffn));
    const outputTokens: number[] = [];
    let finishReason: "stop" | "length" = "length";
    for (let i = 0; i < request.maxTokens; i++) {
      if (request.signal?.aborted) throw new Error("aborted");
      if (this.options.failAfterTokens !== undefined && i >= this.options.failAfterTokens) {
        throw new Error("scripted engine failure");
      }
      outputTokens.push(0x61 + Math.floor(next() * 26)); // a..z
      if (request.shouldStop?.(outputTokens)) {
        finishReason = "stop";
        break;
      }
    }
    const rows = (n: number) => Float32Array.from({ length: n * HIDDEN }, () => next() * 2 - 1);
    const activations = [rows(request.promptTokens.length), ...outputTokens.map(() => rows(1))];
    const proofs = buildProofs(activations, this.info.toploc).map((p) => p.toBytes());
    return { promptTokens: [...request.promptTokens], outputTokens, finishReason, proofs, toploc: { ...this.info.toploc } };
  }
}
