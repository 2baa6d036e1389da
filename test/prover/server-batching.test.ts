import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { checkSamplerVersion } from "../../protocol/sampler/index.ts";
import { Engine } from "../../prover/engine/index.ts";
import { createLogger } from "../../runtime/observability.ts";
import { tempCacheDir } from "../helpers/engine-fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/prover-server.ts";

/** The prover's server on the batching engine, as a new user drives it: many parallel clients of the openai SDK. */
describe("prover server with continuous batching", () => {
  const cache = tempCacheDir("server-batching");
  const dirs = [tempDir("server-batching-a"), tempDir("server-batching-b")];
  let engine: Engine;
  const servers: TestServer[] = [];

  before(async () => {
    engine = await Engine.load({ cacheDir: cache.dir });
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await engine?.close();
    cache.cleanup();
    for (const d of dirs) d.cleanup();
  });

  it("serves 40 parallel openai-SDK requests, none refused, each with its record and proofs that verify", async () => {
    const server = await startTestServer({ engine, dataDir: dirs[0]!.dir });
    servers.push(server);
    const model = engine.info.modelId;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0
          ? server.client.completions.create({ model, prompt: `parallel ${i}`, max_tokens: 12, temperature: 0.7, seed: i })
          : server.client.chat.completions.create({ model, messages: [{ role: "user", content: `parallel ${i}` }], max_tokens: 12, seed: i }),
      ),
    );
    assert.equal(answers.length, 40);
    const stats = engine.batchStats()!;
    assert.ok(stats.rows / stats.forwards > 2, `requests shared forwards (${(stats.rows / stats.forwards).toFixed(1)} rows per forward)`);
    for (const answer of answers) {
      const proof = (answer as unknown as { proof: { record_id: string } }).proof;
      const record = (await server.store.getRecord(proof.record_id))!;
      assert.ok(record, "the record is on disk before the response");
      const verdict = await engine.verify(record.promptTokens, record.outputTokens, record.proofs, { sampling: { ...record.sampling, sampler: checkSamplerVersion(record.sampling.sampler ?? 1), seed: BigInt(record.seed) } });
      assert.equal(verdict.accepted, true, JSON.stringify(verdict.failures));
    }
  });

  it("refuses beyond the batch and the queue with 429 engine_overloaded and the engine's Retry-After, logged as a warning", async () => {
    const lines: string[] = [];
    const logger = createLogger("prover", "info", new Writable({ write(c, _e, done) { lines.push(String(c)); done(); } }));
    const small = await Engine.load({ cacheDir: cache.dir, batching: { maxBatch: 2 } });
    const server = await startTestServer({ engine: small, dataDir: dirs[1]!.dir, maxWaiting: 1, loggerInstance: logger });
    servers.push(server);
    try {
      const body = JSON.stringify({ model: small.info.modelId, prompt: "hold on", max_tokens: 60 });
      const results = await Promise.all(
        Array.from({ length: 6 }, () => fetch(`${server.address}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get("retry-after"), json: await r.json() }))),
      );
      const refused = results.filter((r) => r.status === 429);
      assert.equal(results.filter((r) => r.status === 200).length, 3, "two decoding, one waiting");
      assert.equal(refused.length, 3);
      for (const r of refused) {
        assert.equal(r.json.error.code, "engine_overloaded");
        assert.ok(Number(r.retryAfter) >= 1, `retry-after ${r.retryAfter}`);
      }
      const warnings = lines.map((l) => JSON.parse(l)).filter((l) => /engine queue full/.test(l.msg));
      assert.equal(warnings.length, 3);
      assert.ok(warnings.every((w) => w.level === 40 && !JSON.stringify(w).includes("stack")));
    } finally {
      await small.close();
    }
  });
});
