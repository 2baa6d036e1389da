import { basename } from "node:path";
import { DEFAULT_TOPLOC_PARAMS, type ThresholdProfile, type ToplocParams } from "../../protocol/toploc/index.ts";
import { judgeByReference, judgeRequest, requestEvidence, type RequestEvidence, type RequestVerdict, type VerificationProfile } from "../../protocol/verification/index.ts";
import { ensureDefaultModel } from "../model/ensure.ts";
import { DEFAULT_MODEL_MANIFEST } from "../model/manifest.ts";
import { defaultModelProfile } from "../model/profile.ts";
import { assertCudaAvailable, DEVICES, type Device } from "./device.ts";
import { ContextLengthError, InvalidOptionError, InvalidRequestError, ProfileMismatchError, UnsupportedModelError, WeightsHashMismatchError } from "./errors.ts";
import { defaultCacheDir, prepareHookedModel, type Precision, type WeightsDtype } from "./hook.ts";
import { readModelFolder, type ModelFolder } from "./model-folder.ts";
import { BatchScheduler, type BatchingOptions, type SchedulerStats } from "./batching/scheduler.ts";
import { GenerationState, type GenerationResult } from "./generation-state.ts";
import { checkGenerateRequest, checkTokens, type GenerateRequest } from "./request.ts";
import { ModelRunner, type GraphOptimization } from "./runner.ts";
import type { SamplingSettings } from "../../protocol/sampler/index.ts";
import { ByteTokenizer, type Tokenizer } from "./text/tokenizer.ts";
import { HfTokenizer, loadHfTokenizer } from "./text/hf-tokenizer.ts";

export interface EngineInfo {
  modelId: string;
  /**
   * The weights hash (protocol/weights): sha256 hex of a single-file model, or of the manifest
   * of its graph and external data files. Profiles and the ModelRegistry bind to it.
   */
  weightsHash: string;
  /** The float type the weights are stored in. */
  dtype: WeightsDtype;
  /** What the graph computes in: float32 (the protocol's reference; half-precision weights upcast) or the stored type (native, e.g. on CUDA). */
  computeDtype: "float32" | "float16" | "bfloat16" | "mixed";
  device: Device;
  hiddenSize: number;
  vocabSize: number;
  /** Graph tensor whose values are proven: the input of the vocabulary projection. */
  activationTensor: string;
  hasKvCache: boolean;
  maxContext: number;
  toploc: ToplocParams;
  bosTokenId?: number;
  eosTokenId?: number;
  /** Generation stops at any of these (EOS and generation_config.json's eos_token_id). */
  stopTokenIds: readonly number[];
}

export type Generation = GenerationResult;

export interface LoadOptions {
  /**
   * A Hugging Face model folder (Optimum / transformers.js layout: config.json, tokenizer.json,
   * tokenizer_config.json, generation_config.json, onnx/model.onnx or model.onnx with its
   * external data). Excludes modelPath and tokenizerPath.
   */
  modelDir?: string;
  /** The graph inside modelDir, when it is not onnx/model.onnx or model.onnx (e.g. onnx/model_fp16.onnx). */
  modelFile?: string;
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
  /** onnxruntime graph optimisation level (default "all"); calibration varies it like other hardware would. */
  graphOptimization?: GraphOptimization;
  /** The calibrated profile verify() judges by when not told otherwise; must be this model's. Default: the default model's own profile, none for other models. */
  profile?: VerificationProfile | null;
  /** Execution provider (default cpu); cuda needs onnxruntime-node's CUDA binaries. */
  device?: Device;
  /**
   * How half-precision weights are computed with: "float32" (upcast, the protocol's reference
   * and what a verifier must use) or "native" (as stored). Default: float32 on cpu, native on cuda.
   */
  precision?: Precision;
  /** The weights hash the model must have (the one registered for it); another is a WeightsHashMismatchError and nothing loads. */
  expectedWeightsHash?: string;
  /** Progress of long steps (hashing, upcasting). */
  onProgress?: (message: string) => void;
  /**
   * Continuous batching of concurrent generate() calls (batching/scheduler.ts): on by default
   * for models with a KV cache, an attention mask and position ids; false runs one generation
   * at a time. Other models always run one at a time.
   */
  batching?: BatchingOptions | false;
}

export interface VerifyOptions {
  /**
   * What to judge by: a calibrated VerificationProfile (request-level decision on all the
   * evidence) or the reference per-chunk TOPLOC limits. Default: the engine's profile
   * (LoadOptions.profile), else the reference limits.
   */
  profile?: VerificationProfile | ThresholdProfile;
  /** How the output was sampled (default greedy): the token check replays it. */
  sampling?: Partial<SamplingSettings>;
  /** The chunking and k the proofs were made with, when not this engine's (a record carries them). */
  toploc?: Partial<ToplocParams>;
}

/** One request of verifyBatch(): what verify() takes. */
export interface VerifyRequest {
  promptTokens: readonly number[];
  outputTokens: readonly number[];
  proofs: readonly (Uint8Array | string)[];
  options?: VerifyOptions;
}

const GREEDY: SamplingSettings = Object.freeze({ sampler: 1, temperature: 0, topP: 1, seed: 0n });

function isCalibrated(profile: VerificationProfile | ThresholdProfile): profile is VerificationProfile {
  return (profile as VerificationProfile).schema !== undefined;
}

/** What a verifier recomputes with one prefill over prompt + output[:-1]. */
export interface Recomputation {
  /** [prefill rows of the prompt], then one row per fed output token (output[:-1]). */
  activations: Float32Array[];
  /** outputTokens.length x vocabSize: row t holds the logits that predict outputTokens[t]. */
  outputLogits: Float32Array;
  vocabSize: number;
}

export const FALLBACK_MAX_CONTEXT = 2048;

function checkOptions(options: LoadOptions): void {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options must be an object", "options");
  for (const field of ["modelDir", "modelFile", "modelPath", "tokenizerPath", "activationTensor", "cacheDir", "modelId", "expectedWeightsHash"] as const) {
    const value = options[field];
    if (value !== undefined && (typeof value !== "string" || value.length === 0)) {
      throw new InvalidOptionError(`${field} must be a non-empty string, got ${JSON.stringify(value)}`, field);
    }
  }
  if (options.modelDir !== undefined && (options.modelPath !== undefined || options.tokenizerPath !== undefined)) {
    throw new InvalidOptionError("modelDir replaces modelPath and tokenizerPath: give one or the other", "modelDir");
  }
  if (options.modelFile !== undefined && options.modelDir === undefined) throw new InvalidOptionError("modelFile names a file inside modelDir", "modelFile");
  if (options.device !== undefined && !DEVICES.includes(options.device)) throw new InvalidOptionError(`device must be cpu or cuda, got ${JSON.stringify(options.device)}`, "device");
  if (options.precision !== undefined && !["float32", "native"].includes(options.precision)) throw new InvalidOptionError(`precision must be float32 or native, got ${JSON.stringify(options.precision)}`, "precision");
  if (options.expectedWeightsHash !== undefined && !/^(0x)?[0-9a-f]{64}$/i.test(options.expectedWeightsHash)) {
    throw new InvalidOptionError(`expectedWeightsHash must be 64 hex digits, got ${JSON.stringify(options.expectedWeightsHash)}`, "expectedWeightsHash");
  }
  if (options.graphOptimization !== undefined && !["disabled", "basic", "extended", "all"].includes(options.graphOptimization)) {
    throw new InvalidOptionError(`graphOptimization must be disabled, basic, extended or all, got ${JSON.stringify(options.graphOptimization)}`, "graphOptimization");
  }
  if (options.batching !== undefined && options.batching !== false) {
    if (options.batching === null || typeof options.batching !== "object") throw new InvalidOptionError("batching must be false or an object", "batching");
    for (const [field, min, max] of [["maxBatch", 1, 4096], ["maxWaiting", 0, 1_000_000], ["kvCacheBytes", 1 << 20, 2 ** 48], ["maxCohorts", 1, 256], ["cohortTokens", 1, 1 << 24]] as const) {
      const value = options.batching[field];
      if (value !== undefined && (!Number.isSafeInteger(value) || value < min || value > max)) {
        throw new InvalidOptionError(`batching.${field} must be an integer in ${min}..${max}, got ${String(value)}`, `batching.${field}`);
      }
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
  private scheduler: BatchScheduler | undefined;

  private constructor(
    private readonly runner: ModelRunner,
    readonly info: EngineInfo,
    readonly tokenizer: Tokenizer,
    /** The profile verify() uses by default. */
    readonly profile?: VerificationProfile,
    /** What the server should warn about at start (no chat template, no generation config). */
    readonly warnings: readonly string[] = [],
  ) {}

  static async load(options: LoadOptions = {}): Promise<Engine> {
    checkOptions(options);
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    const folder: ModelFolder | undefined = options.modelDir !== undefined ? await readModelFolder(options.modelDir, options.modelFile !== undefined ? { modelFile: options.modelFile } : {}) : undefined;
    const isDefault = options.modelPath === undefined && folder === undefined;
    const modelPath = folder?.graphPath ?? options.modelPath ?? (await ensureDefaultModel(cacheDir));
    const device = options.device ?? "cpu";
    if (device === "cuda") assertCudaAvailable(); // before the weights are hashed, not after
    const precision = options.precision ?? (device === "cuda" ? "native" : "float32");
    // The tokenizer first: a folder whose tokenizer or template is unusable fails before the weights are hashed.
    const tokenizer: Tokenizer = folder
      ? await HfTokenizer.load({
          tokenizerPath: folder.tokenizerPath,
          ...(folder.tokenizerConfigPath ? { configPath: folder.tokenizerConfigPath } : {}),
          ...(folder.chatTemplatePath ? { chatTemplatePath: folder.chatTemplatePath } : {}),
          generationEosIds: folder.eosTokenIds,
        })
      : options.tokenizerPath
        ? await loadHfTokenizer(options.tokenizerPath)
        : isDefault
          ? new ByteTokenizer()
          : new ByteTokenizer({ special: false });
    const activation = options.activationTensor ?? (isDefault ? DEFAULT_MODEL_MANIFEST.activationTensor : undefined);
    const hooked = await prepareHookedModel(modelPath, cacheDir, {
      ...(activation !== undefined ? { activationTensor: activation } : {}),
      precision,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const expected = options.expectedWeightsHash?.replace(/^0x/i, "").toLowerCase();
    if (expected !== undefined && expected !== hooked.sourceHash) {
      const files = [modelPath, ...hooked.externalFiles.map((f) => f.path)].join(", ");
      throw new WeightsHashMismatchError(`the weights (${files}) hash to ${hooked.sourceHash}, not the expected ${expected}`, folder ? "modelDir" : "modelPath");
    }
    const architecture = folder?.architecture;
    const runner = await ModelRunner.open(hooked, {
      intraOpThreads: options.threads,
      graphOptimization: options.graphOptimization,
      device,
      ...(architecture?.kvHeads && architecture.headDim ? { pastShape: { kvHeads: architecture.kvHeads, headDim: architecture.headDim } } : {}),
    });
    try {
      if (runner.hiddenSize < DEFAULT_TOPLOC_PARAMS.topk) {
        // A chunk of one decode row would hold fewer values than a proof covers.
        throw new UnsupportedModelError(
          `activation tensor ${JSON.stringify(hooked.activationTensor)} has ${runner.hiddenSize} values per token, fewer than TOPLOC's k = ${DEFAULT_TOPLOC_PARAMS.topk}`,
          "activationTensor",
        );
      }
      if (tokenizer.maxTokenId >= runner.vocabSize) {
        const field = folder ? "tokenizer.json" : "tokenizerPath";
        throw new InvalidOptionError(`${field} has token id ${tokenizer.maxTokenId} but the model's vocabulary has ${runner.vocabSize} entries`, field);
      }
      const declaredContext = architecture?.maxPositionEmbeddings !== undefined ? Math.min(architecture.maxPositionEmbeddings, 1 << 20) : undefined;
      const maxContext = options.maxContext ?? hooked.summary.maxContext ?? declaredContext ?? FALLBACK_MAX_CONTEXT;
      const info: EngineInfo = {
        modelId: options.modelId ?? (isDefault ? DEFAULT_MODEL_MANIFEST.modelId : (folder?.modelId ?? basename(modelPath).replace(/\.onnx$/i, ""))),
        weightsHash: hooked.sourceHash,
        dtype: hooked.weightsDtype,
        computeDtype: hooked.upcast || precision === "float32" ? "float32" : hooked.weightsDtype,
        device,
        hiddenSize: runner.hiddenSize,
        vocabSize: runner.vocabSize,
        activationTensor: hooked.activationTensor,
        hasKvCache: runner.hasKvCache,
        maxContext,
        toploc: Object.freeze({ ...DEFAULT_TOPLOC_PARAMS }),
        ...(tokenizer.bosTokenId !== undefined ? { bosTokenId: tokenizer.bosTokenId } : {}),
        ...(tokenizer.eosTokenId !== undefined ? { eosTokenId: tokenizer.eosTokenId } : {}),
        stopTokenIds: Object.freeze([...tokenizer.stopTokenIds]),
      };
      const warnings = [
        ...(tokenizer instanceof HfTokenizer ? tokenizer.warnings : []),
        ...(folder?.missingOptional.includes("generation_config.json") ? ["generation_config.json is missing: generation stops on the tokenizer's EOS only"] : []),
      ];
      // null: no profile (calibration, which makes one); undefined: the default model's own.
      const profile = options.profile === null ? undefined : (options.profile ?? (isDefault ? defaultModelProfile() : undefined));
      const engine = new Engine(runner, Object.freeze(info), tokenizer, profile, Object.freeze(warnings));
      if (profile) engine.checkProfile(profile);
      if (options.batching !== false && runner.hasKvCache && runner.batchable) {
        engine.scheduler = new BatchScheduler(runner, info, (job) => engine.enqueue(job), options.batching ?? {});
      }
      return engine;
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
    if (this.scheduler) return this.scheduler.submit(snapshot);
    return this.enqueue(() => this.runGeneration(snapshot));
  }

  /** Generations this engine runs at once: its batch size, or 1 without batching. */
  get concurrency(): number {
    return this.scheduler?.maxBatch ?? 1;
  }

  /** Whether concurrent generate() calls share forwards. */
  get batching(): boolean {
    return this.scheduler !== undefined;
  }

  /** The batch scheduler's figures (undefined without batching). */
  batchStats(): SchedulerStats | undefined {
    return this.scheduler?.stats();
  }

  /** When a refused request should come back, in seconds (Retry-After). */
  retryAfterSeconds(): number {
    return this.scheduler?.retryAfterSeconds() ?? 1;
  }

  /** One generation alone (models that cannot batch, or batching off). */
  private async runGeneration(request: GenerateRequest): Promise<Generation> {
    const state = new GenerationState(request, this.info.hiddenSize, this.info.toploc, new Set(this.info.stopTokenIds));
    state.checkAbort();
    const sequence = this.runner.beginSequence();
    const prefillStart = performance.now();
    let step = await sequence.prefill(request.promptTokens);
    state.afterPrefill(step.hidden, step.lastLogits, performance.now() - prefillStart);
    while (!state.done) {
      state.checkAbort();
      step = await sequence.step(state.lastToken);
      state.afterStep(step.hidden, step.lastLogits);
    }
    return state.result();
  }

  /**
   * Operator side: one forward over prompt + output[:-1] (the last output token is never fed
   * back), then a decision on all of the request's evidence: every chunk's TOPLOC comparison
   * and, from the same forward's logits, every output token replayed through the sampler.
   */
  verify(
    promptTokens: readonly number[],
    outputTokens: readonly number[],
    proofs: readonly (Uint8Array | string)[],
    options: VerifyOptions = {},
  ): Promise<RequestVerdict> {
    const profile = options.profile ?? this.profile;
    try {
      this.checkVerifyRequest(promptTokens, outputTokens, proofs, profile);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(async () => this.judge(await this.recomputeFull(promptTokens, outputTokens), outputTokens, proofs, options, profile));
  }

  private judge(
    recomputed: Recomputation,
    outputTokens: readonly number[],
    proofs: readonly (Uint8Array | string)[],
    options: VerifyOptions,
    profile: VerificationProfile | ThresholdProfile | undefined,
  ): RequestVerdict {
    const calibrated = profile && isCalibrated(profile) ? profile : undefined;
    const evidence = this.evidenceFrom(recomputed, outputTokens, proofs, { ...options, ...(calibrated ? { garbageUlps: calibrated.garbageUlps } : {}) });
    if (calibrated) return judgeRequest(evidence, calibrated);
    return judgeByReference(evidence, profile as ThresholdProfile | undefined);
  }

  /**
   * verify() for several requests with their recomputation batched: sequences are packed into
   * right-padded forwards (each row at its own positions from 0, padding masked, so a row sees
   * exactly what it sees alone) of at most `verifyBatchTokens` padded tokens, shortest first to
   * keep padding low. One request's bad input is its own Error in the result, in its place;
   * the others are judged. Models without an attention mask and position ids run one at a time.
   */
  async verifyBatch(requests: readonly VerifyRequest[], options: { maxTokensPerForward?: number } = {}): Promise<(RequestVerdict | Error)[]> {
    const results: (RequestVerdict | Error)[] = new Array(requests.length);
    const ready: { at: number; request: VerifyRequest; profile: VerificationProfile | ThresholdProfile | undefined; fed: number }[] = [];
    requests.forEach((request, at) => {
      const profile = request.options?.profile ?? this.profile;
      try {
        this.checkVerifyRequest(request.promptTokens, request.outputTokens, request.proofs, profile);
        ready.push({ at, request, profile, fed: request.promptTokens.length + request.outputTokens.length - 1 });
      } catch (error) {
        results[at] = error as Error;
      }
    });
    const budget = options.maxTokensPerForward ?? this.verifyBatchTokens;
    ready.sort((a, b) => a.fed - b.fed);
    const groups: (typeof ready)[] = [];
    for (const item of ready) {
      const group = groups.at(-1);
      // Sorted by length, so the newest item is the group's longest: rows x its length is the padded size.
      if (group && this.runner.batchable && (group.length + 1) * item.fed <= budget) group.push(item);
      else groups.push([item]);
    }
    for (const group of groups) {
      let recomputed: Recomputation[];
      try {
        recomputed = await this.enqueue(() => this.recomputeMany(group.map((g) => g.request)));
      } catch (error) {
        for (const item of group) results[item.at] = error as Error;
        continue;
      }
      group.forEach((item, i) => {
        try {
          results[item.at] = this.judge(recomputed[i]!, item.request.outputTokens, item.request.proofs, item.request.options ?? {}, item.profile);
        } catch (error) {
          results[item.at] = error as Error;
        }
      });
    }
    return results;
  }

  /**
   * Padded tokens one verification forward may carry (rows x longest row), sized by memory: the
   * forward holds logits (vocabSize floats) and several hidden-size activations per padded
   * token, kept near 16 MiB so that the batch stays in the CPU's caches (measured here: 32 rows
   * of 130 tokens in one forward ran 4x slower than the same rows one at a time). A model with a
   * large vocabulary batches nothing.
   */
  get verifyBatchTokens(): number {
    const bytesPerToken = 4 * (this.info.vocabSize + 8 * this.info.hiddenSize);
    return Math.max(1, Math.floor((16 << 20) / bytesPerToken));
  }

  /** One right-padded forward over several prompt + output[:-1] sequences. */
  private async recomputeMany(requests: readonly VerifyRequest[]): Promise<Recomputation[]> {
    if (requests.length === 1) return [await this.recomputeFull(requests[0]!.promptTokens, requests[0]!.outputTokens)];
    const sequences = requests.map((r) => [...r.promptTokens, ...r.outputTokens.slice(0, -1)]);
    const rows = sequences.length;
    const cols = Math.max(...sequences.map((s) => s.length));
    const inputIds = new BigInt64Array(rows * cols);
    const positionIds = new BigInt64Array(rows * cols);
    const attentionMask = new BigInt64Array(rows * cols);
    sequences.forEach((tokens, r) => {
      for (let i = 0; i < cols; i++) {
        positionIds[r * cols + i] = BigInt(i);
        if (i < tokens.length) {
          inputIds[r * cols + i] = BigInt(tokens[i]!);
          attentionMask[r * cols + i] = 1n;
        }
      }
    });
    const out = await this.runner.forwardBatch({ rows, cols, inputIds, positionIds, attentionMask });
    return requests.map((request, r) => this.recomputationOf(out.hidden, out.logits, r * cols, request.promptTokens.length, sequences[r]!.length));
  }

  /**
   * One sequence's Recomputation from a forward's rows: `length` fed tokens (prompt of
   * `promptLength`, then output[:-1]) starting at row `base` of `hidden` and `logits`.
   */
  private recomputationOf(hidden: Float32Array, logits: Float32Array, base: number, promptLength: number, length: number): Recomputation {
    const H = this.info.hiddenSize;
    const V = this.info.vocabSize;
    const P = promptLength;
    const activations: Float32Array[] = [hidden.slice(base * H, (base + P) * H)];
    for (let row = P; row < length; row++) activations.push(hidden.slice((base + row) * H, (base + row + 1) * H));
    return { activations, outputLogits: logits.slice((base + P - 1) * V, (base + length) * V), vocabSize: V };
  }

  /** The evidence verify() judges, without a judgement: for calibration and reports. */
  evidence(
    promptTokens: readonly number[],
    outputTokens: readonly number[],
    proofs: readonly (Uint8Array | string)[],
    options: Omit<VerifyOptions, "profile"> & { garbageUlps?: number } = {},
  ): Promise<RequestEvidence> {
    try {
      this.checkVerifyTokens(promptTokens, outputTokens);
      if (!Array.isArray(proofs)) throw new InvalidRequestError("proofs must be an array", "proofs");
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(async () => this.evidenceFrom(await this.recomputeFull(promptTokens, outputTokens), outputTokens, proofs, options));
  }

  private evidenceFrom(
    recomputed: Recomputation,
    outputTokens: readonly number[],
    proofs: readonly (Uint8Array | string)[],
    options: Omit<VerifyOptions, "profile"> & { garbageUlps?: number },
  ): RequestEvidence {
    return requestEvidence({
      activations: recomputed.activations,
      proofs,
      toploc: { ...this.info.toploc, ...options.toploc },
      outputLogits: recomputed.outputLogits,
      vocabSize: recomputed.vocabSize,
      outputTokens,
      sampling: { ...GREEDY, ...options.sampling },
      ...(options.garbageUlps !== undefined ? { garbageUlps: options.garbageUlps } : {}),
    });
  }

  /** A calibrated profile judges only the model it was calibrated on: throws ProfileMismatchError otherwise. */
  checkProfile(profile: VerificationProfile): void {
    if (profile.model.weightsHash !== this.info.weightsHash) {
      throw new ProfileMismatchError(
        `profile ${profile.name} was calibrated on weights ${profile.model.weightsHash}; this engine runs ${this.info.weightsHash}`,
        "profile",
      );
    }
    if (profile.toploc.topk !== this.info.toploc.topk || profile.toploc.decodeBatchSize !== this.info.toploc.decodeBatchSize) {
      throw new ProfileMismatchError(`profile ${profile.name} is for k = ${profile.toploc.topk}, ${profile.toploc.decodeBatchSize}-token chunks`, "profile");
    }
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

  /** What verify() and verifyBatch() check before any forward: the tokens, the proofs array, a calibrated profile's model. */
  private checkVerifyRequest(
    promptTokens: readonly number[],
    outputTokens: readonly number[],
    proofs: readonly (Uint8Array | string)[],
    profile: VerificationProfile | ThresholdProfile | undefined,
  ): void {
    this.checkVerifyTokens(promptTokens, outputTokens);
    if (!Array.isArray(proofs)) throw new InvalidRequestError("proofs must be an array", "proofs");
    if (profile && isCalibrated(profile)) this.checkProfile(profile);
  }

  private checkVerifyTokens(promptTokens: readonly number[], outputTokens: readonly number[]): void {
    checkTokens(promptTokens, "promptTokens", this.info);
    checkTokens(outputTokens, "outputTokens", this.info);
    const fed = promptTokens.length + outputTokens.length - 1;
    if (fed > this.info.maxContext) {
      throw new ContextLengthError(`promptTokens + outputTokens[:-1] (${fed}) exceed the context of ${this.info.maxContext}`, "outputTokens");
    }
  }

  /**
   * The verification prefill's full result: the activations (as recompute) and, for every
   * output position t, the logits that predict outputTokens[t] (the row of the token before
   * it), so the last output token is covered too.
   */
  recomputation(promptTokens: readonly number[], outputTokens: readonly number[]): Promise<Recomputation> {
    try {
      this.checkVerifyTokens(promptTokens, outputTokens);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(() => this.recomputeFull(promptTokens, outputTokens));
  }

  private async recomputeNow(promptTokens: readonly number[], outputTokens: readonly number[]): Promise<Float32Array[]> {
    return (await this.recomputeFull(promptTokens, outputTokens)).activations;
  }

  private async recomputeFull(promptTokens: readonly number[], outputTokens: readonly number[]): Promise<Recomputation> {
    const tokens = [...promptTokens, ...outputTokens.slice(0, -1)];
    const { hidden, logits } = await this.runner.forward(tokens);
    return this.recomputationOf(hidden, logits, 0, promptTokens.length, tokens.length);
  }

  async close(): Promise<void> {
    this.scheduler?.close();
    await this.enqueue(() => this.runner.close());
  }
}
