import { SAMPLER_VERSIONS, type SamplerVersion } from "../../protocol/sampler/index.ts";
import { ContextLengthError, InvalidRequestError } from "./errors.ts";

export const MAX_UINT64 = (1n << 64n) - 1n;
export const MAX_TEMPERATURE = 2;

/** Sampling parameters; all of them are recorded with the response so that it can be replayed. */
export interface Sampling {
  /** 0 = greedy; otherwise softmax temperature in (0, 2]. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 = no truncation. */
  topP: number;
  /** Most tokens to generate, >= 1; prompt + maxTokens must fit the context. */
  maxTokens: number;
  /** uint64 seed of the sampler; recorded even when greedy. */
  seed: bigint;
  /** Token sampler version (protocol/sampler); default the current one. */
  sampler?: SamplerVersion;
}

export interface GenerateRequest extends Sampling {
  promptTokens: number[];
  /** Called after each generated token with all output tokens so far; return true to stop (the server uses it for stop strings). */
  shouldStop?: (outputTokens: readonly number[]) => boolean;
  onToken?: (token: number, index: number) => void;
  signal?: AbortSignal;
  /** false skips proof building (benchmarks only); default true. */
  prove?: boolean;
}

export interface ModelLimits {
  vocabSize: number;
  maxContext: number;
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return String(value);
}

/** Checks token ids: a non-empty array of integers in [0, vocabSize). */
export function checkTokens(tokens: unknown, field: string, limits: ModelLimits, allowEmpty = false): asserts tokens is number[] {
  if (!Array.isArray(tokens)) throw new InvalidRequestError(`${field} must be an array of token ids, got ${describe(tokens)}`, field);
  if (tokens.length === 0 && !allowEmpty) throw new InvalidRequestError(`${field} is empty`, field);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t >= limits.vocabSize) {
      throw new InvalidRequestError(`${field}[${i}] must be a token id in 0..${limits.vocabSize - 1}, got ${describe(t)}`, `${field}[${i}]`);
    }
  }
}

export function checkGenerateRequest(request: GenerateRequest, limits: ModelLimits): void {
  if (request === null || typeof request !== "object") throw new InvalidRequestError("request must be an object", "request");
  checkTokens(request.promptTokens, "promptTokens", limits);
  const promptLength = request.promptTokens.length;
  if (promptLength >= limits.maxContext) {
    throw new ContextLengthError(
      `promptTokens has ${promptLength} tokens; the context holds ${limits.maxContext}, leaving no room to generate`,
      "promptTokens",
    );
  }
  const { maxTokens, temperature, topP, seed } = request;
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > limits.maxContext) {
    throw new InvalidRequestError(`maxTokens must be an integer in 1..${limits.maxContext}, got ${describe(maxTokens)}`, "maxTokens");
  }
  if (promptLength + maxTokens > limits.maxContext) {
    throw new ContextLengthError(
      `promptTokens (${promptLength}) + maxTokens (${maxTokens}) exceeds the context of ${limits.maxContext} tokens`,
      "maxTokens",
    );
  }
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature < 0 || temperature > MAX_TEMPERATURE) {
    throw new InvalidRequestError(`temperature must be a number in 0..${MAX_TEMPERATURE}, got ${describe(temperature)}`, "temperature");
  }
  if (typeof topP !== "number" || !Number.isFinite(topP) || topP <= 0 || topP > 1) {
    throw new InvalidRequestError(`topP must be a number in (0, 1], got ${describe(topP)}`, "topP");
  }
  if (typeof seed !== "bigint" || seed < 0n || seed > MAX_UINT64) {
    throw new InvalidRequestError(`seed must be a bigint in 0..2^64-1, got ${describe(seed)}`, "seed");
  }
  if (request.sampler !== undefined && !SAMPLER_VERSIONS.includes(request.sampler)) {
    throw new InvalidRequestError(`sampler must be one of ${SAMPLER_VERSIONS.join(", ")}, got ${describe(request.sampler)}`, "sampler");
  }
  for (const name of ["shouldStop", "onToken"] as const) {
    if (request[name] !== undefined && typeof request[name] !== "function") {
      throw new InvalidRequestError(`${name} must be a function, got ${describe(request[name])}`, name);
    }
  }
  if (request.signal !== undefined && !(request.signal instanceof AbortSignal)) {
    throw new InvalidRequestError("signal must be an AbortSignal", "signal");
  }
  if (request.prove !== undefined && typeof request.prove !== "boolean") {
    throw new InvalidRequestError(`prove must be a boolean, got ${describe(request.prove)}`, "prove");
  }
}
