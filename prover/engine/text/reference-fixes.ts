/**
 * Where @huggingface/tokenizers (0.2.0) departs from the Rust `tokenizers` library, which
 * defines what a tokenizer.json means, exact versions of those components are installed on the
 * objects the library built (found by their `config.type`; the library itself is not modified):
 *
 * - Precompiled normalizer: the library approximates SentencePiece's charsmap by NFKC plus a
 *   fixed whitespace table; here the charsmap itself is read (a Darts double-array trie over
 *   UTF-8, then the replacement strings) and applied per grapheme, then per character, as
 *   spm_precompiled does. The approximation turns U+200D (emoji ZWJ sequences) into a space.
 * - ByteFallback decoder: a run of <0xNN> tokens that is not valid UTF-8 becomes one U+FFFD per
 *   byte, as in Rust (the library's TextDecoder keeps the valid parts and merges replacements).
 * - Metaspace decoder: the first token loses every replacement character (not one leading
 *   space), and none with prepend_scheme "never".
 *
 * test/prover/tokenizer-fixtures.test.ts compares the result with the Rust library's ids and
 * transformers' decodes for the same files.
 */
import { UnsupportedTokenizerError } from "../errors.ts";

interface LibraryComponent {
  config?: { type?: string; [key: string]: unknown };
  normalizers?: LibraryComponent[];
  decoders?: LibraryComponent[];
  normalize?: (text: string) => string;
  decode_chain?: (tokens: string[]) => string[];
}

/** SentencePiece's precompiled normalization map (the `precompiled_charsmap` of a Precompiled normalizer). */
export class PrecompiledCharsmap {
  private readonly trie: Uint32Array;
  private readonly normalized: Uint8Array;
  private readonly segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(base64: string) {
    const bytes = Buffer.from(base64, "base64");
    if (bytes.length < 4) throw new UnsupportedTokenizerError("normalizer Precompiled: precompiled_charsmap is too short", "normalizer.precompiled_charsmap");
    const trieBytes = bytes.readUInt32LE(0);
    if (trieBytes % 4 !== 0 || 4 + trieBytes > bytes.length) {
      throw new UnsupportedTokenizerError("normalizer Precompiled: precompiled_charsmap has a bad trie size", "normalizer.precompiled_charsmap");
    }
    this.trie = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.trie.length; i++) this.trie[i] = bytes.readUInt32LE(4 + i * 4);
    this.normalized = Uint8Array.from(bytes.subarray(4 + trieBytes));
  }

  /** Darts-clone common prefix search: the values of every key that is a prefix of `key`. */
  private prefixValues(key: Uint8Array): number[] {
    const results: number[] = [];
    const trie = this.trie;
    let position = 0;
    let unit = trie[position] ?? 0;
    position ^= offsetOf(unit);
    for (const byte of key) {
      if (byte === 0) break;
      position ^= byte;
      unit = trie[position] ?? 0;
      if (labelOf(unit) !== byte) return results;
      position ^= offsetOf(unit);
      if (((unit >>> 8) & 1) === 1) results.push((trie[position] ?? 0) & 0x7fffffff);
    }
    return results;
  }

  /** The replacement of `chunk` (the first prefix match, as spm_precompiled takes it), or undefined. */
  private transform(chunk: string): string | undefined {
    const matches = this.prefixValues(this.encoder.encode(chunk));
    if (matches.length === 0) return undefined;
    const start = matches[0]!;
    let end = start;
    while (end < this.normalized.length && this.normalized[end] !== 0) end++;
    return this.decoder.decode(this.normalized.subarray(start, end));
  }

  normalize(text: string): string {
    let out = "";
    for (const { segment } of this.segmenter.segment(text)) {
      if (this.encoder.encode(segment).length < 6) {
        const whole = this.transform(segment);
        if (whole !== undefined) {
          out += whole;
          continue;
        }
      }
      for (const char of segment) out += this.transform(char) ?? char;
    }
    return out;
  }
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

function labelOf(unit: number): number {
  return unit & ((1 << 31) | 0xff);
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** Rust's ByteFallback: byte tokens in a row are one UTF-8 string, or one U+FFFD per byte when invalid. */
function byteFallbackChain(tokens: string[]): string[] {
  const out: string[] = [];
  let run: number[] = [];
  const strict = new TextDecoder("utf-8", { fatal: true });
  const closeRun = () => {
    if (run.length === 0) return;
    try {
      out.push(strict.decode(Uint8Array.from(run)));
    } catch {
      out.push("\uFFFD".repeat(run.length));
    }
    run = [];
  };
  for (const token of tokens) {
    const match = BYTE_TOKEN.exec(token);
    if (match) {
      run.push(parseInt(match[1]!, 16));
      continue;
    }
    closeRun();
    out.push(token);
  }
  closeRun();
  return out;
}

/** Rust's Metaspace decoder: the replacement becomes a space, except in the first token (dropped there) unless prepend_scheme is "never". */
function metaspaceChain(replacement: string, prependNever: boolean): (tokens: string[]) => string[] {
  return (tokens) => tokens.map((token, i) => token.replaceAll(replacement, i === 0 && !prependNever ? "" : " "));
}

function components(root: LibraryComponent | null | undefined, childKey: "normalizers" | "decoders"): LibraryComponent[] {
  if (!root) return [];
  const children = root[childKey];
  return [root, ...(Array.isArray(children) ? children.flatMap((child) => components(child, childKey)) : [])];
}

/** Installs the exact components on a library tokenizer; refuses if the library's shape is not the one these fixes were written for. */
export function applyReferenceFixes(library: { normalizer: unknown; decoder: unknown }): void {
  for (const normalizer of components(library.normalizer as LibraryComponent, "normalizers")) {
    if (normalizer.config?.type !== "Precompiled") continue;
    const charsmap = normalizer.config.precompiled_charsmap;
    if (typeof normalizer.normalize !== "function") throw new UnsupportedTokenizerError("the tokenizer library's Precompiled normalizer has an unexpected shape", "normalizer");
    if (charsmap === null || charsmap === undefined) {
      normalizer.normalize = (text) => text; // an empty map normalizes nothing
      continue;
    }
    if (typeof charsmap !== "string") throw new UnsupportedTokenizerError("normalizer Precompiled: precompiled_charsmap must be base64 text", "normalizer.precompiled_charsmap");
    const exact = new PrecompiledCharsmap(charsmap);
    normalizer.normalize = (text) => exact.normalize(text);
  }
  for (const decoder of components(library.decoder as LibraryComponent, "decoders")) {
    const type = decoder.config?.type;
    if (type !== "ByteFallback" && type !== "Metaspace") continue;
    if (typeof decoder.decode_chain !== "function") throw new UnsupportedTokenizerError(`the tokenizer library's ${type} decoder has an unexpected shape`, "decoder");
    if (type === "ByteFallback") decoder.decode_chain = byteFallbackChain;
    else {
      const replacement = typeof decoder.config!.replacement === "string" ? decoder.config!.replacement : "\u2581";
      // Older files say add_prefix_space instead of prepend_scheme.
      const scheme = decoder.config!.prepend_scheme ?? (decoder.config!.add_prefix_space === false ? "never" : "always");
      decoder.decode_chain = metaspaceChain(replacement, scheme === "never");
    }
  }
}
