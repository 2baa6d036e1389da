/**
 * JSON schemas of every route's input. Validation runs with coercion and property removal
 * off (see app.ts), so a wrong type or an unknown field is a 400 naming it, not a silent fix.
 * Ranges follow the OpenAI API; a few fields the engine does not implement are accepted only
 * at their neutral value (checked in request-params.ts, which can say why).
 */
const MAX_STOP_SEQUENCES = 4;
/** Bounds what one request may ask for; the model's context is checked after tokenising. */
const MAX_TOKENS_CAP = 1 << 20;
const MAX_SAFE_SEED = Number.MAX_SAFE_INTEGER;

const stop = {
  anyOf: [
    { type: "string", minLength: 1 },
    { type: "array", minItems: 1, maxItems: MAX_STOP_SEQUENCES, items: { type: "string", minLength: 1 } },
    { type: "null" },
  ],
} as const;

const streamOptions = {
  anyOf: [
    {
      type: "object",
      additionalProperties: false,
      properties: { include_usage: { type: "boolean" } },
    },
    { type: "null" },
  ],
} as const;

/** Fields common to both completion endpoints. */
const samplingProperties = {
  model: { type: "string", minLength: 1, maxLength: 256 },
  max_tokens: { anyOf: [{ type: "integer", minimum: 1, maximum: MAX_TOKENS_CAP }, { type: "null" }] },
  temperature: { anyOf: [{ type: "number", minimum: 0, maximum: 2 }, { type: "null" }] },
  top_p: { anyOf: [{ type: "number", exclusiveMinimum: 0, maximum: 1 }, { type: "null" }] },
  seed: { anyOf: [{ type: "integer", minimum: 0, maximum: MAX_SAFE_SEED }, { type: "null" }] },
  n: { anyOf: [{ type: "integer" }, { type: "null" }] },
  stop,
  stream: { anyOf: [{ type: "boolean" }, { type: "null" }] },
  stream_options: streamOptions,
  presence_penalty: { anyOf: [{ type: "number", minimum: -2, maximum: 2 }, { type: "null" }] },
  frequency_penalty: { anyOf: [{ type: "number", minimum: -2, maximum: 2 }, { type: "null" }] },
  logit_bias: { anyOf: [{ type: "object" }, { type: "null" }] },
  user: { type: "string", maxLength: 256 },
} as const;

const tokenArray = { type: "array", minItems: 1, items: { type: "integer", minimum: 0 } } as const;

export const completionBodySchema = {
  type: "object",
  additionalProperties: false,
  required: ["model", "prompt"],
  properties: {
    ...samplingProperties,
    prompt: {
      anyOf: [
        { type: "string" },
        { type: "array", minItems: 1, maxItems: 1, items: { type: "string" } },
        tokenArray,
        { type: "array", minItems: 1, maxItems: 1, items: tokenArray },
      ],
    },
    logprobs: { anyOf: [{ type: "integer", minimum: 0, maximum: 5 }, { type: "null" }] },
    echo: { anyOf: [{ type: "boolean" }, { type: "null" }] },
    best_of: { anyOf: [{ type: "integer" }, { type: "null" }] },
    suffix: { anyOf: [{ type: "string" }, { type: "null" }] },
  },
} as const;

const textPart = {
  type: "object",
  additionalProperties: false,
  required: ["type", "text"],
  properties: { type: { const: "text" }, text: { type: "string" } },
} as const;

const message = {
  type: "object",
  additionalProperties: false,
  required: ["role"],
  properties: {
    role: { enum: ["system", "developer", "user", "assistant", "tool"] },
    content: { anyOf: [{ type: "string" }, { type: "array", items: textPart }, { type: "null" }] },
    name: { type: "string", maxLength: 256 },
  },
} as const;

export const chatBodySchema = {
  type: "object",
  additionalProperties: false,
  required: ["model", "messages"],
  properties: {
    ...samplingProperties,
    messages: { type: "array", minItems: 1, items: message },
    max_completion_tokens: { anyOf: [{ type: "integer", minimum: 1, maximum: MAX_TOKENS_CAP }, { type: "null" }] },
    logprobs: { anyOf: [{ type: "boolean" }, { type: "null" }] },
    top_logprobs: { anyOf: [{ type: "integer", minimum: 0, maximum: 20 }, { type: "null" }] },
  },
} as const;

export const batchIdParamsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["id"],
  properties: { id: { type: "string", pattern: "^[1-9][0-9]{0,11}$" } },
} as const;

export const leafParamsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["id", "index"],
  properties: {
    id: { type: "string", pattern: "^[1-9][0-9]{0,11}$" },
    index: { type: "string", pattern: "^(0|[1-9][0-9]{0,9})$" },
  },
} as const;

export const recordParamsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["id"],
  properties: { id: { type: "string", pattern: "^rec_[0-9a-f]{32}$" } },
} as const;

export const listBatchesQuerySchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    after: { type: "string", pattern: "^(0|[1-9][0-9]{0,11})$" },
    limit: { type: "string", pattern: "^([1-9]|[1-9][0-9]|100)$" },
    order: { enum: ["asc", "desc"] },
  },
} as const;

export const modelParamsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["model"],
  properties: { model: { type: "string", minLength: 1, maxLength: 256 } },
} as const;

export const emptyQuerySchema = { type: "object", additionalProperties: false, properties: {} } as const;
