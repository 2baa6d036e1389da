/**
 * The running explorer: reads the deployment, connects to the chain, keeps the chain history
 * refreshed in the background (every chain.pollIntervalMs), builds the page's assets and serves
 * the app. Stops cleanly: the poll loop, the server, then the statistics engine.
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { Gauge } from "prom-client";
import { createPublicClient, http, type PublicClient } from "viem";
import { Engine } from "../prover/engine/index.ts";
import { ChainSetupError, readDeploymentFile, sleep } from "../runtime/chain.ts";
import { ChainHistory } from "../runtime/chain-history.ts";
import { createLogger, createMetricsRegistry } from "../runtime/observability.ts";
import { buildExplorerApp } from "./app.ts";
import { buildWebAssets } from "./bundle.ts";
import { parseLabels, type ExplorerConfig } from "./config.ts";
import { VerificationStats } from "./stats.ts";

export class ExplorerServer {
  private readonly stopped = new AbortController();
  private loop?: Promise<void>;
  private lastError: string | undefined = "the chain has not been read yet";

  private constructor(
    readonly config: ExplorerConfig,
    readonly history: ChainHistory,
    readonly stats: VerificationStats,
    readonly app: FastifyInstance,
    readonly log: Logger,
  ) {}

  /** The URL it serves, e.g. http://127.0.0.1:8700. */
  get url(): string {
    const a = this.app.server.address();
    return typeof a === "object" && a ? `http://${this.config.http.host}:${a.port}` : "";
  }

  static async start(config: ExplorerConfig, options: { logger?: Logger } = {}): Promise<ExplorerServer> {
    const log = options.logger ?? createLogger("explorer", config.logLevel);
    const deployment = readDeploymentFile(config.chain.deployment);
    const client = createPublicClient({ transport: http(config.chain.rpcUrl, { retryCount: 1, timeout: 15_000 }) }) as PublicClient;
    let chainId: number;
    try {
      chainId = await client.getChainId();
    } catch (error) {
      throw new ChainSetupError(`chain.rpcUrl: cannot reach ${config.chain.rpcUrl}: ${(error as Error).message.split("\n")[0]}`, "chain.rpcUrl");
    }
    if (chainId !== deployment.chainId) throw new ChainSetupError(`chain.rpcUrl: ${config.chain.rpcUrl} is chain ${chainId} but the deployment is for chain ${deployment.chainId}`, "chain.rpcUrl");
    const history = new ChainHistory(client, deployment, {
      logRange: BigInt(config.chain.logRange),
      ...(config.chain.startBlock !== undefined ? { fromBlock: BigInt(config.chain.startBlock) } : {}),
    });
    const model = config.stats.model;
    const stats = new VerificationStats({
      leavesPerBatch: config.stats.leavesPerBatch,
      allowedOrigins: config.provers,
      fetchTimeoutMs: config.stats.fetchTimeoutMs,
      loadEngine: () =>
        Engine.load({
          ...(model.path ? { modelPath: model.path } : {}),
          ...(model.id ? { modelId: model.id } : {}),
          ...(model.cacheDir ? { cacheDir: model.cacheDir } : {}),
          ...(model.threads !== undefined ? { threads: model.threads } : {}),
        }),
    });
    const registry = createMetricsRegistry("explorer");
    let server: ExplorerServer | undefined;
    new Gauge({ name: "vb_explorer_head_block", help: "Newest block the explorer has read", registers: [registry], collect() { this.set(Number(history.head.number)); } });
    new Gauge({ name: "vb_explorer_batches", help: "Batches on chain", registers: [registry], collect() { this.set(history.batches().length); } });
    const app = await buildExplorerApp({
      history,
      deployment,
      stats,
      publicRpcUrl: config.publicRpcUrl ?? config.chain.rpcUrl,
      provers: config.provers,
      labels: parseLabels(config.labels),
      statsLeaves: config.stats.leavesPerBatch,
      assets: await buildWebAssets(),
      registry,
      readiness: () => (server?.lastError ? [server.lastError] : []),
      onError: (error) => log.error({ err: error }, "request failed"),
    });
    server = new ExplorerServer(config, history, stats, app, log);
    try {
      await history.refresh();
      server.lastError = undefined;
    } catch (error) {
      log.warn({ err: error }, "first chain read failed; retrying in the background");
    }
    await app.listen({ host: config.http.host, port: config.http.port });
    server.loop = server.run();
    log.info({ url: server.url, chainId, batches: history.batches().length }, "explorer ready");
    return server;
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    await this.loop?.catch(() => undefined);
    await this.app.close();
    await this.stats.close();
  }

  private async run(): Promise<void> {
    while (!this.stopped.signal.aborted) {
      await sleep(this.config.chain.pollIntervalMs, this.stopped.signal);
      if (this.stopped.signal.aborted) return;
      try {
        await this.history.refresh();
        this.lastError = undefined;
      } catch (error) {
        this.lastError = `chain unreadable: ${(error as Error).message.split("\n")[0]}`;
        this.log.warn({ err: error }, "chain read failed; retrying");
      }
    }
  }
}
