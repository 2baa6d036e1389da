/**
 * Cases files: proofs made elsewhere, to evaluate a verifier on. The format is that of
 * ../shared/fixtures/models/llama_tiny_cases.json:
 *
 *   { "prompts": [[token ids], ...],
 *     "topk"?: 128, "decode_batching_size"?: 32,
 *     "sampling"?: { "temperature", "top_p", "seed", "sampler" },        (file-wide default)
 *     "variants": { "NAME": [ { "generated": [token ids], "proofs_base64": [...],
 *                               "sampling"?: { ... } }, ... one per prompt ] } }
 *
 * Requests are greedy unless the file or the case gives sampling parameters; a sampled case
 * must name its seed, and its sampler version (default 2, protocol/sampler).
 */
import { readFile } from "node:fs/promises";
import { checkSamplerVersion, type SamplingSettings } from "../protocol/sampler/index.ts";
import { FieldError } from "../protocol/errors.ts";

export class CasesFileError extends FieldError {
  override name = "CasesFileError";
}

export interface ProofCase {
  variant: string;
  index: number;
  promptTokens: number[];
  outputTokens: number[];
  proofs: string[];
  sampling: SamplingSettings;
}

export interface CasesFile {
  topk: number;
  decodeBatchSize: number;
  variants: Map<string, ProofCase[]>;
}

const GREEDY: SamplingSettings = { sampler: 2, temperature: 0, topP: 1, seed: 0n };

function fail(field: string, problem: string): never {
  throw new CasesFileError(`${field} ${problem}`, field);
}

function tokens(value: unknown, field: string): number[] {
  if (!Array.isArray(value) || value.some((t) => !Number.isInteger(t) || t < 0)) fail(field, "must be an array of token ids");
  return value as number[];
}

function sampling(value: unknown, field: string, fallback: SamplingSettings): SamplingSettings {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "object" || Array.isArray(value)) fail(field, "must be an object { temperature, top_p, seed, sampler }");
  const o = value as Record<string, unknown>;
  const temperature = o.temperature ?? fallback.temperature;
  const topP = o.top_p ?? o.topP ?? fallback.topP;
  if (typeof temperature !== "number" || !(temperature >= 0)) fail(`${field}.temperature`, "must be a number >= 0");
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) fail(`${field}.top_p`, "must be a number in (0, 1]");
  let seed = fallback.seed;
  if (o.seed !== undefined) {
    if (!(typeof o.seed === "string" && /^[0-9]{1,20}$/.test(o.seed)) && !(Number.isSafeInteger(o.seed) && (o.seed as number) >= 0)) fail(`${field}.seed`, "must be a uint64 (a decimal string or a safe integer)");
    seed = BigInt(o.seed as string | number);
    if (seed >= 1n << 64n) fail(`${field}.seed`, "must fit 64 bits");
  } else if (temperature > 0 && fallback.temperature === 0) {
    fail(`${field}.seed`, "is required for a sampled case (temperature > 0)");
  }
  const sampler = o.sampler === undefined ? fallback.sampler : checkSamplerVersion(o.sampler, `${field}.sampler`);
  return { sampler, temperature, topP, seed };
}

export function parseCases(json: unknown): CasesFile {
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("cases", "must be a JSON object");
  const doc = json as Record<string, unknown>;
  if (!Array.isArray(doc.prompts)) fail("prompts", "must be an array of token-id arrays");
  const prompts = doc.prompts.map((p, i) => tokens(p, `prompts[${i}]`));
  const topk = doc.topk ?? 128;
  const decodeBatchSize = doc.decode_batching_size ?? doc.decode_batch_size ?? 32;
  if (!Number.isInteger(topk) || (topk as number) < 1) fail("topk", "must be a positive integer");
  if (!Number.isInteger(decodeBatchSize) || (decodeBatchSize as number) < 1) fail("decode_batching_size", "must be a positive integer");
  if (doc.skip_prefill === true) fail("skip_prefill", "is not supported: the prover proves the prefill as its own chunk");
  const fileSampling = sampling(doc.sampling, "sampling", GREEDY);
  if (typeof doc.variants !== "object" || doc.variants === null || Array.isArray(doc.variants)) fail("variants", "must be an object of NAME -> cases");
  const variants = new Map<string, ProofCase[]>();
  for (const [name, list] of Object.entries(doc.variants as Record<string, unknown>)) {
    if (!Array.isArray(list)) fail(`variants.${name}`, "must be an array with one case per prompt");
    if (list.length > prompts.length) fail(`variants.${name}`, `has ${list.length} cases for ${prompts.length} prompts`);
    variants.set(
      name,
      list.map((c, i) => {
        const field = `variants.${name}[${i}]`;
        if (typeof c !== "object" || c === null) fail(field, "must be an object { generated, proofs_base64 }");
        const o = c as Record<string, unknown>;
        const proofs = o.proofs_base64;
        if (!Array.isArray(proofs) || proofs.some((p) => typeof p !== "string")) fail(`${field}.proofs_base64`, "must be an array of base64 strings");
        return {
          variant: name,
          index: i,
          promptTokens: prompts[i]!,
          outputTokens: tokens(o.generated, `${field}.generated`),
          proofs: proofs as string[],
          sampling: sampling(o.sampling, `${field}.sampling`, fileSampling),
        };
      }),
    );
  }
  return { topk: topk as number, decodeBatchSize: decodeBatchSize as number, variants };
}

export async function readCasesFile(path: string): Promise<CasesFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new CasesFileError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, "cases");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CasesFileError(`${path} is not JSON: ${(error as Error).message}`, "cases");
  }
  return parseCases(json);
}
