/**
 * Starts the prover's server on 127.0.0.1:0 over a level store in a temp folder, for the
 * server, store and batch tests. `stop()` closes the server, the batcher and the store but
 * keeps the folder, so a test can reopen it as a restarted prover would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import OpenAI from "openai";
import { Batcher, type BatchCommitter } from "../../prover/batch/index.ts";
import { Engine } from "../../prover/engine/index.ts";
import type { InferenceEngine } from "../../prover/inference-engine.ts";
import { buildProverApp } from "../../prover/server/index.ts";
import type { ApiKeys } from "../../prover/server/auth.ts";
import type { Logger } from "pino";
import { ProofStore } from "../../prover/store/index.ts";
import { until } from "./poll.ts";

export interface TempDir {
  dir: string;
  cleanup(): void;
}

export function tempDir(prefix: string): TempDir {
  const dir = mkdtempSync(join(tmpdir(), `vb-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The real engine on the embedded default model, built into its own temp cache. */
export async function loadDefaultEngine(cache: TempDir): Promise<Engine> {
  return Engine.load({ cacheDir: join(cache.dir, "models") });
}

export interface TestServerOptions {
  engine: InferenceEngine;
  dataDir: string;
  maxRecords?: number;
  maxAgeMs?: number;
  committer?: BatchCommitter;
  bodyLimitBytes?: number;
  maxWaiting?: number;
  defaultMaxTokens?: number;
  /** Who may call the OpenAI routes (default "off": the tests' servers are on loopback). */
  auth?: ApiKeys | "off";
  /** The server's logger (default: none). */
  loggerInstance?: Logger;
  /** Listen on this port (a restarted prover keeps its address, and so its batches' data URIs). */
  port?: number;
}

export interface TestServer {
  address: string;
  app: FastifyInstance;
  store: ProofStore;
  batcher: Batcher;
  client: OpenAI;
  /** Errors the batcher reported (tests assert there were none, or the expected ones). */
  batchErrors: { error: unknown; context: string }[];
  stop(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const store = await ProofStore.open(join(options.dataDir, "store"), { sync: false });
  const batchErrors: TestServer["batchErrors"] = [];
  let address = "";
  const batcher = new Batcher(store, {
    maxRecords: options.maxRecords ?? 1000,
    maxAgeMs: options.maxAgeMs ?? 3_600_000,
    commitRetryMs: 50,
    publicUrl: () => address,
    ...(options.committer ? { committer: options.committer } : {}),
    onError: (error, context) => batchErrors.push({ error, context }),
  });
  const app = await buildProverApp({
    auth: options.auth ?? "off",
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance } : {}),
    engine: options.engine,
    store,
    batcher,
    ...(options.bodyLimitBytes !== undefined ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
    ...(options.maxWaiting !== undefined ? { maxWaiting: options.maxWaiting } : {}),
    ...(options.defaultMaxTokens !== undefined ? { defaultMaxTokens: options.defaultMaxTokens } : {}),
  });
  address = await app.listen({ host: "127.0.0.1", port: options.port ?? 0 });
  await batcher.start();
  const client = new OpenAI({ baseURL: `${address}/v1`, apiKey: "unused", maxRetries: 0, timeout: 30_000 });
  let stopped = false;
  return {
    address,
    app,
    store,
    batcher,
    client,
    batchErrors,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
      await batcher.stop();
      await store.close();
    },
  };
}

/** POSTs a raw body (string, so tests can send broken JSON) and returns status, headers, JSON. */
export async function postRaw(
  address: string,
  path: string,
  body: string,
  contentType = "application/json",
): Promise<{ status: number; headers: Headers; json: any }> {
  const response = await fetch(`${address}${path}`, { method: "POST", headers: { "content-type": contentType }, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
}

export async function getJson(address: string, path: string): Promise<{ status: number; json: any }> {
  const response = await fetch(`${address}${path}`);
  return { status: response.status, json: await response.json() };
}

/** Polls `check` every 20 ms until it returns a value, for at most `timeoutMs`. */
export function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  return until(what, timeoutMs, check, 20);
}
