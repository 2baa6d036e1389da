import * as ort from "onnxruntime-node";
import { cudaFailure, executionProviders, type Device } from "./device.ts";
import { ActivationTensorError, EngineClosedError, UnsupportedModelError } from "./errors.ts";
import { LOGITS_OUTPUT, type PastInput } from "./graph.ts";
import type { HookedModel } from "./hook.ts";
import { halfBitsToFloat32 } from "./onnx-file/half.ts";

/** One forward's results that decoding and proving need. */
export interface ForwardOutput {
  /** Logits of the last row (vocabSize values): the next-token distribution. */
  lastLogits: Float32Array;
  /** Logits of every row fed (rows x vocabSize): row i predicts the token after fed token i. */
  logits: Float32Array;
  /** Activation rows (rows x hiddenSize) of the tokens fed in this forward. */
  hidden: Float32Array;
}

/** One batched forward's feeds: `rows` sequences of `cols` new tokens each, over a shared-length past. */
export interface BatchFeed {
  rows: number;
  cols: number;
  /** rows x cols token ids (padding where a row has fewer tokens). */
  inputIds: BigInt64Array;
  /** rows x cols positions. */
  positionIds: BigInt64Array;
  /** rows x (past length + cols): 1 where a key is real, 0 where it is padding. */
  attentionMask: BigInt64Array;
  /** The past, [rows, ..., past length, ...] per cache input (empty: this.emptyPast of batch rows). */
  past?: ReadonlyMap<string, ort.Tensor>;
}

/** One batched forward's results, row-major over rows x cols. */
export interface BatchOutput {
  /** rows x cols x vocabSize. */
  logits: Float32Array;
  /** rows x cols x hiddenSize. */
  hidden: Float32Array;
  /** present.N.key/value by their past input's name: [rows, ..., past + cols, ...]. */
  present: Map<string, ort.Tensor>;
}

/** A growing sequence: prefill once, then one step per generated token. */
export interface Sequence {
  prefill(tokens: readonly number[]): Promise<ForwardOutput>;
  /** Feeds one token; `hidden` is that token's single activation row. */
  step(token: number): Promise<ForwardOutput>;
}

export type GraphOptimization = "disabled" | "basic" | "extended" | "all";

export interface RunnerOptions {
  intraOpThreads?: number;
  /** onnxruntime's graph optimisation level; default "all". */
  graphOptimization?: GraphOptimization;
  /** Execution provider; default cpu. */
  device?: Device;
  /** KV heads and head size (config.json) for caches whose graph leaves them symbolic. */
  pastShape?: { kvHeads: number; headDim: number };
}

/** A float tensor's values as float32 (a native half-precision graph returns float16). */
function floats(tensor: ort.Tensor): Float32Array {
  if (tensor.type === "float32") return tensor.data as Float32Array;
  if (tensor.type === "float16") {
    const bits = tensor.data as Uint16Array;
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = halfBitsToFloat32(bits[i]!);
    return out;
  }
  throw new UnsupportedModelError(`a graph output is ${tensor.type}; expected float32 or float16`, "modelPath");
}

function int64(values: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = BigInt(values[i]!);
  return out;
}

function range64(start: number, count: number): BigInt64Array {
  const out = new BigInt64Array(count);
  for (let i = 0; i < count; i++) out[i] = BigInt(start + i);
  return out;
}

function ones64(count: number): BigInt64Array {
  return new BigInt64Array(count).fill(1n);
}

/**
 * Shape of an empty KV cache for batch 1: the batch dim is 1, the past-length dim 0. Exports
 * usually fix heads and head size; where they are symbolic too, a 4-D [batch, kv_heads,
 * past_length, head_dim] cache takes them from config.json.
 */
function emptyPastDims(past: PastInput, pastShape?: { kvHeads: number; headDim: number }): number[] {
  if (pastShape && past.dims.length === 4 && past.dims.filter((d) => typeof d !== "number").length > 2) {
    return [1, typeof past.dims[1] === "number" ? past.dims[1] : pastShape.kvHeads, 0, typeof past.dims[3] === "number" ? past.dims[3] : pastShape.headDim];
  }
  let unknown = 0;
  const dims = past.dims.map((d, i) => {
    if (typeof d === "number") return d;
    if (i === 0) return 1;
    unknown++;
    return 0;
  });
  if (unknown !== 1 || dims.length < 3) {
    throw new UnsupportedModelError(
      `${past.name} has shape [${past.dims.join(", ")}]; expected fixed head dims and one symbolic past-length dim`,
      "modelPath",
    );
  }
  return dims;
}

/** Runs a hooked causal LM on onnxruntime: full forwards (verification) and growing sequences (generation). */
export class ModelRunner {
  private closed = false;
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly activationTensor: string,
    private readonly inputs: ReadonlySet<string>,
    private readonly pastInputs: readonly PastInput[],
    private readonly emptyPast: ReadonlyMap<string, ort.Tensor>,
    readonly hiddenSize: number,
    readonly vocabSize: number,
  ) {}

  get hasKvCache(): boolean {
    return this.pastInputs.length > 0;
  }

  /**
   * Whether rows of different lengths can share a forward: the graph takes an attention mask
   * (padding) and position ids (each row's own positions). Without them every row would see
   * the others' padding as tokens.
   */
  get batchable(): boolean {
    return this.inputs.has("attention_mask") && this.inputs.has("position_ids");
  }

  /** Bytes of KV cache one token of one sequence takes (every layer's key and value). */
  get kvBytesPerToken(): number {
    let bytes = 0;
    for (const tensor of this.emptyPast.values()) {
      const perToken = tensor.dims.reduce((a, d, i) => (i === 0 || d === 0 ? a : a * d), 1);
      bytes += perToken * (tensor.type === "float16" ? 2 : 4);
    }
    return bytes;
  }

  /**
   * A zero-filled cache of `rows` sequences and `length` positions per cache input: the
   * masked past a row joins a running batch with. The length axis is the one that is 0 in an
   * empty cache.
   */
  zeroPast(rows: number, length: number): Map<string, ort.Tensor> {
    const out = new Map<string, ort.Tensor>();
    for (const [name, empty] of this.emptyPast) {
      const dims = empty.dims.map((d, i) => (i === 0 ? rows : d === 0 ? length : d));
      const size = dims.reduce((a, d) => a * d, 1);
      out.set(name, empty.type === "float16" ? new ort.Tensor("float16", new Uint16Array(size), dims) : new ort.Tensor("float32", new Float32Array(size), dims));
    }
    return out;
  }

  /** One batched forward (see BatchFeed); the caller keeps rows, positions and masks consistent. */
  async forwardBatch(feed: BatchFeed): Promise<BatchOutput> {
    if (this.closed) throw new EngineClosedError("the engine is closed", "engine");
    const { rows, cols } = feed;
    const total = feed.attentionMask.length / rows;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", feed.inputIds, [rows, cols]),
      attention_mask: new ort.Tensor("int64", feed.attentionMask, [rows, total]),
      position_ids: new ort.Tensor("int64", feed.positionIds, [rows, cols]),
    };
    this.keepAllLogits(feeds);
    const past = feed.past ?? (this.hasKvCache ? this.zeroPast(rows, 0) : new Map());
    for (const [name, tensor] of past) feeds[name] = tensor;
    const result = await this.session.run(feeds);
    const hidden = floats(result[this.activationTensor]!);
    if (hidden.length !== rows * cols * this.hiddenSize) {
      throw new ActivationTensorError(
        `activation tensor ${JSON.stringify(this.activationTensor)} has ${hidden.length} values for ${rows} x ${cols} tokens; expected ${rows * cols * this.hiddenSize}`,
        "activationTensor",
      );
    }
    return { logits: floats(result[LOGITS_OUTPUT]!), hidden, present: this.presents(result) };
  }

  /** A forward's present.N.key/value outputs, keyed by the past input each one feeds next. */
  private presents(result: ort.InferenceSession.ReturnType): Map<string, ort.Tensor> {
    const present = new Map<string, ort.Tensor>();
    for (const input of this.pastInputs) present.set(input.name, result[`present.${input.layer}.${input.kind}`]!);
    return present;
  }

  static async open(model: HookedModel, options: RunnerOptions = {}): Promise<ModelRunner> {
    const device = options.device ?? "cpu";
    const providers = executionProviders(device);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: providers,
      graphOptimizationLevel: options.graphOptimization ?? "all",
      executionMode: "sequential",
      intraOpNumThreads: options.intraOpThreads ?? 0,
      logSeverityLevel: 3,
    };
    let session: ort.InferenceSession;
    try {
      if ("bytes" in model.source) {
        // A graph given as bytes reads its external data from the source folder (onnxruntime's config entry for models loaded from memory).
        session = await ort.InferenceSession.create(model.source.bytes, {
          ...sessionOptions,
          extra: { session: { model_external_initializers_file_folder_path: model.source.externalFolder } },
        });
      } else {
        session = await ort.InferenceSession.create(model.source.path, sessionOptions);
      }
    } catch (error) {
      if (device === "cuda") throw cudaFailure(error as Error);
      throw new UnsupportedModelError(`onnxruntime cannot load the model: ${(error as Error).message}`, "modelPath");
    }
    const pastType = model.summary.pastElemType;
    if (pastType === 16 && model.summary.pastInputs.length > 0) {
      await session.release();
      throw new UnsupportedModelError("a bfloat16 KV cache runs only in float32 here (precision float32): onnxruntime-node has no bfloat16 tensors", "precision");
    }
    const emptyPast = new Map<string, ort.Tensor>();
    for (const past of model.summary.pastInputs) {
      const dims = emptyPastDims(past, options.pastShape);
      emptyPast.set(past.name, pastType === 10 ? new ort.Tensor("float16", new Uint16Array(0), dims) : new ort.Tensor("float32", new Float32Array(0), dims));
    }
    const inputs = new Set(model.summary.inputs);
    // Probe with two tokens: the sizes of the activation and the logits come from the model
    // itself, and a tensor that is not one row per token (a weight, a pooled vector) shows up.
    const probe = new ModelRunner(session, model.activationTensor, inputs, model.summary.pastInputs, emptyPast, 0, 0);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await probe.run([0, 0], 0, emptyPast);
    } catch (error) {
      await session.release();
      throw new UnsupportedModelError(`the model fails a two-token forward: ${(error as Error).message}`, "modelPath");
    }
    const logits = result[LOGITS_OUTPUT]!;
    const hidden = result[model.activationTensor]!;
    const vocabSize = Number(logits.dims.at(-1));
    const hiddenSize = Number(hidden.dims.at(-1));
    const refuse = async (error: Error): Promise<never> => {
      await session.release();
      throw error;
    };
    if (logits.type !== "float32" && logits.type !== "float16") {
      return refuse(new UnsupportedModelError(`logits are ${logits.type}; expected float32 or float16`, "modelPath"));
    }
    if ((hidden.type !== "float32" && hidden.type !== "float16") || hidden.size !== 2 * hiddenSize || hiddenSize < 1) {
      return refuse(
        new ActivationTensorError(
          `activation tensor ${JSON.stringify(model.activationTensor)} is ${hidden.type} [${hidden.dims.join(", ")}] for two tokens; ` +
            "expected one float32 hidden-state row per token",
          "activationTensor",
        ),
      );
    }
    return new ModelRunner(session, model.activationTensor, inputs, model.summary.pastInputs, emptyPast, hiddenSize, vocabSize);
  }

  private async run(tokens: readonly number[], start: number, past: ReadonlyMap<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
    if (this.closed) throw new EngineClosedError("the engine is closed", "engine");
    const count = tokens.length;
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor("int64", int64(tokens), [1, count]) };
    if (this.inputs.has("attention_mask")) feeds.attention_mask = new ort.Tensor("int64", ones64(start + count), [1, start + count]);
    if (this.inputs.has("position_ids")) feeds.position_ids = new ort.Tensor("int64", range64(start, count), [1, count]);
    this.keepAllLogits(feeds);
    for (const [name, tensor] of past) feeds[name] = tensor;
    return this.session.run(feeds);
  }

  /** transformers' logits_to_keep: 0 keeps the logits of every position. */
  private keepAllLogits(feeds: Record<string, ort.Tensor>): void {
    for (const name of ["num_logits_to_keep", "logits_to_keep"]) if (this.inputs.has(name)) feeds[name] = new ort.Tensor("int64", new BigInt64Array(1), []);
  }

  /** Hidden rows (rows x hiddenSize) and last-row logits of one output set. */
  private extract(result: ort.InferenceSession.ReturnType, rows: number): ForwardOutput {
    const logits = floats(result[LOGITS_OUTPUT]!);
    const hidden = floats(result[this.activationTensor]!);
    if (hidden.length !== rows * this.hiddenSize) {
      throw new ActivationTensorError(
        `activation tensor ${JSON.stringify(this.activationTensor)} has ${hidden.length} values for ${rows} tokens; expected ${rows * this.hiddenSize}`,
        "activationTensor",
      );
    }
    const vocab = this.vocabSize;
    return { lastLogits: logits.subarray(logits.length - vocab), logits, hidden };
  }

  /** One forward over `tokens` from position 0 with nothing cached: the verifier's recomputation. */
  async forward(tokens: readonly number[]): Promise<ForwardOutput> {
    return this.extract(await this.run(tokens, 0, this.emptyPast), tokens.length);
  }

  beginSequence(): Sequence {
    return this.hasKvCache ? this.cachedSequence() : this.recomputedSequence();
  }

  /** With a KV cache: the prefill fills it, each step feeds one token and keeps the presents. */
  private cachedSequence(): Sequence {
    let past: ReadonlyMap<string, ort.Tensor> = this.emptyPast;
    let length = 0;
    const advance = async (tokens: readonly number[]): Promise<ForwardOutput> => {
      const result = await this.run(tokens, length, past);
      past = this.presents(result);
      length += tokens.length;
      return this.extract(result, tokens.length);
    };
    return { prefill: advance, step: (token) => advance([token]) };
  }

  /** Without a KV cache: every step re-runs the whole sequence and keeps its last row. */
  private recomputedSequence(): Sequence {
    const tokens: number[] = [];
    const hiddenSize = this.hiddenSize;
    return {
      prefill: async (prompt) => {
        tokens.push(...prompt);
        return this.forward(tokens);
      },
      step: async (token) => {
        tokens.push(token);
        const out = await this.forward(tokens);
        return { lastLogits: out.lastLogits, logits: out.lastLogits, hidden: out.hidden.subarray(out.hidden.length - hiddenSize) };
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }
}
