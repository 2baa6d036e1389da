/**
 * The prover's HTTP server: fastify with the OpenAI-compatible routes and the data endpoint,
 * the operations endpoints (/metrics, /healthz, /readyz), each a plugin. The app is returned
 * unstarted; main.ts (or a test) calls listen().
 * The OpenAI routes sit behind the API-key guard (auth.ts), unless auth is "off" (allowed by the
 * configuration on loopback only); the data endpoint and /health are public. Every error,
 * including those raised before routing (bad percent-encoding, oversized path parameters) and
 * those of the HTTP parser itself (431, unparseable requests), is answered in OpenAI's shape.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Logger } from "pino";
import type { Batcher } from "../batch/index.ts";
import type { InferenceEngine } from "../inference-engine.ts";
import type { ProofStore } from "../store/index.ts";
import type { ServiceDeps } from "./completion-service.ts";
import { EngineQueue } from "./engine-queue.ts";
import { ApiKeyGuard, type ApiKeys } from "./auth.ts";
import { clientErrorHandler, frameworkErrorHandler, installErrorHandling } from "./error-handler.ts";
import { chatRoutes } from "./routes/chat-completions.ts";
import { completionRoutes } from "./routes/completions.ts";
import { dataRoutes } from "./routes/data.ts";
import { healthRoutes } from "./routes/health.ts";
import { modelRoutes } from "./routes/models.ts";
import { createProverMetrics, installProverMetrics, meteredEngine, type ProverMetrics } from "./metrics.ts";
import type { OnchainBatchStates } from "../batch/onchain-state.ts";
import { opsRoutes } from "../../runtime/observability.ts";

export interface ProverAppOptions {
  engine: InferenceEngine;
  store: ProofStore;
  batcher?: Batcher;
  /** Largest accepted request body in bytes (default 1 MiB). */
  bodyLimitBytes?: number;
  /** Generations run at once (default: the engine's concurrency, its batch size; 1 for an engine that does not batch) and requests allowed to wait (default 16). */
  concurrency?: number;
  maxWaiting?: number;
  /** max_tokens when a request gives none (default 256, capped by the context left). */
  defaultMaxTokens?: number;
  logger?: FastifyServerOptions["logger"];
  /** Metrics served at /metrics (default: a fresh registry). */
  metrics?: ProverMetrics;
  /** Where the batch list reads each committed batch's on-chain state (absent: no chain). */
  onchainStates?: OnchainBatchStates;
  /** Time a client has to send its whole request (default 30 s). */
  requestTimeoutMs?: number;
  /** Who may call the OpenAI routes: a key set, or "off" (no authentication: loopback only, by configuration). */
  auth: ApiKeys | "off";
  /** A ready logger (runtime/observability createLogger: every line redacted); wins over `logger`. */
  loggerInstance?: Logger;
}

export const DEFAULT_BODY_LIMIT = 1 << 20;

export async function buildProverApp(options: ProverAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance as FastifyBaseLogger } : { logger: options.logger ?? false }),
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    // Validation must reject, not repair: no coercion, no silently dropped properties.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true } },
    return503OnClosing: true,
    // A client gets this long to send its whole request (fastify's default is no limit: a
    // client sending a body byte by byte could hold a connection forever). Responses, streams
    // included, are not bounded by it.
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  });
  installErrorHandling(app);
  // JSON only: fastify's default text/plain parser would hand a string to the JSON schemas.
  app.removeContentTypeParser("text/plain");
  const queue = new EngineQueue(options.concurrency ?? options.engine.concurrency ?? 1, options.maxWaiting ?? 16);
  const metrics = options.metrics ?? createProverMetrics();
  installProverMetrics(app, metrics, options.store, queue);
  const deps: ServiceDeps = {
    engine: meteredEngine(options.engine, metrics),
    store: options.store,
    queue,
    ...(options.batcher ? { batcher: options.batcher } : {}),
    onError: (error, context) => app.log.error({ err: error }, context),
  };
  const policy = { defaultMaxTokens: options.defaultMaxTokens ?? 256 };
  const guard = options.auth === "off" ? undefined : new ApiKeyGuard(options.auth);
  // One scope for the OpenAI routes, so that the key check applies to them and to nothing else.
  await app.register(async (openai) => {
    if (guard) openai.addHook("onRequest", async (request, reply) => guard.admit(request, reply));
    await openai.register(modelRoutes, { info: options.engine.info, created: Math.floor(Date.now() / 1000) });
    await openai.register(completionRoutes, { deps, policy });
    await openai.register(chatRoutes, { deps, policy });
  });
  await app.register(dataRoutes, { store: options.store, ...(options.onchainStates ? { onchainStates: options.onchainStates } : {}) });
  await app.register(healthRoutes, { store: options.store, queue });
  await app.register(opsRoutes, { registry: metrics.registry });
  return app;
}
