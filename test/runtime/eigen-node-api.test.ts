/**
 * EigenLayer's node API and eigen_ metrics (runtime/eigen-node-api.ts) over fastify on
 * loopback: node info, the health codes 200 / 206 / 503 from the services' statuses, the services
 * list, per-service health (404 for an unknown id, 400 for a malformed one), and the metrics: RPC
 * requests to a real JSON-RPC endpoint timed and counted, stakes and the score read on scrape.
 */
import assert from "node:assert/strict";
import Fastify from "fastify";
import { network } from "hardhat";
import { createPublicClient, custom, http } from "viem";
import { Registry } from "prom-client";
import { eigenNodeApi, EigenMetrics, chainService, type EigenServiceStatus } from "../../runtime/eigen-node-api.ts";

describe("EigenLayer node API and eigen_ metrics", () => {
  it("answers the four routes of the spec, health from the services' statuses", async () => {
    const statuses: Record<string, EigenServiceStatus> = { a: "Up", b: "Up" };
    const app = Fastify();
    await app.register(eigenNodeApi, {
      nodeName: "test-node",
      nodeVersion: "1.2.3",
      services: [
        { id: "svc-a", name: "a", description: "first", status: () => statuses.a! },
        { id: "svc-b", name: "b", description: "second", status: () => statuses.b! },
      ],
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    try {
      assert.deepEqual(await (await fetch(`${base}/eigen/node`)).json(), { node_name: "test-node", spec_version: "v0.0.1", node_version: "1.2.3" });
      assert.equal((await fetch(`${base}/eigen/node/health`)).status, 200);
      statuses.b = "Initializing";
      assert.equal((await fetch(`${base}/eigen/node/health`)).status, 206, "partially healthy");
      statuses.a = "Down";
      statuses.b = "Down";
      assert.equal((await fetch(`${base}/eigen/node/health`)).status, 503);
      statuses.a = "Up";
      statuses.b = "Initializing";
      const services = (await (await fetch(`${base}/eigen/node/services`)).json()) as { services: { id: string; status: string }[] };
      assert.deepEqual(services.services.map((s) => [s.id, s.status]), [["svc-a", "Up"], ["svc-b", "Initializing"]]);
      assert.equal((await fetch(`${base}/eigen/node/services/svc-a/health`)).status, 200);
      assert.equal((await fetch(`${base}/eigen/node/services/svc-b/health`)).status, 206);
      statuses.b = "Down";
      assert.equal((await fetch(`${base}/eigen/node/services/svc-b/health`)).status, 503);
      assert.equal((await fetch(`${base}/eigen/node/services/nope/health`)).status, 404);
      assert.equal((await fetch(`${base}/eigen/node/services/${encodeURIComponent("../x")}/health`)).status, 400);
    } finally {
      await app.close();
    }
  });

  it("a service whose probe throws is Down", async () => {
    const app = Fastify();
    await app.register(eigenNodeApi, { nodeName: "n", nodeVersion: "v", services: [{ id: "svc", name: "s", description: "d", status: () => { throw new Error("no"); } }] });
    const reply = await app.inject({ method: "GET", url: "/eigen/node/services/svc/health" });
    assert.equal(reply.statusCode, 503);
    assert.equal((await app.inject({ method: "GET", url: "/eigen/node/health" })).statusCode, 503);
    await app.close();
  });

  it("times and counts RPC requests to a chain, and reads stakes and the score on scrape", async () => {
    const connection = await network.create();
    const metrics = new EigenMetrics();
    const registry = new Registry();
    metrics.registerOn(registry);
    metrics.setClient("HardhatNetwork/3.0.0/edr");
    const client = createPublicClient({ transport: metrics.timed(custom(connection.provider)) });
    assert.equal(chainService(metrics).status(), "Initializing");
    await client.getBlockNumber();
    await client.getChainId();
    assert.equal(chainService(metrics).status(), "Up");
    // An error answer (here: an unknown method) comes from a working endpoint.
    await assert.rejects(client.request({ method: "eth_noSuchMethod" as never }));
    assert.equal(chainService(metrics).status(), "Up");
    // No answer at all: the chain is down.
    const closed = createPublicClient({ transport: metrics.timed(http("http://127.0.0.1:1", { retryCount: 0 })) });
    await assert.rejects(closed.getBlockNumber());
    assert.equal(chainService(metrics).status(), "Down");
    metrics.stakeSource = async () => [{ quorumNumber: 0, quorumName: "operators", stake: 250 }];
    metrics.services = [{ id: "x", name: "x", description: "x", status: () => "Up" }, { id: "y", name: "y", description: "y", status: () => "Down" }];
    const text = await registry.metrics();
    // Two eth_blockNumber: one answered by the chain, one to the closed port.
    assert.match(text, /eigen_rpc_request_total\{method="eth_blockNumber",client_type="hardhatnetwork",version="3\.0\.0"\} 2/);
    assert.match(text, /eigen_rpc_request_duration_seconds_count\{method="eth_chainId",client_type="hardhatnetwork",version="3\.0\.0"\} 1/);
    assert.match(text, /eigen_registered_stakes\{quorum_number="0",quorum_name="operators"\} 250/);
    assert.match(text, /eigen_performance_score 50/);
  });
});
