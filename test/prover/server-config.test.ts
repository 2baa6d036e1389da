/**
 * The prover's configuration (defaults < file < environment < flags, validated at start with
 * an error naming the field) and startProver, the entry behind `npm run prover`, on the real
 * engine with the embedded default model.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { ConfigError, DEFAULT_CONFIG, defaultDataDir, loadConfig } from "../../prover/config.ts";
import { configuredCommitter, startProver } from "../../prover/main.ts";
import { ProofStore } from "../../prover/store/index.ts";
import { getJson, tempDir, waitFor } from "../helpers/prover-server.ts";

describe("prover config", () => {
  const tmp = tempDir("config");
  after(() => tmp.cleanup());
  const file = (name: string, content: string) => {
    const path = join(tmp.dir, name);
    writeFileSync(path, content);
    return path;
  };
  const rejects = (input: Parameters<typeof loadConfig>[0], field: string, message: RegExp) =>
    assert.throws(
      () => loadConfig(input),
      (e: unknown) => e instanceof ConfigError && e.field === field && message.test(e.message),
    );

  it("uses the defaults when nothing is given, with the data folder outside the checkout", () => {
    assert.deepEqual(loadConfig({ argv: [], env: {} }), { ...DEFAULT_CONFIG, dataDir: defaultDataDir({}) });
    assert.equal(loadConfig({ env: { XDG_DATA_HOME: "/srv/data" } }).dataDir, "/srv/data/verifiable-benchmarks/prover");
  });

  it("layers file < environment < flags, deep-merging nested sections", () => {
    const path = file("layers.json", JSON.stringify({ port: 9001, batch: { maxRecords: 10 }, model: { id: "from-file" } }));
    const config = loadConfig({
      argv: ["--config", path, "--port", "9003", "--model-id", "from-flag"],
      env: { PROVER_PORT: "9002", PROVER_BATCH_MAX_AGE_MS: "500", PROVER_SYNC_WRITES: "false", PROVER_HOST: "" },
    });
    assert.equal(config.port, 9003);
    assert.deepEqual(config.batch, { maxRecords: 10, maxAgeMs: 500, commitRetryMs: DEFAULT_CONFIG.batch.commitRetryMs });
    assert.equal(config.model.id, "from-flag");
    assert.equal(config.syncWrites, false);
    assert.equal(config.host, DEFAULT_CONFIG.host, "an empty variable counts as unset");
    // PROVER_CONFIG names the file when no flag does; paths are relative to cwd.
    assert.equal(loadConfig({ env: { PROVER_CONFIG: "layers.json" }, cwd: tmp.dir }).port, 9001);
  });

  it("names the bad field and its source", () => {
    rejects({ env: { PROVER_PORT: "80a" } }, "port", /PROVER_PORT.*integer.*"80a"/);
    rejects({ env: { PROVER_SYNC_WRITES: "maybe" } }, "syncWrites", /true or false/);
    rejects({ env: { PROVER_PORT: "70000" } }, "port", /port must be <= 65535, got 70000/);
    rejects({ argv: ["--port", "x"] }, "port", /flag --port/);
    rejects({ argv: ["--prot", "1"] }, "argv", /prot/);
    rejects({ argv: ["--config", file("unknown.json", '{"batch":{"maxRecord":3}}')] }, "batch.maxRecord", /unknown config field batch\.maxRecord/);
    rejects({ argv: ["--config", file("type.json", '{"batch":{"maxRecords":"3"}}')] }, "batch.maxRecords", /must be integer, got "3"/);
    rejects({ argv: ["--config", file("zero.json", '{"batch":{"maxRecords":0}}')] }, "batch.maxRecords", />= 1, got 0/);
    rejects({ argv: ["--config", file("level.json", '{"logLevel":"loud"}')] }, "logLevel", /allowed values/);
    rejects({ argv: ["--config", file("url.json", '{"publicUrl":"ftp://x"}')] }, "publicUrl", /pattern/);
    rejects({ argv: ["--config", file("section.json", '{"model":"tiny"}')] }, "model", /must be object/);
    rejects({ argv: ["--config", file("broken.json", '{"port": 1')] }, "config", /not valid JSON/);
    rejects({ argv: ["--config", file("array.json", "[]")] }, "config", /JSON object/);
    rejects({ argv: ["--config", join(tmp.dir, "missing.json")] }, "config", /cannot read config file/);
  });

  it("takes the chain hand-off from flags and PROVER_* variables, and refuses half of it", async () => {
    const config = loadConfig({
      argv: ["--rpc-url", "http://127.0.0.1:8545", "--key-file", "/keys/prover.key"],
      env: { PROVER_DEPLOYMENT: "deployments/31337.json" },
    });
    assert.deepEqual(config.chain, { rpcUrl: "http://127.0.0.1:8545", deployment: "deployments/31337.json" });
    assert.deepEqual(config.account, { keyFile: "/keys/prover.key" });
    const keystore = loadConfig({ env: { PROVER_RPC_URL: "http://h:8545", PROVER_DEPLOYMENT: "d.json", PROVER_KEYSTORE: "k.json", PROVER_KEYSTORE_PASSWORD_FILE: "pw" } });
    assert.deepEqual(keystore.account, { keystore: "k.json", passwordFile: "pw" });
    assert.equal(loadConfig({ env: {} }).chain, undefined, "no chain: batches are recorded locally only");
    rejects({ env: { PROVER_RPC_URL: "http://127.0.0.1:8545" } }, "chain.deployment", /required/);
    rejects({ env: { PROVER_RPC_URL: "ws://127.0.0.1:8545", PROVER_DEPLOYMENT: "d.json" } }, "chain.rpcUrl", /pattern/);
    rejects({ env: { PROVER_RPC_URL: "http://127.0.0.1:8545", PROVER_DEPLOYMENT: "d.json" } }, "account", /registered account/);
    // Errors found when the node starts: a missing deployment file, a keystore without a password.
    const keyFile = join(tmp.dir, "k.key");
    writeFileSync(keyFile, `0x${"11".repeat(32)}\n`, { mode: 0o600 });
    const noDeployment = loadConfig({ env: { PROVER_RPC_URL: "http://127.0.0.1:1", PROVER_DEPLOYMENT: join(tmp.dir, "none.json"), PROVER_KEY_FILE: keyFile } });
    await assert.rejects(configuredCommitter(noDeployment, {}), /chain\.deployment: cannot read deployment/);
    const noPassword = loadConfig({ env: { PROVER_RPC_URL: "http://127.0.0.1:1", PROVER_DEPLOYMENT: "d.json", PROVER_KEYSTORE: "k.json" } });
    await assert.rejects(configuredCommitter(noPassword, {}), (e: unknown) => e instanceof ConfigError && e.field === "account.keystore");
  });
});

describe("startProver (npm run prover) on the embedded default model", () => {
  const tmp = tempDir("main");
  after(() => tmp.cleanup());

  it("serves the default model, batches by count, and shuts down cleanly", async () => {
    const config = loadConfig({
      argv: ["--port", "0", "--data-dir", join(tmp.dir, "data")],
      env: { PROVER_LOG_LEVEL: "silent", PROVER_BATCH_MAX_RECORDS: "2", PROVER_MODEL_CACHE_DIR: join(tmp.dir, "models"), PROVER_API_KEYS: "sk-vb-config-test-0123456789" },
    });
    const prover = await startProver(config);
    try {
      assert.match(prover.address, /^http:\/\/127\.0\.0\.1:\d+$/);
      await assert.rejects(new OpenAI({ baseURL: `${prover.address}/v1`, apiKey: "sk-vb-not-a-key-000000000", maxRetries: 0 }).models.list(), OpenAI.AuthenticationError);
      const client = new OpenAI({ baseURL: `${prover.address}/v1`, apiKey: "sk-vb-config-test-0123456789", maxRetries: 0 });
      const [model] = (await client.models.list()).data;
      assert.equal(model!.id, prover.engine.info.modelId);
      for (let i = 0; i < 2; i++) await client.completions.create({ model: model!.id, prompt: `hello ${i}`, max_tokens: 8, seed: i });
      const batch = await waitFor(async () => {
        const { status, json } = await getJson(prover.address, "/v1/batches/1");
        return status === 200 ? json : undefined;
      }, 5_000, "batch 1");
      assert.equal(batch.leaf_count, 2);
      assert.equal(batch.data_uri, `${prover.address}/v1/batches/1`);
    } finally {
      await prover.close();
    }
    await assert.rejects(fetch(`${prover.address}/v1/models`), "the server is closed");
  });

  it("runs as a process: prints its address, serves, and on SIGTERM exits 0 with every record on disk", async function () {
    this.timeout(60_000);
    const dataDir = join(tmp.dir, "process");
    const root = new URL("../../", import.meta.url).pathname;
    // process.execPath is the Node 22 running the tests; tsx is loaded as an import hook.
    const keysFile = join(tmp.dir, "process-keys.json");
    writeFileSync(keysFile, JSON.stringify({ keys: [{ name: "test", key: "sk-vb-process-test-0123456789" }] }), { mode: 0o600 });
    chmodSync(keysFile, 0o600);
    const child = spawn(process.execPath, ["--import", "tsx", "prover/main.ts", "--port", "0", "--data-dir", dataDir, "--api-keys-file", keysFile], {
      cwd: root,
      env: { ...process.env, PROVER_LOG_LEVEL: "silent", PROVER_MODEL_CACHE_DIR: join(tmp.dir, "process-models") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const address = await waitFor(async () => /serving \S+ on (http:\/\/\S+)/.exec(stdout)?.[1], 30_000, `the prover to start (stderr: ${stderr})`);
      const client = new OpenAI({ baseURL: `${address}/v1`, apiKey: "sk-vb-process-test-0123456789", maxRetries: 0 });
      const [model] = (await client.models.list()).data;
      const reply = await client.completions.create({ model: model!.id, prompt: "persist me", max_tokens: 6, seed: 9 });
      child.kill("SIGTERM");
      assert.equal(await exited, 0, `exit code (stderr: ${stderr})`);
      assert.match(stdout, /SIGTERM, shutting down/);
      const store = await ProofStore.open(join(dataDir, "store"));
      try {
        const record = await store.getRecord((reply as any).proof.record_id);
        assert.equal(record?.seed, "9");
        assert.equal(store.pendingCount, 1);
      } finally {
        await store.close();
      }
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("refuses to start on a bad configuration, naming the field (exit 2)", async function () {
    this.timeout(30_000);
    const root = new URL("../../", import.meta.url).pathname;
    const child = spawn(process.execPath, ["--import", "tsx", "prover/main.ts"], {
      cwd: root,
      env: { ...process.env, PROVER_BATCH_MAX_RECORDS: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 2);
    assert.match(stderr, /invalid configuration: config field batch\.maxRecords must be >= 1, got 0/);
  });
});
