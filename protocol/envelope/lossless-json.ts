/**
 * A JSON parser that keeps every number as the token it was written as.
 *
 * JSON.parse loses what a content hash depends on: Python writes the float 1.0 as "1.0" and the
 * int 1 as "1", but both parse to the JS number 1. Envelopes signed by Python tools can only be
 * re-hashed byte for byte if the lexical form survives, so numbers become JsonNumber tokens.
 * Duplicate keys are rejected: two readers could otherwise disagree on which value was signed.
 */
import { MalformedJsonError } from "./errors.ts";

/** A number exactly as written in the source text. */
export class JsonNumber {
  constructor(readonly raw: string) {}
  /** True when the token has no fraction or exponent, i.e. Python would read it as an int. */
  get isInteger(): boolean {
    return !/[.eE]/.test(this.raw) && !/(NaN|Infinity)/.test(this.raw);
  }
  valueOf(): number {
    return toNumber(this.raw);
  }
  toJSON(): number {
    return this.valueOf();
  }
}

export type JsonValue = null | boolean | string | number | JsonNumber | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

const MAX_DEPTH = 256;

function toNumber(raw: string): number {
  if (raw === "NaN") return NaN;
  if (raw === "Infinity") return Infinity;
  if (raw === "-Infinity") return -Infinity;
  return Number(raw);
}

export interface LosslessParseOptions {
  /** Accept Python's NaN, Infinity and -Infinity literals (json.dumps writes them by default). */
  allowNonFinite?: boolean;
}

/** Parses JSON text, keeping numbers as JsonNumber tokens. Throws MalformedJsonError. */
export function parseLossless(text: string, options: LosslessParseOptions = {}): JsonValue {
  const allowNonFinite = options.allowNonFinite ?? true;
  let i = 0;
  const n = text.length;

  const fail = (what: string): never => {
    const line = text.slice(0, i).split("\n").length;
    throw new MalformedJsonError(`malformed JSON at offset ${i} (line ${line}): ${what}`, `offset ${i}`);
  };
  const skipWs = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return true;
    }
    return false;
  };

  const parseString = (): string => {
    // Caller has checked text[i] === '"'.
    i++;
    let out = "";
    let start = i;
    for (;;) {
      if (i >= n) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail(`unescaped control character U+${c.toString(16).padStart(4, "0")} in string`);
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      const e = text[i + 1];
      i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case "\\": out += "\\"; break;
        case "/": out += "/"; break;
        case "b": out += "\b"; break;
        case "f": out += "\f"; break;
        case "n": out += "\n"; break;
        case "r": out += "\r"; break;
        case "t": out += "\t"; break;
        case "u": {
          const hex = text.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(`bad \\u escape "${hex}"`);
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          i--;
          fail(`bad escape "\\${e ?? ""}"`);
      }
      start = i;
    }
  };

  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const parseNumber = (): JsonNumber => {
    if (allowNonFinite) {
      if (literal("NaN")) return new JsonNumber("NaN");
      if (literal("Infinity")) return new JsonNumber("Infinity");
      if (literal("-Infinity")) return new JsonNumber("-Infinity");
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m || m[0] === "-") fail("bad number");
    i += m![0].length;
    return new JsonNumber(m![0]);
  };

  const parseValue = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    skipWs();
    if (i >= n) fail("unexpected end of input");
    const c = text[i]!;
    if (c === "{") {
      i++;
      const obj: JsonObject = {};
      const seen = new Set<string>();
      skipWs();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[i] !== '"') fail("expected a string key");
        const key = parseString();
        if (seen.has(key)) fail(`duplicate key "${key}"`);
        seen.add(key);
        skipWs();
        if (text[i] !== ":") fail('expected ":"');
        i++;
        const value = parseValue(depth + 1);
        // defineProperty so that a "__proto__" key is data, not a prototype change.
        Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
        skipWs();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return obj;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === "[") {
      i++;
      const arr: JsonValue[] = [];
      skipWs();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        skipWs();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return arr;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return parseString();
    if (literal("true")) return true;
    if (literal("false")) return false;
    if (literal("null")) return null;
    return parseNumber();
  };

  const value = parseValue(0);
  skipWs();
  if (i !== n) fail("trailing characters after the JSON value");
  return value;
}

/** Converts JsonNumber tokens to plain numbers (for reading metrics, not for hashing). */
export function toPlain(value: JsonValue): unknown {
  if (value instanceof JsonNumber) return value.valueOf();
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: toPlain(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}
