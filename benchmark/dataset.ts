/**
 * Prompt datasets: the built-in synthetic one and ShareGPT-style JSON files. Each has an id and a
 * content hash that go into the envelope; a replay refuses a dataset whose hash differs.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { canonicalJson } from "../protocol/envelope/canonical-json.ts";
import { sha256Hex } from "../protocol/envelope/content-hash.ts";
import { rng, shuffled } from "./rng.ts";
import { FieldError } from "../protocol/errors.ts";

export class DatasetError extends FieldError {
  override name = "DatasetError";
}

export interface Dataset {
  id: string;
  sha256: string;
  prompts: string[];
  source: string;
}

export const SYNTHETIC_ID = "builtin:synthetic-v1";
const SYNTHETIC_SIZE = 256;
const WORDS = (
  "the model answers a short question about science history cooking travel code music weather sport " +
  "language number river city planet machine learning network verify benchmark latency token stream " +
  "explain summarize translate compare list describe why how what when where which"
).split(" ");

/** 256 prompts of 8 to 71 words, always the same (fixed generator seed), so its hash is a constant. */
export function syntheticDataset(): Dataset {
  const next = rng(0x5eed);
  const prompts: string[] = [];
  for (let i = 0; i < SYNTHETIC_SIZE; i++) {
    const words = 8 + Math.floor(next() * 64);
    const parts: string[] = [];
    for (let w = 0; w < words; w++) parts.push(WORDS[Math.floor(next() * WORDS.length)]!);
    prompts.push(parts.join(" "));
  }
  return { id: SYNTHETIC_ID, sha256: sha256Hex(canonicalJson({ id: SYNTHETIC_ID, prompts })), prompts, source: "builtin" };
}

/** First user turn of each conversation in a ShareGPT-style JSON array. */
function promptsFromShareGpt(doc: unknown, path: string): string[] {
  if (!Array.isArray(doc)) throw new DatasetError(`${path}: a ShareGPT dataset must be a JSON array of conversations`, "/");
  const prompts: string[] = [];
  doc.forEach((entry, i) => {
    if (entry === null || typeof entry !== "object") throw new DatasetError(`${path}: entry ${i} is not an object`, `/${i}`);
    const e = entry as Record<string, unknown>;
    if (typeof e.prompt === "string") return void prompts.push(e.prompt);
    const turns = (e.conversations ?? e.messages) as unknown;
    if (!Array.isArray(turns)) throw new DatasetError(`${path}: entry ${i} has no "conversations" array`, `/${i}/conversations`);
    const first = turns.find((t) => {
      const r = (t as Record<string, unknown>)?.from ?? (t as Record<string, unknown>)?.role;
      return r === "human" || r === "user";
    }) as Record<string, unknown> | undefined;
    const text = first?.value ?? first?.content;
    if (typeof text === "string" && text.length > 0) prompts.push(text);
  });
  if (prompts.length === 0) throw new DatasetError(`${path}: no conversation has a non-empty human/user turn`, "/");
  return prompts;
}

export function loadShareGptFile(path: string): Dataset {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DatasetError(`cannot read dataset ${path}: ${(e as Error).message}`, "dataset");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw new DatasetError(`${path} is not JSON: ${(e as Error).message}`, "dataset");
  }
  return { id: `sharegpt:${basename(path)}`, sha256: sha256Hex(bytes), prompts: promptsFromShareGpt(doc, path), source: path };
}

/** "synthetic" (or the builtin id) or a path to a ShareGPT-style JSON file. */
export function loadDataset(spec: string): Dataset {
  if (spec === "synthetic" || spec === SYNTHETIC_ID) return syntheticDataset();
  return loadShareGptFile(spec);
}

/** `count` prompt indices: the dataset shuffled by `seed`, cycled if count exceeds its size. */
export function samplePromptIndices(dataset: Dataset, count: number, seed: number): number[] {
  const order = shuffled(dataset.prompts.map((_, i) => i), seed);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(order[i % order.length]!);
  return out;
}
