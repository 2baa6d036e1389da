import { Xoshiro128 } from "../engine/prng.ts";
import { BYTE_BOS_TOKEN_ID, BYTE_EOS_TOKEN_ID, BYTE_VOCAB_SIZE } from "../engine/text/tokenizer.ts";
import { ELEM, GraphBuilder } from "./graph-builder.ts";

/** Shape and seed of the embedded default model. Changing any of these changes its weights hash. */
export const DEFAULT_MODEL_CONFIG = Object.freeze({
  modelId: "vb-byte-llama-4l-256h-v1",
  seed: 20261123,
  vocabSize: BYTE_VOCAB_SIZE,
  hiddenSize: 256,
  layers: 4,
  heads: 8,
  headDim: 32,
  intermediateSize: 688,
  maxContext: 1024,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  bosTokenId: BYTE_BOS_TOKEN_ID,
  eosTokenId: BYTE_EOS_TOKEN_ID,
  /** The final RMSNorm's output: the input of lm_head, the tensor TOPLOC proves. */
  activationTensor: "final_norm_output",
  opset: 17,
});

/**
 * Builds the default model: buildLlamaDecoder with DEFAULT_MODEL_CONFIG and a fixed logit bias
 * towards printable ASCII, so that the untrained model's replies are readable characters rather
 * than stray bytes (and so that the hook is exercised through a bias Add).
 */
export function buildDefaultModel(options: { kvCache?: boolean; seed?: number } = {}): Uint8Array {
  // kvCache false builds the same weights without past/present tensors (the other export shape),
  // for tests that compare both decoding paths; another seed builds an impostor with the same
  // architecture and vocabulary but other weights (a model swap only TOPLOC can tell apart).
  // Only the defaults are the pinned model.
  const c = DEFAULT_MODEL_CONFIG;
  const logitBias = new Float32Array(c.vocabSize).fill(-4);
  for (let b = 0x20; b <= 0x7e; b++) logitBias[b] = 3;
  logitBias[0x0a] = 1;
  logitBias[c.eosTokenId] = -1;
  return buildLlamaDecoder({ ...c, seed: options.seed ?? c.seed, logitBias }, options);
}

/** Shape, weights seed and extras of a Llama-style decoder built by buildLlamaDecoder. */
export interface LlamaDecoderConfig {
  modelId: string;
  seed: number;
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  heads: number;
  /** Key/value heads (grouped-query attention when fewer than heads); default heads. */
  kvHeads?: number;
  headDim: number;
  intermediateSize: number;
  maxContext: number;
  ropeTheta: number;
  rmsNormEps: number;
  activationTensor: string;
  opset: number;
  /** A fixed bias added to the logits (the default model's lean towards printable bytes). */
  logitBias?: Float32Array;
}

/**
 * Builds a Llama-style decoder (token embedding, pre-RMSNorm blocks with rotary attention and a
 * SiLU-gated MLP, final RMSNorm, lm_head) with a KV cache, exported the way Hugging Face exports
 * are (input_ids, attention_mask, position_ids, past_key_values.N.key/value -> logits,
 * present.N.key/value). With kvHeads < heads the cache holds kvHeads heads and each is repeated
 * for its group of query heads, as transformers' repeat_kv does.
 *
 * Weights are uniform draws from xoshiro128** with the seed, exact multiples of 2^-31 scaled by
 * powers of two, so the file is byte-identical everywhere (no transcendental function is
 * evaluated in JavaScript; rotary angles are computed inside the graph). The scales keep the
 * residual stream lively enough that greedy decoding does not collapse onto one token.
 */
export function buildLlamaDecoder(c: LlamaDecoderConfig, options: { kvCache?: boolean } = {}): Uint8Array {
  const kvCache = options.kvCache !== false;
  const rng = new Xoshiro128(c.seed);
  const kvHeads = c.kvHeads ?? c.heads;
  const groups = c.heads / kvHeads;
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`heads (${c.heads}) must be a multiple of kvHeads (${kvHeads})`);
  const g = new GraphBuilder();
  const uniform = (count: number, scale: number): Float32Array => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = rng.nextSigned() * scale;
    return out;
  };
  const H = c.hiddenSize;
  const D = c.headDim;
  const half = D / 2;

  const inputIds = g.input("input_ids", ELEM.INT64, ["batch_size", "sequence_length"]);
  const attentionMask = g.input("attention_mask", ELEM.INT64, ["batch_size", "total_sequence_length"]);
  const positionIds = g.input("position_ids", ELEM.INT64, ["batch_size", "sequence_length"]);
  const pastNames: string[][] = [];
  for (let l = 0; kvCache && l < c.layers; l++) {
    pastNames.push([
      g.input(`past_key_values.${l}.key`, ELEM.FLOAT, ["batch_size", kvHeads, "past_sequence_length", D]),
      g.input(`past_key_values.${l}.value`, ELEM.FLOAT, ["batch_size", kvHeads, "past_sequence_length", D]),
    ]);
  }

  // Constants shared by every layer.
  const axisLast = g.int64Tensor("const_axes_last", [1], [-1]);
  const epsilon = g.floatTensor("const_rms_eps", [1], Float32Array.of(c.rmsNormEps));
  const one = g.floatTensor("const_one", [1], Float32Array.of(1));
  const zero = g.floatTensor("const_zero", [1], Float32Array.of(0));
  const masked = g.floatTensor("const_masked", [1], Float32Array.of(-1e9));
  const scoreScale = g.floatTensor("const_score_scale", [1], Float32Array.of(1 / Math.sqrt(D))); // sqrt and / are correctly rounded IEEE ops: same bits everywhere
  const headShape = g.int64Tensor("const_head_shape", [4], [0, 0, c.heads, D]);
  const kvHeadShape = groups > 1 ? g.int64Tensor("const_kv_head_shape", [4], [0, 0, kvHeads, D]) : headShape;
  const mergedShape = g.int64Tensor("const_merged_shape", [3], [0, 0, H]);
  const sliceStart0 = g.int64Tensor("const_slice_0", [1], [0]);
  const sliceHalf = g.int64Tensor("const_slice_half", [1], [half]);
  const sliceEnd = g.int64Tensor("const_slice_end", [1], [D]);
  const axis3 = g.int64Tensor("const_axis_3", [1], [3]);
  const axes13 = g.int64Tensor("const_axes_1_3", [2], [1, 3]);
  const axes12 = g.int64Tensor("const_axes_1_2", [2], [1, 2]);
  const axis1 = g.int64Tensor("const_axis_1", [1], [1]);
  const rangeStep = g.int64Tensor("const_range_step", [], [1]);
  const rangeStart = g.int64Tensor("const_range_start", [], [0]);

  // Rotary tables: inv_freq = theta^(-2i/D) with exponents exact in float32; angles = pos * inv_freq.
  const ropeExponents = new Float32Array(half);
  for (let i = 0; i < half; i++) ropeExponents[i] = (-2 * i) / D;
  const theta = g.floatTensor("const_rope_theta", [1], Float32Array.of(c.ropeTheta));
  const invFreq = g.op("Pow", [theta, g.floatTensor("const_rope_exponents", [half], ropeExponents)], "rope_inv_freq");
  const positions = g.op("Unsqueeze", [g.op("Cast", [positionIds], "rope_positions", { to: ELEM.FLOAT }), axisLast], "rope_positions_col");
  const freqs = g.op("Mul", [positions, invFreq], "rope_freqs"); // [B, S, D/2]
  const angles = g.op("Concat", [freqs, freqs], "rope_angles", { axis: -1 }); // [B, S, D]
  const cos = g.op("Unsqueeze", [g.op("Cos", [angles], "rope_cos_raw"), axis1], "rope_cos"); // [B, 1, S, D]
  const sin = g.op("Unsqueeze", [g.op("Sin", [angles], "rope_sin_raw"), axis1], "rope_sin");

  // Attention bias [B, 1, S, T]: key position j is visible to query position p iff j <= p and mask[j] = 1.
  const total = g.op("Squeeze", [g.op("Shape", [attentionMask], "mask_total_len", { start: 1, end: 2 })], "mask_total");
  const keyPositions = g.op("Range", [rangeStart, total, rangeStep], "mask_key_positions"); // [T]
  const queryPositions = g.op("Unsqueeze", [positionIds, axes13], "mask_query_positions"); // [B, 1, S, 1]
  const causal = g.op("LessOrEqual", [keyPositions, queryPositions], "mask_causal"); // [B, 1, S, T]
  const padding = g.op("Cast", [g.op("Unsqueeze", [attentionMask, axes12], "mask_padding_raw")], "mask_padding", { to: ELEM.BOOL });
  const visible = g.op("And", [causal, padding], "mask_visible");
  const bias = g.op("Where", [visible, zero, masked], "mask_bias");

  const rmsNorm = (x: string, weight: string, hint: string, outputName?: string): string => {
    const meanSquare = g.op("ReduceMean", [g.op("Mul", [x, x], `${hint}_sq`)], `${hint}_ms`, { axes: [-1], keepdims: 1 });
    const inverse = g.op("Div", [one, g.op("Sqrt", [g.op("Add", [meanSquare, epsilon], `${hint}_eps`)], `${hint}_rms`)], `${hint}_inv`);
    const normalized = g.op("Mul", [x, inverse], `${hint}_normed`);
    return outputName ? g.named("Mul", [normalized, weight], outputName) : g.op("Mul", [normalized, weight], hint);
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  const splitHeads = (x: string, hint: string, shape = headShape) =>
    g.op("Transpose", [g.op("Reshape", [x, shape], `${hint}_heads`)], `${hint}_bhsd`, { perm: [0, 2, 1, 3] });
  // repeat_kv: [B, kvH, T, D] -> [B, kvH, groups, T, D] -> [B, H, T, D].
  const repeatKv = (x: string, hint: string): string => {
    if (groups === 1) return x;
    const shape = g.op("Shape", [x], `${hint}_shape`);
    const expanded = g.op("Expand", [g.op("Unsqueeze", [x, g.int64Tensor(`${hint}_axis2`, [1], [2])], `${hint}_unsq`), g.op("Concat", [g.op("Slice", [shape, g.int64Tensor(`${hint}_s0`, [1], [0]), g.int64Tensor(`${hint}_s2`, [1], [2])], `${hint}_bk`), g.int64Tensor(`${hint}_groups`, [1], [groups]), g.op("Slice", [shape, g.int64Tensor(`${hint}_s2b`, [1], [2]), g.int64Tensor(`${hint}_s4`, [1], [4])], `${hint}_td`)], `${hint}_target`, { axis: 0 })], `${hint}_expanded`);
    return g.op("Reshape", [expanded, g.int64Tensor(`${hint}_merge`, [4], [0, c.heads, -1, D])], `${hint}_repeated`);
  };
  const rotary = (x: string, hint: string): string => {
    const first = g.op("Slice", [x, sliceStart0, sliceHalf, axis3], `${hint}_x1`);
    const second = g.op("Slice", [x, sliceHalf, sliceEnd, axis3], `${hint}_x2`);
    const rotated = g.op("Concat", [g.op("Neg", [second], `${hint}_neg_x2`), first], `${hint}_rot`, { axis: -1 });
    return g.op("Add", [g.op("Mul", [x, cos], `${hint}_xcos`), g.op("Mul", [rotated, sin], `${hint}_rsin`)], `${hint}_rope`);
  };

  // Scales (powers of two times the uniform draws): embeddings of unit size, projections of
  // about 1/sqrt(fan_in), a strong lm_head so that logits spread over several units.
  const embedding = g.floatTensor("embed_tokens.weight", [c.vocabSize, H], uniform(c.vocabSize * H, 1));
  let x = g.op("Gather", [embedding, inputIds], "embed", { axis: 0 });
  for (let l = 0; l < c.layers; l++) {
    const p = `layers.${l}`;
    const h = rmsNorm(x, g.floatTensor(`${p}.input_layernorm.weight`, [H], ones(H)), `${p}_in_norm`);
    const wq = g.floatTensor(`${p}.self_attn.q_proj.weight`, [H, H], uniform(H * H, 1 / 8));
    const KV = kvHeads * D;
    const wk = g.floatTensor(`${p}.self_attn.k_proj.weight`, [H, KV], uniform(H * KV, 1 / 8));
    const wv = g.floatTensor(`${p}.self_attn.v_proj.weight`, [H, KV], uniform(H * KV, 1 / 8));
    const wo = g.floatTensor(`${p}.self_attn.o_proj.weight`, [H, H], uniform(H * H, 1 / 8));
    const q = rotary(splitHeads(g.op("MatMul", [h, wq], `${p}_q`), `${p}_q`), `${p}_q`);
    const k = rotary(splitHeads(g.op("MatMul", [h, wk], `${p}_k`), `${p}_k`, kvHeadShape), `${p}_k`);
    const v = splitHeads(g.op("MatMul", [h, wv], `${p}_v`), `${p}_v`, kvHeadShape);
    const keys = repeatKv(kvCache ? g.named("Concat", [pastNames[l]![0]!, k], `present.${l}.key`, { axis: 2 }) : k, `${p}_keys`);
    const values = repeatKv(kvCache ? g.named("Concat", [pastNames[l]![1]!, v], `present.${l}.value`, { axis: 2 }) : v, `${p}_values`);
    const scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [keys], `${p}_kt`, { perm: [0, 1, 3, 2] })], `${p}_qk`), scoreScale], `${p}_scores`);
    const probs = g.op("Softmax", [g.op("Add", [scores, bias], `${p}_masked`)], `${p}_probs`, { axis: -1 });
    const context = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [probs, values], `${p}_ctx`)], `${p}_ctx_bshd`, { perm: [0, 2, 1, 3] }), mergedShape], `${p}_ctx_merged`);
    x = g.op("Add", [x, g.op("MatMul", [context, wo], `${p}_attn_out`)], `${p}_resid_attn`);
    const h2 = rmsNorm(x, g.floatTensor(`${p}.post_attention_layernorm.weight`, [H], ones(H)), `${p}_post_norm`);
    const I = c.intermediateSize;
    const gate = g.op("MatMul", [h2, g.floatTensor(`${p}.mlp.gate_proj.weight`, [H, I], uniform(H * I, 1 / 8))], `${p}_gate`);
    const up = g.op("MatMul", [h2, g.floatTensor(`${p}.mlp.up_proj.weight`, [H, I], uniform(H * I, 1 / 8))], `${p}_up`);
    const act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate], `${p}_gate_sig`)], `${p}_silu`), up], `${p}_act`);
    const down = g.op("MatMul", [act, g.floatTensor(`${p}.mlp.down_proj.weight`, [I, H], uniform(I * H, 1 / 16))], `${p}_down`);
    x = g.op("Add", [x, down], `${p}_resid_mlp`);
  }
  const final = rmsNorm(x, g.floatTensor("norm.weight", [H], ones(H)), "final_norm", c.activationTensor);
  const projected = g.op("MatMul", [final, g.floatTensor("lm_head.weight", [H, c.vocabSize], uniform(H * c.vocabSize, 1 / 4))], "lm_head");
  if (c.logitBias) g.named("Add", [projected, g.floatTensor("lm_head.bias", [c.vocabSize], c.logitBias)], "logits");
  else g.named("Identity", [projected], "logits");

  g.output("logits", ELEM.FLOAT, ["batch_size", "sequence_length", c.vocabSize]);
  for (let l = 0; kvCache && l < c.layers; l++) {
    g.output(`present.${l}.key`, ELEM.FLOAT, ["batch_size", kvHeads, "total_sequence_length", D]);
    g.output(`present.${l}.value`, ELEM.FLOAT, ["batch_size", kvHeads, "total_sequence_length", D]);
  }
  return g.encode("byte_llama", c.opset, { model_id: c.modelId, max_context: String(c.maxContext) });
}
