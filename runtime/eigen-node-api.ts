/**
 * EigenLayer's AVS node API and eigen_ metrics, shared by the operator and the aggregator.
 *
 * The node API (EigenLayer's AVS Node Specification, spec version v0.0.1):
 *   GET /eigen/node                      {node_name, spec_version, node_version}
 *   GET /eigen/node/health               200 every service Up, 206 some not, 503 none Up
 *   GET /eigen/node/services             {services: [{id, name, description, status}]},
 *                                        status "Up" | "Down" | "Initializing"
 *   GET /eigen/node/services/{id}/health 200 Up, 206 Initializing, 503 Down, 404 unknown id
 *
 * The metrics (EigenLayer's AVS node metrics specification), beside the node's vb_ ones:
 *   eigen_registered_stakes{quorum_number, quorum_name}       gauge, stake in token units
 *   eigen_performance_score                                   gauge 0..100 (here: share of services Up)
 *   eigen_rpc_request_duration_seconds{method, client_type, version}  histogram
 *   eigen_rpc_request_total{method, client_type, version}             counter
 */
import type { FastifyPluginAsync } from "fastify";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { HttpRequestError, TimeoutError, type Transport } from "viem";

/** The node API's spec version this implements. */
export const EIGEN_NODE_SPEC_VERSION = "v0.0.1";

export type EigenServiceStatus = "Up" | "Down" | "Initializing";

/** One service of a node, as /eigen/node/services reports it. */
export interface EigenService {
  id: string;
  name: string;
  description: string;
  status: () => EigenServiceStatus | Promise<EigenServiceStatus>;
}

export interface EigenNodeApiOptions {
  nodeName: string;
  nodeVersion: string;
  services: readonly EigenService[];
}

const SERVICE_ID = "^[a-z0-9][a-z0-9-]{0,63}$";

async function report(services: readonly EigenService[]) {
  return Promise.all(services.map(async (s) => ({ id: s.id, name: s.name, description: s.description, status: await statusOf(s) })));
}

async function statusOf(service: EigenService): Promise<EigenServiceStatus> {
  try {
    return await service.status();
  } catch {
    return "Down"; // a probe that fails is a service that is not up
  }
}

/** The four routes of EigenLayer's node API, as a fastify plugin. */
export const eigenNodeApi: FastifyPluginAsync<EigenNodeApiOptions> = async (app, options) => {
  const nodeInfo = {
    type: "object",
    additionalProperties: false,
    required: ["node_name", "spec_version", "node_version"],
    properties: { node_name: { type: "string" }, spec_version: { type: "string" }, node_version: { type: "string" } },
  } as const;
  const service = {
    type: "object",
    additionalProperties: false,
    required: ["id", "name", "description", "status"],
    properties: { id: { type: "string" }, name: { type: "string" }, description: { type: "string" }, status: { enum: ["Up", "Down", "Initializing"] } },
  } as const;
  app.get("/eigen/node", { schema: { response: { 200: nodeInfo } } }, async () => ({
    node_name: options.nodeName,
    spec_version: EIGEN_NODE_SPEC_VERSION,
    node_version: options.nodeVersion,
  }));
  app.get("/eigen/node/health", async (_request, reply) => {
    const statuses = (await report(options.services)).map((s) => s.status);
    const up = statuses.filter((s) => s === "Up").length;
    reply.code(up === statuses.length ? 200 : up === 0 ? 503 : 206);
    return reply.send();
  });
  app.get("/eigen/node/services", { schema: { response: { 200: { type: "object", required: ["services"], properties: { services: { type: "array", items: service } } } } } }, async () => ({
    services: await report(options.services),
  }));
  app.get<{ Params: { id: string } }>(
    "/eigen/node/services/:id/health",
    { schema: { params: { type: "object", required: ["id"], properties: { id: { type: "string", pattern: SERVICE_ID } } } } },
    async (request, reply) => {
      const found = options.services.find((s) => s.id === request.params.id);
      if (!found) return reply.code(404).send({ error: "unknown service", field: "id", value: request.params.id });
      const status = await statusOf(found);
      reply.code(status === "Up" ? 200 : status === "Initializing" ? 206 : 503);
      return reply.send();
    },
  );
};

/**
 * The eigen_ metrics. Created before the node's registry exists (the chain connection is made
 * first, and its RPC calls are timed from the start), registered on it with registerOn().
 */
export class EigenMetrics {
  /** Read on every scrape: the stake per quorum (set by the node once it knows where to read it). */
  stakeSource: (() => Promise<{ quorumNumber: number; quorumName: string; stake: number }[]>) | undefined;
  /** Read on every scrape: the node's services. */
  services: readonly EigenService[] = [];
  readonly registeredStakes: Gauge<"quorum_number" | "quorum_name">;
  readonly performanceScore: Gauge;
  readonly rpcDuration = new Histogram({
    name: "eigen_rpc_request_duration_seconds",
    help: "Duration of JSON-RPC requests to the chain",
    labelNames: ["method", "client_type", "version"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [],
  });
  readonly rpcTotal = new Counter({ name: "eigen_rpc_request_total", help: "JSON-RPC requests to the chain", labelNames: ["method", "client_type", "version"], registers: [] });
  /** Outcome of the newest RPC request (undefined before any). */
  lastRpcOk: boolean | undefined;
  private clientType = "unknown";
  private clientVersion = "unknown";

  constructor() {
    const metrics = this;
    this.registeredStakes = new Gauge({
      name: "eigen_registered_stakes",
      help: "Stake registered with the AVS, in token units, by quorum",
      labelNames: ["quorum_number", "quorum_name"],
      registers: [],
      async collect() {
        const entries = await metrics.stakeSource?.().catch(() => undefined);
        for (const e of entries ?? []) this.set({ quorum_number: String(e.quorumNumber), quorum_name: e.quorumName }, e.stake);
      },
    });
    this.performanceScore = new Gauge({
      name: "eigen_performance_score",
      help: "Node performance score 0..100 (share of the node's services that are Up)",
      registers: [],
      async collect() {
        const statuses = await Promise.all(metrics.services.map(statusOf));
        this.set(statuses.length === 0 ? 0 : (100 * statuses.filter((x) => x === "Up").length) / statuses.length);
      },
    });
  }

  /** Registers the four metrics on the node's registry. */
  registerOn(registry: Registry): void {
    registry.registerMetric(this.registeredStakes);
    registry.registerMetric(this.performanceScore);
    registry.registerMetric(this.rpcDuration);
    registry.registerMetric(this.rpcTotal);
  }

  /** The node's client, from web3_clientVersion ("HardhatNetwork/3.x/..." -> hardhatnetwork, 3.x). */
  setClient(clientVersion: string): void {
    const [type, version] = clientVersion.split("/");
    this.clientType = (type ?? "unknown").toLowerCase().slice(0, 64);
    this.clientVersion = (version ?? "unknown").slice(0, 64);
  }

  observeRpc(method: string, seconds: number, ok: boolean): void {
    const labels = { method: method.slice(0, 64), client_type: this.clientType, version: this.clientVersion };
    this.rpcDuration.observe(labels, seconds);
    this.rpcTotal.inc(labels);
    this.lastRpcOk = ok;
  }

  /** Wraps a viem transport so that every request is timed and counted. */
  timed(transport: Transport): Transport {
    return ((options: Parameters<Transport>[0]) => {
      const inner = transport(options);
      const request = (async (args: { method: string; params?: unknown }) => {
        const start = performance.now();
        try {
          const result = await inner.request(args as never);
          this.observeRpc(args.method, (performance.now() - start) / 1000, true);
          return result;
        } catch (error) {
          // A JSON-RPC error answer (a reverted call, an unknown method) came from a working
          // endpoint; only a request that got no answer says the chain is unreachable.
          const unreachable = error instanceof HttpRequestError || error instanceof TimeoutError;
          this.observeRpc(args.method, (performance.now() - start) / 1000, !unreachable);
          throw error;
        }
      }) as typeof inner.request;
      return { ...inner, request };
    }) as Transport;
  }
}

/** The chain service: Up when the newest RPC request got an answer, Initializing before any. */
/** The gossip mesh as a service: Up once a peer subscribes to any of the node's topics. */
export function meshService(mesh: { subscribers(topic: string): number }, topics: readonly string[], description: string): EigenService {
  return {
    id: "gossip-mesh",
    name: "mesh",
    description,
    status: () => (topics.some((t) => mesh.subscribers(t) > 0) ? "Up" : "Initializing"),
  };
}

export function chainService(metrics: EigenMetrics): EigenService {
  return {
    id: "chain-rpc",
    name: "chain",
    description: "JSON-RPC connection to the chain (reads, transactions)",
    status: () => (metrics.lastRpcOk === undefined ? "Initializing" : metrics.lastRpcOk ? "Up" : "Down"),
  };
}
