import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ELEM, GraphBuilder } from "../../prover/model/graph-builder.ts";

export const TINY_VOCAB = 300;
/** Hidden size of the tiny models: k = 128 values, so that one decode row can be proven. */
export const TINY_HIDDEN = 128;

export type Head = "matmul" | "gemm-bias" | "tied" | "none";

function pattern(n: number, salt: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((i * 7919 + salt * 104729) % 2003) - 1001) / 1001;
  return out;
}

/**
 * Writes a tiny no-cache causal "LM" (embedding, a scaled hidden state, a vocabulary projection)
 * whose head takes one of the shapes exports produce, to check the hook finds the hidden state
 * without being told. Returns the file path.
 */
export function writeTinyModel(dir: string, head: Head, options: { extraInput?: boolean; externalData?: boolean | "missing" | "truncated"; hidden?: number } = {}): string {
  const hiddenSize = options.hidden ?? TINY_HIDDEN;
  const g = new GraphBuilder();
  const ids = g.input("input_ids", ELEM.INT64, ["batch", "seq"]);
  g.input("attention_mask", ELEM.INT64, ["batch", "seq"]);
  if (options.extraInput) g.input("token_type_ids", ELEM.INT64, ["batch", "seq"]);
  const embedding = g.floatTensor("embed.weight", [TINY_VOCAB, hiddenSize], pattern(TINY_VOCAB * hiddenSize, 1));
  const x = g.op("Gather", [embedding, ids], "embed", { axis: 0 });
  const hidden = g.named("Mul", [x, g.floatTensor("norm.weight", [hiddenSize], pattern(hiddenSize, 2))], "hidden_state");
  const vocabDims = ["batch", "seq", TINY_VOCAB];
  if (head === "matmul") {
    g.named("MatMul", [hidden, g.floatTensor("lm_head.weight", [hiddenSize, TINY_VOCAB], pattern(hiddenSize * TINY_VOCAB, 3))], "logits");
  } else if (head === "gemm-bias") {
    const flat = g.op("Reshape", [hidden, g.int64Tensor("flat_shape", [2], [-1, hiddenSize])], "hidden_2d");
    const gemm = g.op("Gemm", [flat, g.floatTensor("lm_head.weight", [TINY_VOCAB, hiddenSize], pattern(hiddenSize * TINY_VOCAB, 4)), g.floatTensor("lm_head.bias", [TINY_VOCAB], pattern(TINY_VOCAB, 5))], "gemm", { transB: 1 });
    const shape = g.op("Concat", [g.op("Shape", [ids], "ids_shape"), g.int64Tensor("vocab_dim", [1], [TINY_VOCAB])], "logits_shape", { axis: 0 });
    const scaled = g.op("Mul", [gemm, g.floatTensor("logit_scale", [1], Float32Array.of(0.5))], "scaled");
    g.named("Reshape", [scaled, shape], "logits");
  } else if (head === "tied") {
    const transposed = g.op("Transpose", [embedding], "embed_t", { perm: [1, 0] });
    g.named("MatMul", [hidden, transposed], "logits");
  } else {
    g.named("MatMul", [hidden, g.floatTensor("lm_head.weight", [hiddenSize, TINY_VOCAB], pattern(hiddenSize * TINY_VOCAB, 3))], "scores");
  }
  g.output(head === "none" ? "scores" : "logits", ELEM.FLOAT, vocabDims);
  let external: Uint8Array | undefined;
  if (options.externalData) {
    // The embedding moves to weights.bin (written beside the model; cut short or left out on request).
    const weight = g.initializers.find((t) => t.name === "embed.weight")!;
    external = weight.rawData!.slice();
    weight.rawData = new Uint8Array(0);
    weight.dataLocation = 1;
    weight.externalData = [{ key: "location", value: "weights.bin" }, { key: "offset", value: "0" }, { key: "length", value: String(external.length) }];
  }
  const bytes = g.encode("tiny", 17, {});
  const path = join(dir, `tiny-${head}-${hiddenSize}${options.extraInput ? "-extra" : ""}${options.externalData ? "-external" : ""}.onnx`);
  writeFileSync(path, bytes);
  if (external && options.externalData !== "missing") writeFileSync(join(dir, "weights.bin"), options.externalData === "truncated" ? external.subarray(0, external.length - 4) : external);
  return path;
}
