/**
 * The prover's configuration (defaults < file < environment < flags, validated at start with
 * an error naming the field) and startProver, the entry behind `npm run prover`, on the real
 * engine with the embedded default model.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { ConfigError, DEFAULT_CONFIG, loadConfig } from "../../prover/config.ts";
import { startProver } from "../../prover/main.ts";
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

  it("uses the defaults when nothing is given", () => {
    assert.deepEqual(loadConfig({ argv: [], env: {} }), DEFAULT_CONFIG);
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
});

describe("startProver (npm run prover) on the embedded default model", () => {
  const tmp = tempDir("main");
  after(() => tmp.cleanup());

  it("serves the default model, batches by count, and shuts down cleanly", async () => {
    const config = loadConfig({
      argv: ["--port", "0", "--data-dir", join(tmp.dir, "data")],
      env: { PROVER_LOG_LEVEL: "silent", PROVER_BATCH_MAX_RECORDS: "2", PROVER_MODEL_CACHE_DIR: join(tmp.dir, "models") },
    });
    const prover = await startProver(config);
    try {
      assert.match(prover.address, /^http:\/\/127\.0\.0\.1:\d+$/);
      const client = new OpenAI({ baseURL: `${prover.address}/v1`, apiKey: "unused", maxRetries: 0 });
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
});
