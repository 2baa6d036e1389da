/**
 * Canonical JSON, byte for byte as Python writes it with
 *   json.dumps(obj, sort_keys=True, separators=(",", ":"))   (ensure_ascii=True, allow_nan=True)
 *
 * InferenceBench v1 hashes exactly this text, and vb.envelope/1 uses the same form so that one
 * hasher serves both and a Python tool can check our envelopes. The rules that differ from
 * JSON.stringify:
 *  - keys sorted by code point (not UTF-16 unit), no whitespace;
 *  - every character outside printable ASCII is escaped as \uXXXX (lower-case hex), astral
 *    characters as surrogate pairs; \n \r \t \b \f " \\ use their short escapes;
 *  - floats are Python's repr: shortest round-trip digits, exponent form when the decimal point
 *    position is below -4 or above 16 ("1e-05", "1e+16"), and integral floats keep ".0";
 *  - NaN and +/-Infinity are written as NaN, Infinity, -Infinity.
 * A JsonNumber token keeps Python's int/float distinction; a plain JS number is written as an
 * int when it is a safe integer and as a float otherwise.
 */
import { CanonicalizationError } from "./errors.ts";
import { JsonNumber, type JsonValue } from "./lossless-json.ts";

/** Python's repr() of a float. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  // toExponential() with no argument gives the shortest digits that round-trip, as repr does.
  const exp = Math.abs(x).toExponential();
  const ePos = exp.indexOf("e");
  const digits = exp.slice(0, ePos).replace(".", "");
  const e = Number(exp.slice(ePos + 1));
  const decpt = e + 1;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
    if (decpt < digits.length) return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
    return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
  }
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const absE = Math.abs(e);
  return `${sign}${mantissa}e${e < 0 ? "-" : "+"}${absE < 10 ? "0" : ""}${absE}`;
}

/** How Python re-emits a number token it parsed (int stays int, float goes through repr). */
export function pythonNumberToken(raw: string): string {
  if (raw === "NaN" || raw === "Infinity" || raw === "-Infinity") return raw;
  if (!/[.eE]/.test(raw)) {
    if (!/^-?(0|[1-9][0-9]*)$/.test(raw)) throw new CanonicalizationError(`not a JSON number: "${raw}"`, "number");
    return BigInt(raw).toString();
  }
  const x = Number(raw);
  if (Number.isNaN(x)) throw new CanonicalizationError(`not a JSON number: "${raw}"`, "number");
  return pythonFloatRepr(x);
}

function numberToken(x: number): string {
  return Number.isSafeInteger(x) ? (x === 0 ? "0" : String(x)) : pythonFloatRepr(x);
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: "\\\\", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0c: "\\f" };

/** A string literal as Python's json.dumps(ensure_ascii=True) writes it. */
export function pythonStringLiteral(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) out += short;
    else if (c < 0x20 || c > 0x7e) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += s[i];
  }
  return out + '"';
}

/** Compares strings by Unicode code point, as Python's str ordering does. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (astral character) sorts above every BMP unit, unlike in UTF-16 order.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function write(value: unknown, path: string, out: string[], indent: string | null, level: number): void {
  if (value === null) return void out.push("null");
  if (value === true) return void out.push("true");
  if (value === false) return void out.push("false");
  if (typeof value === "string") return void out.push(pythonStringLiteral(value));
  if (typeof value === "number") return void out.push(numberToken(value));
  if (typeof value === "bigint") return void out.push(value.toString());
  if (value instanceof JsonNumber) return void out.push(pythonNumberToken(value.raw));
  const nl = indent === null ? "" : "\n" + indent.repeat(level + 1);
  const close = indent === null ? "" : "\n" + indent.repeat(level);
  if (Array.isArray(value)) {
    if (value.length === 0) return void out.push("[]");
    out.push("[");
    for (let i = 0; i < value.length; i++) {
      out.push(i === 0 ? nl : "," + nl);
      write(value[i], `${path}/${i}`, out, indent, level + 1);
    }
    out.push(close + "]");
    return;
  }
  if (typeof value === "object") {
    const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
    if (indent === null) keys.sort(compareCodePoints);
    if (keys.length === 0) return void out.push("{}");
    out.push("{");
    keys.forEach((k, i) => {
      out.push((i === 0 ? nl : "," + nl) + pythonStringLiteral(k) + (indent === null ? ":" : ": "));
      write((value as Record<string, unknown>)[k], `${path}/${k}`, out, indent, level + 1);
    });
    out.push(close + "}");
    return;
  }
  throw new CanonicalizationError(`cannot write a ${typeof value} as JSON at ${path || "/"}`, path || "/");
}

/** The canonical (hashed) text: sorted keys, compact, Python formatting. */
export function canonicalJson(value: JsonValue | unknown): string {
  const out: string[] = [];
  write(value, "", out, null, 0);
  return out.join("");
}

/**
 * Indented text for files, with the same number and string tokens as the canonical form, so that
 * parsing the file losslessly and re-canonicalizing gives back the hashed bytes. Keys keep their
 * insertion order (readability); hashing sorts them anyway.
 */
export function prettyJson(value: JsonValue | unknown): string {
  const out: string[] = [];
  write(value, "", out, "  ", 0);
  return out.join("") + "\n";
}
