import { readFileSync, readdirSync } from "node:fs";
import { JsonNumber, type JsonValue } from "../../protocol/envelope/index.ts";

export const IB_DIR = new URL("../fixtures/inferencebench/", import.meta.url);

/** The signed InferenceBench envelopes (every .json except the schema), sorted by name. */
export function inferenceBenchFiles(): string[] {
  return readdirSync(IB_DIR)
    .filter((f) => f.endsWith(".json") && !f.includes("schema"))
    .sort();
}

export function readFixture(name: string): string {
  return readFileSync(new URL(name, IB_DIR), "utf8");
}

export type Path = (string | number)[];

/** Every leaf (non-container value) outside the signature block, as a path. */
export function leafPaths(value: JsonValue, path: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leafPaths(v, [...path, i]));
  if (value !== null && typeof value === "object" && !(value instanceof JsonNumber)) {
    return Object.entries(value).flatMap(([k, v]) => (path.length === 0 && k === "signature" ? [] : leafPaths(v, [...path, k])));
  }
  return [path];
}

function get(root: JsonValue, path: Path): JsonValue {
  let v: JsonValue = root;
  for (const p of path) v = (v as Record<string | number, JsonValue>)[p]!;
  return v;
}

/** A different value for a leaf: a changed string, an int<->float or shifted number, a flipped boolean, a non-null for null. */
export function tamperedValue(v: JsonValue): JsonValue {
  if (typeof v === "string") return v.length > 0 ? v.slice(0, -1) + (v.endsWith("0") ? "1" : "0") : "x";
  if (v instanceof JsonNumber) {
    // Same numeric value, other type: Python hashes "1.0" and "1" differently, so must we.
    if (v.isInteger) return new JsonNumber(`${v.raw}.0`);
    const x = Number(v.raw);
    if (!Number.isFinite(x)) return new JsonNumber("0.5");
    return new JsonNumber(String(x === 0 ? 1e-9 : x * (1 + 1e-12) === x ? x + 1 : x * (1 + 1e-12)));
  }
  if (typeof v === "boolean") return !v;
  if (v === null) return 0;
  return "tampered";
}

/** A deep copy of `root` with the leaf at `path` replaced. */
export function withLeaf(root: JsonValue, path: Path, value: JsonValue): JsonValue {
  const copy = structuredCloneJson(root);
  const parent = get(copy, path.slice(0, -1)) as Record<string | number, JsonValue>;
  parent[path[path.length - 1]!] = value;
  return copy;
}

export function structuredCloneJson(v: JsonValue): JsonValue {
  if (v instanceof JsonNumber) return new JsonNumber(v.raw);
  if (Array.isArray(v)) return v.map(structuredCloneJson);
  if (v !== null && typeof v === "object") {
    const out: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: structuredCloneJson(x), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}
