import { ENVELOPE_V1_VERSION, ENVELOPE_VERSION, fingerprintDigest, type VbEnvelope, type VbEnvelopeV1 } from "../../protocol/envelope/index.ts";

/**
 * A vb.envelope/1 with every optional member present. Typed as Required<> so that the compiler
 * (npm run typecheck) fails here when the TypeScript type gains a member this sample lacks; the
 * schema test then checks this sample's keys against the schema's properties.
 */
export function sampleEnvelopeV1(): Required<Omit<VbEnvelopeV1, "signature">> & Pick<VbEnvelopeV1, "signature"> {
  const hardware = {
    cpu: { model: "Test CPU", microcode: "0x1", logical_cores: 2, arch: "x64" },
    memory: { total_bytes: 1 << 30 },
    numa: { nodes: [{ id: 0, cpus: "0-1" }] },
    gpus: [{ name: "Test GPU", uuid: "GPU-1", memory_mib: 1024, vbios: "1.0" }],
    driver: "550.1",
    kernel: "6.1.0",
  };
  return {
    envelope_version: ENVELOPE_V1_VERSION,
    run_id: "0d2c5f4e-3b8a-4c1e-9f00-123456789abc",
    created_at: "2026-11-23T03:00:00.000Z",
    suite: { id: "chat-short", version: "1.0.0" },
    model: { id: "tiny/model", revision: "abc1234" },
    engine: { name: "vb-prover", version: "0.1.0" },
    quantization: "fp32",
    dataset: { id: "builtin:synthetic-v1", sha256: "a".repeat(64), num_prompts: 256, source: "builtin" },
    seed: 42,
    seeds: { dataset: 1, arrivals: 2, bootstrap: 3, launch: [42] },
    driver_options: {
      api: "chat", mode: "closed", concurrency: 4, rate: null, num_requests: 100, duration_s: null, ramp_up_ms: 0, max_tokens: 64, temperature: 0,
      warmup_runs: 3, convergence: { window: 30, cv_threshold: 0.05, timeout_s: 60 }, slo: { ttft_ms: 200, tpot_ms: 50, e2e_ms: null },
      launches: 1, endpoint_sha256: "b".repeat(64),
    },
    hardware_fingerprint: { sha256: fingerprintDigest(hardware), ...hardware },
    software_provenance: { tool: "vb", tool_version: "0.1.0", git_commit: "d".repeat(40), git_dirty: false, node: "v22.0.0", libraries: { ajv: "8.20.0" } },
    metrics: { ttft_p50_ms: 12.5, output_tok_per_s: 1000.25, ok_rate: 1, joules_per_token: null, tiny: 1e-7 },
    confidence_intervals: { ttft_p50_ms: [11.5, 13.25] },
    phases: {
      cold_start: { ttft_ms: 40, e2e_ms: 90, ok: true },
      warmup: { runs: 3, requests: 12 },
      convergence: { converged: true, requests: 30, cv: 0.03, elapsed_s: 1.5 },
      measured: { requests: 100, duration_s: 2.5 },
    },
    token_count_source: "server_usage",
    launches: [{ index: 0, seed: 42, requests: 100, ttft_p50_ms: 12.5, output_tok_per_s: 1000.25 }],
    energy: { source: null, joules: null, joules_per_token: null },
    traces: { file: "traces.jsonl", sha256: "e".repeat(64), count: 100 },
    replay_of: "f".repeat(64),
    commitment: { chain_id: 31337, contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3", batch_id: "7", root: "0x" + "1".repeat(64) },
    warnings: ["héllo ✓ \u{1F600}"],
  };
}

/** A vb.envelope/2 with every optional member present (the same contract as sampleEnvelopeV1). */
export function sampleEnvelope(): Required<Omit<VbEnvelope, "signature">> & Pick<VbEnvelope, "signature"> {
  const v1 = sampleEnvelopeV1();
  const dist = { kind: "normal" as const, mean: 64, stddev: 8, min: 1, max: 96 };
  return {
    ...v1,
    envelope_version: ENVELOPE_VERSION,
    driver_options: {
      ...v1.driver_options,
      max_tokens: 96,
      max_tokens_dist: dist,
      input_tokens: { dist: { kind: "uniform", mean: 200, stddev: 57.7, min: 100, max: 300 }, calibration: { overhead_tokens: 9, tokens_per_word: 5.5, source: "server_usage" } },
      max_error_rate: 0.01,
    },
    phases: {
      ...v1.phases,
      probe: { ok: true, status: 200, ttft_ms: 35, e2e_ms: 80, prompt_tokens: 17, proof_record: true },
      convergence: { ...v1.phases.convergence, window_filled: 30, skipped_reason: null },
    },
    traces: { ...v1.traces, format: "vb.traces/2" },
    commitment: { chain_id: 31337, contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3", batches: [{ batch_id: "7", root: "0x" + "1".repeat(64), responses: 100 }] },
    sweep: { id: "8f6d0e1c-1111-4222-8333-444455556666", index: 0, points: 3, kind: "rate" },
  };
}
