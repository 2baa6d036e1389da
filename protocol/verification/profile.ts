/**
 * A verification profile: for one model, the honest band its requests fall in when recomputed
 * in fp32 (fp32 and bf16 provers, other hardware), measured by calibration from the model file
 * alone, with the false-rejection budget the thresholds are set at. Prover, operators and
 * disputes judge a batch by the same profile, named by its content hash, which is bound to the
 * model on chain.
 *
 *   contentHash = keccak256(utf8(canonical JSON of the profile without contentHash))
 *
 * canonical JSON is protocol/envelope's (Python's json.dumps(sort_keys=True,
 * separators=(",", ":"))), so the hash can be recomputed in any language.
 */
import { keccak256, stringToBytes, type Hex } from "viem";
import { canonicalJson } from "../envelope/canonical-json.ts";
import type { TokenMode } from "../sampler/index.ts";
import { InvalidProfileError } from "./errors.ts";
import type { ChunkBand, TokenBand } from "./tails.ts";

export const PROFILE_SCHEMA = "vb.verification-profile/1";
export const TAIL_MODEL = "random-effects-gaussian+exponential-margins/1";
export const TOKEN_MODES: readonly TokenMode[] = ["greedy", "gumbel", "uniform"];

export interface NamedChunkBand extends ChunkBand {
  /** The honest variant this band was measured on (e.g. "bf16", "fp32-1-thread"). */
  variant: string;
  requests: number;
  chunks: number;
  /** The largest request value seen in calibration. */
  maxObserved: number;
}

export interface NamedTokenBand extends TokenBand {
  variant: string;
  tokens: number;
  positives: number;
  maxObserved: number;
}

export interface VerificationProfile {
  schema: typeof PROFILE_SCHEMA;
  name: string;
  model: { id: string; weightsHash: string; vocabSize: number; hiddenSize: number };
  toploc: { topk: number; decodeBatchSize: number };
  /** The verifier's precision: the protocol's reference. */
  recomputation: "fp32";
  /** Positions further than this many bf16 ulps off count as garbage (protocol/verification/evidence.ts). */
  garbageUlps: number;
  /** Probability that an honest request is rejected, all statistics together. */
  falseRejectionBudget: number;
  tailModel: typeof TAIL_MODEL;
  bands: {
    garbage_rate: NamedChunkBand[];
    sq_error: NamedChunkBand[];
    tokens: Partial<Record<TokenMode, NamedTokenBand[]>>;
  };
  /** How the profile was made and what it separates (report; hashed like the rest). */
  calibration: Record<string, unknown>;
  contentHash: Hex;
}

export type UnhashedProfile = Omit<VerificationProfile, "contentHash">;

export function profileHash(profile: UnhashedProfile | VerificationProfile): Hex {
  const { contentHash: _ignored, ...body } = profile as VerificationProfile;
  return keccak256(stringToBytes(canonicalJson(body)));
}

export function sealProfile(profile: UnhashedProfile): VerificationProfile {
  return { ...profile, contentHash: profileHash(profile) };
}

function fail(field: string, problem: string): never {
  throw new InvalidProfileError(`profile ${field} ${problem}`, field);
}
function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(field, "must be an object");
  return value as Record<string, unknown>;
}
function finite(value: unknown, field: string, min = 0): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) fail(field, `must be a finite number >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}
function integer(value: unknown, field: string, min: number): number {
  if (!Number.isInteger(value) || (value as number) < min) fail(field, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value as number;
}
function text(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0) fail(field, "must be a non-empty string");
  return value;
}

function chunkBands(value: unknown, field: string): NamedChunkBand[] {
  if (!Array.isArray(value) || value.length === 0) fail(field, "must be a non-empty array of bands");
  return value.map((b, i) => {
    const o = object(b, `${field}[${i}]`);
    return {
      variant: text(o.variant, `${field}[${i}].variant`),
      mu: finite(o.mu, `${field}[${i}].mu`),
      between: finite(o.between, `${field}[${i}].between`),
      within: finite(o.within, `${field}[${i}].within`),
      requests: integer(o.requests, `${field}[${i}].requests`, 2),
      chunks: integer(o.chunks, `${field}[${i}].chunks`, 2),
      maxObserved: finite(o.maxObserved, `${field}[${i}].maxObserved`),
    };
  });
}

function tokenBands(value: unknown, field: string): NamedTokenBand[] {
  if (!Array.isArray(value) || value.length === 0) fail(field, "must be a non-empty array of bands");
  return value.map((b, i) => {
    const o = object(b, `${field}[${i}]`);
    const p0 = finite(o.p0, `${field}[${i}].p0`);
    if (p0 > 1) fail(`${field}[${i}].p0`, "must be at most 1");
    return {
      variant: text(o.variant, `${field}[${i}].variant`),
      p0,
      beta: finite(o.beta, `${field}[${i}].beta`, Number.MIN_VALUE),
      tokens: integer(o.tokens, `${field}[${i}].tokens`, 1),
      positives: integer(o.positives, `${field}[${i}].positives`, 0),
      maxObserved: finite(o.maxObserved, `${field}[${i}].maxObserved`),
    };
  });
}

/**
 * Validates a parsed profile and checks its content hash; throws InvalidProfileError naming
 * the first bad field. What it returns is safe to judge with.
 */
export function parseProfile(json: unknown): VerificationProfile {
  const o = object(json, "");
  if (o.schema !== PROFILE_SCHEMA) fail("schema", `must be ${JSON.stringify(PROFILE_SCHEMA)}, got ${JSON.stringify(o.schema)}`);
  if (o.tailModel !== TAIL_MODEL) fail("tailModel", `must be ${JSON.stringify(TAIL_MODEL)}, got ${JSON.stringify(o.tailModel)}`);
  if (o.recomputation !== "fp32") fail("recomputation", `must be "fp32"`);
  const model = object(o.model, "model");
  const toploc = object(o.toploc, "toploc");
  const bands = object(o.bands, "bands");
  const tokens = object(bands.tokens, "bands.tokens");
  const budget = finite(o.falseRejectionBudget, "falseRejectionBudget", Number.MIN_VALUE);
  if (budget >= 0.5) fail("falseRejectionBudget", "must be below 0.5");
  const tokenModes: Partial<Record<TokenMode, NamedTokenBand[]>> = {};
  for (const [mode, list] of Object.entries(tokens)) {
    if (!TOKEN_MODES.includes(mode as TokenMode)) fail(`bands.tokens.${mode}`, `is not a token mode (${TOKEN_MODES.join(", ")})`);
    tokenModes[mode as TokenMode] = tokenBands(list, `bands.tokens.${mode}`);
  }
  const profile: VerificationProfile = {
    schema: PROFILE_SCHEMA,
    name: text(o.name, "name"),
    model: {
      id: text(model.id, "model.id"),
      weightsHash: text(model.weightsHash, "model.weightsHash"),
      vocabSize: integer(model.vocabSize, "model.vocabSize", 1),
      hiddenSize: integer(model.hiddenSize, "model.hiddenSize", 1),
    },
    toploc: { topk: integer(toploc.topk, "toploc.topk", 1), decodeBatchSize: integer(toploc.decodeBatchSize, "toploc.decodeBatchSize", 1) },
    recomputation: "fp32",
    garbageUlps: finite(o.garbageUlps, "garbageUlps", Number.MIN_VALUE),
    falseRejectionBudget: budget,
    tailModel: TAIL_MODEL,
    bands: { garbage_rate: chunkBands(bands.garbage_rate, "bands.garbage_rate"), sq_error: chunkBands(bands.sq_error, "bands.sq_error"), tokens: tokenModes },
    calibration: object(o.calibration, "calibration"),
    contentHash: o.contentHash as Hex,
  };
  if (typeof o.contentHash !== "string" || !/^0x[0-9a-f]{64}$/.test(o.contentHash)) fail("contentHash", "must be a lowercase 0x-prefixed keccak256 hash");
  // Hash what was given, not the normalised copy: unknown fields are part of the content too.
  const recomputed = profileHash(o as unknown as VerificationProfile);
  if (recomputed !== o.contentHash) fail("contentHash", `is ${o.contentHash}, but the content hashes to ${recomputed}`);
  return profile;
}
