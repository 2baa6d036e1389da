import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAggregatorConfig } from "../../aggregator/config.ts";
import { loadOperatorConfig } from "../../operator/config.ts";
import { keySource } from "../../runtime/chain.ts";
import { NodeConfigError } from "../../runtime/config.ts";

const ROOT = join(import.meta.dirname, "../..");

/** Runs a node entry point as a process; resolves with its exit code and stderr (bounded). */
function runEntry(script: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, script)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function rejects(fn: () => unknown, field: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof NodeConfigError, String(error));
    assert.equal(error.field, field, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe("operator and aggregator configuration: file < environment < flags, validated at start", () => {
  let dir: string;
  const keys = { OPERATOR_ACCOUNT_KEY_FILE: "/k/account", OPERATOR_SIGNER_KEY_FILE: "/k/signer" };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vb-node-config-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("layers defaults, a JSON file, environment variables and flags", () => {
    const file = join(dir, "operator.json");
    writeFileSync(file, JSON.stringify({ samplingFraction: 0.5, chain: { rpcUrl: "http://10.0.0.1:8545" }, mesh: { bootstrap: ["/ip4/127.0.0.1/tcp/4001/p2p/x"] } }));
    const config = loadOperatorConfig({ argv: ["--config", file, "--port", "9200"], env: { ...keys, OPERATOR_SAMPLING_FRACTION: "0.25", OPERATOR_AGGREGATOR_URLS: "http://a:1, http://b:2" } });
    assert.equal(config.samplingFraction, 0.25, "environment beats the file");
    assert.equal(config.chain.rpcUrl, "http://10.0.0.1:8545");
    assert.equal(config.chain.pollIntervalMs, 500, "defaults survive a partial chain section");
    assert.equal(config.http.port, 9200, "flags beat everything");
    assert.deepEqual(config.aggregatorUrls, ["http://a:1", "http://b:2"]);
    assert.deepEqual(config.account, { keyFile: "/k/account" });
    const aggregator = loadAggregatorConfig({ env: { AGGREGATOR_KEY_FILE: "/k/agg", AGGREGATOR_GRACE_MS: "250", AGGREGATOR_FINALIZE: "no" } });
    assert.equal(aggregator.graceMs, 250);
    assert.equal(aggregator.finalize, false);
  });

  it("names the bad field and value", () => {
    rejects(() => loadOperatorConfig({ env: keys, argv: ["--rpc-url", "ftp://x"] }), "chain.rpcUrl", /ftp/);
    rejects(() => loadOperatorConfig({ env: { ...keys, OPERATOR_SAMPLING_FRACTION: "0" } }), "samplingFraction");
    rejects(() => loadOperatorConfig({ env: { ...keys, OPERATOR_SAMPLING_FRACTION: "lots" } }), "samplingFraction", /number/);
    rejects(() => loadOperatorConfig({ env: { ...keys, OPERATOR_PORT: "70000" } }), "http.port");
    rejects(() => loadOperatorConfig({ env: { ...keys, OPERATOR_STAKE: "-5" } }), "stake");
    rejects(() => loadOperatorConfig({ env: { OPERATOR_SIGNER_KEY_FILE: "/k/s" } }), "account", /required/);
    rejects(() => loadOperatorConfig({ env: keys, argv: ["--bogus", "1"] }), "argv");
    rejects(() => loadAggregatorConfig({ env: { AGGREGATOR_KEY_FILE: "/k", AGGREGATOR_FINALIZE: "maybe" } }), "finalize");
    rejects(() => loadAggregatorConfig({ env: { AGGREGATOR_KEY_FILE: "/k", AGGREGATOR_LOG_LEVEL: "loud" } }), "logLevel");
  });

  it("refuses unknown fields and unreadable or non-object files", () => {
    const unknown = join(dir, "unknown.json");
    writeFileSync(unknown, JSON.stringify({ mesh: { listen: [], bootstrap: [], gossipFactor: 3 } }));
    rejects(() => loadOperatorConfig({ env: { ...keys, OPERATOR_CONFIG: unknown } }), "mesh.gossipFactor", /unknown/);
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{ not json");
    rejects(() => loadOperatorConfig({ env: keys, argv: ["--config", broken] }), "config", /not valid JSON/);
    const list = join(dir, "list.json");
    writeFileSync(list, "[1]");
    rejects(() => loadOperatorConfig({ env: keys, argv: ["--config", list] }), "config", /object/);
    rejects(() => loadOperatorConfig({ env: keys, argv: ["--config", join(dir, "absent.json")] }), "config", /cannot read/);
  });

  it("resolves key sources: a key file, or a keystore with its password from a file or the environment", () => {
    assert.deepEqual(keySource({ keyFile: "/k" }, "signer"), { keyFile: "/k" });
    const pw = join(dir, "pw");
    writeFileSync(pw, "secret\n", { mode: 0o600 });
    assert.deepEqual(keySource({ keystore: "/ks", passwordFile: pw }, "signer"), { keystore: "/ks", password: "secret" });
    // A password file others can read is refused, as key files are.
    const loose = join(dir, "pw-loose");
    writeFileSync(loose, "secret\n", { mode: 0o644 });
    chmodSync(loose, 0o644);
    rejects(() => keySource({ keystore: "/ks", passwordFile: loose }, "signer"), "signer.passwordFile", /chmod 600/);
    assert.deepEqual(keySource({ keystore: "/ks", passwordEnv: "PW" }, "signer", { PW: "x" }), { keystore: "/ks", password: "x" });
    rejects(() => keySource({}, "signer"), "signer");
    rejects(() => keySource({ keystore: "/ks", keyFile: "/k" }, "signer"), "signer", /not both/);
    rejects(() => keySource({ keystore: "/ks" }, "signer"), "signer.keystore", /password/);
    rejects(() => keySource({ keystore: "/ks", passwordEnv: "MISSING" }, "signer", {}), "signer.passwordEnv");
  });

  it("the entry points exit 2 naming the bad field, before touching the chain", async function () {
    this.timeout(60_000);
    const [operator, aggregator, deployment] = await Promise.all([
      runEntry("operator/main.ts", { ...keys, OPERATOR_SAMPLING_FRACTION: "2" }),
      runEntry("aggregator/main.ts", { AGGREGATOR_PORT: "-1", AGGREGATOR_KEY_FILE: "/k" }),
      runEntry("aggregator/main.ts", { AGGREGATOR_KEY_FILE: "/k", AGGREGATOR_DEPLOYMENT: join(dir, "absent.json"), AGGREGATOR_DATA_DIR: join(dir, "agg") }),
    ]);
    assert.equal(operator.code, 2, operator.stderr);
    assert.match(operator.stderr, /operator: invalid configuration: .*samplingFraction/);
    assert.equal(aggregator.code, 2, aggregator.stderr);
    assert.match(aggregator.stderr, /http\.port/);
    assert.equal(deployment.code, 2, deployment.stderr);
    assert.match(deployment.stderr, /chain\.deployment/);
  });
});
