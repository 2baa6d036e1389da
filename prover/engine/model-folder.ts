/**
 * A Hugging Face model folder in the layout Optimum and transformers.js exports use:
 *
 *   config.json              architecture (heads, KV heads, head size, context length)   required
 *   generation_config.json   eos_token_id (int or list): generation stops on each           optional
 *   tokenizer.json           the tokenizer                                                  required
 *   tokenizer_config.json    special tokens, chat_template                                 optional (then: no template, a warning)
 *   chat_template.jinja      the chat template, as newer exports write it                  optional (wins over the config's)
 *   onnx/model.onnx or model.onnx  the graph, with its external data beside it            required (or modelFile)
 *
 * Each missing or unreadable file is a ModelFolderError naming it; nothing is guessed.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join, normalize, resolve, sep } from "node:path";
import { ModelFolderError } from "./errors.ts";

/** Where exports put the graph, in the order they are looked for. */
export const GRAPH_CANDIDATES = ["onnx/model.onnx", "model.onnx"] as const;

export interface ModelArchitecture {
  modelType?: string;
  hiddenSize?: number;
  attentionHeads?: number;
  /** num_key_value_heads (GQA); equal to attentionHeads without GQA. */
  kvHeads?: number;
  headDim?: number;
  maxPositionEmbeddings?: number;
  /** torch_dtype / dtype as exported (informational: the graph's own types decide). */
  dtype?: string;
}

export interface ModelFolder {
  dir: string;
  /** The folder's name, unless the caller names the model. */
  modelId: string;
  graphPath: string;
  tokenizerPath: string;
  tokenizerConfigPath?: string;
  chatTemplatePath?: string;
  architecture: ModelArchitecture;
  /** generation_config.json's eos_token_id values (and config.json's, when there is no generation config). */
  eosTokenIds: number[];
  /** Files that are optional and absent, for the start-up warnings. */
  missingOptional: string[];
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

async function readJsonFile(path: string, file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ModelFolderError(`${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, file);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ModelFolderError(`${file} is not JSON: ${(error as Error).message}`, file);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ModelFolderError(`${file} is not a JSON object`, file);
  return value as Record<string, unknown>;
}

function positiveInt(value: unknown, file: string, key: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw new ModelFolderError(`${file}: ${key} must be a positive integer, got ${JSON.stringify(value)}`, file);
  return value as number;
}

/** eos_token_id: an int, a list of ints, or absent. */
function tokenIds(value: unknown, file: string, key: string): number[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const id of list) {
    if (!Number.isSafeInteger(id) || id < 0) throw new ModelFolderError(`${file}: ${key} must be a token id or a list of them, got ${JSON.stringify(value)}`, file);
  }
  return list as number[];
}

function architectureOf(config: Record<string, unknown>): ModelArchitecture {
  // Multimodal and newer configs nest the language model's settings under text_config.
  const text = (config.text_config && typeof config.text_config === "object" ? config.text_config : config) as Record<string, unknown>;
  const file = "config.json";
  const hiddenSize = positiveInt(text.hidden_size ?? text.n_embd ?? text.d_model, file, "hidden_size");
  const attentionHeads = positiveInt(text.num_attention_heads ?? text.n_head, file, "num_attention_heads");
  const kvHeads = positiveInt(text.num_key_value_heads, file, "num_key_value_heads") ?? attentionHeads;
  const headDim = positiveInt(text.head_dim, file, "head_dim") ?? (hiddenSize && attentionHeads ? hiddenSize / attentionHeads : undefined);
  const maxPositionEmbeddings = positiveInt(text.max_position_embeddings ?? text.n_positions, file, "max_position_embeddings");
  const dtype = typeof (config.torch_dtype ?? config.dtype) === "string" ? String(config.torch_dtype ?? config.dtype) : undefined;
  return {
    ...(typeof config.model_type === "string" ? { modelType: config.model_type } : {}),
    ...(hiddenSize ? { hiddenSize } : {}),
    ...(attentionHeads ? { attentionHeads } : {}),
    ...(kvHeads ? { kvHeads } : {}),
    ...(headDim && Number.isInteger(headDim) ? { headDim } : {}),
    ...(maxPositionEmbeddings ? { maxPositionEmbeddings } : {}),
    ...(dtype ? { dtype } : {}),
  };
}

/** A path inside the folder, as given relative to it. */
function inside(dir: string, relative: string, field: string): string {
  const path = resolve(dir, relative);
  if (path !== dir && !path.startsWith(dir + sep)) throw new ModelFolderError(`${field} ${JSON.stringify(relative)} is outside the model folder`, field);
  return path;
}

export interface ReadFolderOptions {
  /** The graph to use, relative to the folder (e.g. onnx/model_fp16.onnx); default onnx/model.onnx, then model.onnx. */
  modelFile?: string;
}

export async function readModelFolder(folder: string, options: ReadFolderOptions = {}): Promise<ModelFolder> {
  const dir = resolve(folder);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new ModelFolderError(`modelDir ${JSON.stringify(folder)} is not a folder`, "modelDir");

  const config = await readJsonFile(join(dir, "config.json"), "config.json");
  const architecture = architectureOf(config);
  const missingOptional: string[] = [];

  let graphPath: string | undefined;
  if (options.modelFile !== undefined) {
    graphPath = inside(dir, normalize(options.modelFile), "modelFile");
    if (!(await isFile(graphPath))) throw new ModelFolderError(`${options.modelFile} is missing from ${dir}`, options.modelFile);
  } else {
    for (const candidate of GRAPH_CANDIDATES) {
      if (await isFile(join(dir, candidate))) {
        graphPath = join(dir, candidate);
        break;
      }
    }
    if (!graphPath) {
      const found = [
        ...(await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".onnx")),
        ...(await readdir(join(dir, "onnx")).catch(() => [] as string[])).filter((f) => f.endsWith(".onnx")).map((f) => `onnx/${f}`),
      ];
      throw new ModelFolderError(
        `${GRAPH_CANDIDATES.join(" or ")} is missing from ${dir}` + (found.length > 0 ? ` (it has ${found.join(", ")}: choose one with modelFile / --model-file)` : ""),
        "model.onnx",
      );
    }
  }

  const tokenizerPath = join(dir, "tokenizer.json");
  if (!(await isFile(tokenizerPath))) throw new ModelFolderError(`tokenizer.json is missing from ${dir}`, "tokenizer.json");
  const tokenizerConfigPath = join(dir, "tokenizer_config.json");
  const hasTokenizerConfig = await isFile(tokenizerConfigPath);
  if (!hasTokenizerConfig) missingOptional.push("tokenizer_config.json");
  const chatTemplatePath = join(dir, "chat_template.jinja");
  const hasTemplateFile = await isFile(chatTemplatePath);

  let eosTokenIds: number[];
  const generationPath = join(dir, "generation_config.json");
  if (await isFile(generationPath)) {
    const generation = await readJsonFile(generationPath, "generation_config.json");
    eosTokenIds = tokenIds(generation.eos_token_id, "generation_config.json", "eos_token_id");
  } else {
    missingOptional.push("generation_config.json");
    eosTokenIds = tokenIds(config.eos_token_id, "config.json", "eos_token_id");
  }

  return {
    dir,
    modelId: basename(dir),
    graphPath,
    tokenizerPath,
    ...(hasTokenizerConfig ? { tokenizerConfigPath } : {}),
    ...(hasTemplateFile ? { chatTemplatePath } : {}),
    architecture,
    eosTokenIds,
    missingOptional,
  };
}
