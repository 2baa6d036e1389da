import type { ToplocParams } from "../../protocol/toploc/index.ts";
import { CURRENT_SAMPLER_VERSION, TokenSampler, type SamplerVersion, type SamplingSettings } from "../../protocol/sampler/index.ts";
import { GenerationAbortedError } from "./errors.ts";
import { ProofAccumulator } from "./proving.ts";
import type { GenerateRequest } from "./request.ts";

/** What generate() returns (re-exported by engine.ts as Generation). */
export interface GenerationResult {
  promptTokens: number[];
  /** Generated tokens, EOS included when the model emitted it. */
  outputTokens: number[];
  finishReason: "stop" | "length";
  /** TOPLOC proofs (258 bytes each at k = 128): the prefill, then every decodeBatchSize decode steps. */
  proofs: Uint8Array[];
  toploc: ToplocParams;
  /** The token sampler's version (protocol/sampler): recorded, and committed in the leaf. */
  sampler: SamplerVersion;
  /** Everything the sampler was run with: what verify() needs to replay it. */
  sampling: SamplingSettings;
  timings: { prefillMs: number; decodeMs: number; proofMs: number };
}

/**
 * One request's decoding, whichever forward its rows come from (its own sequence, or a row of
 * a batched forward): sample from each forward's logits, prove each forward's activation rows,
 * stop at EOS, maxTokens or shouldStop. The same steps in the same order in both paths, so a
 * request's tokens and proofs depend only on the numbers the forwards return.
 */
export class GenerationState {
  readonly output: number[] = [];
  finishReason: "stop" | "length" = "length";
  done = false;
  private readonly prover: ProofAccumulator | undefined;
  private readonly sampler: SamplerVersion;
  private readonly tokens: TokenSampler;
  private prefillMs = 0;
  private decodeStart = 0;

  constructor(
    readonly request: GenerateRequest,
    private readonly hiddenSize: number,
    private readonly toploc: ToplocParams,
    private readonly stopTokens: ReadonlySet<number>,
  ) {
    this.prover = request.prove === false ? undefined : new ProofAccumulator(hiddenSize, toploc);
    this.sampler = request.sampler ?? CURRENT_SAMPLER_VERSION;
    this.tokens = new TokenSampler({ sampler: this.sampler, temperature: request.temperature, topP: request.topP, seed: request.seed });
  }

  get aborted(): boolean {
    return this.request.signal?.aborted === true;
  }

  /** Throws GenerationAbortedError once the caller's signal has fired. */
  checkAbort(): void {
    if (this.aborted) throw new GenerationAbortedError("generation was aborted by the caller", "signal");
  }

  /** The token the next forward feeds (the last one sampled). */
  get lastToken(): number {
    return this.output[this.output.length - 1]!;
  }

  /** The prefill's activation rows (prompt x hiddenSize) and the logits of its last row. */
  afterPrefill(hidden: Float32Array, lastLogits: Float32Array, prefillMs: number): void {
    this.prefillMs = prefillMs;
    this.prover?.addPrefill(hidden);
    this.decodeStart = performance.now();
    this.sample(lastLogits);
  }

  /** A decode step's one activation row (the row that fed lastToken) and its logits. */
  afterStep(row: Float32Array, logits: Float32Array): void {
    this.prover?.addDecode(row);
    this.sample(logits);
  }

  private sample(logits: Float32Array): void {
    const token = this.tokens.next(logits);
    this.output.push(token);
    this.request.onToken?.(token, this.output.length - 1);
    if (this.stopTokens.has(token) || this.request.shouldStop?.(this.output)) {
      this.finishReason = "stop";
      this.done = true;
    } else if (this.output.length >= this.request.maxTokens) {
      this.done = true;
    }
  }

  result(): GenerationResult {
    const proofs = this.prover ? this.prover.finish() : [];
    const proofMs = this.prover?.elapsedMs ?? 0;
    const decodeMs = performance.now() - this.decodeStart - proofMs;
    const { temperature, topP, seed } = this.request;
    const sampling = { sampler: this.sampler, temperature, topP, seed };
    return {
      promptTokens: this.request.promptTokens,
      outputTokens: this.output,
      finishReason: this.finishReason,
      proofs,
      toploc: { ...this.toploc },
      sampler: this.sampler,
      sampling,
      timings: { prefillMs: this.prefillMs, decodeMs, proofMs },
    };
  }
}
