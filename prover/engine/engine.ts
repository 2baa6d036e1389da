import { basename } from "node:path";
import {
  DEFAULT_TOPLOC_PARAMS,
  verifyAndJudge,
  type MedianConvention,
  type ThresholdProfile,
  type ToplocParams,
  type Verdict,
} from "../../protocol/toploc/index.ts";
import { ensureDefaultModel } from "../model/ensure.ts";
import { DEFAULT_MODEL_MANIFEST } from "../model/manifest.ts";
import { ContextLengthError, GenerationAbortedError, InvalidOptionError, InvalidRequestError, UnsupportedModelError } from "./errors.ts";
import { defaultCacheDir, prepareHookedModel } from "./hook.ts";
import { Xoshiro256 } from "./prng.ts";
import { ProofAccumulator } from "./proving.ts";
import { checkGenerateRequest, checkTokens, type GenerateRequest } from "./request.ts";
import { ModelRunner } from "./runner.ts";
import { sampleToken } from "./sampling.ts";
import { ByteTokenizer, type Tokenizer } from "./tokenizer.ts";
import { HfByteLevelTokenizer, loadHfTokenizer } from "./tokenizer-hf.ts";

export interface EngineInfo {
  modelId: string;
  /** sha256 hex of the ONNX file the engine was given (graph and weights). */
  weightsHash: string;
  dtype: "float32";
  hiddenSize: number;
  vocabSize: number;
  /** Graph tensor whose values are proven: the input of the vocabulary projection. */
  activationTensor: string;
  hasKvCache: boolean;
  maxContext: number;
  toploc: ToplocParams;
  bosTokenId?: number;
  eosTokenId?: number;
}

export interface Generation {
  promptTokens: number[];
  /** Generated tokens, EOS included when the model emitted it. */
  outputTokens: number[];
  finishReason: "stop" | "length";
  /** TOPLOC proofs (258 bytes each at k = 128): the prefill, then every decodeBatchSize decode steps. */
  proofs: Uint8Array[];
  toploc: ToplocParams;
  timings: { prefillMs: number; decodeMs: number; proofMs: number };
}

export interface LoadOptions {
  /** An ONNX causal LM; default: the embedded default model (generated into cacheDir on first use). */
  modelPath?: string;
  /** A Hugging Face tokenizer.json; default: byte-level (the default model's own tokenizer). */
  tokenizerPath?: string;
  /** Tensor to prove, overriding auto-detection of the vocabulary projection's input. */
  activationTensor?: string;
  /** Where generated and rewritten models are cached; default $XDG_CACHE_HOME/verifiable-benchmarks/models. */
  cacheDir?: string;
  /** Model id to report; default the manifest's for the default model, else the file name. */
  modelId?: string;
  /** Context window in tokens; default the model's max_context metadata, else 2048. */
  maxContext?: number;
  /** onnxruntime intra-op threads; 0 (default) lets onnxruntime choose. */
  threads?: number;
}

export interface VerifyOptions {
  profile?: ThresholdProfile;
  median?: MedianConvention;
  /** The chunking and k the proofs were made with, when not this engine's (a record carries them). */
  toploc?: Partial<ToplocParams>;
}

export const FALLBACK_MAX_CONTEXT = 2048;

function checkOptions(options: LoadOptions): void {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options must be an object", "options");
  for (const field of ["modelPath", "tokenizerPath", "activationTensor", "cacheDir", "modelId"] as const) {
    const value = options[field];
    if (value !== undefined && (typeof value !== "string" || value.length === 0)) {
      throw new InvalidOptionError(`${field} must be a non-empty string, got ${JSON.stringify(value)}`, field);
    }
  }
  for (const [field, min, max] of [["maxContext", 2, 1 << 20], ["threads", 0, 256]] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
      throw new InvalidOptionError(`${field} must be an integer in ${min}..${max}, got ${String(value)}`, field);
    }
  }
}

/**
 * A causal LM on onnxruntime with its activation hook: generates with TOPLOC proofs built on the
 * way, and verifies someone else's proofs with one prefill forward. One forward runs at a time:
 * calls are queued in arrival order.
 */
export class Engine {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly runner: ModelRunner,
    readonly info: EngineInfo,
    readonly tokenizer: Tokenizer,
  ) {}

  static async load(options: LoadOptions = {}): Promise<Engine> {
    checkOptions(options);
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    const isDefault = options.modelPath === undefined;
    const modelPath = options.modelPath ?? (await ensureDefaultModel(cacheDir));
    const activation = options.activationTensor ?? (isDefault ? DEFAULT_MODEL_MANIFEST.activationTensor : undefined);
    const hooked = await prepareHookedModel(modelPath, cacheDir, activation);
    const runner = await ModelRunner.open(hooked, { intraOpThreads: options.threads });
    try {
      const tokenizer = options.tokenizerPath
        ? await loadHfTokenizer(options.tokenizerPath)
        : isDefault
          ? new ByteTokenizer()
          : new ByteTokenizer({ special: false });
      if (runner.hiddenSize < DEFAULT_TOPLOC_PARAMS.topk) {
        // A chunk of one decode row would hold fewer values than a proof covers.
        throw new UnsupportedModelError(
          `activation tensor ${JSON.stringify(hooked.activationTensor)} has ${runner.hiddenSize} values per token, fewer than TOPLOC's k = ${DEFAULT_TOPLOC_PARAMS.topk}`,
          "activationTensor",
        );
      }
      if (tokenizer instanceof HfByteLevelTokenizer && tokenizer.maxTokenId >= runner.vocabSize) {
        throw new InvalidOptionError(
          `tokenizerPath has token id ${tokenizer.maxTokenId} but the model's vocabulary has ${runner.vocabSize} entries`,
          "tokenizerPath",
        );
      }
      const maxContext = options.maxContext ?? hooked.summary.maxContext ?? FALLBACK_MAX_CONTEXT;
      const info: EngineInfo = {
        modelId: options.modelId ?? (isDefault ? DEFAULT_MODEL_MANIFEST.modelId : basename(modelPath).replace(/\.onnx$/i, "")),
        weightsHash: hooked.sourceHash,
        dtype: "float32",
        hiddenSize: runner.hiddenSize,
        vocabSize: runner.vocabSize,
        activationTensor: hooked.activationTensor,
        hasKvCache: runner.hasKvCache,
        maxContext,
        toploc: Object.freeze({ ...DEFAULT_TOPLOC_PARAMS }),
        ...(tokenizer.bosTokenId !== undefined ? { bosTokenId: tokenizer.bosTokenId } : {}),
        ...(tokenizer.eosTokenId !== undefined ? { eosTokenId: tokenizer.eosTokenId } : {}),
      };
      return new Engine(runner, Object.freeze(info), tokenizer);
    } catch (error) {
      await runner.close();
      throw error;
    }
  }

  /** Runs `job` after every job queued before it, whether those succeeded or failed. */
  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  generate(request: GenerateRequest): Promise<Generation> {
    try {
      checkGenerateRequest(request, this.info);
    } catch (error) {
      return Promise.reject(error);
    }
    // Snapshot the prompt now: it was validated now, and the job may run later.
    const snapshot = { ...request, promptTokens: request.promptTokens.slice() };
    return this.enqueue(() => this.runGeneration(snapshot));
  }

  private async runGeneration(request: GenerateRequest): Promise<Generation> {
    const { promptTokens, temperature, topP, maxTokens, seed, shouldStop, onToken, signal } = request;
    const prompt = promptTokens;
    const checkAbort = () => {
      if (signal?.aborted) throw new GenerationAbortedError("generation was aborted by the caller", "signal");
    };
    checkAbort();
    const toploc = this.info.toploc;
    const prover = request.prove === false ? undefined : new ProofAccumulator(this.info.hiddenSize, toploc);
    const rng = new Xoshiro256(seed);
    const eos = this.info.eosTokenId;
    const sequence = this.runner.beginSequence();

    const prefillStart = performance.now();
    let step = await sequence.prefill(prompt);
    const prefillMs = performance.now() - prefillStart;
    prover?.addPrefill(step.hidden);

    const decodeStart = performance.now();
    const output: number[] = [];
    let finishReason: Generation["finishReason"] = "length";
    for (;;) {
      const token = sampleToken(step.lastLogits, temperature, topP, rng);
      output.push(token);
      onToken?.(token, output.length - 1);
      if (token === eos || shouldStop?.(output)) {
        finishReason = "stop";
        break;
      }
      if (output.length >= maxTokens) break;
      checkAbort();
      step = await sequence.step(token);
      prover?.addDecode(step.hidden);
    }
    const proofs = prover ? prover.finish() : [];
    const proofMs = prover?.elapsedMs ?? 0;
    const decodeMs = performance.now() - decodeStart - proofMs;
    return { promptTokens: prompt, outputTokens: output, finishReason, proofs, toploc: { ...toploc }, timings: { prefillMs, decodeMs, proofMs } };
  }

  /**
   * Operator side: one forward over prompt + output[:-1] (the last output token was never fed
   * back), then TOPLOC verification of every chunk against `proofs`.
   */
  verify(
    promptTokens: readonly number[],
    outputTokens: readonly number[],
    proofs: readonly (Uint8Array | string)[],
    options: VerifyOptions = {},
  ): Promise<Verdict> {
    try {
      this.checkVerifyTokens(promptTokens, outputTokens);
      if (!Array.isArray(proofs)) throw new InvalidRequestError("proofs must be an array", "proofs");
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(async () => {
      const activations = await this.recomputeNow(promptTokens, outputTokens);
      const { toploc, ...judging } = options;
      return verifyAndJudge(activations, proofs, { ...this.info.toploc, ...toploc, ...judging });
    });
  }

  /**
   * The activations a verifier recomputes, as protocol/toploc takes them: [prefill rows of the
   * prompt] then one row per fed output token (output[:-1]). For operators that want the
   * numbers themselves (their own thresholds, diagnostics).
   */
  recompute(promptTokens: readonly number[], outputTokens: readonly number[]): Promise<Float32Array[]> {
    try {
      this.checkVerifyTokens(promptTokens, outputTokens);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(() => this.recomputeNow(promptTokens, outputTokens));
  }

  private checkVerifyTokens(promptTokens: readonly number[], outputTokens: readonly number[]): void {
    checkTokens(promptTokens, "promptTokens", this.info);
    checkTokens(outputTokens, "outputTokens", this.info);
    const fed = promptTokens.length + outputTokens.length - 1;
    if (fed > this.info.maxContext) {
      throw new ContextLengthError(`promptTokens + outputTokens[:-1] (${fed}) exceed the context of ${this.info.maxContext}`, "outputTokens");
    }
  }

  private async recomputeNow(promptTokens: readonly number[], outputTokens: readonly number[]): Promise<Float32Array[]> {
    const tokens = [...promptTokens, ...outputTokens.slice(0, -1)];
    const { hidden } = await this.runner.forward(tokens);
    const H = this.info.hiddenSize;
    const P = promptTokens.length;
    const activations: Float32Array[] = [hidden.slice(0, P * H)];
    for (let row = P; row < tokens.length; row++) activations.push(hidden.slice(row * H, (row + 1) * H));
    return activations;
  }

  async close(): Promise<void> {
    await this.enqueue(() => this.runner.close());
  }
}
