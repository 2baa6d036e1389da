import { readFile } from "node:fs/promises";
import { ModelFileNotFoundError, UnsupportedTokenizerError } from "./errors.ts";
import { plainChatText, type Tokenizer } from "./tokenizer.ts";

/** GPT-2's pre-tokenizer pattern, used by a ByteLevel pre-tokenizer with use_regex. */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const BOS_NAMES = ["<|begin_of_text|>", "<s>", "<|startoftext|>", "<bos>"];
const EOS_NAMES = ["<|end_of_text|>", "</s>", "<|endoftext|>", "<eos>", "<|eot_id|>", "<|im_end|>"];

/**
 * GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes map to
 * themselves, the rest to U+0100 upwards, so that every byte sequence is a string of "visible" symbols.
 */
function byteToUnicodeTable(): string[] {
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : next++);
  }
  return table;
}
export const BYTE_TO_CHAR: readonly string[] = byteToUnicodeTable();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((ch, b) => [ch, b]));

/**
 * Rewrites Python/Rust-style scoped case-insensitive groups `(?i:...)` (Llama 3's pattern), which
 * Node 22's RegExp lacks, into plain groups with each ASCII letter as a [xX] class.
 */
export function expandCaseInsensitiveGroups(pattern: string): string {
  let out = "";
  let i = 0;
  while (i < pattern.length) {
    if (pattern.startsWith("(?i:", i)) {
      let depth = 1;
      let j = i + 4;
      let body = "";
      while (j < pattern.length && depth > 0) {
        const ch = pattern[j]!;
        if (ch === "\\") {
          body += ch + (pattern[j + 1] ?? "");
          j += 2;
          continue;
        }
        if (ch === "(") depth++;
        if (ch === ")" && --depth === 0) break;
        body += /[a-z]/i.test(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch;
        j++;
      }
      out += `(?:${body})`;
      i = j + 1;
    } else if (pattern[i] === "\\") {
      out += pattern.slice(i, i + 2);
      i += 2;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; ignore_merges?: boolean; byte_fallback?: boolean };
  pre_tokenizer?: PreTokenizerJson | null;
  normalizer?: { type?: string } | null;
  decoder?: { type?: string; decoders?: { type?: string }[] } | null;
  added_tokens?: AddedToken[];
  post_processor?: { type?: string; single?: { SpecialToken?: { id?: string } }[]; special_tokens?: Record<string, { ids?: number[] }> } | null;
}

interface PreTokenizerJson {
  type?: string;
  pretokenizers?: PreTokenizerJson[];
  pattern?: { Regex?: string; String?: string };
  behavior?: string;
  invert?: boolean;
  add_prefix_space?: boolean;
  use_regex?: boolean;
}

function unsupported(message: string, field: string): never {
  throw new UnsupportedTokenizerError(`tokenizer.json ${field}: ${message}`, field);
}

/** The split patterns and prefix-space rule of a byte-level pre-tokenizer chain. */
function readPreTokenizer(json: PreTokenizerJson | null | undefined): { patterns: RegExp[]; addPrefixSpace: boolean } {
  if (!json) unsupported("no pre_tokenizer; only byte-level BPE (GPT-2 / Llama 3 style) is supported", "pre_tokenizer");
  const steps = json.type === "Sequence" ? (json.pretokenizers ?? []) : [json];
  const patterns: RegExp[] = [];
  let sawByteLevel = false;
  let addPrefixSpace = false;
  for (const step of steps) {
    if (step.type === "ByteLevel") {
      sawByteLevel = true;
      addPrefixSpace = step.add_prefix_space === true;
      if (step.use_regex !== false) patterns.push(new RegExp(GPT2_PATTERN, "gu"));
    } else if (step.type === "Split") {
      const source = step.pattern?.Regex ?? (step.pattern?.String !== undefined ? step.pattern.String.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : undefined);
      if (source === undefined || step.invert === true || (step.behavior !== undefined && step.behavior !== "Isolated")) {
        unsupported(`Split with behavior ${String(step.behavior)}, invert ${String(step.invert)} is not supported`, "pre_tokenizer");
      }
      try {
        patterns.push(new RegExp(expandCaseInsensitiveGroups(source), "gu"));
      } catch (error) {
        unsupported(`Split pattern does not compile: ${(error as Error).message}`, "pre_tokenizer");
      }
    } else if (step.type === "Digits" || step.type === "Punctuation" || step.type === "Whitespace" || step.type === "Metaspace") {
      unsupported(`pre-tokenizer ${step.type} is not supported (byte-level BPE only)`, "pre_tokenizer");
    } else {
      unsupported(`pre-tokenizer ${String(step.type)} is not supported`, "pre_tokenizer");
    }
  }
  if (!sawByteLevel) unsupported("no ByteLevel step; only byte-level BPE is supported", "pre_tokenizer");
  return { patterns, addPrefixSpace };
}

/** Splits `text` into the matches of `pattern` and the gaps between them ("Isolated"). */
function isolate(text: string, pattern: RegExp): string[] {
  const pieces: string[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) pieces.push(text.slice(last, match.index));
    if (match[0].length > 0) pieces.push(match[0]);
    last = match.index + match[0].length;
  }
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}

/** Byte-level BPE from a Hugging Face tokenizer.json (GPT-2, Llama 3, Qwen and similar). */
export class HfByteLevelTokenizer implements Tokenizer {
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  /** Largest token id the tokenizer can produce. */
  readonly maxTokenId: number;
  private readonly vocab: Map<string, number>;
  private readonly idToToken: Map<number, string>;
  private readonly mergeRanks: Map<string, number>;
  private readonly ignoreMerges: boolean;
  private readonly patterns: RegExp[];
  private readonly addPrefixSpace: boolean;
  private readonly nfc: boolean;
  private readonly added: AddedToken[];
  private readonly addedSplitter?: RegExp;
  private readonly specialIds: Set<number>;
  private readonly addedIds: Set<number>;
  private readonly cache = new Map<string, number[]>();

  constructor(json: TokenizerJson) {
    const model = json.model;
    if (!model || model.type !== "BPE") unsupported(`model type ${JSON.stringify(model?.type)} is not supported (BPE only)`, "model.type");
    if (!model.vocab || typeof model.vocab !== "object") unsupported("BPE model has no vocab", "model.vocab");
    if (model.byte_fallback === true) unsupported("byte_fallback BPE (SentencePiece style) is not supported", "model.byte_fallback");
    if (json.normalizer && json.normalizer.type !== "NFC") unsupported(`normalizer ${String(json.normalizer.type)} is not supported`, "normalizer");
    this.nfc = json.normalizer?.type === "NFC";
    const decoderTypes = json.decoder?.type === "Sequence" ? (json.decoder.decoders ?? []).map((d) => d.type) : [json.decoder?.type];
    if (!decoderTypes.includes("ByteLevel")) unsupported(`decoder ${JSON.stringify(json.decoder?.type)} is not ByteLevel`, "decoder");
    ({ patterns: this.patterns, addPrefixSpace: this.addPrefixSpace } = readPreTokenizer(json.pre_tokenizer));

    this.vocab = new Map(Object.entries(model.vocab));
    this.idToToken = new Map([...this.vocab].map(([token, id]) => [id, token]));
    this.mergeRanks = new Map();
    (model.merges ?? []).forEach((merge, rank) => {
      const [a, b] = typeof merge === "string" ? splitMerge(merge) : merge;
      this.mergeRanks.set(`${a} ${b}`, rank);
    });
    this.ignoreMerges = model.ignore_merges === true;
    this.added = (json.added_tokens ?? []).filter((t) => typeof t.content === "string" && t.content.length > 0 && Number.isInteger(t.id));
    for (const token of this.added) this.idToToken.set(token.id, token.content);
    this.specialIds = new Set(this.added.filter((t) => t.special).map((t) => t.id));
    this.addedIds = new Set(this.added.map((t) => t.id));
    if (this.added.length > 0) {
      const sorted = [...this.added].sort((a, b) => b.content.length - a.content.length);
      this.addedSplitter = new RegExp(sorted.map((t) => t.content.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "gu");
    }
    this.maxTokenId = Math.max(...this.idToToken.keys());
    const byName = (names: string[]) => names.map((n) => this.added.find((t) => t.content === n)?.id).find((id) => id !== undefined);
    const templateBos = json.post_processor?.single?.[0]?.SpecialToken?.id;
    const bos = (templateBos !== undefined ? this.added.find((t) => t.content === templateBos)?.id : undefined) ?? byName(BOS_NAMES);
    const eos = byName(EOS_NAMES);
    if (bos !== undefined) this.bosTokenId = bos;
    if (eos !== undefined) this.eosTokenId = eos;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    const source = this.nfc ? text.normalize("NFC") : text;
    if (!this.addedSplitter) {
      this.encodeOrdinary(source, ids, true);
      return ids;
    }
    let last = 0;
    let first = true;
    for (const match of source.matchAll(this.addedSplitter)) {
      if (match.index > last) this.encodeOrdinary(source.slice(last, match.index), ids, first);
      ids.push(this.added.find((t) => t.content === match[0])!.id);
      last = match.index + match[0].length;
      first = false;
    }
    if (last < source.length) this.encodeOrdinary(source.slice(last), ids, first);
    return ids;
  }

  private encodeOrdinary(text: string, ids: number[], atStart: boolean): void {
    let pieces = [atStart && this.addPrefixSpace && !text.startsWith(" ") ? ` ${text}` : text];
    for (const pattern of this.patterns) pieces = pieces.flatMap((piece) => isolate(piece, pattern));
    const encoder = new TextEncoder();
    for (const piece of pieces) {
      let mapped = "";
      for (const byte of encoder.encode(piece)) mapped += BYTE_TO_CHAR[byte]!;
      for (const id of this.bpe(mapped)) ids.push(id);
    }
  }

  /** Applies merges lowest rank first until none applies, then maps symbols to ids. */
  private bpe(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    let result: number[];
    const whole = this.vocab.get(word);
    if (this.ignoreMerges && whole !== undefined) {
      result = [whole];
    } else {
      let symbols = Array.from(word);
      while (symbols.length > 1) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i < symbols.length - 1; i++) {
          const rank = this.mergeRanks.get(`${symbols[i]} ${symbols[i + 1]}`);
          if (rank !== undefined && rank < bestRank) {
            bestRank = rank;
            best = i;
          }
        }
        if (best < 0) break;
        const a = symbols[best]!;
        const b = symbols[best + 1]!;
        const merged: string[] = [];
        for (let i = 0; i < symbols.length; i++) {
          if (i < symbols.length - 1 && symbols[i] === a && symbols[i + 1] === b) {
            merged.push(a + b);
            i++;
          } else {
            merged.push(symbols[i]!);
          }
        }
        symbols = merged;
      }
      result = symbols.map((symbol) => {
        const id = this.vocab.get(symbol);
        if (id === undefined) {
          throw new UnsupportedTokenizerError(`symbol ${JSON.stringify(symbol)} has no id in model.vocab (incomplete byte alphabet)`, "model.vocab");
        }
        return id;
      });
    }
    if (this.cache.size < 100_000) this.cache.set(word, result);
    return result;
  }

  decode(tokens: readonly number[]): string {
    const bytes: number[] = [];
    const encoder = new TextEncoder();
    for (const id of tokens) {
      if (this.specialIds.has(id)) continue;
      const token = this.idToToken.get(id);
      if (token === undefined) continue;
      if (this.addedIds.has(id)) {
        bytes.push(...encoder.encode(token));
        continue;
      }
      for (const ch of token) {
        const byte = CHAR_TO_BYTE.get(ch);
        if (byte !== undefined) bytes.push(byte);
        else bytes.push(...encoder.encode(ch));
      }
    }
    return new TextDecoder("utf-8").decode(Uint8Array.from(bytes));
  }

  chatPrompt(messages: { role: string; content: string }[]): number[] {
    const ids = this.encode(plainChatText(messages));
    return this.bosTokenId === undefined ? ids : [this.bosTokenId, ...ids];
  }
}

function splitMerge(merge: string): [string, string] {
  const space = merge.indexOf(" ", 1);
  if (space < 0) unsupported(`merge ${JSON.stringify(merge)} is not "a b"`, "model.merges");
  return [merge.slice(0, space), merge.slice(space + 1)];
}

/** Reads a Hugging Face tokenizer.json; throws typed errors for a missing file, bad JSON or an unsupported type. */
export async function loadHfTokenizer(path: string): Promise<HfByteLevelTokenizer> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ModelFileNotFoundError(`tokenizerPath ${JSON.stringify(path)} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, "tokenizerPath");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UnsupportedTokenizerError(`tokenizerPath ${JSON.stringify(path)} is not JSON: ${(error as Error).message}`, "tokenizerPath");
  }
  if (json === null || typeof json !== "object") throw new UnsupportedTokenizerError(`tokenizerPath ${JSON.stringify(path)} is not a JSON object`, "tokenizerPath");
  return new HfByteLevelTokenizer(json as TokenizerJson);
}
