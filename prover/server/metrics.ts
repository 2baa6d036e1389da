/**
 * The prover's Prometheus metrics, served at /metrics with /healthz and /readyz as the operator
 * and the aggregator serve theirs (runtime/observability.ts): requests by route and status and
 * their latency, prompt and generated tokens and generation time (counted by a thin wrapper
 * around the engine), batch commitments by result, and gauges read at scrape time (records
 * waiting for a batch, batches closed and not yet committed, the engine queue).
 */
import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { createMetricsRegistry } from "../../runtime/observability.ts";
import type { BatchCommitter, ClosedBatch } from "../batch/index.ts";
import type { InferenceEngine } from "../inference-engine.ts";
import type { ProofStore } from "../store/index.ts";
import type { EngineQueue } from "./engine-queue.ts";

export interface ProverMetrics {
  registry: Registry;
  requests: Counter<"route" | "method" | "status">;
  requestSeconds: Histogram<"route">;
  promptTokens: Counter;
  generatedTokens: Counter;
  generationSeconds: Histogram;
  commits: Counter<"result">;
}

export function createProverMetrics(): ProverMetrics {
  const registry = createMetricsRegistry("prover");
  return {
    registry,
    requests: new Counter({ name: "vb_prover_requests_total", help: "HTTP requests answered, by route, method and status", labelNames: ["route", "method", "status"], registers: [registry] }),
    requestSeconds: new Histogram({ name: "vb_prover_request_seconds", help: "Time to answer, by route", labelNames: ["route"], buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    promptTokens: new Counter({ name: "vb_prover_prompt_tokens_total", help: "Prompt tokens of completed generations", registers: [registry] }),
    generatedTokens: new Counter({ name: "vb_prover_generated_tokens_total", help: "Output tokens generated (and proven)", registers: [registry] }),
    generationSeconds: new Histogram({ name: "vb_prover_generation_seconds", help: "Engine time per generation, proofs included", buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry] }),
    commits: new Counter({ name: "vb_prover_batch_commits_total", help: "Batch commitments offered to the committer, by result", labelNames: ["result"], registers: [registry] }),
  };
}

/** The engine, counting what it generates. */
export function meteredEngine(engine: InferenceEngine, metrics: ProverMetrics): InferenceEngine {
  return {
    get info() {
      return engine.info;
    },
    get tokenizer() {
      return engine.tokenizer;
    },
    ...(engine.concurrency !== undefined ? { concurrency: engine.concurrency } : {}),
    ...(engine.retryAfterSeconds ? { retryAfterSeconds: () => engine.retryAfterSeconds!() } : {}),
    async generate(request) {
      const end = metrics.generationSeconds.startTimer();
      const generation = await engine.generate(request);
      end();
      metrics.promptTokens.inc(generation.promptTokens.length);
      metrics.generatedTokens.inc(generation.outputTokens.length);
      return generation;
    },
  };
}

/** The committer, counting committed, pending and failed commitments. */
export function meteredCommitter(committer: BatchCommitter, metrics: ProverMetrics): BatchCommitter {
  return {
    name: committer.name,
    async commit(batch: ClosedBatch) {
      try {
        const receipt = await committer.commit(batch);
        metrics.commits.inc({ result: receipt.status });
        return receipt;
      } catch (error) {
        metrics.commits.inc({ result: "failed" });
        throw error;
      }
    },
  };
}

/** Request counting on every route of `app`, and the scrape-time gauges. */
export function installProverMetrics(app: FastifyInstance, metrics: ProverMetrics, store: ProofStore, queue: EngineQueue): void {
  app.addHook("onResponse", async (request, reply) => {
    // The route pattern, not the URL: record and batch ids must not become label values.
    const route = request.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
  });
  const { registry } = metrics;
  new Gauge({ name: "vb_prover_pending_records", help: "Records waiting for a batch", registers: [registry], collect() { this.set(store.pendingCount); } });
  new Gauge({ name: "vb_prover_batches_closed", help: "Batches closed so far", registers: [registry], collect() { this.set(store.nextBatchId - 1); } });
  new Gauge({
    name: "vb_prover_batches_uncommitted",
    help: "Closed batches not committed on chain yet",
    registers: [registry],
    async collect() {
      this.set((await store.uncommittedBatchIds()).length);
    },
  });
  new Gauge({ name: "vb_prover_queue_active", help: "Generations running", registers: [registry], collect() { this.set(queue.active); } });
  new Gauge({ name: "vb_prover_queue_waiting", help: "Requests waiting for the engine", registers: [registry], collect() { this.set(queue.waiting); } });
}
