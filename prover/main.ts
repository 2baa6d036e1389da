/**
 * `npm run prover`: loads the configuration, the engine (the embedded default model unless
 * model.path is set), the proof store and the batcher, and serves the API until SIGINT/SIGTERM.
 * With `chain` configured, closed batches are committed on chain (BatchManager.submitBatch) from
 * the prover's registered account; without it they are recorded locally only.
 * Shutdown closes in dependency order: stop accepting requests and let those in flight finish
 * (their records are written), stop the batcher, then close the store and the engine.
 */
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { FastifyInstance } from "fastify";
import { connectChain, loadKey, readDeploymentFile } from "../runtime/chain.ts";
import { ChainCommitter } from "./batch/chain-committer.ts";
import { Batcher, type BatchCommitter } from "./batch/index.ts";
import { ConfigError, loadConfig, type AuthConfig, type ProverConfig } from "./config.ts";
import { ApiKeyConfigError, ApiKeys } from "./server/auth.ts";
import { Engine } from "./engine/index.ts";
import { buildProverApp } from "./server/index.ts";
import { ProofStore } from "./store/index.ts";
import { stopOnSignals } from "../runtime/process.ts";
import { createLogger } from "../runtime/observability.ts";
import { redactText } from "../runtime/redact.ts";
import { ensurePrivateDir, restrictNewFiles } from "../runtime/private-files.ts";

export interface RunningProver {
  /** The address the server listens on, e.g. http://127.0.0.1:8000. */
  address: string;
  app: FastifyInstance;
  engine: Engine;
  store: ProofStore;
  batcher: Batcher;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Replaces the committer the configuration implies (chain, or record-only). */
  committer?: BatchCommitter;
}

/** The chain committer for `config.chain`, or undefined (record-only) when it is not set. */
export async function configuredCommitter(config: ProverConfig, env: Readonly<Record<string, string | undefined>> = process.env): Promise<BatchCommitter | undefined> {
  if (!config.chain) return undefined;
  const account = await loadKey(config.account, "account", env);
  const conn = await connectChain(config.chain.rpcUrl, readDeploymentFile(config.chain.deployment, "chain.deployment"), account);
  return new ChainCommitter(conn);
}

/** The key set `auth` names ("off" stays off); a missing or bad key source is a ConfigError naming the field. */
export function apiKeys(auth: AuthConfig): ApiKeys | "off" {
  if (auth.mode === "off") return "off";
  const limits = { maxConcurrent: auth.maxConcurrent, requestsPerMinute: auth.requestsPerMinute };
  try {
    const sets = [...(auth.keysFile ? [ApiKeys.fromFile(auth.keysFile, limits)] : []), ...(auth.keys?.length ? [ApiKeys.fromList(auth.keys, limits)] : [])];
    if (sets.length === 0) throw new ConfigError("auth: no API keys configured: set auth.keysFile (PROVER_API_KEYS_FILE, --api-keys-file) or PROVER_API_KEYS, or auth.mode \"off\" (PROVER_AUTH=off) on a loopback host", "auth.keysFile");
    return sets.length === 1 ? sets[0]! : ApiKeys.merge(sets);
  } catch (error) {
    if (error instanceof ApiKeyConfigError) throw new ConfigError(error.message, error.field);
    throw error;
  }
}

export async function startProver(config: ProverConfig, options: StartOptions = {}): Promise<RunningProver> {
  const keys = apiKeys(config.auth);
  const engine = await Engine.load({
    ...(config.model.path !== undefined ? { modelPath: config.model.path } : {}),
    ...(config.model.tokenizerPath !== undefined ? { tokenizerPath: config.model.tokenizerPath } : {}),
    ...(config.model.activationTensor !== undefined ? { activationTensor: config.model.activationTensor } : {}),
    ...(config.model.cacheDir !== undefined ? { cacheDir: config.model.cacheDir } : {}),
    ...(config.model.id !== undefined ? { modelId: config.model.id } : {}),
    ...(config.model.maxContext !== undefined ? { maxContext: config.model.maxContext } : {}),
    ...(config.model.threads !== undefined ? { threads: config.model.threads } : {}),
  });
  const cleanups: (() => Promise<void>)[] = [() => engine.close()];
  const cleanUp = async () => {
    for (const step of cleanups.splice(0).reverse()) await step();
  };
  try {
    restrictNewFiles();
    ensurePrivateDir(resolve(config.dataDir), { tighten: true });
    const store = await ProofStore.open(join(resolve(config.dataDir), "store"), { sync: config.syncWrites });
    cleanups.push(() => store.close());
    let address = "";
    const batcher = new Batcher(store, {
      ...config.batch,
      ...(options.committer ? { committer: options.committer } : {}),
      publicUrl: () => config.publicUrl ?? address,
      onError: (error, context) => app.log.error({ err: error }, context),
    });
    cleanups.push(() => batcher.stop());
    const app = await buildProverApp({
      auth: keys,
      engine,
      store,
      batcher,
      bodyLimitBytes: config.bodyLimitBytes,
      concurrency: config.queue.concurrency,
      maxWaiting: config.queue.maxWaiting,
      defaultMaxTokens: config.generation.defaultMaxTokens,
      // Every line through redactText: an RPC error carries the RPC URL, API key included.
      ...(config.logLevel === "silent" ? { logger: false } : { loggerInstance: createLogger("prover", config.logLevel) }),
    });
    cleanups.push(() => app.close());
    address = await app.listen({ host: config.host, port: config.port });
    await batcher.start();
    app.log.info({ model: engine.info.modelId, weightsHash: engine.info.weightsHash, address }, "prover ready");
    return { address, app, engine, store, batcher, close: cleanUp };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Entry point of `npm run prover` (and of test provers that patch the engine first). */
export async function runProverMain(): Promise<void> {
  let prover: RunningProver;
  try {
    const config = loadConfig({ argv: process.argv.slice(2), env: process.env });
    const committer = await configuredCommitter(config);
    prover = await startProver(config, committer ? { committer } : {});
  } catch (error) {
    const invalid = error instanceof ConfigError;
    process.stderr.write(redactText(`prover: ${invalid ? "invalid configuration" : "failed to start"}: ${error instanceof Error ? error.message : String(error)}\n`));
    process.exit(invalid ? 2 : 1);
  }
  process.stdout.write(`prover: serving ${prover.engine.info.modelId} on ${prover.address}\n`);
  stopOnSignals("prover", () => prover.close());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await runProverMain();
