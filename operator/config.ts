/**
 * The operator's configuration (defaults < JSON file < OPERATOR_* environment < flags), validated
 * at start by runtime/config.ts: a bad value stops the start naming the field.
 */
import {
  defaultDataDir,
  NODE_DEFAULTS,
  NODE_FLAGS,
  nodeEnvVars,
  loadNodeConfig,
  NodeConfigError,
  schemaParts,
  type ChainConfig,
  type ConfigSpec,
  type KeyConfig,
  type LoadInput,
  type LogLevel,
  type MeshConfig,
} from "../runtime/config.ts";

export interface OperatorConfig {
  chain: ChainConfig;
  /** The staking account: holds the stake and the dispute bonds, pays gas. */
  account: KeyConfig;
  /** The signing key bound at registration: signs attestations and votes only. */
  signer: KeyConfig;
  /**
   * A BLS key (a 32-byte secret in a keystore or key file; the BN254 key is derived from it),
   * bound to the account at start with a proof of possession. With it, attestations carry a BLS
   * signature too, so the aggregator can submit one certificate (attestBLS) for many operators.
   */
  blsKey?: KeyConfig;
  /** Stake to register with when not registered yet (decimal wei); "0" refuses to register. */
  stake: string;
  dataDir: string;
  /** Share of each batch's leaves to check, in (0, 1]. */
  samplingFraction: number;
  /**
   * EigenLayer mode on EigenLayer's core (runtime/eigenlayer-join.ts): the allocation delay set
   * at registerAsOperator (blocks), the magnitude of each strategy allocated to the operator set
   * (decimal, parts of 1e18), and the operator metadata URI.
   */
  eigenLayer?: { allocationDelay?: number; magnitude?: string; metadataURI?: string };
  http: { host: string; port: number };
  mesh: MeshConfig;
  /** Aggregator base URLs for the HTTP fallback. */
  aggregatorUrls: string[];
  /**
   * The model this operator recomputes with, and the verification profiles it judges by (files
   * written by `vb calibrate`; a batch names the one bound to its model on chain). The default
   * model's own profile is always known.
   */
  model: {
    /** A Hugging Face model folder (Optimum / transformers.js layout); excludes path and tokenizerPath. */
    dir?: string;
    /** The graph inside `dir` when it is not onnx/model.onnx or model.onnx. */
    file?: string;
    /** cpu (default) or cuda; either way the recomputation is float32, the protocol's reference. */
    device?: "cpu" | "cuda";
    path?: string;
    id?: string;
    cacheDir?: string;
    threads?: number;
    tokenizerPath?: string;
    profiles?: string[];
  };
  /** Deadline of one leaf fetch (connection, headers and body). */
  fetchTimeoutMs: number;
  /**
   * The policy data URIs are fetched under (they come from provers, see runtime/untrusted-fetch.ts):
   * CIDR blocks of non-public addresses that may be fetched anyway (the local network allows
   * 127.0.0.1/32), the largest leaf response, and same-host redirects followed.
   */
  fetchPolicy: { allowPrivateNetworks: string[]; maxBytes: number; maxRedirects: number };
  /** Batches with more leaves than this are skipped, with a reason (checking them is beyond this operator). */
  maxBatchLeaves: number;
  /** Backoff between re-checks of a batch whose leaves were not served, until its response window closes. */
  retry: { baseMs: number; maxMs: number };
  /** How often attestations of batches still awaiting quorum are sent again. */
  resendIntervalMs: number;
  logLevel: LogLevel;
}

const { nonEmpty, url, port, logLevel, key, chain, mesh } = schemaParts;

const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["chain", "account", "signer", "stake", "dataDir", "samplingFraction", "http", "mesh", "aggregatorUrls", "model", "fetchTimeoutMs", "fetchPolicy", "maxBatchLeaves", "retry", "resendIntervalMs", "logLevel"],
  properties: {
    chain,
    account: key,
    signer: key,
    blsKey: key,
    stake: { type: "string", pattern: "^[0-9]{1,78}$" },
    dataDir: nonEmpty,
    samplingFraction: { type: "number", exclusiveMinimum: 0, maximum: 1 },
    eigenLayer: {
      type: "object",
      additionalProperties: false,
      properties: {
        allocationDelay: { type: "integer", minimum: 0, maximum: 4294967295 },
        magnitude: { type: "string", pattern: "^[1-9][0-9]{0,18}$" },
        metadataURI: { type: "string", maxLength: 2048 },
      },
    },
    http: { type: "object", additionalProperties: false, required: ["host", "port"], properties: { host: nonEmpty, port } },
    mesh,
    aggregatorUrls: { type: "array", items: url },
    model: {
      type: "object",
      additionalProperties: false,
      properties: {
        dir: nonEmpty,
        file: nonEmpty,
        device: { enum: ["cpu", "cuda"] },
        path: nonEmpty,
        id: nonEmpty,
        cacheDir: nonEmpty,
        tokenizerPath: nonEmpty,
        threads: { type: "integer", minimum: 0, maximum: 256 },
        profiles: { type: "array", items: nonEmpty, maxItems: 64 },
      },
    },
    fetchTimeoutMs: { type: "integer", minimum: 100, maximum: 600_000 },
    fetchPolicy: {
      type: "object",
      additionalProperties: false,
      required: ["allowPrivateNetworks", "maxBytes", "maxRedirects"],
      properties: {
        allowPrivateNetworks: { type: "array", items: { type: "string", pattern: "^[0-9a-fA-F:.]+(/[0-9]{1,3})?$" } },
        maxBytes: { type: "integer", minimum: 1024, maximum: 1 << 30 },
        maxRedirects: { type: "integer", minimum: 0, maximum: 10 },
      },
    },
    maxBatchLeaves: { type: "integer", minimum: 1, maximum: 2 ** 25 },
    retry: {
      type: "object",
      additionalProperties: false,
      required: ["baseMs", "maxMs"],
      properties: { baseMs: { type: "integer", minimum: 10, maximum: 600_000 }, maxMs: { type: "integer", minimum: 10, maximum: 3_600_000 } },
    },
    resendIntervalMs: { type: "integer", minimum: 100, maximum: 3_600_000 },
    logLevel,
  },
} as const;

export function defaultOperatorDataDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return defaultDataDir("operator", env);
}

export const OPERATOR_CONFIG_SPEC: Omit<ConfigSpec, "defaults"> = {
  envPrefix: "OPERATOR",
  schema: SCHEMA,
  env: {
    ...nodeEnvVars("OPERATOR"),
    OPERATOR_ACCOUNT_KEY_FILE: ["account.keyFile", "string"],
    OPERATOR_ACCOUNT_KEYSTORE: ["account.keystore", "string"],
    OPERATOR_SIGNER_KEY_FILE: ["signer.keyFile", "string"],
    OPERATOR_SIGNER_KEYSTORE: ["signer.keystore", "string"],
    OPERATOR_BLS_KEY_FILE: ["blsKey.keyFile", "string"],
    OPERATOR_BLS_KEYSTORE: ["blsKey.keystore", "string"],
    OPERATOR_STAKE: ["stake", "string"],
    OPERATOR_ALLOCATION_DELAY: ["eigenLayer.allocationDelay", "integer"],
    OPERATOR_ALLOCATION_MAGNITUDE: ["eigenLayer.magnitude", "string"],
    OPERATOR_SAMPLING_FRACTION: ["samplingFraction", "number"],
    OPERATOR_AGGREGATOR_URLS: ["aggregatorUrls", "list"],
    OPERATOR_MODEL_DIR: ["model.dir", "string"],
    OPERATOR_MODEL_FILE: ["model.file", "string"],
    OPERATOR_DEVICE: ["model.device", "string"],
    OPERATOR_MODEL_PATH: ["model.path", "string"],
    OPERATOR_MODEL_ID: ["model.id", "string"],
    OPERATOR_MODEL_CACHE_DIR: ["model.cacheDir", "string"],
    OPERATOR_ALLOW_PRIVATE_NETWORKS: ["fetchPolicy.allowPrivateNetworks", "list"],
    OPERATOR_MAX_BATCH_LEAVES: ["maxBatchLeaves", "integer"],
    OPERATOR_MODEL_PROFILES: ["model.profiles", "list"],
  },
  flags: {
    ...NODE_FLAGS,
    "model-dir": ["model.dir", "string"],
    "model-file": ["model.file", "string"],
    "model-id": ["model.id", "string"],
    device: ["model.device", "string"],
  },
};

export function loadOperatorConfig(input: LoadInput = {}): OperatorConfig {
  const env = input.env ?? {};
  const config = loadNodeConfig<OperatorConfig>(
    {
      ...OPERATOR_CONFIG_SPEC,
      defaults: {
        chain: { ...NODE_DEFAULTS.chain },
        stake: "100000000000000000000",
        dataDir: defaultOperatorDataDir(env),
        samplingFraction: 1,
        http: { host: "127.0.0.1", port: 9100 },
        mesh: { listen: [...NODE_DEFAULTS.mesh.listen], bootstrap: [] },
        aggregatorUrls: [],
        model: {},
        fetchTimeoutMs: 10_000,
        fetchPolicy: { allowPrivateNetworks: [], maxBytes: 16 << 20, maxRedirects: 3 },
        maxBatchLeaves: 65_536,
        retry: { baseMs: 2_000, maxMs: 30_000 },
        resendIntervalMs: 5_000,
        logLevel: "info",
      },
    },
    input,
  );
  if (config.model.dir !== undefined && (config.model.path !== undefined || config.model.tokenizerPath !== undefined)) {
    throw new NodeConfigError("model.dir: a model folder brings its own graph and tokenizer; drop model.path / model.tokenizerPath", "model.dir");
  }
  if (config.model.file !== undefined && config.model.dir === undefined) throw new NodeConfigError("model.file: names a graph inside model.dir (--model-dir)", "model.file");
  return config;
}
