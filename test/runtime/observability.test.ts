import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import Fastify, { type FastifyInstance } from "fastify";
import { Counter } from "prom-client";
import { createMetricsRegistry, opsRoutes } from "../../runtime/observability.ts";

describe("runtime/observability ops routes (HTTP on 127.0.0.1)", () => {
  let app: FastifyInstance;
  let base: string;
  let notReady = ["chain cursor behind"];

  before(async () => {
    const registry = createMetricsRegistry("test-node");
    const batches = new Counter({ name: "vb_batches_seen_total", help: "Batches seen", registers: [registry] });
    batches.inc(3);
    app = Fastify();
    await app.register(opsRoutes, { registry, readiness: () => notReady });
    base = await app.listen({ host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await app.close();
  });

  it("serves Prometheus metrics with the node's counters and role label", async () => {
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
    const body = await response.text();
    assert.match(body, /vb_batches_seen_total\{role="test-node"\} 3/);
    assert.match(body, /process_cpu_user_seconds_total/);
  });

  it("answers liveness, and readiness with its reasons", async () => {
    assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: "ok" });
    const unready = await fetch(`${base}/readyz`);
    assert.equal(unready.status, 503);
    assert.deepEqual(await unready.json(), { ready: false, reasons: ["chain cursor behind"] });
    notReady = [];
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, reasons: [] });
  });
});
