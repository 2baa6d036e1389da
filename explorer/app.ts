/**
 * The explorer's fastify app, unstarted: the JSON API (/api), the page and its assets, and the
 * operations endpoints every node serves (/metrics, /healthz, /readyz). Read-only: no route
 * changes anything, on chain or off.
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { opsRoutes } from "../runtime/observability.ts";
import type { WebAssets } from "./bundle.ts";
import { apiRoutes, type ApiOptions } from "./routes/api.ts";
import { webRoutes } from "./routes/web.ts";

export interface ExplorerAppOptions extends ApiOptions {
  assets: WebAssets;
  registry: Registry;
  /** Reasons the explorer is not ready (e.g. the chain was never read). */
  readiness: () => string[];
  /** Told about internal errors (the client only sees "internal error"). */
  onError?: (error: unknown) => void;
}

export async function buildExplorerApp(options: ExplorerAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // Reject, never repair: no coercion, no silently dropped query fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
  });
  app.setErrorHandler((error: { statusCode?: number; validation?: unknown; message: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    const field = error.validation ? "request" : "server";
    if (status === 500) options.onError?.(error);
    void reply.code(status).send({ error: { message: status === 500 ? "internal error" : error.message, field } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { message: `no route ${request.method} ${request.url.split("?")[0]}`, field: "url" } });
  });
  const { assets, registry, readiness, onError: _onError, ...api } = options;
  await app.register(apiRoutes, { ...api, prefix: "/api" });
  await app.register(webRoutes, { assets });
  await app.register(opsRoutes, { registry, readiness });
  return app;
}
