import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLoopbackServer, type LoopbackServer } from "../../benchmark/loopback-server.ts";
import { FetchError, fetchEnvelope, resolveSource } from "../../benchmark/fetch.ts";
import { MalformedJsonError, SchemaValidationError, generateEd25519, parseLossless, prettyJson, signEnvelope, type VbEnvelope } from "../../protocol/envelope/index.ts";
import { runCli, runMain } from "../helpers/cli.ts";
import { IB_DIR, readFixture } from "../helpers/inferencebench-fixtures.ts";
import { sampleEnvelope } from "../helpers/sample-envelope.ts";
import { startSigstoreInstance, unsignedIdToken } from "../helpers/sigstore-instance.ts";

const FAST = ["--ramp-up", "20", "--num-requests", "24", "--concurrency", "4", "--warmup-runs", "1", "--convergence-window", "5", "--convergence-timeout", "0.2", "--resamples", "200", "--max-tokens", "6", "--no-progress"];

describe("vb CLI end to end: keygen, run, verify, replay, diff (the main path in child processes)", function () {
  this.timeout(180_000);
  let fast: LoopbackServer;
  let slow: LoopbackServer;
  const dir = mkdtempSync(join(tmpdir(), "vb-cli-"));
  const keyFile = join(dir, "dev.key");

  before(async () => {
    fast = await startLoopbackServer({ tokens: 6, firstTokenDelayMs: 2 });
    // Much slower first token: a replay against it must show TTFT regressions.
    slow = await startLoopbackServer({ tokens: 6, firstTokenDelayMs: 60 });
  });
  after(async () => {
    await fast.close();
    await slow.close();
  });

  it("keygen writes a 0600 key file and its public key, and refuses to overwrite", async () => {
    const r = await runCli(["keygen", "--out", keyFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(`${keyFile}.pub`, "utf8"), /BEGIN PUBLIC KEY/);
    const again = await runMain(["keygen", "--out", keyFile]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /refusing to overwrite/);
  });

  it("run (two independent process launches) -> verify -> tamper -> replay -> diff", async () => {
    const base = join(dir, "base");
    const run = await runCli(["run", "chat-short", "--model", "loopback/tiny", "--engine", "loopback@1.0", "--quant", "none", "--base-url", fast.url, "--output", base, "--key", keyFile, "--seed", "11", "--launches", "2", "--slo", "ttft=500,e2e=5000", ...FAST]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /ttft_p50_ms/);
    const env = JSON.parse(readFileSync(join(base, "envelope.json"), "utf8"));
    assert.equal(env.launches.length, 2);
    assert.equal(env.phases.measured.requests, 48);
    assert.equal(env.engine.version, "1.0");
    assert.equal(env.driver_options.ramp_up_ms, 20);
    assert.equal(env.seeds.launch[0], 11);
    assert.notEqual(env.seeds.launch[1], 11);
    assert.equal(readFileSync(join(base, "traces.jsonl"), "utf8").trim().split("\n").length, 48);

    const selfOnly = await runMain(["verify", join(base, "envelope.json")]);
    assert.equal(selfOnly.code, 3, selfOnly.stdout + selfOnly.stderr);
    assert.match(selfOnly.stdout, /UNVERIFIED/);
    const trusted = await runCli(["verify", join(base, "envelope.json"), "--trust-key", `${keyFile}.pub`]);
    assert.equal(trusted.code, 0, trusted.stdout + trusted.stderr);
    assert.match(trusted.stdout, /^VERIFIED/m);

    assert.match(trusted.stdout, /PASS +traces: traces\.jsonl: 48 requests/);

    const tree = parseLossless(readFileSync(join(base, "envelope.json"), "utf8")) as Record<string, any>;
    tree.metrics.ttft_p50_ms = 0.5;
    writeFileSync(join(dir, "tampered.json"), prettyJson(tree));
    const tampered = await runMain(["verify", join(dir, "tampered.json"), "--trust-key", `${keyFile}.pub`]);
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, /check "content_hash"[\s\S]*stored: +[0-9a-f]{64}[\s\S]*recomputed: +[0-9a-f]{64}/);

    // The traces next to an envelope must be the signed ones.
    const tracesDir = join(dir, "traces-edit");
    mkdirSync(tracesDir);
    copyFileSync(join(base, "envelope.json"), join(tracesDir, "envelope.json"));
    writeFileSync(join(tracesDir, "traces.jsonl"), readFileSync(join(base, "traces.jsonl"), "utf8").replace('"ok":true', '"ok":false'));
    const editedTraces = await runMain(["verify", join(tracesDir, "envelope.json"), "--trust-key", `${keyFile}.pub`]);
    assert.equal(editedTraces.code, 1);
    assert.match(editedTraces.stderr, /check "traces"/);
    assert.equal((await runMain(["verify", join(tracesDir, "envelope.json"), "--trust-key", `${keyFile}.pub`, "--skip-traces"])).code, 0);

    // A registered prover co-signs with its Ethereum key; verify then trusts that address.
    const ethKey = join(dir, "eth.key");
    writeFileSync(ethKey, "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d\n");
    const cosigned = join(dir, "cosigned.json");
    const signedByProver = await runMain(["sign", join(base, "envelope.json"), "--eth-key-file", ethKey, "--output", cosigned]);
    assert.equal(signedByProver.code, 0, signedByProver.stderr);
    const byAddress = await runMain(["verify", cosigned, "--trust-address", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--skip-traces"]);
    assert.equal(byAddress.code, 0, byAddress.stdout + byAddress.stderr);
    assert.match(byAddress.stdout, /PASS +signature\[1\]: Ethereum address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8/);
    const cosignTampered = await runMain(["sign", join(dir, "tampered.json"), "--eth-key-file", ethKey, "--output", join(dir, "x.json")]);
    assert.equal(cosignTampered.code, 1);
    assert.match(cosignTampered.stderr, /refusing to co-sign/);

    const refused = await runMain(["replay", join(base, "envelope.json"), "--base-url", slow.url, "--output", join(dir, "nope"), "--key", keyFile]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /unverified/);
    // The message names flags that exist, and only those.
    assert.match(refused.stderr, /--trust-key, --trust-address or --sigstore-identity/);
    assert.doesNotMatch(refused.stderr, /--address\b|--key\//);
    assert.equal(existsSync(join(dir, "nope", "envelope.json")), false);

    const cand = join(dir, "cand");
    const replay = await runCli(["replay", join(base, "envelope.json"), "--base-url", slow.url, "--output", cand, "--key", keyFile, "--trust-key", `${keyFile}.pub`, "--engine", "loopback-slow", "--engine-version", "2.0", "--no-progress"]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /source: verified/);
    assert.match(replay.stdout, /metric +source +replay/);
    const re = JSON.parse(readFileSync(join(cand, "envelope.json"), "utf8"));
    assert.equal(re.replay_of, env.signature.content_hash);
    assert.equal(re.seed, 11);
    assert.equal(re.dataset.sha256, env.dataset.sha256);
    assert.deepEqual({ ...re.driver_options, endpoint_sha256: null }, { ...env.driver_options, endpoint_sha256: null });
    assert.equal((await runMain(["verify", join(cand, "envelope.json"), "--trust-key", `${keyFile}.pub`])).code, 0);

    const diff = await runCli(["diff", join(base, "envelope.json"), join(cand, "envelope.json"), "--strict"]);
    assert.equal(diff.code, 1, diff.stdout + diff.stderr);
    assert.match(diff.stdout, /context warning: engine version differs/);
    assert.match(diff.stdout, /test: bootstrap/);
    const lines = diff.stdout.split("\n").filter((l) => / (regression|improvement|no_change|changed|noise|unconfirmed|missing)\s*$/.test(l));
    assert.match(lines[0]!, /^(ttft|e2e)_\w+ .*\[[-+0-9.]+%, [-+0-9.]+%\] .*regression$/);
    const json = await runMain(["diff", join(base, "envelope.json"), join(cand, "envelope.json"), "--json", "--tolerance", "0.05"]);
    assert.equal(json.code, 0);
    const report = JSON.parse(json.stdout);
    const ttft = report.metrics.find((m: { metric: string }) => m.metric === "ttft_p50_ms");
    assert.equal(ttft.verdict, "regression");
    assert.equal(ttft.test, "bootstrap");
    assert.ok(ttft.p_adjusted < 0.05 && ttft.rel_ci[0] > 0.05, JSON.stringify(ttft));
    assert.ok(ttft.candidate > ttft.baseline + 30);
    const same = await runMain(["diff", join(base, "envelope.json"), join(base, "envelope.json"), "--strict"]);
    assert.equal(same.code, 0);
  });

  it("signs with a private Sigstore instance named in the environment and verifies with --trusted-root", async () => {
    const sigstore = await startSigstoreInstance();
    try {
      const source = join(dir, "for-sigstore.json");
      writeFileSync(source, prettyJson(await signEnvelope(sampleEnvelope() as VbEnvelope, { ed25519: generateEd25519() })));
      const rootFile = join(dir, "trusted_root.json");
      writeFileSync(rootFile, JSON.stringify(sigstore.trustedRoot));
      const out = join(dir, "sigstore-signed.json");
      const env = { SIGSTORE_ID_TOKEN: unsignedIdToken({ iss: "https://token.actions.example", email: "release@example.com" }), SIGSTORE_FULCIO_URL: sigstore.fulcioURL, SIGSTORE_REKOR_URL: sigstore.rekorURL };
      const signed = await runCli(["sign", source, "--sigstore", "--output", out], env);
      assert.equal(signed.code, 0, signed.stdout + signed.stderr);
      const identity = ["--sigstore-identity", "release@example.com", "--sigstore-issuer", "https://token.actions.example"];
      const verified = await runMain(["verify", out, ...identity, "--trusted-root", rootFile, "--skip-traces"]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.match(verified.stdout, /^VERIFIED/m);
      // Against the pinned public-good root, this instance's certificate is not trusted.
      const pinned = await runMain(["verify", out, ...identity, "--skip-traces"]);
      assert.equal(pinned.code, 1, pinned.stdout + pinned.stderr);
      assert.match(pinned.stderr, /check "signature\[\d\]"/);
    } finally {
      await sigstore.close();
    }
  });

  it("verifies InferenceBench envelopes and diffs them through the CLI", async () => {
    const ib = new URL("bench_baseline.json", IB_DIR).pathname;
    const ok = await runMain(["verify", ib, "--trust-key", new URL("bench_cosign.pub", IB_DIR).pathname]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const files = readdirSync(IB_DIR).filter((f) => f.includes("llm-h100__c"));
    const d = await runMain(["diff", new URL(files[0]!, IB_DIR).pathname, new URL(files[1]!, IB_DIR).pathname]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /ttft_p50_ms/);
  });

  it("prints the envelope schemas it validates with", async () => {
    const { ENVELOPE_SCHEMA, INFERENCEBENCH_SCHEMA } = await import("../../protocol/envelope/index.ts");
    assert.deepEqual(JSON.parse((await runMain(["schema"])).stdout), JSON.parse(JSON.stringify(ENVELOPE_SCHEMA)));
    assert.deepEqual(JSON.parse((await runMain(["schema", "--format", "inferencebench"])).stdout), INFERENCEBENCH_SCHEMA);
    assert.equal((await runMain(["schema", "--format", "yaml"])).code, 2);
  });

  it("answers --help on every command, and unknown flags by their name", async () => {
    for (const cmd of ["run", "verify", "fetch", "replay", "diff", "report", "sign", "keygen", "schema"]) {
      const r = await runMain([cmd, "--help"]);
      assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Usage: vb ${cmd}`), cmd);
      assert.match(r.stdout, /-h, --help/, cmd);
    }
    assert.match((await runMain(["help", "diff"])).stdout, /--strict/);
    const unknown = await runMain(["replay", "x.json", "--base-url", fast.url, "--output", dir, "--key", keyFile, "--address", "0x0"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option '--address'/);
    assert.match(unknown.stderr, /vb replay --help lists its options/);
    const old = await runMain(["run", "s", "--model", "m", "--engine", "e", "--base-url", fast.url, "--output", dir, "--key", keyFile, "--commit-root", "0x1"]);
    assert.equal(old.code, 2);
    assert.match(old.stderr, /unknown option '--commit-root'/);
  });

  it("answers usage errors with exit code 2 and a message naming the option", async () => {
    const cases: [string[], RegExp][] = [
      [["run", "s", "--engine", "e", "--base-url", fast.url, "--output", dir, "--key", keyFile], /required option '--model <id>' not specified/],
      [["run", "s", "--model", "m", "--engine", "e", "--base-url", fast.url, "--output", dir], /signing key is required/],
      [["run", "s", "--model", "m", "--engine", "e", "--base-url", fast.url, "--output", dir, "--key", keyFile, "--concurrency", "abc"], /--concurrency must be a number/],
      [["run", "s", "--model", "m", "--engine", "e", "--base-url", fast.url, "--output", dir, "--key", keyFile, "--slo", "ttft:fast"], /--slo entries/],
      [["diff", "a.json"], /missing required argument 'candidate'/],
      [["run", "s", "--model", "m", "--engine", "e", "--base-url", fast.url, "--output", dir, "--key", keyFile, "--max-tokens", "normal:10"], /--max-tokens normal needs MEAN,STDDEV/],
      [["run", "s", "--model", "m", "--engine", "e", "--base-url", fast.url, "--output", dir, "--key", keyFile, "--max-error-rate", "2"], /--max-error-rate must be in \[0, 1\]/],
      [["run", "s", "--model", "m", "--engine", "e", "--base-url", fast.url, "--output", dir, "--key", keyFile, "--sweep", "--rate", "2"], /--sweep chooses its own rates/],
      [["verify", "x.json", "--all"], /--all, --sample-seed and --data-url go with --rpc-url/],
      [["bogus"], /unknown command/],
      [["verify", "x.json", "--sigstore-identity", "me@example.com"], /go together/],
      [["verify", "x.json", "--rpc-url", "ftp://chain"], /--rpc-url must be an http\(s\) URL/],
    ];
    for (const [args, re] of cases) {
      const r = await runMain(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });

  it("verify --rpc-url fails an envelope with no commitment, with no traces beside it, or whose chain cannot be reached", async () => {
    const key = generateEd25519();
    const trust = ["--trust-key", Buffer.from(key.publicKey).toString("hex")];
    const folder = mkdtempSync(join(tmpdir(), "vb-commit-"));
    const line = JSON.stringify({
      seq: 0, launch: 0, prompt_index: 0, ok: true, status: 200, error: null, scheduled_ms: 0, queue_ms: 0, ttft_ms: 5, e2e_ms: 9, tpot_ms: 1, itl_ms: [1],
      output_tokens: 2, prompt_tokens: 8, token_source: "server_usage", slo_met: true, max_tokens: 8, proof: { record_id: "rec_0", leaf_hash: "0x" + "ab".repeat(32), batch_id: "7", leaf_index: 0 },
    }) + "\n";
    writeFileSync(join(folder, "traces.jsonl"), line);
    const traces = { file: "traces.jsonl", sha256: createHash("sha256").update(line).digest("hex"), count: 1, format: "vb.traces/2" as const };
    const write = async (name: string, env: Record<string, unknown>) => {
      const path = join(folder, name);
      writeFileSync(path, prettyJson(await signEnvelope(env as unknown as VbEnvelope, { ed25519: key })));
      return path;
    };
    const { commitment: _none, ...uncommitted } = sampleEnvelope();
    const none = await runMain(["verify", await write("uncommitted.json", { ...uncommitted, traces }), ...trust, "--rpc-url", "http://127.0.0.1:1"]);
    assert.equal(none.code, 1, none.stdout + none.stderr);
    assert.match(none.stderr, /check "commitment": --rpc-url was given, but the envelope commits to no on-chain batch/);
    const { traces: _t, ...untraced } = sampleEnvelope();
    const noTraces = await runMain(["verify", await write("untraced.json", untraced), ...trust, "--rpc-url", "http://127.0.0.1:1"]);
    assert.equal(noTraces.code, 1, noTraces.stdout + noTraces.stderr);
    assert.match(noTraces.stderr, /check "commitment": the commitment is checked through the traced responses, but the envelope's traces file is not next to it/);
    const committed = await write("committed.json", { ...sampleEnvelope(), traces });
    const unreachable = await runMain(["verify", committed, ...trust, "--rpc-url", "http://127.0.0.1:1"]);
    assert.equal(unreachable.code, 1, unreachable.stdout + unreachable.stderr);
    assert.match(unreachable.stderr, /check "commitment": cannot reach http:\/\/127\.0\.0\.1:1/);
    assert.equal((await runMain(["verify", committed, ...trust])).code, 0, "without --rpc-url the chain is not consulted");
  });
});

describe("vb fetch from a local HTTP server", function () {
  this.timeout(60_000);
  // The server is on loopback: the fetch policy must be told it may go there.
  const loopback = ["127.0.0.1/32"];
  let server: http.Server;
  let base = "";
  const hits: string[] = [];
  const baseline = readFixture("bench_baseline.json");
  before(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url!);
      if (req.url === "/datasets/acme/bench-results/resolve/main/runs/baseline.json") return void res.writeHead(200).end(baseline);
      if (req.url === "/datasets/acme/bench-results/resolve/main/envelope.json") return void res.writeHead(302, { location: "/direct/baseline.json" }).end();
      if (req.url === "/direct/baseline.json") return void res.writeHead(200).end(baseline);
      if (req.url === "/elsewhere") return void res.writeHead(302, { location: `http://localhost:${(server.address() as AddressInfo).port}/direct/baseline.json` }).end();
      if (req.url === "/bad-schema.json") return void res.writeHead(200).end(JSON.stringify({ envelope_version: "v1", suite_id: "x" }));
      if (req.url === "/not-json.json") return void res.writeHead(200).end("<html>");
      res.writeHead(404).end("missing");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("resolves hf:// references against the endpoint", () => {
    assert.deepEqual(resolveSource("hf://datasets/acme/r/a/b.json", { hfEndpoint: "http://h:1/" }), { kind: "remote", url: "http://h:1/datasets/acme/r/resolve/main/a/b.json" });
    assert.deepEqual(resolveSource("hf://datasets/acme/r", { hfEndpoint: "https://hub" }), { kind: "remote", url: "https://hub/datasets/acme/r/resolve/main/envelope.json" });
    assert.deepEqual(resolveSource("file:///tmp/x.json"), { kind: "local", path: "/tmp/x.json" });
    assert.throws(() => resolveSource("hf://models/acme/r"), FetchError);
    assert.throws(() => resolveSource("hf://datasets/acme/r/../../x"), FetchError);
    assert.throws(() => resolveSource("ftp://x/y"), FetchError);
  });

  it("downloads, validates and caches; then serves from the cache", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "vb-cache-"));
    const a = await fetchEnvelope("hf://datasets/acme/bench-results/runs/baseline.json", { hfEndpoint: base, cacheDir, allowPrivateNetworks: loopback });
    assert.equal(a.fromCache, false);
    assert.equal(a.format, "inferencebench/v1");
    assert.ok(a.path.startsWith(join(cacheDir, "envelopes")));
    assert.equal(readFileSync(a.path, "utf8"), baseline);
    const n = hits.length;
    const b = await fetchEnvelope("hf://datasets/acme/bench-results/runs/baseline.json", { hfEndpoint: base, cacheDir, allowPrivateNetworks: loopback });
    assert.equal(b.fromCache, true);
    assert.equal(hits.length, n);
    assert.equal(b.contentHash, a.contentHash);
    const redirected = await fetchEnvelope("hf://datasets/acme/bench-results", { hfEndpoint: base, cacheDir, allowPrivateNetworks: loopback });
    assert.equal(redirected.contentHash, a.contentHash);
  });

  it("fetches under the untrusted-URL policy: no internal targets unless allowed, no cross-host redirects", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "vb-cache-"));
    await assert.rejects(fetchEnvelope(`${base}/direct/baseline.json`, { cacheDir }), (e: unknown) => e instanceof FetchError && /loopback, private/.test(e.message));
    await assert.rejects(fetchEnvelope("http://169.254.169.254/latest/meta-data", { cacheDir }), (e: unknown) => e instanceof FetchError && /169\.254\.169\.254/.test(e.message));
    await assert.rejects(fetchEnvelope(`${base}/elsewhere`, { cacheDir, allowPrivateNetworks: loopback }), (e: unknown) => e instanceof FetchError && /redirects to another host/.test(e.message));
    assert.equal(existsSync(join(cacheDir, "envelopes")), false);
  });

  it("refuses invalid envelopes and HTTP errors, caching nothing", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "vb-cache-"));
    await assert.rejects(fetchEnvelope(`${base}/bad-schema.json`, { cacheDir, allowPrivateNetworks: loopback }), SchemaValidationError);
    await assert.rejects(fetchEnvelope(`${base}/not-json.json`, { cacheDir, allowPrivateNetworks: loopback }), MalformedJsonError);
    await assert.rejects(fetchEnvelope(`${base}/missing.json`, { cacheDir, allowPrivateNetworks: loopback }), (e: unknown) => e instanceof FetchError && /HTTP 404/.test(e.message));
    await assert.rejects(fetchEnvelope(`${base}/direct/baseline.json`, { cacheDir, maxBytes: 100, allowPrivateNetworks: loopback }), /larger than 100 bytes/);
    assert.equal(existsSync(join(cacheDir, "envelopes")), false);
    await assert.rejects(fetchEnvelope(join(cacheDir, "absent.json")), FetchError);
  });

  it("works through the CLI with HF_ENDPOINT and XDG_CACHE_HOME", async () => {
    const xdg = mkdtempSync(join(tmpdir(), "vb-xdg-"));
    const refused = await runCli(["fetch", "hf://datasets/acme/bench-results/runs/baseline.json"], { HF_ENDPOINT: base, XDG_CACHE_HOME: xdg });
    assert.equal(refused.code, 1, "loopback is refused unless allowed");
    assert.match(refused.stderr, /127\.0\.0\.1 is a loopback, private, link-local or reserved address/);
    const r = await runCli(["fetch", "hf://datasets/acme/bench-results/runs/baseline.json", "--allow-private-network", "127.0.0.1/32"], { HF_ENDPOINT: base, XDG_CACHE_HOME: xdg });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /fetched inferencebench\/v1 envelope/);
    assert.equal(readdirSync(join(xdg, "verifiable-benchmarks", "envelopes")).length, 1);
    const bad = await runMain(["fetch", `${base}/bad-schema.json`, "--cache-dir", join(xdg, "other"), "--allow-private-network", "127.0.0.1"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /SchemaValidationError/);
    const local = await runMain(["fetch", `file://${new URL("bench_baseline.json", IB_DIR).pathname}`]);
    assert.equal(local.code, 0, local.stderr);
  });
});
