import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLoopbackServer, type LoopbackServer } from "../../benchmark/loopback-server.ts";
import { RunConfigError, checkRunOptions, launchSeed, runBenchmark, type RunOptions } from "../../benchmark/run.ts";
import { SYNTHETIC_ID } from "../../benchmark/dataset.ts";
import { StreamingClient } from "../../benchmark/http-client.ts";
import { closedLoop } from "../../benchmark/loadgen.ts";
import { deriveSeed, poissonArrivals } from "../../benchmark/rng.ts";
import { generateEd25519, publicKeyToPem, verifyEnvelopeText } from "../../protocol/envelope/index.ts";
import { parseDistribution } from "../../benchmark/workload.ts";

const key = generateEd25519();
const trust = { ed25519: [publicKeyToPem(key.publicKey)] };

function options(baseUrl: string, over: Partial<RunOptions> = {}): RunOptions {
  return {
    suite: "chat-short", suiteVersion: "1.0.0", model: "loopback/tiny", modelRevision: "r1", engine: "loopback", engineVersion: "1.0", quant: "none",
    baseUrl, api: "chat", concurrency: 4, rate: null, numRequests: 40, durationS: null, maxTokens: 8, temperature: 0, seed: 42,
    dataset: "synthetic", warmupRuns: 3, convergence: { window: 10, cvThreshold: 0.05, timeoutS: 0.2 },
    slo: { ttft_ms: 1000, tpot_ms: 1000, e2e_ms: 5000 }, launches: 1, resamples: 200, requestTimeoutMs: 10_000, progress: false,
    ...over,
  };
}

const outDir = () => mkdtempSync(join(tmpdir(), "vb-run-"));
const tracesOf = (dir: string) => readFileSync(join(dir, "traces.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

describe("benchmark run against a streaming server on 127.0.0.1", function () {
  this.timeout(60_000);
  let server: LoopbackServer;
  before(async () => {
    server = await startLoopbackServer({ tokens: 8, firstTokenDelayMs: 3, interTokenDelayMs: 1 });
  });
  after(async () => {
    await server.close();
  });

  it("runs closed-loop chat: phases, metrics with CIs, traces, a signed envelope", async () => {
    server.requests.length = 0;
    const dir = outDir();
    const out = await runBenchmark(options(server.url), { ed25519: key }, dir);
    const e = out.envelope;
    assert.equal((await verifyEnvelopeText(readFileSync(join(dir, "envelope.json"), "utf8"), trust)).status, "verified");
    // The probe + 1 cold start + 3 warm-up runs x concurrency 4 + convergence requests + 40 measured.
    assert.equal(e.phases.warmup.requests, 12);
    assert.equal(e.phases.measured.requests, 40);
    assert.equal(server.requests.length, 1 + 1 + 12 + e.phases.convergence.requests + 40);
    assert.deepEqual([e.phases.probe.ok, e.phases.probe.status, e.phases.probe.proof_record], [true, 200, false]);
    assert.equal(e.envelope_version, "vb.envelope/2");
    assert.equal(e.traces!.format, "vb.traces/2");
    assert.ok(server.requests.every((r) => r.body.seed === 42 && r.body.stream === true && (r.body.stream_options as { include_usage: boolean }).include_usage));
    assert.equal(e.token_count_source, "server_usage");
    assert.equal(e.metrics.ok_rate, 1);
    assert.equal(e.metrics.output_tokens_mean, 8);
    const ttft = e.metrics.ttft_p50_ms!;
    assert.ok(ttft >= 2.5 && ttft < 200, `ttft p50 ${ttft}`);
    assert.ok(e.metrics.tpot_p50_ms! > 0.5, `tpot ${e.metrics.tpot_p50_ms}`);
    assert.ok(e.metrics.e2e_p50_ms! > ttft);
    const [lo, hi] = e.confidence_intervals.ttft_p50_ms!;
    assert.ok(lo <= ttft && ttft <= hi);
    assert.ok(e.metrics.cold_start_ms! > 0);
    assert.equal(e.metrics.goodput_req_per_s, e.metrics.req_per_s);
    assert.equal(e.metrics.energy_joules ?? null, e.energy.joules);
    if (e.energy.source === null) assert.ok(e.warnings.some((w) => /energy and joules_per_token are null/.test(w)));
    assert.equal(e.dataset.id, SYNTHETIC_ID);
    assert.equal(e.seeds.launch[0], 42);
    const traces = tracesOf(dir);
    assert.equal(traces.length, 40);
    assert.equal(e.traces!.count, 40);
    assert.ok(traces.every((t) => t.ok && t.output_tokens === 8 && t.itl_ms.length === 7 && t.queue_ms >= 0 && t.max_tokens === 8 && t.proof === null));
    assert.match(out.summary, /ttft_p50_ms/);
    assert.ok(readFileSync(join(dir, "summary.txt"), "utf8").includes("content hash"));
  });

  it("sends the same prompts in the same order for the same seed, other ones for another seed", async () => {
    const prompts = async (seed: number) => {
      server.requests.length = 0;
      await runBenchmark(options(server.url, { seed, warmupRuns: 0, numRequests: 12, concurrency: 1, convergence: { window: 2, cvThreshold: 10, timeoutS: 0 } }), { ed25519: key }, outDir());
      return server.requests.slice(-12).map((r) => JSON.stringify(r.body.messages));
    };
    const a = await prompts(7);
    assert.deepEqual(await prompts(7), a);
    assert.notDeepEqual(await prompts(8), a);
  });

  it("runs open-loop completions at a seeded Poisson rate, keeping client queueing apart", async () => {
    const dir = outDir();
    const out = await runBenchmark(options(server.url, { api: "completions", rate: 200, numRequests: 30, concurrency: 2, warmupRuns: 1 }), { ed25519: key }, dir);
    assert.equal(out.envelope.driver_options.mode, "open");
    assert.equal(out.envelope.metrics.ok_rate, 1);
    assert.ok(server.requests.slice(-30).every((r) => r.path === "/v1/completions" && typeof r.body.prompt === "string"));
    // Two sockets for 200 req/s of ~15 ms requests: some requests wait for a socket, and that wait is queue_ms.
    assert.ok(out.envelope.metrics.queue_p99_ms! >= 0);
    const t = tracesOf(dir);
    assert.ok(t.every((r) => r.ttft_ms < r.e2e_ms));
    // Requests were scheduled at the seeded Poisson arrival times.
    const arrivals = poissonArrivals(30, 200, deriveSeed(launchSeed(42, 0), "arrivals"));
    t.forEach((r, i) => assert.ok(Math.abs(r.scheduled_ms - arrivals[i]!) < 0.01, `request ${i}: ${r.scheduled_ms} vs ${arrivals[i]}`));
  });

  it("stops at the duration limit", async () => {
    const out = await runBenchmark(options(server.url, { numRequests: 100_000, durationS: 0.3, warmupRuns: 0 }), { ed25519: key }, outDir());
    assert.ok(out.envelope.phases.measured.requests < 100_000);
    assert.ok(out.envelope.phases.measured.duration_s < 5);
  });

  it("warns when TTFT does not converge in time, saying its counts; passes when steady; skips a window longer than the run", async () => {
    const slow = await startLoopbackServer({ tokens: 2, firstTokenDelayMs: 40 });
    try {
      const steady = await runBenchmark(options(slow.url, { concurrency: 1, numRequests: 6, warmupRuns: 1, convergence: { window: 5, cvThreshold: 0.5, timeoutS: 10 } }), { ed25519: key }, outDir());
      assert.equal(steady.envelope.phases.convergence.converged, true);
      assert.ok(steady.envelope.phases.convergence.requests >= 5);
      assert.equal(steady.envelope.phases.convergence.window_filled, 5);
      const never = await runBenchmark(options(slow.url, { concurrency: 1, numRequests: 6, warmupRuns: 0, convergence: { window: 5, cvThreshold: 1e-9, timeoutS: 0.4 } }), { ed25519: key }, outDir());
      assert.equal(never.envelope.phases.convergence.converged, false);
      assert.ok(never.envelope.warnings.some((w) => /TTFT did not converge in 0.4 s: CV [0-9.]+% over the last 5 of \d+ requests/.test(w)), never.envelope.warnings.join("\n"));
      // The window cannot fill in time: the warning says how far it got.
      const unfilled = await runBenchmark(options(slow.url, { concurrency: 1, numRequests: 30, warmupRuns: 0, convergence: { window: 25, cvThreshold: 0.5, timeoutS: 0.2 } }), { ed25519: key }, outDir());
      assert.ok(unfilled.envelope.warnings.some((w) => /only \d+ of the 25 successful requests its window needs completed in 0.2 s/.test(w)), unfilled.envelope.warnings.join("\n"));
      // A run no longer than the gate's window skips the gate, at once, and says why.
      const t0 = Date.now();
      const short = await runBenchmark(options(slow.url, { concurrency: 1, numRequests: 5, warmupRuns: 0, convergence: { window: 30, cvThreshold: 0.05, timeoutS: 60 } }), { ed25519: key }, outDir());
      assert.ok(Date.now() - t0 < 5_000);
      assert.equal(short.envelope.phases.convergence.requests, 0);
      assert.match(short.envelope.phases.convergence.skipped_reason ?? "", /measures 5 requests, not more than the gate's window of 30/);
    } finally {
      await slow.close();
    }
  });

  it("falls back to stream chunk counts (and says so) when the server reports no usage", async () => {
    const noUsage = await startLoopbackServer({ tokens: 5, usage: false });
    try {
      const out = await runBenchmark(options(noUsage.url, { numRequests: 10, warmupRuns: 0 }), { ed25519: key }, outDir());
      assert.equal(out.envelope.token_count_source, "stream_chunks");
      assert.equal(out.envelope.metrics.output_tokens_mean, 5);
      assert.ok(out.envelope.warnings.some((w) => /token counts come from stream_chunks/.test(w)));
    } finally {
      await noUsage.close();
    }
  });

  it("records failed requests in ok_rate and goodput when --max-error-rate allows them", async () => {
    const flaky = await startLoopbackServer({ tokens: 3, failEvery: 4 });
    try {
      const dir = outDir();
      const out = await runBenchmark(options(flaky.url, { numRequests: 40, warmupRuns: 0, concurrency: 1, maxErrorRate: 0.3, convergence: { window: 10, cvThreshold: 0.05, timeoutS: 0 } }), { ed25519: key }, dir);
      assert.ok(out.envelope.metrics.ok_rate! > 0.6 && out.envelope.metrics.ok_rate! < 0.9, `ok_rate ${out.envelope.metrics.ok_rate}`);
      assert.equal(out.envelope.driver_options.max_error_rate, 0.3);
      assert.ok(out.envelope.warnings.some((w) => /requests failed, within --max-error-rate 0.3 \(first error: HTTP 500/.test(w)));
      assert.ok(tracesOf(dir).some((t) => !t.ok && t.status === 500));
      assert.ok(out.envelope.metrics.goodput_req_per_s! < out.envelope.metrics.req_per_s! + 1e-9);
    } finally {
      await flaky.close();
    }
  });

  it("applies the goodput SLOs", async () => {
    const out = await runBenchmark(options(server.url, { numRequests: 20, warmupRuns: 0, slo: { ttft_ms: 0.001, tpot_ms: null, e2e_ms: null } }), { ed25519: key }, outDir());
    assert.equal(out.envelope.metrics.goodput_req_per_s, 0);
    assert.equal(out.envelope.metrics.slo_attainment, 0);
    assert.equal(out.envelope.metrics.ok_rate, 1);
  });

  it("rejects bad configuration with typed errors naming the option", async () => {
    const bad: [Partial<RunOptions>, string][] = [
      [{ concurrency: 0 }, "--concurrency"], [{ numRequests: 1.5 }, "--num-requests"], [{ rate: -1 }, "--rate"], [{ seed: -3 }, "--seed"],
      [{ baseUrl: "ftp://x" }, "--base-url"], [{ baseUrl: "nope" }, "--base-url"], [{ suiteVersion: "1" }, "--suite-version"],
      [{ convergence: { window: 1, cvThreshold: 0.05, timeoutS: 1 } }, "--convergence-window"], [{ durationS: 0 }, "--duration"], [{ rampUpMs: -5 }, "--ramp-up"],
    ];
    for (const [over, field] of bad) assert.throws(() => checkRunOptions(options(server.url, over)), (e: unknown) => e instanceof RunConfigError && e.field === field, field);
    await assert.rejects(runBenchmark(options(server.url, { expectDatasetSha256: "0".repeat(64) }), { ed25519: key }, outDir()), (e: unknown) => e instanceof RunConfigError && e.field === "dataset.sha256");
    const dir = outDir();
    writeFileSync(join(dir, "d.json"), "{}");
    await assert.rejects(runBenchmark(options(server.url, { dataset: join(dir, "d.json") }), { ed25519: key }, outDir()), /ShareGPT dataset must be a JSON array/);
    // An output folder that holds anything is refused (naming --output) unless force.
    await assert.rejects(runBenchmark(options(server.url), { ed25519: key }, dir), (e: unknown) => e instanceof RunConfigError && e.field === "--output" && /not empty \(d\.json\); pass --force/.test(e.message));
  });

  it("ramps closed-loop workers up over rampUpMs", async () => {
    // Requests last longer than the ramp-up, so each worker takes exactly one of the 4 jobs.
    const slow = await startLoopbackServer({ tokens: 2, firstTokenDelayMs: 400 });
    const client = new StreamingClient({ baseUrl: slow.url, api: "chat", model: "m", maxTokens: 2, temperature: 0, maxSockets: 4 });
    try {
      // Worker i starts i/4 of 200 ms after worker 0.
      const jobs = Array.from({ length: 4 }, (_, i) => ({ promptIndex: i, prompt: "p", maxTokens: 2 }));
      const traces = await closedLoop(client, jobs, 4, { rampUpMs: 200 });
      const starts = traces.map((t) => t.scheduledAt).sort((a, b) => a - b);
      assert.ok(starts[3]! - starts[0]! >= 140, `requests spread over ${starts[3]! - starts[0]!} ms`);
      assert.equal(traces.length, 4);
    } finally {
      client.close();
      await slow.close();
    }
  });

  it("derives later launches' seeds from the master seed", () => {
    assert.equal(launchSeed(42, 0), 42);
    assert.notEqual(launchSeed(42, 1), launchSeed(42, 2));
    assert.equal(launchSeed(42, 1), launchSeed(42, 1));
  });

  it("draws max_tokens per request from a distribution, and sizes synthetic prompts by the endpoint's usage", async () => {
    server.requests.length = 0;
    const dir = outDir();
    const out = await runBenchmark(options(server.url, {
      numRequests: 30, warmupRuns: 0, maxTokens: 12, maxTokensDist: parseDistribution("uniform:2,12", "--max-tokens"), inputTokens: parseDistribution("normal:40,5", "--input-tokens"),
    }), { ed25519: key }, dir);
    const sent = server.requests.slice(-30).map((r) => r.body.max_tokens as number);
    assert.ok(sent.every((m) => m >= 2 && m <= 12) && new Set(sent).size > 3, `max_tokens ${sent}`);
    assert.deepEqual(tracesOf(dir).map((t) => t.max_tokens), sent);
    assert.equal(out.envelope.driver_options.max_tokens_dist.kind, "uniform");
    // The loopback server counts a prompt's words (+ 8 for the template): the probe's calibration finds 1 token a word.
    const calibration = out.envelope.driver_options.input_tokens!.calibration;
    assert.deepEqual(calibration, { overhead_tokens: 8, tokens_per_word: 1, source: "server_usage" });
    assert.ok(Math.abs(out.envelope.metrics.prompt_tokens_mean! - 40) < 3, `prompt tokens mean ${out.envelope.metrics.prompt_tokens_mean}`);
    assert.equal(out.envelope.dataset.id, "builtin:synthetic-len-v1");
    assert.ok(!out.envelope.warnings.some((w) => /tokens a word|off the asked/.test(w)), out.envelope.warnings.join("\n"));
  });
});
