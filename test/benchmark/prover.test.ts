/**
 * A short benchmark against the project's own prover (startProver: the OpenAI-compatible server
 * on onnxruntime with TOPLOC proofs, embedded default model) on 127.0.0.1: run, verify, replay
 * and diff, streaming chat and completions.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diffEnvelopes } from "../../benchmark/diff.ts";
import { replayEnvelope } from "../../benchmark/replay.ts";
import { runBenchmark, type RunOptions } from "../../benchmark/run.ts";
import { parseDistribution } from "../../benchmark/workload.ts";
import { generateEd25519, publicKeyToPem, verifyEnvelopeText } from "../../protocol/envelope/index.ts";
import { loadConfig } from "../../prover/config.ts";
import { startProver, type RunningProver } from "../../prover/main.ts";

describe("benchmark against the project's prover server", function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), "vb-bench-prover-"));
  const key = generateEd25519();
  const API_KEY = "sk-vb-test-0123456789abcdef";
  let prover: RunningProver;

  before(async () => {
    const config = loadConfig({
      argv: ["--port", "0", "--data-dir", join(tmp, "data")],
      // A real provider's set-up: the benchmark client authenticates with an API key.
      env: { PROVER_LOG_LEVEL: "silent", PROVER_MODEL_CACHE_DIR: join(tmp, "models"), PROVER_SYNC_WRITES: "false", PROVER_API_KEYS: API_KEY },
    });
    prover = await startProver(config);
  });
  after(async () => {
    await prover?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const options = (api: "chat" | "completions"): RunOptions => ({
    suite: "prover-smoke", suiteVersion: "1.0.0", model: prover.engine.info.modelId, modelRevision: "embedded", engine: "vb-prover", engineVersion: "0.1.0",
    quant: "fp32", baseUrl: `${prover.address}/v1`, api, concurrency: 2, rate: null, numRequests: 6, durationS: null, maxTokens: 8, temperature: 0,
    seed: 5, dataset: "synthetic", warmupRuns: 1, convergence: { window: 3, cvThreshold: 0.05, timeoutS: 0.3 },
    slo: { ttft_ms: null, tpot_ms: null, e2e_ms: null }, launches: 1, resamples: 200, requestTimeoutMs: 60_000, progress: false, apiKey: API_KEY,
  });

  it("runs chat and completions, verifies, replays and diffs", async () => {
    const dir = join(tmp, "chat");
    const chat = await runBenchmark(options("chat"), { ed25519: key }, dir);
    assert.equal(chat.envelope.metrics.ok_rate, 1, chat.envelope.warnings.join("; "));
    assert.equal(chat.envelope.token_count_source, "server_usage");
    assert.ok(chat.envelope.metrics.ttft_p50_ms! > 0);
    assert.ok(chat.envelope.metrics.output_tok_per_s! > 0);
    // The prover names every response's proof record and leaf hash; the traces keep them.
    assert.equal(chat.envelope.phases.probe.proof_record, true);
    assert.ok(chat.requests.every((r) => r.proof !== null && /^rec_/.test(r.proof.record_id) && /^0x[0-9a-f]{64}$/.test(r.proof.leaf_hash ?? "")));
    const trust = { ed25519: [publicKeyToPem(key.publicKey)] };
    assert.equal((await verifyEnvelopeText(readFileSync(join(dir, "envelope.json"), "utf8"), trust)).status, "verified");

    const completions = await runBenchmark(options("completions"), { ed25519: key }, join(tmp, "completions"));
    assert.equal(completions.envelope.metrics.ok_rate, 1, completions.envelope.warnings.join("; "));

    // Input lengths in the prover's own tokens (byte-level: the calibration finds several tokens a word).
    const sized = await runBenchmark({ ...options("completions"), inputTokens: parseDistribution("60", "--input-tokens") }, { ed25519: key }, join(tmp, "sized"));
    const calibration = sized.envelope.driver_options.input_tokens!.calibration;
    assert.equal(calibration.source, "server_usage");
    assert.ok(calibration.tokens_per_word > 3, JSON.stringify(calibration));
    assert.ok(Math.abs(sized.envelope.metrics.prompt_tokens_mean! - 60) <= 6, `prompt tokens ${sized.envelope.metrics.prompt_tokens_mean}`);

    const replay = await replayEnvelope(join(dir, "envelope.json"), { baseUrl: `${prover.address}/v1`, outDir: join(tmp, "replay"), noVerify: false, trust, keys: { ed25519: key }, progress: false, apiKey: API_KEY });
    assert.equal(replay.run.envelope.replay_of, chat.envelope.signature!.content_hash);
    assert.equal(replay.run.envelope.metrics.ok_rate, 1);
    // Same seed, greedy decoding, same prompts: the prover produces the same number of tokens.
    assert.equal(replay.run.envelope.metrics.output_tokens_mean, chat.envelope.metrics.output_tokens_mean);
    const report = diffEnvelopes(chat.envelope as unknown as Record<string, unknown>, replay.run.envelope as unknown as Record<string, unknown>, 0.02);
    assert.equal(report.metrics.find((m) => m.metric === "output_tokens_mean")!.verdict, "no_change");
    assert.match(replay.sideBySide, /ttft_p50_ms/);
  });
});
