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
  /** Stake to register with when not registered yet (decimal wei); "0" refuses to register. */
  stake: string;
  dataDir: string;
  /** Share of each batch's leaves to check, in (0, 1]. */
  samplingFraction: number;
  http: { host: string; port: number };
  mesh: MeshConfig;
  /** Aggregator base URLs for the HTTP fallback. */
  aggregatorUrls: string[];
  model: { path?: string; id?: string; cacheDir?: string; threads?: number; tokenizerPath?: string };
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
  /** "greedy": also check the final output token of temperature-0 leaves (see leaf-check.ts). */
  finalTokenCheck: "off" | "greedy";
  /** How often attestations of batches still awaiting quorum are sent again. */
  resendIntervalMs: number;
  logLevel: LogLevel;
}

const { nonEmpty, url, port, logLevel, key, chain, mesh } = schemaParts;

const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["chain", "account", "signer", "stake", "dataDir", "samplingFraction", "http", "mesh", "aggregatorUrls", "model", "fetchTimeoutMs", "fetchPolicy", "maxBatchLeaves", "retry", "finalTokenCheck", "resendIntervalMs", "logLevel"],
  properties: {
    chain,
    account: key,
    signer: key,
    stake: { type: "string", pattern: "^[0-9]{1,78}$" },
    dataDir: nonEmpty,
    samplingFraction: { type: "number", exclusiveMinimum: 0, maximum: 1 },
    http: { type: "object", additionalProperties: false, required: ["host", "port"], properties: { host: nonEmpty, port } },
    mesh,
    aggregatorUrls: { type: "array", items: url },
    model: {
      type: "object",
      additionalProperties: false,
      properties: {
        path: nonEmpty,
        id: nonEmpty,
        cacheDir: nonEmpty,
        tokenizerPath: nonEmpty,
        threads: { type: "integer", minimum: 0, maximum: 256 },
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
    finalTokenCheck: { enum: ["off", "greedy"] },
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
    OPERATOR_STAKE: ["stake", "string"],
    OPERATOR_SAMPLING_FRACTION: ["samplingFraction", "number"],
    OPERATOR_AGGREGATOR_URLS: ["aggregatorUrls", "list"],
    OPERATOR_MODEL_PATH: ["model.path", "string"],
    OPERATOR_MODEL_ID: ["model.id", "string"],
    OPERATOR_MODEL_CACHE_DIR: ["model.cacheDir", "string"],
    OPERATOR_FINAL_TOKEN_CHECK: ["finalTokenCheck", "string"],
    OPERATOR_ALLOW_PRIVATE_NETWORKS: ["fetchPolicy.allowPrivateNetworks", "list"],
    OPERATOR_MAX_BATCH_LEAVES: ["maxBatchLeaves", "integer"],
  },
  flags: NODE_FLAGS,
};

export function loadOperatorConfig(input: LoadInput = {}): OperatorConfig {
  const env = input.env ?? {};
  return loadNodeConfig<OperatorConfig>(
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
        finalTokenCheck: "off",
        resendIntervalMs: 5_000,
        logLevel: "info",
      },
    },
    input,
  );
}
