/**
 * Operations endpoints every long-running node shares: Prometheus metrics, liveness and
 * readiness, as a fastify plugin; and a pino logger with the node's name on every line, whose
 * every line is passed through redactText (runtime/redact.ts) before it is written: URL
 * credentials, API keys in RPC URLs and registered secrets never reach a log.
 */
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { pino, type DestinationStream, type Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { redactText } from "./redact.ts";

/** A metrics registry with Node's process metrics, labelled with the node's role. */
export function createMetricsRegistry(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function createLogger(role: string, level = process.env.LOG_LEVEL ?? "info", destination?: DestinationStream): Logger {
  const options = { name: role, level, hooks: { streamWrite: redactText } };
  return destination ? pino(options, destination) : pino(options);
}

export interface OpsRoutesOptions {
  registry: Registry;
  /** Readiness: resolves to a list of reasons the node is not ready (empty when ready). */
  readiness?: () => Promise<string[]> | string[];
}

/**
 * GET /metrics (Prometheus text), GET /healthz (the process answers), GET /readyz (200 when
 * every readiness check passes, 503 with the reasons otherwise).
 */
export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app: FastifyInstance, options) => {
  app.get("/metrics", { schema: { response: { 200: { type: "string" } } } }, async (_request, reply) => {
    reply.header("content-type", options.registry.contentType);
    return options.registry.metrics();
  });
  app.get(
    "/healthz",
    { schema: { response: { 200: { type: "object", properties: { status: { type: "string" } }, required: ["status"] } } } },
    async () => ({ status: "ok" }),
  );
  app.get(
    "/readyz",
    {
      schema: {
        response: {
          "2xx": readyBody,
          503: readyBody,
        },
      },
    },
    async (_request, reply) => {
      const reasons = options.readiness ? await options.readiness() : [];
      if (reasons.length > 0) reply.code(503);
      return { ready: reasons.length === 0, reasons };
    },
  );
};

const readyBody = {
  type: "object",
  properties: { ready: { type: "boolean" }, reasons: { type: "array", items: { type: "string" } } },
  required: ["ready", "reasons"],
} as const;
