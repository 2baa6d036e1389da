/**
 * A Hugging Face tokenizer.json (with its tokenizer_config.json) on @huggingface/tokenizers,
 * the tokenizer code of transformers.js: byte-level BPE (GPT-2, Llama 3, Qwen), SentencePiece
 * BPE with Metaspace or Prepend/Replace normalizers and byte fallback (Llama 2, Mistral, Gemma),
 * Unigram with the Precompiled normalizer (T5 family), WordPiece; every normalizer,
 * pre-tokenizer, post-processor and decoder the file names, and its added and special tokens.
 * Checked against the Rust library's ids for the same files (test/fixtures/hf).
 *
 * What this layer decides (the library leaves it to the caller):
 * - which component types are accepted: anything the library would not run exactly is refused at
 *   load with UnsupportedTokenizerError naming the JSON path, never guessed at;
 * - decode skips special tokens and never applies clean_up_tokenization_spaces to BPE or
 *   Unigram models (transformers 5 does not either: it removes real spaces before punctuation);
 * - the chat template (ChatTemplate), BOS/EOS from the config, and the stop tokens.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { Tokenizer as LibraryTokenizer } from "@huggingface/tokenizers";
import { ModelFileNotFoundError, UnsupportedTokenizerError } from "../errors.ts";
import { ChatTemplate, TEMPLATE_SPECIAL_TOKENS, templateFromConfig } from "./chat-template.ts";
import { applyReferenceFixes } from "./reference-fixes.ts";
import { IncrementalDecoder, type StreamDecoder } from "./stream-decoder.ts";
import { plainChatText, type ChatMessage, type Tokenizer } from "./tokenizer.ts";

const MODELS = new Set(["BPE", "Unigram", "WordPiece"]);
const NORMALIZERS = new Set(["BertNormalizer", "Precompiled", "Sequence", "Replace", "NFC", "NFD", "NFKC", "NFKD", "Strip", "StripAccents", "Lowercase", "Prepend"]);
const PRE_TOKENIZERS = new Set(["BertPreTokenizer", "Sequence", "Whitespace", "WhitespaceSplit", "Metaspace", "ByteLevel", "Split", "Punctuation", "Digits", "Replace", "FixedLength"]);
const POST_PROCESSORS = new Set(["TemplateProcessing", "ByteLevel", "BertProcessing", "RobertaProcessing", "Sequence"]);
const DECODERS = new Set(["ByteLevel", "WordPiece", "Metaspace", "BPEDecoder", "CTC", "Sequence", "Replace", "Fuse", "Strip", "ByteFallback"]);
/** Split behaviours the library reproduces (it documents MergedWithPrevious/Next and Contiguous as not). */
const SPLIT_BEHAVIORS = new Set(["Isolated", "Removed", undefined]);

/** Names of BOS/EOS tokens used when a tokenizer.json comes without its tokenizer_config.json. */
const BOS_NAMES = ["<|begin_of_text|>", "<s>", "<|startoftext|>", "<bos>"];
const EOS_NAMES = ["<|end_of_text|>", "</s>", "<|endoftext|>", "<eos>", "<|eot_id|>", "<|im_end|>"];

type Json = Record<string, unknown>;

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

function hasByteFallback(decoder: unknown): boolean {
  if (!isObject(decoder)) return false;
  if (decoder.type === "ByteFallback") return true;
  return Array.isArray(decoder.decoders) && decoder.decoders.some(hasByteFallback);
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function unsupported(file: string, path: string, message: string): never {
  throw new UnsupportedTokenizerError(`${file} ${path}: ${message}`, path);
}

/** Walks one component (and its Sequence children), refusing types the library does not implement. */
function checkComponent(file: string, path: string, value: unknown, allowed: ReadonlySet<string>, childKey: string): void {
  if (value === null || value === undefined) return;
  if (!isObject(value)) unsupported(file, path, "must be an object or null");
  const type = value.type;
  if (typeof type !== "string" || !allowed.has(type)) {
    unsupported(file, `${path}.type`, `${JSON.stringify(type)} is not supported (supported: ${[...allowed].join(", ")})`);
  }
  if (type === "Split" && !SPLIT_BEHAVIORS.has(value.behavior as string | undefined)) {
    unsupported(file, `${path}.behavior`, `Split behavior ${JSON.stringify(value.behavior)} is not supported (Isolated, Removed)`);
  }
  if (type === "Sequence") {
    const children = value[childKey];
    if (!Array.isArray(children)) unsupported(file, `${path}.${childKey}`, "must be an array");
    children.forEach((child, i) => checkComponent(file, `${path}.${childKey}[${i}]`, child, allowed, childKey));
  }
}

/** Refuses a tokenizer.json this loader cannot run exactly as the reference does. */
export function checkTokenizerJson(json: unknown, file: string): asserts json is Json {
  if (!isObject(json)) unsupported(file, "(root)", "is not a JSON object");
  const model = json.model;
  if (!isObject(model)) unsupported(file, "model", "is missing");
  if (typeof model.type !== "string" || !MODELS.has(model.type)) {
    unsupported(file, "model.type", `${JSON.stringify(model.type)} is not supported (supported: ${[...MODELS].join(", ")})`);
  }
  if (model.dropout !== undefined && model.dropout !== null && model.dropout !== 0) unsupported(file, "model.dropout", "BPE dropout makes encoding random");
  checkComponent(file, "normalizer", json.normalizer, NORMALIZERS, "normalizers");
  checkComponent(file, "pre_tokenizer", json.pre_tokenizer, PRE_TOKENIZERS, "pretokenizers");
  checkComponent(file, "post_processor", json.post_processor, POST_PROCESSORS, "processors");
  checkComponent(file, "decoder", json.decoder, DECODERS, "decoders");
  if (json.added_tokens !== undefined && !Array.isArray(json.added_tokens)) unsupported(file, "added_tokens", "must be an array");
}

/** A special token entry of tokenizer_config.json: "<s>" or {"content": "<s>", ...}. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (isObject(value) && typeof value.content === "string") return value.content;
  return undefined;
}

export interface HfTokenizerSources {
  /** tokenizer.json. */
  tokenizerPath: string;
  /** tokenizer_config.json: special tokens, the chat template, decode options. */
  configPath?: string;
  /** chat_template.jinja, which newer exports write beside the config (it wins over the config's). */
  chatTemplatePath?: string;
  /** generation_config.json's eos_token_id values: generation stops on any of them too. */
  generationEosIds?: readonly number[];
}

async function readText(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new ModelFileNotFoundError(`${field} ${JSON.stringify(path)} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, field);
  }
}

async function readJson(path: string, field: string): Promise<unknown> {
  const text = await readText(path, field);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UnsupportedTokenizerError(`${basename(path)} is not JSON: ${(error as Error).message}`, field);
  }
}

export class HfTokenizer implements Tokenizer {
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly stopTokenIds: readonly number[];
  readonly maxTokenId: number;
  /** Why the tokenizer behaves differently from what the model's author wrote (no chat template, ...). */
  readonly warnings: readonly string[];
  /** Where the chat template came from; undefined: none, the plain format is used. */
  readonly chatTemplateFile?: string;
  private readonly cleanUpSpaces: boolean;
  /** Byte-fallback tokens (<0xNN>) where the decoder has ByteFallback: streaming waits for the end of their run. */
  private readonly byteTokens: ReadonlySet<number>;

  private constructor(
    private readonly library: LibraryTokenizer,
    private readonly template: ChatTemplate | undefined,
    init: { bos?: number; eos?: number; stop: number[]; maxTokenId: number; warnings: string[]; cleanUpSpaces: boolean; byteTokens: ReadonlySet<number> },
  ) {
    if (init.bos !== undefined) this.bosTokenId = init.bos;
    if (init.eos !== undefined) this.eosTokenId = init.eos;
    this.stopTokenIds = Object.freeze(init.stop);
    this.maxTokenId = init.maxTokenId;
    this.warnings = Object.freeze(init.warnings);
    this.cleanUpSpaces = init.cleanUpSpaces;
    this.byteTokens = init.byteTokens;
    if (template) this.chatTemplateFile = template.file;
  }

  /** Reads and checks the files; every problem is a typed error naming the file (and the JSON path). */
  static async load(sources: HfTokenizerSources): Promise<HfTokenizer> {
    const file = basename(sources.tokenizerPath);
    const json = await readJson(sources.tokenizerPath, "tokenizerPath");
    checkTokenizerJson(json, file);
    const configFile = sources.configPath ? basename(sources.configPath) : undefined;
    const config = sources.configPath ? await readJson(sources.configPath, "tokenizerConfigPath") : {};
    if (!isObject(config)) throw new UnsupportedTokenizerError(`${configFile} is not a JSON object`, "tokenizerConfigPath");
    const modelType = (json.model as Json).type as string;
    // The library reads these config keys itself; only what is given is passed on.
    const libraryConfig: Json = { clean_up_tokenization_spaces: false };
    for (const key of ["remove_space", "do_lowercase_and_remove_accent", ...TEMPLATE_SPECIAL_TOKENS] as const) {
      const value = config[key];
      if (value === undefined || value === null) continue;
      libraryConfig[key] = tokenText(value) ?? value;
    }
    // decode(skip_special_tokens) skips the config's special tokens too (transformers' all_special_ids),
    // also where tokenizer.json does not mark them special.
    const configSpecials = [...TEMPLATE_SPECIAL_TOKENS.map((key) => tokenText(config[key])), ...(Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens.map(tokenText) : [])];
    libraryConfig.additional_special_tokens = configSpecials.filter((t): t is string => t !== undefined);
    let library: LibraryTokenizer;
    try {
      library = new LibraryTokenizer(json, libraryConfig);
      applyReferenceFixes(library);
    } catch (error) {
      if (error instanceof UnsupportedTokenizerError) throw error;
      throw new UnsupportedTokenizerError(`${file} cannot be loaded: ${(error as Error).message}`, "tokenizerPath");
    }

    const idOf = (text: string | undefined, key: string): number | undefined => {
      if (text === undefined) return undefined;
      const id = library.token_to_id(text);
      if (id === undefined) throw new UnsupportedTokenizerError(`${configFile}: ${key} ${JSON.stringify(text)} is not a token of ${file}`, key);
      return id;
    };
    let bos: number | undefined;
    let eos: number | undefined;
    const warnings: string[] = [];
    if (sources.configPath) {
      bos = idOf(tokenText(config.bos_token), "bos_token");
      eos = idOf(tokenText(config.eos_token), "eos_token");
    } else {
      // A bare tokenizer.json: BOS and EOS by their usual names among the added tokens.
      const added = new Map([...library.get_added_tokens_decoder()].map(([id, token]) => [token.content, id] as const));
      bos = BOS_NAMES.map((name) => added.get(name)).find((id) => id !== undefined);
      eos = EOS_NAMES.map((name) => added.get(name)).find((id) => id !== undefined);
    }

    const specialTokens: Record<string, string | string[]> = {};
    for (const key of TEMPLATE_SPECIAL_TOKENS) {
      const text = tokenText(config[key]);
      if (text !== undefined) specialTokens[key] = text;
    }
    if (Array.isArray(config.additional_special_tokens)) {
      specialTokens.additional_special_tokens = config.additional_special_tokens.map(tokenText).filter((t): t is string => t !== undefined);
    }
    let template: ChatTemplate | undefined;
    if (sources.chatTemplatePath) {
      template = ChatTemplate.compile(await readText(sources.chatTemplatePath, "chatTemplatePath"), basename(sources.chatTemplatePath), specialTokens);
    } else {
      const source = templateFromConfig(config.chat_template, configFile ?? "tokenizer_config.json");
      if (source !== undefined) template = ChatTemplate.compile(source, configFile!, specialTokens);
    }
    if (!template) {
      warnings.push(`${sources.configPath ? `${configFile} has no chat_template` : "no tokenizer_config.json"}: chat prompts use the plain format <|role|>\\ncontent\\n (not the model's own)`);
    }

    let maxTokenId = 0;
    const byteTokens = new Set<number>();
    const fallback = hasByteFallback(json.decoder);
    for (const [token, id] of library.get_vocab(true)) {
      if (id > maxTokenId) maxTokenId = id;
      if (fallback && BYTE_TOKEN.test(token)) byteTokens.add(id);
    }
    const stop = new Set<number>();
    if (eos !== undefined) stop.add(eos);
    for (const id of sources.generationEosIds ?? []) stop.add(id);
    return new HfTokenizer(library, template, {
      ...(bos !== undefined ? { bos } : {}),
      ...(eos !== undefined ? { eos } : {}),
      stop: [...stop],
      maxTokenId,
      warnings,
      cleanUpSpaces: modelType === "WordPiece" && config.clean_up_tokenization_spaces === true,
      byteTokens,
    });
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  encode(text: string): number[] {
    return text.length === 0 ? [] : this.library.encode(text, { add_special_tokens: false }).ids;
  }

  promptTokens(text: string): number[] {
    return this.library.encode(text, { add_special_tokens: true }).ids;
  }

  decode(tokens: readonly number[]): string {
    if (tokens.length === 0) return "";
    return this.library.decode([...tokens], { skip_special_tokens: true, clean_up_tokenization_spaces: this.cleanUpSpaces });
  }

  /** decode() that keeps special tokens: for logs and tests. */
  decodeWithSpecialTokens(tokens: readonly number[]): string {
    if (tokens.length === 0) return "";
    return this.library.decode([...tokens], { skip_special_tokens: false, clean_up_tokenization_spaces: this.cleanUpSpaces });
  }

  streamDecoder(): StreamDecoder {
    return new IncrementalDecoder((tokens) => this.decode(tokens), (token) => this.byteTokens.has(token));
  }

  /** The prompt text of a conversation: the model's template, or the plain format without one. */
  chatText(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (this.template) return this.template.render(messages, options);
    return plainChatText(messages);
  }

  chatPrompt(messages: ChatMessage[]): number[] {
    if (this.template) return this.encode(this.template.render(messages, { addGenerationPrompt: true }));
    const ids = this.encode(plainChatText(messages));
    return this.bosTokenId === undefined ? ids : [this.bosTokenId, ...ids];
  }
}

/** A bare tokenizer.json (the --tokenizer flag): no config, so no template and BOS/EOS by their usual names. */
export function loadHfTokenizer(path: string): Promise<HfTokenizer> {
  return HfTokenizer.load({ tokenizerPath: path });
}
