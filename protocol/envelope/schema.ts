/**
 * The one source of the envelope's shape, in two versions. ENVELOPE_SCHEMA (vb.envelope/2, what
 * `vb run` writes) and ENVELOPE_V1_SCHEMA (vb.envelope/1, frozen: envelopes signed before v2 keep
 * verifying against exactly the schema they were written for) are JSON Schema (draft 2020-12)
 * objects; `vb schema` prints them, validate.ts compiles them with ajv, and the TypeScript types
 * below are kept in step with them by test/protocol/envelope.test.ts (every property of a schema
 * appears in a fully-populated typed envelope and vice versa).
 *
 * v2 adds what links an envelope to the responses it measured and to the workload that produced
 * them: traces in the vb.traces/2 line format (protocol/envelope/traces.ts) with each response's
 * proof record and leaf hash, a commitment that names every on-chain batch those responses went
 * into, the probe phase, the convergence gate's counts, the max-tokens and input-length
 * distributions, the error budget, and the sweep a point belongs to.
 */

export const ENVELOPE_V1_VERSION = "vb.envelope/1";
export const ENVELOPE_VERSION = "vb.envelope/2";

const HEX64 = "^[0-9a-f]{64}$";
const metricValue = { type: ["number", "null"] } as const;

const signerSchema = {
  type: "object",
  required: ["scheme"],
  oneOf: [
    {
      properties: { scheme: { const: "ed25519" }, public_key: { type: "string", minLength: 1 }, signature: { type: "string", pattern: "^[A-Za-z0-9+/]{86}==$" } },
      required: ["scheme", "public_key", "signature"],
      additionalProperties: false,
    },
    {
      properties: { scheme: { const: "eip191" }, address: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" }, signature: { type: "string", pattern: "^0x[0-9a-fA-F]{130}$" } },
      required: ["scheme", "address", "signature"],
      additionalProperties: false,
    },
    {
      properties: { scheme: { const: "sigstore" }, bundle: { type: "object" } },
      required: ["scheme", "bundle"],
      additionalProperties: false,
    },
  ],
} as const;

export const ENVELOPE_V1_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://verifiable-benchmarks.dev/schema/vb.envelope.1.json",
  title: "Verifiable Benchmarks envelope v1",
  type: "object",
  additionalProperties: false,
  required: [
    "envelope_version", "run_id", "created_at", "suite", "model", "engine", "quantization", "dataset", "seed", "seeds",
    "driver_options", "hardware_fingerprint", "software_provenance", "metrics", "confidence_intervals", "phases",
    "token_count_source", "launches", "energy", "warnings",
  ],
  properties: {
    envelope_version: { const: ENVELOPE_V1_VERSION },
    run_id: { type: "string", format: "uuid" },
    created_at: { type: "string", format: "date-time" },
    suite: {
      type: "object", additionalProperties: false, required: ["id", "version"],
      properties: { id: { type: "string", minLength: 1 }, version: { type: "string", pattern: "^\\d+\\.\\d+\\.\\d+(-[\\w.]+)?$" } },
    },
    model: {
      type: "object", additionalProperties: false, required: ["id", "revision"],
      properties: { id: { type: "string", minLength: 1 }, revision: { type: "string", minLength: 1 } },
    },
    engine: {
      type: "object", additionalProperties: false, required: ["name", "version"],
      properties: { name: { type: "string", minLength: 1 }, version: { type: "string", minLength: 1 } },
    },
    quantization: { type: ["string", "null"] },
    dataset: {
      type: "object", additionalProperties: false, required: ["id", "sha256", "num_prompts"],
      properties: {
        id: { type: "string", minLength: 1 },
        sha256: { type: "string", pattern: HEX64 },
        num_prompts: { type: "integer", minimum: 1 },
        source: { type: "string" },
      },
    },
    seed: { type: "integer", minimum: 0, maximum: 4294967295 },
    seeds: {
      type: "object", additionalProperties: false, required: ["dataset", "arrivals", "bootstrap", "launch"],
      properties: {
        dataset: { type: "integer", minimum: 0 },
        arrivals: { type: "integer", minimum: 0 },
        bootstrap: { type: "integer", minimum: 0 },
        launch: { type: "array", items: { type: "integer", minimum: 0 } },
      },
    },
    driver_options: {
      type: "object", additionalProperties: false,
      required: ["api", "mode", "concurrency", "rate", "num_requests", "duration_s", "ramp_up_ms", "max_tokens", "temperature", "warmup_runs", "convergence", "slo", "launches", "endpoint_sha256"],
      properties: {
        api: { enum: ["chat", "completions"] },
        mode: { enum: ["closed", "open"] },
        concurrency: { type: "integer", minimum: 1 },
        rate: { type: ["number", "null"], exclusiveMinimum: 0 },
        num_requests: { type: "integer", minimum: 1 },
        duration_s: { type: ["number", "null"], exclusiveMinimum: 0 },
        ramp_up_ms: { type: "number", minimum: 0 },
        max_tokens: { type: "integer", minimum: 1 },
        temperature: { type: "number", minimum: 0 },
        warmup_runs: { type: "integer", minimum: 0 },
        convergence: {
          type: "object", additionalProperties: false, required: ["window", "cv_threshold", "timeout_s"],
          properties: { window: { type: "integer", minimum: 2 }, cv_threshold: { type: "number", exclusiveMinimum: 0 }, timeout_s: { type: "number", minimum: 0 } },
        },
        slo: {
          type: "object", additionalProperties: false, required: ["ttft_ms", "tpot_ms", "e2e_ms"],
          properties: { ttft_ms: { type: ["number", "null"] }, tpot_ms: { type: ["number", "null"] }, e2e_ms: { type: ["number", "null"] } },
        },
        launches: { type: "integer", minimum: 1 },
        endpoint_sha256: { type: "string", pattern: HEX64 },
      },
    },
    hardware_fingerprint: {
      type: "object", additionalProperties: false, required: ["sha256", "cpu", "memory", "numa", "gpus", "driver", "kernel"],
      properties: {
        sha256: { type: "string", pattern: HEX64 },
        cpu: {
          type: "object", additionalProperties: false, required: ["model", "microcode", "logical_cores", "arch"],
          properties: { model: { type: "string" }, microcode: { type: ["string", "null"] }, logical_cores: { type: "integer" }, arch: { type: "string" } },
        },
        memory: { type: "object", additionalProperties: false, required: ["total_bytes"], properties: { total_bytes: { type: "integer" } } },
        numa: {
          type: "object", additionalProperties: false, required: ["nodes"],
          properties: { nodes: { type: "array", items: { type: "object", required: ["id", "cpus"], additionalProperties: false, properties: { id: { type: "integer" }, cpus: { type: "string" } } } } },
        },
        gpus: {
          type: "array",
          items: {
            type: "object", additionalProperties: false, required: ["name", "uuid", "memory_mib", "vbios"],
            properties: { name: { type: "string" }, uuid: { type: "string" }, memory_mib: { type: ["integer", "null"] }, vbios: { type: "string" } },
          },
        },
        driver: { type: ["string", "null"] },
        kernel: { type: "string" },
      },
    },
    software_provenance: {
      type: "object", additionalProperties: false, required: ["tool", "tool_version", "git_commit", "git_dirty", "node", "libraries"],
      properties: {
        tool: { type: "string" },
        tool_version: { type: "string" },
        git_commit: { type: ["string", "null"], pattern: "^[0-9a-f]{40}$" },
        git_dirty: { type: ["boolean", "null"] },
        node: { type: "string" },
        libraries: { type: "object", additionalProperties: { type: "string" } },
      },
    },
    metrics: { type: "object", minProperties: 1, additionalProperties: metricValue },
    confidence_intervals: {
      type: "object",
      additionalProperties: { type: "array", minItems: 2, maxItems: 2, items: { type: "number" } },
    },
    phases: {
      type: "object", additionalProperties: false, required: ["cold_start", "warmup", "convergence", "measured"],
      properties: {
        cold_start: { type: "object", additionalProperties: false, required: ["ttft_ms", "e2e_ms", "ok"], properties: { ttft_ms: metricValue, e2e_ms: metricValue, ok: { type: "boolean" } } },
        warmup: { type: "object", additionalProperties: false, required: ["runs", "requests"], properties: { runs: { type: "integer" }, requests: { type: "integer" } } },
        convergence: {
          type: "object", additionalProperties: false, required: ["converged", "requests", "cv", "elapsed_s"],
          properties: { converged: { type: "boolean" }, requests: { type: "integer" }, cv: metricValue, elapsed_s: { type: "number" } },
        },
        measured: { type: "object", additionalProperties: false, required: ["requests", "duration_s"], properties: { requests: { type: "integer" }, duration_s: { type: "number" } } },
      },
    },
    token_count_source: { enum: ["server_usage", "stream_chunks", "mixed", "none"] },
    launches: {
      type: "array", minItems: 1,
      items: {
        type: "object", additionalProperties: false, required: ["index", "seed", "requests", "ttft_p50_ms", "output_tok_per_s"],
        properties: { index: { type: "integer" }, seed: { type: "integer" }, requests: { type: "integer" }, ttft_p50_ms: metricValue, output_tok_per_s: metricValue },
      },
    },
    energy: {
      type: "object", additionalProperties: false, required: ["source", "joules", "joules_per_token"],
      properties: { source: { enum: ["rapl", "nvidia-smi", null] }, joules: metricValue, joules_per_token: metricValue },
    },
    traces: {
      type: "object", additionalProperties: false, required: ["file", "sha256", "count"],
      properties: { file: { type: "string" }, sha256: { type: "string", pattern: HEX64 }, count: { type: "integer" } },
    },
    replay_of: { type: "string", pattern: HEX64 },
    commitment: {
      type: "object", additionalProperties: false, required: ["chain_id", "contract", "batch_id", "root"],
      properties: {
        chain_id: { type: "integer", minimum: 1 },
        contract: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" },
        batch_id: { type: "string", pattern: "^(0|[1-9][0-9]{0,77})$" },
        root: { type: "string", pattern: "^0x[0-9a-f]{64}$" },
      },
    },
    warnings: { type: "array", items: { type: "string" } },
    signature: {
      type: "object", additionalProperties: false, required: ["content_hash", "signers"],
      properties: { content_hash: { type: "string", pattern: HEX64 }, signers: { type: "array", minItems: 1, items: signerSchema } },
    },
  },
} as const;

export type MetricValue = number | null;

export type Signer =
  | { scheme: "ed25519"; public_key: string; signature: string }
  | { scheme: "eip191"; address: string; signature: string }
  | { scheme: "sigstore"; bundle: Record<string, unknown> };

export interface SignatureBlock {
  content_hash: string;
  signers: Signer[];
}

export interface HardwareFingerprint {
  sha256: string;
  cpu: { model: string; microcode: string | null; logical_cores: number; arch: string };
  memory: { total_bytes: number };
  numa: { nodes: { id: number; cpus: string }[] };
  gpus: { name: string; uuid: string; memory_mib: number | null; vbios: string }[];
  driver: string | null;
  kernel: string;
}

export interface SoftwareProvenance {
  tool: string;
  tool_version: string;
  git_commit: string | null;
  git_dirty: boolean | null;
  node: string;
  libraries: Record<string, string>;
}

export interface DriverOptions {
  api: "chat" | "completions";
  mode: "closed" | "open";
  concurrency: number;
  rate: number | null;
  num_requests: number;
  duration_s: number | null;
  /** Closed loop: worker i starts i / concurrency * ramp_up_ms after the first. */
  ramp_up_ms: number;
  max_tokens: number;
  temperature: number;
  warmup_runs: number;
  convergence: { window: number; cv_threshold: number; timeout_s: number };
  slo: { ttft_ms: number | null; tpot_ms: number | null; e2e_ms: number | null };
  launches: number;
  endpoint_sha256: string;
}

export interface Phases {
  cold_start: { ttft_ms: MetricValue; e2e_ms: MetricValue; ok: boolean };
  warmup: { runs: number; requests: number };
  convergence: { converged: boolean; requests: number; cv: MetricValue; elapsed_s: number };
  measured: { requests: number; duration_s: number };
}

export interface LaunchSummary {
  index: number;
  seed: number;
  requests: number;
  ttft_p50_ms: MetricValue;
  output_tok_per_s: MetricValue;
}

export interface Commitment {
  chain_id: number;
  contract: string;
  batch_id: string;
  root: string;
}

export interface VbEnvelopeV1 {
  envelope_version: typeof ENVELOPE_V1_VERSION;
  run_id: string;
  created_at: string;
  suite: { id: string; version: string };
  model: { id: string; revision: string };
  engine: { name: string; version: string };
  quantization: string | null;
  dataset: { id: string; sha256: string; num_prompts: number; source?: string };
  seed: number;
  seeds: { dataset: number; arrivals: number; bootstrap: number; launch: number[] };
  driver_options: DriverOptions;
  hardware_fingerprint: HardwareFingerprint;
  software_provenance: SoftwareProvenance;
  metrics: Record<string, MetricValue>;
  confidence_intervals: Record<string, [number, number]>;
  phases: Phases;
  token_count_source: "server_usage" | "stream_chunks" | "mixed" | "none";
  launches: LaunchSummary[];
  energy: { source: "rapl" | "nvidia-smi" | null; joules: MetricValue; joules_per_token: MetricValue };
  traces?: { file: string; sha256: string; count: number };
  replay_of?: string;
  commitment?: Commitment;
  warnings: string[];
  signature?: SignatureBlock;
}

// ---------------------------------------------------------------------------------- vb.envelope/2

/**
 * A count distribution (tokens per request): one shape for all kinds so readers need no switch.
 * fixed: min = max = mean, stddev 0. normal: drawn N(mean, stddev), rounded, clamped to [min, max].
 * uniform: integers in [min, max], mean and stddev those of the uniform.
 */
const distributionSchema = {
  type: "object", additionalProperties: false, required: ["kind", "mean", "stddev", "min", "max"],
  properties: {
    kind: { enum: ["fixed", "normal", "uniform"] },
    mean: { type: "number", minimum: 1 },
    stddev: { type: "number", minimum: 0 },
    min: { type: "integer", minimum: 1 },
    max: { type: "integer", minimum: 1 },
  },
} as const;

const v1 = ENVELOPE_V1_SCHEMA.properties;

export const ENVELOPE_SCHEMA = {
  ...ENVELOPE_V1_SCHEMA,
  $id: "https://verifiable-benchmarks.dev/schema/vb.envelope.2.json",
  title: "Verifiable Benchmarks envelope v2",
  properties: {
    ...v1,
    envelope_version: { const: ENVELOPE_VERSION },
    driver_options: {
      ...v1.driver_options,
      required: [...v1.driver_options.required, "max_tokens_dist", "input_tokens", "max_error_rate"],
      properties: {
        ...v1.driver_options.properties,
        max_tokens_dist: distributionSchema,
        input_tokens: {
          type: ["object", "null"], additionalProperties: false, required: ["dist", "calibration"],
          properties: {
            dist: distributionSchema,
            calibration: {
              type: "object", additionalProperties: false, required: ["overhead_tokens", "tokens_per_word", "source"],
              properties: { overhead_tokens: { type: "number" }, tokens_per_word: { type: "number", exclusiveMinimum: 0 }, source: { enum: ["server_usage", "assumed"] } },
            },
          },
        },
        max_error_rate: { type: "number", minimum: 0, maximum: 1 },
      },
    },
    phases: {
      ...v1.phases,
      required: [...v1.phases.required, "probe"],
      properties: {
        ...v1.phases.properties,
        probe: {
          type: "object", additionalProperties: false, required: ["ok", "status", "ttft_ms", "e2e_ms", "prompt_tokens", "proof_record"],
          properties: { ok: { type: "boolean" }, status: { type: "integer" }, ttft_ms: metricValue, e2e_ms: metricValue, prompt_tokens: { type: ["integer", "null"] }, proof_record: { type: "boolean" } },
        },
        convergence: {
          ...v1.phases.properties.convergence,
          required: [...v1.phases.properties.convergence.required, "window_filled", "skipped_reason"],
          properties: { ...v1.phases.properties.convergence.properties, window_filled: { type: "integer", minimum: 0 }, skipped_reason: { type: ["string", "null"] } },
        },
      },
    },
    traces: {
      type: "object", additionalProperties: false, required: ["file", "sha256", "count", "format"],
      properties: { ...v1.traces.properties, format: { const: "vb.traces/2" } },
    },
    commitment: {
      type: "object", additionalProperties: false, required: ["chain_id", "contract", "batches"],
      properties: {
        chain_id: v1.commitment.properties.chain_id,
        contract: v1.commitment.properties.contract,
        batches: {
          type: "array", minItems: 1,
          items: {
            type: "object", additionalProperties: false, required: ["batch_id", "root", "responses"],
            properties: { batch_id: v1.commitment.properties.batch_id, root: v1.commitment.properties.root, responses: { type: "integer", minimum: 1 } },
          },
        },
      },
    },
    sweep: {
      type: "object", additionalProperties: false, required: ["id", "index", "points", "kind"],
      properties: { id: { type: "string", minLength: 1 }, index: { type: "integer", minimum: 0 }, points: { type: "integer", minimum: 1 }, kind: { enum: ["rate", "sweep"] } },
    },
  },
} as const;

export interface Distribution {
  kind: "fixed" | "normal" | "uniform";
  mean: number;
  stddev: number;
  min: number;
  max: number;
}

export interface InputTokens {
  dist: Distribution;
  /** prompt tokens = overhead_tokens + tokens_per_word * words, fitted from the probe's usage. */
  calibration: { overhead_tokens: number; tokens_per_word: number; source: "server_usage" | "assumed" };
}

export interface DriverOptionsV2 extends DriverOptions {
  max_tokens_dist: Distribution;
  input_tokens: InputTokens | null;
  /** Share of failed measured requests above which the run fails (and nothing is signed). */
  max_error_rate: number;
}

export interface ProbePhase {
  ok: boolean;
  status: number;
  ttft_ms: MetricValue;
  e2e_ms: MetricValue;
  prompt_tokens: number | null;
  /** Whether the endpoint named a proof record (x-proof-record) for the probe's response. */
  proof_record: boolean;
}

export interface PhasesV2 extends Omit<Phases, "convergence"> {
  probe: ProbePhase;
  convergence: Phases["convergence"] & { window_filled: number; skipped_reason: string | null };
}

/** One on-chain batch some of the traced responses went into. */
export interface CommittedBatch {
  batch_id: string;
  root: string;
  /** How many traced responses are leaves of it. */
  responses: number;
}

export interface CommitmentV2 {
  chain_id: number;
  contract: string;
  batches: CommittedBatch[];
}

export interface SweepMembership {
  id: string;
  index: number;
  points: number;
  kind: "rate" | "sweep";
}

export interface VbEnvelope extends Omit<VbEnvelopeV1, "envelope_version" | "driver_options" | "phases" | "traces" | "commitment"> {
  envelope_version: typeof ENVELOPE_VERSION;
  driver_options: DriverOptionsV2;
  phases: PhasesV2;
  traces?: { file: string; sha256: string; count: number; format: "vb.traces/2" };
  commitment?: CommitmentV2;
  sweep?: SweepMembership;
}

/** Either version, as read from disk. */
export type AnyVbEnvelope = VbEnvelope | VbEnvelopeV1;
