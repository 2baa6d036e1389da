/**
 * Input generators of the fuzz suite (fast-check arbitraries). Hostile input is mostly almost
 * right: a valid message with one field changed, removed, retyped or added, a valid text with
 * a few bytes flipped or cut; and some of it is anything at all. Every arbitrary is sampled with
 * a fixed seed, so a run is reproducible (`npm run fuzz -- --seed N`).
 */
import fc from "fast-check";

/** Values a field may be replaced with: wrong types, edge numbers, long and odd strings. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, -0, 2 ** 53, 2 ** 64, Number.MAX_SAFE_INTEGER, 1e308, -1e308, "", "0", "-1", "01", "1e3", "0x", "0x00", `0x${"f".repeat(64)}`, `0x${"0".repeat(130)}`, "NaN", "Infinity", "\u0000", "\ud800", "%", "../../", [], {}, [[]], { "": {} }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }).map((n) => n.toString()) },
  { weight: 1, arbitrary: fc.stringMatching(/^0x[0-9a-fA-F]{0,140}$/) },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 8 })), { maxLength: 8 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.nat({ max: 5000 }).map((n) => "x".repeat(n)) },
);

type Path = (string | number)[];

/** Every path to a value inside `value` (objects and arrays, depth-first). */
function paths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

interface Mutation {
  at: number;
  op: "replace" | "delete" | "add" | "wrap" | "duplicate";
  value: unknown;
  key: string;
}

function apply(base: unknown, mutations: Mutation[]): unknown {
  let doc: unknown = structuredClone(base);
  for (const m of mutations) {
    const all = paths(doc);
    const path = all[m.at % all.length]!;
    if (path.length === 0) {
      doc = m.op === "wrap" ? [doc] : m.op === "replace" ? m.value : doc;
      continue;
    }
    const parent = path.slice(0, -1).reduce<any>((node, k) => node[k], doc);
    const key = path[path.length - 1]!;
    if (m.op === "replace") parent[key] = m.value;
    else if (m.op === "delete") Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key];
    else if (m.op === "wrap") parent[key] = [parent[key]];
    else if (m.op === "duplicate" && Array.isArray(parent)) parent.push(structuredClone(parent[Number(key)]));
    else if (m.op === "add" && parent && typeof parent === "object" && !Array.isArray(parent)) parent[m.key] = m.value;
    else parent[key] = m.value;
  }
  return doc;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom<Mutation["op"]>("replace", "replace", "replace", "delete", "add", "wrap", "duplicate"),
  value: hostileValue,
  key: fc.oneof(fc.constantFrom("__proto__", "constructor", "signer", "extra", "", "type"), fc.string({ maxLength: 12 })),
});

/** A JSON document like `base`: itself, one to four field mutations of it, or any JSON. */
export function mutatedJson(base: unknown): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(structuredClone(base)) },
    { weight: 12, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => apply(base, ms)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  );
}

/** A byte string like `base`: flipped, cut, spliced, duplicated or replaced bytes. */
export function mutatedBytes(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.record({ at: fc.nat(), kind: fc.constantFrom("flip", "cut", "insert", "set", "repeat"), byte: fc.integer({ min: 0, max: 255 }), length: fc.integer({ min: 1, max: 64 }) });
  return fc.oneof(
    { weight: 10, arbitrary: fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
      let bytes = Array.from(base);
      for (const e of edits) {
        const at = bytes.length === 0 ? 0 : e.at % bytes.length;
        if (e.kind === "flip" && bytes.length) bytes[at] = bytes[at]! ^ (1 << (e.byte % 8));
        else if (e.kind === "set" && bytes.length) bytes[at] = e.byte;
        else if (e.kind === "cut") bytes = bytes.slice(0, at);
        else if (e.kind === "insert") bytes.splice(at, 0, ...Array(e.length).fill(e.byte));
        else if (e.kind === "repeat") bytes.splice(at, 0, ...bytes.slice(at, at + e.length));
      }
      return Uint8Array.from(bytes);
    }) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 600 }) },
    { weight: 1, arbitrary: fc.constant(Uint8Array.from(base)) },
  );
}

/** A text like `base`: a JSON mutation of it, or a byte mutation of its UTF-8. */
export function mutatedJsonText(base: unknown): fc.Arbitrary<string> {
  const text = JSON.stringify(base);
  return fc.oneof(
    { weight: 3, arbitrary: mutatedJson(base).map((doc) => (doc === undefined ? "" : JSON.stringify(doc))) },
    { weight: 2, arbitrary: mutatedBytes(new TextEncoder().encode(text)).map((b) => Buffer.from(b).toString("utf8")) },
  );
}

/** `count` samples of `arbitrary`, reproducibly from `seed`. */
export function sample<T>(arbitrary: fc.Arbitrary<T>, count: number, seed: number): T[] {
  return fc.sample(arbitrary, { seed, numRuns: count });
}
