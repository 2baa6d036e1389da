/**
 * The aggregator's configuration (defaults < JSON file < AGGREGATOR_* environment < flags),
 * validated at start by runtime/config.ts: a bad value stops the start naming the field.
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

export interface AggregatorConfig {
  chain: ChainConfig;
  /** Pays gas for attest, castVotes, resolveDispute and finalize. */
  account: KeyConfig;
  dataDir: string;
  http: { host: string; port: number; bodyLimitBytes: number };
  mesh: MeshConfig;
  /** How long to keep collecting signatures after the stake threshold is reached. */
  graceMs: number;
  /**
   * How a quorum goes on chain: "ecdsa" (attest, every signature checked: cheapest for a few
   * signers), "bls" (attestBLS, one aggregate signature, whenever the BLS signers alone hold
   * quorum) or "auto" (default: whichever the node's gas estimate finds cheaper).
   */
  attestationScheme: "auto" | "ecdsa" | "bls";
  retry: { baseMs: number; maxMs: number };
  /** Call finalize() on attested batches once their challenge window is over, and expire() on batches that got no quorum in their response window. */
  finalize: boolean;
  logLevel: LogLevel;
}

const { nonEmpty, port, logLevel, key, chain, mesh } = schemaParts;

const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["chain", "account", "dataDir", "http", "mesh", "graceMs", "attestationScheme", "retry", "finalize", "logLevel"],
  properties: {
    chain,
    account: key,
    dataDir: nonEmpty,
    http: {
      type: "object",
      additionalProperties: false,
      required: ["host", "port", "bodyLimitBytes"],
      properties: { host: nonEmpty, port, bodyLimitBytes: { type: "integer", minimum: 256, maximum: 1 << 20 } },
    },
    mesh,
    graceMs: { type: "integer", minimum: 0, maximum: 3_600_000 },
    attestationScheme: { enum: ["auto", "ecdsa", "bls"] },
    retry: {
      type: "object",
      additionalProperties: false,
      required: ["baseMs", "maxMs"],
      properties: { baseMs: { type: "integer", minimum: 10, maximum: 600_000 }, maxMs: { type: "integer", minimum: 10, maximum: 3_600_000 } },
    },
    finalize: { type: "boolean" },
    logLevel,
  },
} as const;

/** Where the aggregator's configuration comes from besides its file: environment variables and flags. */
export const AGGREGATOR_CONFIG_SPEC: Omit<ConfigSpec, "defaults"> = {
  envPrefix: "AGGREGATOR",
  schema: SCHEMA,
  env: {
    ...nodeEnvVars("AGGREGATOR"),
    AGGREGATOR_KEY_FILE: ["account.keyFile", "string"],
    AGGREGATOR_KEYSTORE: ["account.keystore", "string"],
    AGGREGATOR_GRACE_MS: ["graceMs", "integer"],
    AGGREGATOR_ATTESTATION_SCHEME: ["attestationScheme", "string"],
    AGGREGATOR_FINALIZE: ["finalize", "boolean"],
  },
  flags: NODE_FLAGS,
};

export function loadAggregatorConfig(input: LoadInput = {}): AggregatorConfig {
  const env = input.env ?? {};
  return loadNodeConfig<AggregatorConfig>(
    {
      ...AGGREGATOR_CONFIG_SPEC,
      defaults: {
        chain: { ...NODE_DEFAULTS.chain },
        dataDir: defaultDataDir("aggregator", env),
        http: { host: "127.0.0.1", port: 9000, bodyLimitBytes: 4096 },
        mesh: { listen: [...NODE_DEFAULTS.mesh.listen], bootstrap: [] },
        graceMs: 2_000,
        attestationScheme: "auto",
        retry: { baseMs: 500, maxMs: 30_000 },
        finalize: true,
        logLevel: "info",
      },
    },
    input,
  );
}
