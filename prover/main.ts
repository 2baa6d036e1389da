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
import { Batcher, RecordOnlyCommitter, type BatchCommitter } from "./batch/index.ts";
import { OnchainBatchStates } from "./batch/onchain-state.ts";
import { createProverMetrics, meteredCommitter } from "./server/metrics.ts";
import { ConfigError, ENV_VARS, loadConfig, PROVER_FLAGS, type ProverConfig } from "./config.ts";
import { nodeCommand, wantsHelp } from "../runtime/cli.ts";
import { Engine, WeightsHashMismatchError } from "./engine/index.ts";
import { type AuthConfig } from "./config.ts";
import { ApiKeyConfigError, ApiKeys } from "./server/auth.ts";
import { buildProverApp } from "./server/index.ts";
import { ProofStore } from "./store/index.ts";
import { SglangUpstream } from "./upstream/sglang.ts";
import type { InferenceEngine } from "./inference-engine.ts";
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
  /** Where the batch list reads on-chain states (with a chain configured). */
  onchainStates?: OnchainBatchStates;
  /** The weights hash registered on chain for the model, when there is one: another refuses to serve. */
  registeredWeightsHash?: (modelId: string) => Promise<string | undefined>;
  /** Progress of loading the model (hashing, upcasting). */
  onProgress?: (message: string) => void;
}

/** The chain committer and on-chain state reader for `config.chain`, or {} (record-only) when it is not set. */
export async function configuredChain(config: ProverConfig, env: Readonly<Record<string, string | undefined>> = process.env): Promise<StartOptions> {
  if (!config.chain) return {};
  const account = await loadKey(config.account, "account", env);
  const conn = await connectChain(config.chain.rpcUrl, readDeploymentFile(config.chain.deployment, "chain.deployment"), account);
  const committer = new ChainCommitter(conn);
  return {
    committer,
    onchainStates: new OnchainBatchStates(conn.publicClient, conn.deployment.contracts.batchManager.address),
    registeredWeightsHash: (modelId) => registeredWeights(committer, modelId),
  };
}

/** The chain committer for `config.chain`, or undefined (record-only) when it is not set. */
export async function configuredCommitter(config: ProverConfig, env: Readonly<Record<string, string | undefined>> = process.env): Promise<BatchCommitter | undefined> {
  return (await configuredChain(config, env)).committer;
}

/** The weights hash the ModelRegistry binds to `modelId` (64 hex digits), or undefined when it binds none. */
async function registeredWeights(committer: ChainCommitter, modelId: string): Promise<string | undefined> {
  const bound = await committer.registeredModel(modelId);
  return /^0x0{64}$/.test(bound.weightsHash) ? undefined : bound.weightsHash.slice(2).toLowerCase();
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
    ...(config.model.dir !== undefined ? { modelDir: config.model.dir } : {}),
    ...(config.model.file !== undefined ? { modelFile: config.model.file } : {}),
    ...(config.model.device !== undefined ? { device: config.model.device } : {}),
    ...(config.model.weightsHash !== undefined ? { expectedWeightsHash: config.model.weightsHash } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
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
    const registered = await options.registeredWeightsHash?.(engine.info.modelId);
    if (registered !== undefined && registered !== engine.info.weightsHash && config.model.registryCheck !== "warn") {
      throw new WeightsHashMismatchError(
        `${engine.info.modelId} is registered with weights ${registered}, but ${config.model.dir ?? config.model.path ?? "the default model"} hashes to ${engine.info.weightsHash}; nothing is served`,
        "model",
      );
    }
    restrictNewFiles();
    ensurePrivateDir(resolve(config.dataDir), { tighten: true });
    const store = await ProofStore.open(join(resolve(config.dataDir), "store"), { sync: config.syncWrites });
    cleanups.push(() => store.close());
    let address = "";
    const metrics = createProverMetrics();
    const batcher = new Batcher(store, {
      ...config.batch,
      committer: meteredCommitter(options.committer ?? new RecordOnlyCommitter(), metrics),
      publicUrl: () => config.publicUrl ?? address,
      onError: (error, context) => app.log.error({ err: error }, context),
    });
    cleanups.push(() => batcher.stop());
    // The sidecar: the model here only names the weights, the tokenizer and the hidden size; SGLang runs it.
    const served: InferenceEngine = config.upstream
      ? new SglangUpstream(engine, { url: config.upstream.url, stopTokenIds: engine.info.stopTokenIds, ...(config.upstream.timeoutMs !== undefined ? { timeoutMs: config.upstream.timeoutMs } : {}) })
      : engine;
    const app = await buildProverApp({
      auth: keys,
      engine: served,
      store,
      batcher,
      bodyLimitBytes: config.bodyLimitBytes,
      ...(config.queue.concurrency !== undefined ? { concurrency: config.queue.concurrency } : {}),
      maxWaiting: config.queue.maxWaiting,
      defaultMaxTokens: config.generation.defaultMaxTokens,
      metrics,
      ...(options.onchainStates ? { onchainStates: options.onchainStates } : {}),
      // Every line through redactText: an RPC error carries the RPC URL, API key included.
      ...(config.logLevel === "silent" ? { logger: false } : { loggerInstance: createLogger("prover", config.logLevel) }),
    });
    cleanups.push(() => app.close());
    for (const warning of engine.warnings) app.log.warn({ model: engine.info.modelId }, warning);
    address = await app.listen({ host: config.host, port: config.port });
    await batcher.start();
    app.log.info({ model: engine.info.modelId, weightsHash: engine.info.weightsHash, dtype: engine.info.dtype, computeDtype: engine.info.computeDtype, device: engine.info.device, address }, "prover ready");
    return { address, app, engine, store, batcher, close: cleanUp };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Says, before any batch is refused, when the chain will not take or will not trust this model's batches. */
async function warnAboutRegistration(committer: ChainCommitter, info: { modelId: string; weightsHash: string }): Promise<void> {
  let bound;
  try {
    bound = await committer.registeredModel(info.modelId);
  } catch (error) {
    process.stderr.write(`prover: warning: cannot read the ModelRegistry: ${(error as Error).message}\n`);
    return;
  }
  if (/^0x0{64}$/.test(bound.profileHash)) {
    process.stderr.write(
      `prover: warning: model ${info.modelId} has no verification profile in the ModelRegistry; BatchManager refuses its batches until governance binds one (npm run vb -- calibrate, then ModelRegistry.setModelProfile)\n`,
    );
  } else if (bound.weightsHash.slice(2) !== info.weightsHash) {
    process.stderr.write(
      `prover: warning: the ModelRegistry binds ${info.modelId} to weights ${bound.weightsHash.slice(2)}; this prover serves ${info.weightsHash}, which operators will judge as another model\n`,
    );
  }
}

/** `npm run prover -- --help`. */
export function proverCommand() {
  return nodeCommand({
    name: "npm run prover --",
    summary: "An OpenAI-compatible server with a TOPLOC proof on every response; batches its records into Merkle roots and, with a chain configured, commits them on chain.",
    spec: { envPrefix: "PROVER", env: ENV_VARS, flags: PROVER_FLAGS },
    epilogue: "Endpoints: /v1/models, /v1/completions, /v1/chat/completions, /v1/batches[/:id[/leaves/:index]], /v1/records/:id, /health, /healthz, /readyz, /metrics.\nExample: npm run prover -- --rpc-url http://127.0.0.1:8545 --deployment deployments/31337.json --key-file prover.key",
  });
}

/** Entry point of `npm run prover` (and of test provers that patch the engine first). */
export async function runProverMain(): Promise<void> {
  if (wantsHelp(process.argv.slice(2))) {
    proverCommand().outputHelp();
    process.exit(0);
  }
  let prover: RunningProver;
  let committer: BatchCommitter | undefined;
  try {
    const config = loadConfig({ argv: process.argv.slice(2), env: process.env });
    const chain = await configuredChain(config);
    committer = chain.committer;
    prover = await startProver(config, { ...chain, onProgress: (message) => process.stderr.write(`prover: ${message}\n`) });
  } catch (error) {
    const invalid = error instanceof ConfigError;
    process.stderr.write(redactText(`prover: ${invalid ? "invalid configuration" : "failed to start"}: ${error instanceof Error ? error.message : String(error)}\n`));
    process.exit(invalid ? 2 : 1);
  }
  if (committer instanceof ChainCommitter) await warnAboutRegistration(committer, prover.engine.info);
  process.stdout.write(`prover: serving ${prover.engine.info.modelId} on ${prover.address}\n`);
  stopOnSignals("prover", () => prover.close());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await runProverMain();
