/**
 * Configuration of a long-running node (prover, operator, aggregator): defaults, then a JSON file
 * (--config or <PREFIX>_CONFIG), then environment variables, then command-line flags. The merged
 * result is validated once, at start, against a JSON schema; the first bad field stops the start
 * with a NodeConfigError naming it (dotted path) and the value. The prover, operator and
 * aggregator all load their configuration through here.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Ajv, type ErrorObject } from "ajv";
import { FieldError } from "../protocol/errors.ts";

export class NodeConfigError extends FieldError {
  override name = "NodeConfigError";
}

export type ValueKind = "string" | "integer" | "number" | "boolean" | "list";

export interface ConfigSpec {
  /** Prefix of the file variable: <envPrefix>_CONFIG. */
  envPrefix: string;
  /** A JSON schema (draft-07, ajv strict) for the whole merged object. */
  schema: object;
  defaults: Record<string, unknown>;
  /** Environment variable -> [dotted field, kind]. */
  env: Readonly<Record<string, readonly [string, ValueKind]>>;
  /** Flag name (without --) -> [dotted field, kind]. */
  flags: Readonly<Record<string, readonly [string, ValueKind]>>;
}

export interface LoadInput {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

const validators = new WeakMap<object, ReturnType<Ajv["compile"]>>();

/** Builds and validates a node's configuration; throws NodeConfigError naming the first bad field. */
export function loadNodeConfig<T>(spec: ConfigSpec, input: LoadInput = {}): T {
  const env = input.env ?? {};
  const cwd = input.cwd ?? process.cwd();
  let flags: Record<string, string | undefined>;
  try {
    const options = Object.fromEntries(["config", ...Object.keys(spec.flags)].map((name) => [name, { type: "string" as const }]));
    flags = parseArgs({ args: [...(input.argv ?? [])], options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (error) {
    throw new NodeConfigError(`command line: ${(error as Error).message}`, "argv");
  }
  const merged: Record<string, unknown> = structuredClone(spec.defaults);
  const file = flags.config ?? env[`${spec.envPrefix}_CONFIG`];
  if (file !== undefined) mergeInto(merged, readConfigFile(resolve(cwd, file)));
  for (const [name, [field, kind]] of Object.entries(spec.env)) {
    const raw = env[name];
    if (raw !== undefined && raw !== "") setField(merged, field, parseValue(raw, kind, field, `environment variable ${name}`));
  }
  for (const [name, [field, kind]] of Object.entries(spec.flags)) {
    const raw = flags[name];
    if (raw !== undefined) setField(merged, field, parseValue(raw, kind, field, `flag --${name}`));
  }
  let validate = validators.get(spec.schema);
  if (!validate) {
    validate = new Ajv({ allErrors: false, strict: true }).compile(spec.schema);
    validators.set(spec.schema, validate);
  }
  if (!validate(merged)) throw fromSchemaError(validate.errors![0]!, merged);
  return merged as T;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new NodeConfigError(`cannot read config file ${path}: ${(error as Error).message}`, "config");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new NodeConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`, "config");
  }
  if (!isPlainObject(parsed)) throw new NodeConfigError(`config file ${path} must hold a JSON object`, "config");
  return parsed;
}

/** Deep-merges plain objects (arrays and scalars replace). Type errors are left to the schema. */
function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const current = target[key];
    if (isPlainObject(value) && isPlainObject(current)) mergeInto(current, value);
    else target[key] = value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function setField(target: Record<string, unknown>, field: string, value: unknown): void {
  const parts = field.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function parseValue(raw: string, kind: ValueKind, field: string, source: string): unknown {
  const trimmed = raw.trim();
  switch (kind) {
    case "string":
      return raw;
    case "list":
      return trimmed === "" ? [] : trimmed.split(",").map((s) => s.trim());
    case "integer":
      if (!/^-?\d+$/.test(trimmed)) throw new NodeConfigError(`${field} (from ${source}) must be an integer, got "${raw}"`, field);
      return Number(trimmed);
    case "number":
      if (trimmed === "" || !Number.isFinite(Number(trimmed))) throw new NodeConfigError(`${field} (from ${source}) must be a number, got "${raw}"`, field);
      return Number(trimmed);
    case "boolean": {
      const lowered = trimmed.toLowerCase();
      if (["1", "true", "yes"].includes(lowered)) return true;
      if (["0", "false", "no"].includes(lowered)) return false;
      throw new NodeConfigError(`${field} (from ${source}) must be true or false, got "${raw}"`, field);
    }
  }
}

function fromSchemaError(error: ErrorObject, config: Record<string, unknown>): NodeConfigError {
  const path = error.instancePath.split("/").filter(Boolean).join(".");
  if (error.keyword === "additionalProperties") {
    const extra = String(error.params.additionalProperty);
    const field = path ? `${path}.${extra}` : extra;
    return new NodeConfigError(`unknown config field ${field}`, field);
  }
  if (error.keyword === "required") {
    const missing = String(error.params.missingProperty);
    const field = path ? `${path}.${missing}` : missing;
    return new NodeConfigError(`config field ${field} is required`, field);
  }
  let value: unknown = config;
  for (const part of path.split(".").filter(Boolean)) value = (value as Record<string, unknown>)?.[part];
  return new NodeConfigError(`config field ${path || "(root)"} ${error.message ?? "is invalid"}, got ${JSON.stringify(value)}`, path || "(root)");
}

/** Schema pieces shared by the nodes' configs. */
export const schemaParts = {
  nonEmpty: { type: "string", minLength: 1 },
  url: { type: "string", pattern: "^https?://[^\\s]+$" },
  port: { type: "integer", minimum: 0, maximum: 65535 },
  logLevel: { enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] },
  /** A key: an encrypted keystore (password from a file or an environment variable) or a 0600 key file. */
  key: {
    type: "object",
    additionalProperties: false,
    properties: {
      keystore: { type: "string", minLength: 1 },
      passwordFile: { type: "string", minLength: 1 },
      passwordEnv: { type: "string", minLength: 1 },
      keyFile: { type: "string", minLength: 1 },
    },
  },
  stringList: { type: "array", items: { type: "string", minLength: 1 } },
  /** Where a node reads the chain: see ChainConfig. */
  chain: {
    type: "object",
    additionalProperties: false,
    required: ["rpcUrl", "deployment", "pollIntervalMs", "logRange"],
    properties: {
      rpcUrl: { type: "string", pattern: "^https?://[^\\s]+$" },
      deployment: { type: "string", minLength: 1 },
      pollIntervalMs: { type: "integer", minimum: 10, maximum: 600_000 },
      logRange: { type: "integer", minimum: 1, maximum: 1_000_000 },
      startBlock: { type: "integer", minimum: 0 },
    },
  },
  /** The node's place in the gossip mesh: see MeshConfig. */
  mesh: {
    type: "object",
    additionalProperties: false,
    required: ["listen", "bootstrap"],
    properties: {
      listen: { type: "array", items: { type: "string", minLength: 1 } },
      bootstrap: { type: "array", items: { type: "string", minLength: 1 } },
      peerKeyFile: { type: "string", minLength: 1 },
      colocatedIps: { type: "array", items: { type: "string", minLength: 1 } },
    },
  },
} as const;

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface ChainConfig {
  rpcUrl: string;
  /** deployments/<chainId>.json as scripts/deploy.ts writes it. */
  deployment: string;
  pollIntervalMs: number;
  /** Largest eth_getLogs block range. */
  logRange: number;
  /** First block to follow when no cursor is stored (default: the deployment block). */
  startBlock?: number;
}

export interface MeshConfig {
  listen: string[];
  bootstrap: string[];
  peerKeyFile?: string;
  /** Addresses exempt from gossipsub's IP-colocation penalty (MeshOptions.colocatedIps). */
  colocatedIps?: string[];
}

/** Defaults of the chain and mesh sections: a local Hardhat node and its deployment, a loopback listener. */
export const NODE_DEFAULTS = Object.freeze({
  chain: { rpcUrl: "http://127.0.0.1:8545", deployment: "deployments/31337.json", pollIntervalMs: 500, logRange: 2_000 },
  mesh: { listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: [] as string[] },
});

/** The variables every chain-following node (operator, aggregator) takes, under its own prefix. */
export function nodeEnvVars(prefix: string): Record<string, readonly [string, ValueKind]> {
  const fields: [string, string, ValueKind][] = [
    ["RPC_URL", "chain.rpcUrl", "string"],
    ["DEPLOYMENT", "chain.deployment", "string"],
    ["POLL_INTERVAL_MS", "chain.pollIntervalMs", "integer"],
    ["START_BLOCK", "chain.startBlock", "integer"],
    ["DATA_DIR", "dataDir", "string"],
    ["HOST", "http.host", "string"],
    ["PORT", "http.port", "integer"],
    ["MESH_LISTEN", "mesh.listen", "list"],
    ["MESH_BOOTSTRAP", "mesh.bootstrap", "list"],
    ["PEER_KEY_FILE", "mesh.peerKeyFile", "string"],
    ["MESH_COLOCATED_IPS", "mesh.colocatedIps", "list"],
    ["LOG_LEVEL", "logLevel", "string"],
  ];
  return Object.fromEntries(fields.map(([name, field, kind]) => [`${prefix}_${name}`, [field, kind] as const]));
}

/** The flags every chain-following node takes. */
export const NODE_FLAGS: Readonly<Record<string, readonly [string, ValueKind]>> = Object.freeze({
  "rpc-url": ["chain.rpcUrl", "string"],
  deployment: ["chain.deployment", "string"],
  "data-dir": ["dataDir", "string"],
  port: ["http.port", "integer"],
  "log-level": ["logLevel", "string"],
});

/** A node's default data folder, outside the checkout: $XDG_DATA_HOME/verifiable-benchmarks/<role>. */
export function defaultDataDir(role: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "verifiable-benchmarks", role);
}

export interface KeyConfig {
  keystore?: string;
  passwordFile?: string;
  passwordEnv?: string;
  keyFile?: string;
}
