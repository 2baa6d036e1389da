/**
 * Writes a Hugging Face model folder the way Optimum and transformers.js exports lay it out,
 * from a seed: a Llama-style decoder with grouped-query attention and a KV cache
 * (buildLlamaDecoder), its graph in float32, float16 or bfloat16 throughout (as an Optimum
 * `--dtype fp16` export is: weights, inputs, outputs and KV cache), the weights in one or
 * several external data files, config.json, generation_config.json and a given tokenizer's
 * files. Tests and `npm run model:folder` use it; nothing is downloaded.
 */
import { copyFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { float32ToBf16Bits } from "../../protocol/toploc/bf16.ts";
import { float32ToHalfBits } from "../engine/onnx-file/half.ts";
import { onnx, type GraphProto, type TensorProto } from "../engine/onnx-proto.ts";
import { buildLlamaDecoder, type LlamaDecoderConfig } from "./default-model.ts";

export type FolderDtype = "float32" | "float16" | "bfloat16";

export interface HfFolderSpec {
  /** The folder to write (created). */
  dir: string;
  /** A folder with tokenizer.json and tokenizer_config.json (and chat_template.jinja, if any): copied. */
  tokenizerDir: string;
  dtype?: FolderDtype;
  /** Weights in external data files (default true), split over this many files (default 1). */
  external?: boolean;
  shards?: number;
  /** "optimum": model.onnx at the top; "transformers.js": onnx/model.onnx. Default optimum. */
  layout?: "optimum" | "transformers.js";
  seed?: number;
  hiddenSize?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  intermediateSize?: number;
  maxContext?: number;
  /** Extra end-of-turn ids for generation_config.json's eos_token_id (besides the tokenizer's EOS). */
  extraEosTokenIds?: number[];
  /** Leave generation_config.json out. */
  omitGenerationConfig?: boolean;
  /** Vocabulary size of the model (default: the tokenizer's largest id + 1). */
  vocabSize?: number;
}

export interface WrittenFolder {
  dir: string;
  graphPath: string;
  externalFiles: string[];
  vocabSize: number;
  config: Record<string, unknown>;
}

const FLOAT = 1;
const ELEM: Record<FolderDtype, number> = { float32: 1, float16: 10, bfloat16: 16 };

/** fp32 raw bytes -> fp16 / bf16 raw bytes (round to nearest even; fp16 saturates at +-65504). */
function downcastBytes(raw: Uint8Array, dtype: FolderDtype): Uint8Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const count = raw.length / 4;
  const out = new Uint8Array(count * 2);
  const target = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    const x = view.getFloat32(i * 4, true);
    target.setUint16(i * 2, dtype === "bfloat16" ? float32ToBf16Bits(x) : float32ToHalfBits(x), true);
  }
  return out;
}

/** The whole graph in `dtype`: float initializers, inputs, outputs and Cast targets. */
function downcastGraph(graph: GraphProto, dtype: FolderDtype): void {
  const elem = ELEM[dtype];
  for (const tensor of graph.initializer ?? []) {
    if (tensor.dataType !== FLOAT) continue;
    tensor.rawData = downcastBytes(tensor.rawData!, dtype);
    tensor.dataType = elem;
  }
  for (const info of [...(graph.input ?? []), ...(graph.output ?? [])]) {
    if (info.type?.tensorType?.elemType === FLOAT) info.type.tensorType.elemType = elem;
  }
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      if (node.opType === "Cast" && attribute.name === "to" && Number(attribute.i) === FLOAT) attribute.i = elem;
    }
  }
}

/** Moves every initializer of 1 KiB or more to external files, round-robin over `shards`. */
function externalize(graph: GraphProto, shards: number): { name: string; bytes: Uint8Array }[] {
  const files = Array.from({ length: shards }, (_, i) => ({ name: i === 0 ? "model.onnx_data" : `model.onnx_data_${i}`, parts: [] as Uint8Array[], size: 0 }));
  let next = 0;
  for (const tensor of graph.initializer ?? []) {
    const raw = (tensor as TensorProto).rawData;
    if (!raw || raw.length < 1024) continue;
    const file = files[next++ % shards]!;
    tensor.externalData = [
      { key: "location", value: file.name },
      { key: "offset", value: String(file.size) },
      { key: "length", value: String(raw.length) },
    ];
    tensor.dataLocation = 1;
    file.parts.push(raw.slice());
    file.size += raw.length;
    tensor.rawData = new Uint8Array(0);
  }
  return files.map((f) => ({ name: f.name, bytes: Buffer.concat(f.parts) }));
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

export async function writeHfModelFolder(spec: HfFolderSpec): Promise<WrittenFolder> {
  const dtype = spec.dtype ?? "float16";
  const tokenizerJson = JSON.parse(await readFile(join(spec.tokenizerDir, "tokenizer.json"), "utf8")) as {
    model: { vocab: Record<string, number> | [string, number][] };
    added_tokens?: { id: number }[];
  };
  const vocabIds = Array.isArray(tokenizerJson.model.vocab) ? tokenizerJson.model.vocab.map((_, i) => i) : Object.values(tokenizerJson.model.vocab);
  const maxId = [...vocabIds, ...(tokenizerJson.added_tokens ?? []).map((t) => t.id)].reduce((a, b) => Math.max(a, b), 0);
  const vocabSize = spec.vocabSize ?? maxId + 1;
  const tokenizerConfig = JSON.parse(await readFile(join(spec.tokenizerDir, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;

  const hiddenSize = spec.hiddenSize ?? 128;
  const heads = spec.heads ?? 4;
  const decoder: LlamaDecoderConfig = {
    modelId: "vb-hf-folder",
    seed: spec.seed ?? 7,
    vocabSize,
    hiddenSize,
    layers: spec.layers ?? 2,
    heads,
    kvHeads: spec.kvHeads ?? 2,
    headDim: hiddenSize / heads,
    intermediateSize: spec.intermediateSize ?? 256,
    maxContext: spec.maxContext ?? 512,
    ropeTheta: 10000,
    rmsNormEps: 1e-5,
    activationTensor: "final_norm_output",
    opset: 17,
  };
  const model = onnx.ModelProto.decode(buildLlamaDecoder(decoder));
  // A real export carries no max_context metadata: the context comes from config.json.
  model.metadataProps = [];
  const graph = model.graph!;
  if (dtype !== "float32") downcastGraph(graph, dtype);
  const dataFiles = spec.external === false ? [] : externalize(graph, spec.shards ?? 1);

  const graphDir = spec.layout === "transformers.js" ? join(spec.dir, "onnx") : spec.dir;
  await mkdir(graphDir, { recursive: true });
  const graphPath = join(graphDir, "model.onnx");
  await writeFile(graphPath, onnx.ModelProto.encode(model).finish());
  for (const file of dataFiles) await writeFile(join(graphDir, file.name), file.bytes);

  const tokenId = (key: string): number | undefined => {
    const value = tokenizerConfig[key];
    const text = typeof value === "string" ? value : (value as { content?: string } | undefined)?.content;
    if (text === undefined) return undefined;
    const vocab = tokenizerJson.model.vocab;
    return Array.isArray(vocab) ? vocab.findIndex(([piece]) => piece === text) : vocab[text];
  };
  const bos = tokenId("bos_token");
  const eos = tokenId("eos_token");
  const config = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: hiddenSize,
    intermediate_size: decoder.intermediateSize,
    num_hidden_layers: decoder.layers,
    num_attention_heads: heads,
    num_key_value_heads: decoder.kvHeads,
    head_dim: decoder.headDim,
    max_position_embeddings: decoder.maxContext,
    rms_norm_eps: decoder.rmsNormEps,
    rope_theta: decoder.ropeTheta,
    vocab_size: vocabSize,
    tie_word_embeddings: false,
    torch_dtype: dtype,
    use_cache: true,
    ...(bos !== undefined ? { bos_token_id: bos } : {}),
    ...(eos !== undefined ? { eos_token_id: eos } : {}),
  };
  await writeFile(join(spec.dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  if (!spec.omitGenerationConfig) {
    const eosIds = [...(eos !== undefined ? [eos] : []), ...(spec.extraEosTokenIds ?? [])];
    const generation = { ...(bos !== undefined ? { bos_token_id: bos } : {}), eos_token_id: eosIds.length === 1 ? eosIds[0] : eosIds };
    await writeFile(join(spec.dir, "generation_config.json"), `${JSON.stringify(generation, null, 2)}\n`);
  }
  for (const file of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"]) {
    if (await exists(join(spec.tokenizerDir, file))) await copyFile(join(spec.tokenizerDir, file), join(spec.dir, file));
  }
  return { dir: spec.dir, graphPath, externalFiles: dataFiles.map((f) => join(graphDir, f.name)), vocabSize, config };
}
