/**
 * Every way a run can go wrong against a loopback server, end to end through `vb run`: a dead
 * endpoint, a wrong base path, a wrong model (the probe stops each with a clear error, and
 * nothing is signed), failures beyond --max-error-rate (the run stops early), the server killed
 * mid-run (SIGKILL of its process: the run ends naming the error), and an output folder that
 * already holds a run (refused without --force).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunFailedError } from "../../benchmark/errors.ts";
import { startLoopbackProcess, type LoopbackProcess } from "../../benchmark/loopback-process.ts";
import { startLoopbackServer } from "../../benchmark/loopback-server.ts";
import { runBenchmark, type RunOptions } from "../../benchmark/run.ts";
import { generateEd25519, writeKeyFile } from "../../protocol/envelope/index.ts";
import { runMain } from "../helpers/cli.ts";

const key = generateEd25519();
const dir = mkdtempSync(join(tmpdir(), "vb-failures-"));
const keyFile = join(dir, "dev.key");
writeKeyFile(keyFile, key, "test");

const FAST = ["--num-requests", "12", "--concurrency", "2", "--warmup-runs", "1", "--convergence-timeout", "0", "--max-tokens", "4", "--resamples", "100", "--no-progress"];
const run = (baseUrl: string, out: string, ...extra: string[]) =>
  runMain(["run", "smoke", "--model", "served/model", "--engine", "loopback@1", "--base-url", baseUrl, "--output", out, "--key", keyFile, ...FAST, ...extra]);

describe("vb run fails fast and loud (loopback servers)", function () {
  this.timeout(60_000);
  let server: LoopbackProcess;
  before(async () => {
    server = await startLoopbackProcess({ tokens: 4, firstTokenDelayMs: 2, models: ["served/model"] });
  });
  after(async () => {
    await server?.stop();
  });

  it("a dead endpoint: the probe names --base-url, nothing is written", async () => {
    const gone = await startLoopbackServer();
    const url = gone.url;
    await gone.close();
    const out = join(dir, "dead");
    const t0 = Date.now();
    const r = await run(url, out);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /ProbeError: nothing is listening at --base-url http:\/\/127\.0\.0\.1:\d+\/v1 \(connect ECONNREFUSED/);
    assert.ok(Date.now() - t0 < 5_000, "fails in seconds, not after a timeout");
    assert.equal(existsSync(join(out, "envelope.json")), false);
  });

  it("a wrong base path: the probe says it is not an API root", async () => {
    const out = join(dir, "path");
    const r = await run(server.url.replace(/\/v1$/, "/api"), out);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /POST \/api\/chat\/completions answered HTTP 404 and GET http:\/\/127\.0\.0\.1:\d+\/api\/models answered HTTP 404: --base-url .* is not an OpenAI-compatible API root/);
    assert.equal(existsSync(join(out, "envelope.json")), false);
  });

  it("a wrong model: the probe lists what the endpoint serves", async () => {
    const out = join(dir, "model");
    const r = await runMain(["run", "smoke", "--model", "other/model", "--engine", "loopback", "--base-url", server.url, "--output", out, "--key", keyFile, ...FAST]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /the endpoint does not serve model "other\/model" \(POST \/v1\/chat\/completions answered HTTP 404; it lists: served\/model\); pass one of them with --model/);
    assert.equal(existsSync(join(out, "envelope.json")), false);
  });

  it("runs against the right endpoint and model, and refuses to overwrite the run without --force", async () => {
    const out = join(dir, "ok");
    const first = await run(server.url, out);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const again = await run(server.url, out);
    assert.equal(again.code, 2, again.stdout + again.stderr);
    assert.match(again.stderr, /the output folder .*ok is not empty \(envelope\.json, summary\.txt, traces\.jsonl\); pass --force/);
    const before = readFileSync(join(out, "envelope.json"), "utf8");
    const forced = await run(server.url, out, "--force");
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(readFileSync(join(out, "envelope.json"), "utf8"), before);
  });

  it("more failures than --max-error-rate: the run stops early, exit 1, no envelope, traces kept", async () => {
    const flaky = await startLoopbackServer({ tokens: 3, failEvery: 5 });
    try {
      const out = join(dir, "flaky");
      const r = await runMain(["run", "smoke", "--model", "m", "--engine", "loopback", "--base-url", flaky.url, "--output", out, "--key", keyFile, ...FAST, "--warmup-runs", "0", "--num-requests", "200", "--concurrency", "1"]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /RunFailedError: measurement: 1 of \d+ requests failed, more than --max-error-rate 0 allows \(0 of 200\); first error: HTTP 500/);
      assert.equal(existsSync(join(out, "envelope.json")), false);
      assert.match(readFileSync(join(out, "FAILED.txt"), "utf8"), /no envelope was signed/);
      const kept = readFileSync(join(out, "traces.jsonl"), "utf8").trim().split("\n");
      assert.ok(kept.length < 20, `stopped after ${kept.length} of 200 requests`);
      // The same server within a budget that allows it: a signed run whose warning names the failures.
      const within = await runMain(["run", "smoke", "--model", "m", "--engine", "loopback", "--base-url", flaky.url, "--output", join(dir, "flaky-ok"), "--key", keyFile, ...FAST, "--max-error-rate", "0.25"]);
      assert.equal(within.code, 0, within.stdout + within.stderr);
      assert.match(within.stdout, /requests failed, within --max-error-rate 0.25/);
    } finally {
      await flaky.close();
    }
  });
});

describe("vb run when the server is killed mid-run", function () {
  this.timeout(60_000);

  it("ends the run in the measurement phase, naming the error and that the server went away", async () => {
    const victim = await startLoopbackProcess({ tokens: 8, firstTokenDelayMs: 5, interTokenDelayMs: 5 });
    const out = join(dir, "killed");
    const o: RunOptions = {
      suite: "smoke", suiteVersion: "1.0.0", model: "m", modelRevision: "r", engine: "loopback", engineVersion: "1", quant: null, baseUrl: victim.url, api: "chat",
      concurrency: 2, rate: null, numRequests: 400, durationS: null, maxTokens: 8, temperature: 0, seed: 1, dataset: "synthetic", warmupRuns: 1,
      convergence: { window: 10, cvThreshold: 0.05, timeoutS: 0 }, slo: { ttft_ms: null, tpot_ms: null, e2e_ms: null }, launches: 1, resamples: 100, requestTimeoutMs: 10_000, progress: false,
    };
    // ~50 ms a request, 2 at a time: 400 requests would take ~10 s; the server dies after ~1 s.
    const killer = setTimeout(() => void victim.kill(), 1_000);
    const t0 = Date.now();
    try {
      await assert.rejects(runBenchmark(o, { ed25519: key }, out), (e: unknown) => {
        assert.ok(e instanceof RunFailedError, String(e));
        assert.equal(e.phase, "measurement");
        assert.match(e.message, /requests failed, more than --max-error-rate 0 allows \(0 of 400\); first error: .*; the server went away mid-run \((connect ECONNREFUSED|connection closed|.*ECONNRESET)/);
        return true;
      });
    } finally {
      clearTimeout(killer);
      await victim.kill();
    }
    assert.ok(Date.now() - t0 < 8_000, `ended ${Date.now() - t0} ms after the start, not at the end of 400 requests`);
    assert.equal(existsSync(join(out, "envelope.json")), false);
    const kept = readFileSync(join(out, "traces.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { ok: boolean });
    assert.ok(kept.some((t) => t.ok) && kept.some((t) => !t.ok), "the traces before and at the failure are kept");
  });
});
