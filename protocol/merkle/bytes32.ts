/**
 * 32-byte values (hashes) between hex strings and bytes, tuned for batches of 10^6: parsing
 * and printing run once per leaf, and on the reference machine a naive version costs more
 * than building the whole tree.
 *
 * Strings built by concatenation (viem's bytesToHex, `s += ...`) are V8 cons-strings, which
 * must be flattened (copied) on first read: ~1-2 us each. bytes32ToHex therefore returns flat
 * strings (latin1-decoded from a scratch buffer), and writeBytes32 reads a string with one
 * native utf8 write, then decodes the ASCII digits from bytes.
 */
import type { Hex } from "viem";
import { MalformedHashError } from "./errors.ts";

/** A 32-byte value as given by callers: 0x-prefixed hex (64 digits, any case) or raw bytes. */
export type Bytes32Input = Hex | Uint8Array;

/** Hex digit value of each ASCII code, -1 for anything else. */
const DIGIT = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) DIGIT[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  DIGIT[0x61 + c] = 10 + c;
  DIGIT[0x41 + c] = 10 + c;
}
const HEX_CODES = Buffer.from("0123456789abcdef", "latin1");

// Room for any 66-unit string in UTF-8 (at most 3 bytes a unit), so a write is never cut short.
const readScratch = Buffer.alloc(3 * 66);
const writeScratch = Buffer.from("0x" + "0".repeat(64), "latin1");

/** Checks and copies a 32-byte value into `out` at `offset` (no intermediate allocation). */
export function writeBytes32(value: Bytes32Input, out: Uint8Array, offset: number, field: string): void {
  if (value instanceof Uint8Array) {
    if (value.length !== 32) {
      throw new MalformedHashError(`${field} must be 32 bytes, got ${value.length}`, field);
    }
    out.set(value, offset);
    return;
  }
  // 66 UTF-16 units written as exactly 66 UTF-8 bytes means all of them are ASCII.
  if (
    typeof value !== "string" ||
    value.length !== 66 ||
    readScratch.write(value, 0, "utf8") !== 66 ||
    readScratch[0] !== 0x30 ||
    readScratch[1] !== 0x78
  ) {
    throw new MalformedHashError(`${field} must be 0x followed by 64 hex digits, got ${describe(value)}`, field);
  }
  let bad = 0;
  for (let i = 0; i < 32; i++) {
    const hi = DIGIT[readScratch[2 + 2 * i]!]!;
    const lo = DIGIT[readScratch[3 + 2 * i]!]!;
    bad |= hi | lo;
    out[offset + i] = (hi << 4) | lo;
  }
  if (bad < 0) {
    throw new MalformedHashError(`${field} must be 0x followed by 64 hex digits, got ${describe(value)}`, field);
  }
}

/** Checks a 32-byte value and returns it as a fresh Uint8Array. */
export function toBytes32(value: Bytes32Input, field: string): Uint8Array {
  const out = new Uint8Array(32);
  writeBytes32(value, out, 0, field);
  return out;
}

/** 32 bytes at `offset` as lowercase 0x-hex (a flat string). */
export function bytes32ToHex(bytes: Uint8Array, offset = 0): Hex {
  if (offset < 0 || offset + 32 > bytes.length) {
    throw new RangeError(`32 bytes at offset ${offset} do not fit in ${bytes.length} bytes`);
  }
  for (let i = 0; i < 32; i++) {
    const b = bytes[offset + i]!;
    writeScratch[2 + 2 * i] = HEX_CODES[b >>> 4]!;
    writeScratch[3 + 2 * i] = HEX_CODES[b & 15]!;
  }
  return writeScratch.toString("latin1") as Hex;
}

function describe(value: unknown): string {
  if (typeof value === "string") {
    return value.length > 80 ? `"${value.slice(0, 77)}..." (${value.length} chars)` : JSON.stringify(value);
  }
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return value === null ? "null" : typeof value;
}
