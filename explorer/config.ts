/**
 * The explorer's configuration (defaults < JSON file < EXPLORER_* environment < flags), loaded
 * and validated by runtime/config.ts like the other nodes': a bad value stops the start naming
 * the field.
 */
import { getAddress, isAddress, type Address } from "viem";
import {
  loadNodeConfig,
  NODE_DEFAULTS,
  NodeConfigError,
  schemaParts,
  type ChainConfig,
  type ConfigSpec,
  type LoadInput,
  type LogLevel,
} from "../runtime/config.ts";

export interface ExplorerConfig {
  chain: ChainConfig;
  /** The RPC URL the browser reads the chain from itself (default chain.rpcUrl). */
  publicRpcUrl?: string;
  http: { host: string; port: number };
  /**
   * Provers' data endpoints (base URLs). The explorer fetches leaves only from these origins
   * (a batch's data URI is chosen by its prover, so it is not fetched blindly), and the
   * "check a response" view offers them.
   */
  provers: string[];
  /** Names for addresses, "0xADDRESS=name" (e.g. which prover is which). */
  labels: string[];
  /** Verification statistics: leaves recomputed per batch (0 turns them off) and the model to do it with. */
  stats: { leavesPerBatch: number; fetchTimeoutMs: number; model: { path?: string; id?: string; cacheDir?: string; threads?: number } };
  logLevel: LogLevel;
}

const { nonEmpty, url, port, logLevel, chain } = schemaParts;

const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["chain", "http", "provers", "labels", "stats", "logLevel"],
  properties: {
    chain,
    publicRpcUrl: url,
    http: { type: "object", additionalProperties: false, required: ["host", "port"], properties: { host: nonEmpty, port } },
    provers: { type: "array", maxItems: 64, items: url },
    labels: { type: "array", maxItems: 256, items: { type: "string", pattern: "^0x[0-9a-fA-F]{40}=[^\\s<>\"'&]{1,40}$" } },
    stats: {
      type: "object",
      additionalProperties: false,
      required: ["leavesPerBatch", "fetchTimeoutMs", "model"],
      properties: {
        leavesPerBatch: { type: "integer", minimum: 0, maximum: 64 },
        fetchTimeoutMs: { type: "integer", minimum: 100, maximum: 120_000 },
        model: {
          type: "object",
          additionalProperties: false,
          properties: { path: nonEmpty, id: nonEmpty, cacheDir: nonEmpty, threads: { type: "integer", minimum: 0, maximum: 256 } },
        },
      },
    },
    logLevel,
  },
} as const;

export const EXPLORER_CONFIG_SPEC: Omit<ConfigSpec, "defaults"> = {
  envPrefix: "EXPLORER",
  schema: SCHEMA,
  env: {
    EXPLORER_RPC_URL: ["chain.rpcUrl", "string"],
    EXPLORER_DEPLOYMENT: ["chain.deployment", "string"],
    EXPLORER_POLL_INTERVAL_MS: ["chain.pollIntervalMs", "integer"],
    EXPLORER_PUBLIC_RPC_URL: ["publicRpcUrl", "string"],
    EXPLORER_HOST: ["http.host", "string"],
    EXPLORER_PORT: ["http.port", "integer"],
    EXPLORER_PROVERS: ["provers", "list"],
    EXPLORER_LABELS: ["labels", "list"],
    EXPLORER_STATS_LEAVES: ["stats.leavesPerBatch", "integer"],
    EXPLORER_MODEL_PATH: ["stats.model.path", "string"],
    EXPLORER_MODEL_ID: ["stats.model.id", "string"],
    EXPLORER_MODEL_CACHE_DIR: ["stats.model.cacheDir", "string"],
    EXPLORER_LOG_LEVEL: ["logLevel", "string"],
  },
  flags: {
    "rpc-url": ["chain.rpcUrl", "string"],
    deployment: ["chain.deployment", "string"],
    "public-rpc-url": ["publicRpcUrl", "string"],
    host: ["http.host", "string"],
    port: ["http.port", "integer"],
    provers: ["provers", "list"],
    labels: ["labels", "list"],
    "stats-leaves": ["stats.leavesPerBatch", "integer"],
    model: ["stats.model.path", "string"],
    "model-id": ["stats.model.id", "string"],
    "log-level": ["logLevel", "string"],
  },
};

export function loadExplorerConfig(input: LoadInput = {}): ExplorerConfig {
  const config = loadNodeConfig<ExplorerConfig>(
    {
      ...EXPLORER_CONFIG_SPEC,
      defaults: {
        chain: { ...NODE_DEFAULTS.chain, pollIntervalMs: 1_000 },
        http: { host: "127.0.0.1", port: 8700 },
        provers: [],
        labels: [],
        stats: { leavesPerBatch: 4, fetchTimeoutMs: 10_000, model: { threads: 1 } },
        logLevel: "info",
      },
    },
    input,
  );
  parseLabels(config.labels);
  return config;
}

/** "0xADDRESS=name" entries as a lowercase-address map; a repeated address is refused. */
export function parseLabels(entries: readonly string[]): Map<string, string> {
  const labels = new Map<string, string>();
  entries.forEach((entry, i) => {
    const at = entry.indexOf("=");
    const address = entry.slice(0, at);
    if (at < 0 || !isAddress(address, { strict: false })) throw new NodeConfigError(`labels[${i}] must be 0xADDRESS=name, got ${JSON.stringify(entry)}`, `labels[${i}]`);
    const key = getAddress(address as Address).toLowerCase();
    if (labels.has(key)) throw new NodeConfigError(`labels[${i}]: ${address} is labelled twice`, `labels[${i}]`);
    labels.set(key, entry.slice(at + 1));
  });
  return labels;
}
