/**
 * The prover's configuration: defaults, then a JSON file (--config or PROVER_CONFIG), then
 * environment variables, then command-line flags. The merged result is validated once, at
 * start, against a JSON schema; the first bad field stops the start with a ConfigError that
 * names it and where it came from. The layering itself is runtime/config.ts, shared with the
 * operator and the aggregator; this module holds the prover's schema, defaults and names.
 */
import {
  defaultDataDir as nodeDataDir,
  loadNodeConfig,
  NodeConfigError,
  schemaParts,
  type ConfigSpec,
  type KeyConfig,
  type LoadInput,
  type LogLevel,
  type ValueKind,
} from "../runtime/config.ts";

export interface ModelConfig {
  /** A Hugging Face model folder (Optimum / transformers.js layout); excludes path and tokenizerPath. */
  dir?: string;
  /** The graph inside `dir` when it is not onnx/model.onnx or model.onnx. */
  file?: string;
  /** cpu (default) or cuda. */
  device?: "cpu" | "cuda";
  /** The weights hash the model must have; another stops the start. */
  weightsHash?: string;
  /**
   * Weights other than those the ModelRegistry binds to the model id: "refuse" to start (the
   * default) or only "warn" (a deliberately dishonest prover in a demo or a test).
   */
  registryCheck?: "refuse" | "warn";
  /** An ONNX causal LM; absent: the embedded default model. */
  path?: string;
  /** A Hugging Face tokenizer.json for `path`. */
  tokenizerPath?: string;
  /** Tensor to prove, overriding auto-detection. */
  activationTensor?: string;
  /** Where generated and hooked models are cached. */
  cacheDir?: string;
  /** Model id served and committed in leaves (default: the manifest's or the file name). */
  id?: string;
  maxContext?: number;
  threads?: number;
}

/**
 * Client authentication of the OpenAI routes (prover/server/auth.ts). "keys": Bearer keys from
 * keysFile and/or `keys` (PROVER_API_KEYS), each limited to maxConcurrent requests in flight and
 * requestsPerMinute (defaults here, per key in the file). "off": anyone may call, allowed only
 * when the server listens on loopback.
 */
export interface AuthConfig {
  mode: "keys" | "off";
  keysFile?: string;
  keys?: string[];
  maxConcurrent: number;
  requestsPerMinute: number;
}

export interface ProverConfig {
  host: string;
  port: number;
  /** Folder of the level database (created if missing); default $XDG_DATA_HOME/verifiable-benchmarks/prover. */
  dataDir: string;
  /** URL operators use to reach this prover (batch data URIs); default http://host:port. */
  publicUrl?: string;
  bodyLimitBytes: number;
  logLevel: LogLevel;
  /** fsync every store write (turn off only for throwaway data). */
  syncWrites: boolean;
  /** concurrency absent: the engine's (its batch size with continuous batching, else 1). */
  queue: { concurrency?: number; maxWaiting: number };
  generation: { defaultMaxTokens: number };
  batch: { maxRecords: number; maxAgeMs: number; commitRetryMs: number };
  model: ModelConfig;
  /** Serve through an upstream GPU engine (the proof sidecar) instead of running the model here. */
  upstream?: { kind: "sglang"; url: string; timeoutMs?: number };
  auth: AuthConfig;
  /** Where closed batches are committed (BatchManager.submitBatch); absent: recorded locally only. */
  chain?: { rpcUrl: string; deployment: string };
  /** The prover's registered staking account, which submits the batches (required with chain). */
  account?: KeyConfig;
}

/** Outside the checkout, so that serving never leaves files in the repository. */
export function defaultDataDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return nodeDataDir("prover", env);
}

/** Every default but dataDir, which depends on the environment (defaultDataDir). */
export const DEFAULT_CONFIG: Readonly<Omit<ProverConfig, "dataDir">> = Object.freeze({
  host: "127.0.0.1",
  port: 8000,
  bodyLimitBytes: 1 << 20,
  logLevel: "info",
  syncWrites: true,
  queue: { maxWaiting: 64 },
  generation: { defaultMaxTokens: 256 },
  batch: { maxRecords: 64, maxAgeMs: 60_000, commitRetryMs: 30_000 },
  model: {},
  auth: { mode: "keys" as const, maxConcurrent: 4, requestsPerMinute: 600 },
});

/** A bad configuration value; `field` is the dotted config field, e.g. "batch.maxRecords". */
export const ConfigError = NodeConfigError;
export type ConfigError = NodeConfigError;

const positive = (max: number) => ({ type: "integer", minimum: 1, maximum: max }) as const;
const nonEmpty = { type: "string", minLength: 1 } as const;

const CONFIG_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    host: nonEmpty,
    port: { type: "integer", minimum: 0, maximum: 65535 },
    dataDir: nonEmpty,
    // The batch data URI (publicUrl + /v1/batches/<id>) must fit BatchManager.MAX_DATA_URI_BYTES.
    publicUrl: { type: "string", pattern: "^https?://[^\\s]+$", maxLength: 2000 },
    bodyLimitBytes: positive(64 << 20),
    logLevel: { enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] },
    syncWrites: { type: "boolean" },
    queue: {
      type: "object",
      additionalProperties: false,
      properties: { concurrency: positive(4096), maxWaiting: { type: "integer", minimum: 0, maximum: 100_000 } },
    },
    generation: { type: "object", additionalProperties: false, properties: { defaultMaxTokens: positive(1 << 20) } },
    batch: {
      type: "object",
      additionalProperties: false,
      properties: {
        maxRecords: positive(2 ** 25),
        maxAgeMs: positive(2 ** 31 - 1),
        commitRetryMs: positive(2 ** 31 - 1),
      },
    },
    chain: {
      type: "object",
      additionalProperties: false,
      required: ["rpcUrl", "deployment"],
      properties: { rpcUrl: schemaParts.url, deployment: nonEmpty },
    },
    account: schemaParts.key,
    auth: {
      type: "object",
      additionalProperties: false,
      required: ["mode", "maxConcurrent", "requestsPerMinute"],
      properties: {
        mode: { enum: ["keys", "off"] },
        keysFile: nonEmpty,
        keys: { type: "array", items: { type: "string", minLength: 1 } },
        maxConcurrent: positive(10_000),
        requestsPerMinute: positive(10_000_000),
      },
    },
    upstream: {
      type: "object",
      additionalProperties: false,
      required: ["kind", "url"],
      properties: { kind: { enum: ["sglang"] }, url: { type: "string", pattern: "^https?://[^\\s]+$", maxLength: 2000 }, timeoutMs: positive(3_600_000) },
    },
    model: {
      type: "object",
      additionalProperties: false,
      properties: {
        dir: nonEmpty,
        file: nonEmpty,
        device: { enum: ["cpu", "cuda"] },
        weightsHash: { type: "string", pattern: "^(0x)?[0-9a-fA-F]{64}$" },
        registryCheck: { enum: ["refuse", "warn"] },
        path: nonEmpty,
        tokenizerPath: nonEmpty,
        activationTensor: nonEmpty,
        cacheDir: nonEmpty,
        id: nonEmpty,
        maxContext: { type: "integer", minimum: 2, maximum: 1 << 20 },
        threads: { type: "integer", minimum: 0, maximum: 256 },
      },
    },
  },
} as const;

type EnvKind = Extract<ValueKind, "string" | "integer" | "boolean" | "list">;
/** Environment variable -> config field. */
export const ENV_VARS: Readonly<Record<string, readonly [string, EnvKind]>> = Object.freeze({
  PROVER_HOST: ["host", "string"],
  PROVER_PORT: ["port", "integer"],
  PROVER_DATA_DIR: ["dataDir", "string"],
  PROVER_PUBLIC_URL: ["publicUrl", "string"],
  PROVER_BODY_LIMIT_BYTES: ["bodyLimitBytes", "integer"],
  PROVER_LOG_LEVEL: ["logLevel", "string"],
  PROVER_SYNC_WRITES: ["syncWrites", "boolean"],
  PROVER_QUEUE_CONCURRENCY: ["queue.concurrency", "integer"],
  PROVER_QUEUE_MAX_WAITING: ["queue.maxWaiting", "integer"],
  PROVER_DEFAULT_MAX_TOKENS: ["generation.defaultMaxTokens", "integer"],
  PROVER_BATCH_MAX_RECORDS: ["batch.maxRecords", "integer"],
  PROVER_BATCH_MAX_AGE_MS: ["batch.maxAgeMs", "integer"],
  PROVER_BATCH_COMMIT_RETRY_MS: ["batch.commitRetryMs", "integer"],
  PROVER_UPSTREAM: ["upstream.kind", "string"],
  PROVER_UPSTREAM_URL: ["upstream.url", "string"],
  PROVER_UPSTREAM_TIMEOUT_MS: ["upstream.timeoutMs", "integer"],
  PROVER_MODEL_DIR: ["model.dir", "string"],
  PROVER_MODEL_FILE: ["model.file", "string"],
  PROVER_DEVICE: ["model.device", "string"],
  PROVER_WEIGHTS_HASH: ["model.weightsHash", "string"],
  PROVER_REGISTRY_CHECK: ["model.registryCheck", "string"],
  PROVER_MODEL_PATH: ["model.path", "string"],
  PROVER_TOKENIZER_PATH: ["model.tokenizerPath", "string"],
  PROVER_ACTIVATION_TENSOR: ["model.activationTensor", "string"],
  PROVER_MODEL_CACHE_DIR: ["model.cacheDir", "string"],
  PROVER_MODEL_ID: ["model.id", "string"],
  PROVER_MAX_CONTEXT: ["model.maxContext", "integer"],
  PROVER_THREADS: ["model.threads", "integer"],
  PROVER_RPC_URL: ["chain.rpcUrl", "string"],
  PROVER_DEPLOYMENT: ["chain.deployment", "string"],
  PROVER_KEY_FILE: ["account.keyFile", "string"],
  PROVER_KEYSTORE: ["account.keystore", "string"],
  PROVER_KEYSTORE_PASSWORD_FILE: ["account.passwordFile", "string"],
  PROVER_AUTH: ["auth.mode", "string"],
  PROVER_API_KEYS_FILE: ["auth.keysFile", "string"],
  PROVER_API_KEYS: ["auth.keys", "list"],
  PROVER_KEY_MAX_CONCURRENT: ["auth.maxConcurrent", "integer"],
  PROVER_KEY_REQUESTS_PER_MINUTE: ["auth.requestsPerMinute", "integer"],
});

/** Command-line flag -> config field (all take a value). */
export const PROVER_FLAGS: Readonly<Record<string, readonly [string, EnvKind]>> = {
  host: ["host", "string"],
  port: ["port", "integer"],
  "data-dir": ["dataDir", "string"],
  "public-url": ["publicUrl", "string"],
  upstream: ["upstream.kind", "string"],
  "upstream-url": ["upstream.url", "string"],
  "upstream-timeout-ms": ["upstream.timeoutMs", "integer"],
  "model-dir": ["model.dir", "string"],
  "model-file": ["model.file", "string"],
  device: ["model.device", "string"],
  "weights-hash": ["model.weightsHash", "string"],
  "registry-check": ["model.registryCheck", "string"],
  model: ["model.path", "string"],
  tokenizer: ["model.tokenizerPath", "string"],
  "activation-tensor": ["model.activationTensor", "string"],
  "model-id": ["model.id", "string"],
  "log-level": ["logLevel", "string"],
  "rpc-url": ["chain.rpcUrl", "string"],
  deployment: ["chain.deployment", "string"],
  "key-file": ["account.keyFile", "string"],
  auth: ["auth.mode", "string"],
  "api-keys-file": ["auth.keysFile", "string"],
};

export type LoadConfigInput = LoadInput;

/** Builds and validates the configuration; throws ConfigError naming the first bad field. */
export function loadConfig(input: LoadConfigInput = {}): ProverConfig {
  const spec: ConfigSpec = {
    envPrefix: "PROVER",
    schema: CONFIG_SCHEMA,
    defaults: { ...structuredClone(DEFAULT_CONFIG), dataDir: defaultDataDir(input.env ?? {}) },
    env: ENV_VARS,
    flags: PROVER_FLAGS,
  };
  const config = loadNodeConfig<ProverConfig>(spec, input);
  if (config.model.dir !== undefined && (config.model.path !== undefined || config.model.tokenizerPath !== undefined)) {
    throw new ConfigError("model.dir: a model folder brings its own graph and tokenizer; drop model.path / model.tokenizerPath (--model, --tokenizer)", "model.dir");
  }
  if (config.model.file !== undefined && config.model.dir === undefined) throw new ConfigError("model.file: names a graph inside model.dir (--model-dir)", "model.file");
  if (config.auth.mode === "off" && !isLoopbackHost(config.host)) {
    throw new ConfigError(`auth.mode "off" is allowed on a loopback host only (host is ${config.host}): configure API keys (auth.keysFile or PROVER_API_KEYS)`, "auth.mode");
  }
  if (config.chain && !config.account) {
    throw new ConfigError("account: committing on chain needs the prover's registered account (keyFile, or keystore with passwordFile/passwordEnv)", "account");
  }
  return config;
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
