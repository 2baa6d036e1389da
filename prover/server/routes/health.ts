/** GET /health: liveness plus the two numbers an operator of the prover watches. */
import type { FastifyPluginAsync } from "fastify";
import type { ProofStore } from "../../store/index.ts";
import type { EngineQueue } from "../engine-queue.ts";
import { emptyQuerySchema } from "../schemas.ts";

export interface HealthRoutesOptions {
  store: ProofStore;
  queue: EngineQueue;
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { store, queue }) => {
  app.get("/health", { schema: { querystring: emptyQuerySchema } }, async () => ({
    status: "ok",
    pending_records: store.pendingCount,
    queue: { active: queue.active, waiting: queue.waiting, max_waiting: queue.maxWaiting },
  }));
};
