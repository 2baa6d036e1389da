/**
 * From a validated request body to what the engine runs and the record commits: sampling
 * parameters rounded to the leaf's fixed point (millionths), the effective max_tokens, the seed
 * (drawn and recorded when the client gives none), stop sequences and streaming options.
 */
import { randomBytes } from "node:crypto";
import type { EngineInfoLike } from "../inference-engine.ts";
import type { StoredSampling } from "../store/index.ts";
import { invalidRequest } from "./errors.ts";

export interface CommonBody {
  model: string;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  n?: number | null;
  stop?: string | string[] | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, unknown> | null;
  user?: string;
}

export interface GenerationSettings {
  sampling: StoredSampling;
  seed: bigint;
  seedSource: "request" | "drawn";
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
}

export interface SettingsPolicy {
  /** max_tokens when the request gives none (still capped by the context left). */
  defaultMaxTokens: number;
}

const DEFAULT_TEMPERATURE = 1;
const DEFAULT_TOP_P = 1;

/** Rounds to the 1e-6 grid the Merkle leaf commits, so the record states what actually ran. */
function toMicroGrid(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Checks the fields the engine cannot honour; throws a 400 naming the field. */
export function rejectUnsupported(body: CommonBody): void {
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw invalidRequest(`Invalid value for 'n': this server generates one choice per request (n = 1), got ${body.n}.`, "n", "unsupported_value");
  }
  for (const field of ["presence_penalty", "frequency_penalty"] as const) {
    const value = body[field];
    if (value !== undefined && value !== null && value !== 0) {
      throw invalidRequest(`'${field}' is not supported by this server (only 0), got ${value}.`, field, "unsupported_parameter");
    }
  }
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) {
    throw invalidRequest("'logit_bias' is not supported by this server.", "logit_bias", "unsupported_parameter");
  }
  if (body.stream_options != null && body.stream !== true) {
    throw invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
  }
}

/** Seeds a client may not reproduce exactly are avoided: drawn seeds stay below 2^53. */
function drawSeed(): bigint {
  return randomBytes(8).readBigUInt64BE() & ((1n << 53n) - 1n);
}

export function resolveSettings(
  body: CommonBody,
  promptLength: number,
  maxTokensField: { value: number | null | undefined; param: string },
  info: Pick<EngineInfoLike, "maxContext">,
  policy: SettingsPolicy,
): GenerationSettings {
  const room = info.maxContext - promptLength;
  if (room < 1) {
    throw invalidRequest(
      `This model's maximum context length is ${info.maxContext} tokens; the prompt has ${promptLength}, leaving no room to generate.`,
      "messages" in body ? "messages" : "prompt",
      "context_length_exceeded",
    );
  }
  const requested = maxTokensField.value;
  if (requested != null && requested > room) {
    throw invalidRequest(
      `This model's maximum context length is ${info.maxContext} tokens; the prompt has ${promptLength} and ${maxTokensField.param} asks for ${requested} more.`,
      maxTokensField.param,
      "context_length_exceeded",
    );
  }
  const maxTokens = requested ?? Math.min(policy.defaultMaxTokens, room);
  const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : [...body.stop];
  const seedGiven = body.seed != null;
  return {
    sampling: {
      temperature: toMicroGrid(body.temperature ?? DEFAULT_TEMPERATURE),
      // top_p > 0 is validated; keep a tiny one from rounding down to 0.
      topP: Math.max(1e-6, toMicroGrid(body.top_p ?? DEFAULT_TOP_P)),
      maxTokens,
    },
    seed: seedGiven ? BigInt(body.seed!) : drawSeed(),
    seedSource: seedGiven ? "request" : "drawn",
    stop,
    stream: body.stream === true,
    includeUsage: body.stream === true && body.stream_options?.include_usage === true,
  };
}
