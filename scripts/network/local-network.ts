/**
 * The whole local network of `npm start`, in one data folder: a Hardhat node (its chain kept
 * across restarts by a journal, chain-journal.ts), the contracts, an honest prover and a
 * cheating one (cheater.ts), three operators, an aggregator and the explorer, each a process of
 * its own, plus the traffic generator (traffic.ts) in this process.
 *
 * First start: a fresh chain, the deployment, funded keys (0600 key files), and network.json
 * recording the ports and keys. Later starts on the same folder replay the journal into a fresh
 * node (same blocks, same hashes), then start the same nodes on the same ports over their own
 * level stores, so the network goes on where it stopped. `fresh` deletes the folder's network
 * first.
 *
 * Stopping is orderly: traffic, then the nodes (they may still be writing), then the journal is
 * brought up to the chain's head, then the chain.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { createPublicClient, http, type Address, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { DeployedConfig } from "../../protocol/contracts/deployments.ts";
import { FieldError } from "../../protocol/errors.ts";
import { DEFAULT_MODEL_MANIFEST } from "../../prover/model/manifest.ts";
import { readDeploymentFile } from "../../runtime/chain.ts";
import { ChainHistory } from "../../runtime/chain-history.ts";
import { ChainRecorder, readJournal, replayJournal } from "./chain-journal.ts";
import { cheaterModel, type CheaterWeights } from "./cheater.ts";
import {
  freePort,
  launchAggregator,
  launchExplorer,
  launchOperator,
  launchProver,
  setupNetwork,
  startHardhatNode,
  type KeyPair,
  type NetworkSetup,
  type NodeProcess,
} from "./launch.ts";
import { TrafficGenerator } from "./traffic.ts";

export class LocalNetworkError extends FieldError {
  override name = "LocalNetworkError";
}

/** Windows short enough to watch: attested in seconds, finalized a minute later. */
export const NETWORK_CONFIG: Partial<DeployedConfig> = { responseWindow: 120, challengeWindow: 60, votingWindow: 120, unbondingDelay: 600 };
const OPERATORS = 3;
const BATCH_RECORDS = "8";
const BATCH_AGE_MS = "20000";
const MANIFEST = "network.json";
const JOURNAL = "chain-journal.jsonl";
const LOCK = "npm-start.lock";

interface KeyFiles {
  name: string;
  accountKeyFile: string;
  signerKeyFile: string;
  /** Operators of networks made since BLS keys came in. */
  blsKeyFile?: string;
}

/** network.json: what a later start needs to bring the same network back. */
interface Manifest {
  format: "vb.local-network/1";
  createdAt: string;
  cheater: CheaterWeights;
  ports: { chain: number; explorer: number; honest: number; cheater: number };
  deploymentFile: string;
  provers: KeyFiles[];
  operators: KeyFiles[];
  aggregator: KeyFiles;
  /** For people: where everything listens (the explorer shows the rest). */
  endpoints?: Record<string, string>;
}

export interface LocalNetworkOptions {
  dir: string;
  fresh: boolean;
  /** The explorer's port; 0 picks a free one (kept for later starts). */
  explorerPort: number;
  traffic: boolean;
  cheater: CheaterWeights;
  /** Progress lines while starting and stopping. */
  log: (line: string) => void;
}

interface Running {
  name: string;
  proc: NodeProcess;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function relative(dir: string, file: string): string {
  return path.relative(dir, file);
}

function keyFiles(dir: string, k: KeyPair): KeyFiles {
  return { name: k.name, accountKeyFile: relative(dir, k.accountKeyFile), signerKeyFile: relative(dir, k.signerKeyFile), ...(k.blsKeyFile ? { blsKeyFile: relative(dir, k.blsKeyFile) } : {}) };
}

function loadKeyPair(dir: string, k: KeyFiles): KeyPair {
  const read = (file: string) => privateKeyToAccount(readFileSync(path.join(dir, file), "utf8").trim() as `0x${string}`);
  return {
    name: k.name, account: read(k.accountKeyFile), accountKeyFile: path.join(dir, k.accountKeyFile), signer: read(k.signerKeyFile), signerKeyFile: path.join(dir, k.signerKeyFile),
    ...(k.blsKeyFile ? { blsKeyFile: path.join(dir, k.blsKeyFile) } : {}),
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class LocalNetwork {
  readonly history: ChainHistory;
  readonly traffic: TrafficGenerator;
  /** Lowercase address -> name, for the table. */
  readonly names: Map<string, string>;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    readonly resumed: boolean,
    readonly setup: NetworkSetup,
    readonly explorerUrl: string,
    readonly proverUrls: { honest: string; cheater: string },
    private readonly chain: NodeProcess,
    private readonly recorder: ChainRecorder,
    private readonly nodes: Running[],
    traffic: boolean,
    private readonly log: (line: string) => void,
  ) {
    this.history = new ChainHistory(setup.publicClient, setup.deployment);
    const [honest, cheater] = setup.provers;
    this.names = new Map([[honest!.account.address.toLowerCase(), "honest"], [cheater!.account.address.toLowerCase(), "cheater"]]);
    this.traffic = new TrafficGenerator([
      { name: "honest", url: proverUrls.honest, intervalMs: 1_500 },
      { name: "cheater", url: proverUrls.cheater, intervalMs: 3_000 },
    ]);
    if (traffic) this.traffic.start();
  }

  get cheaterAccount(): Address {
    return this.setup.provers[1]!.account.address;
  }

  /** Nodes that exited on their own (not stopped by us). */
  exitedNodes(): { name: string; code: number | null }[] {
    if (this.stopping) return [];
    return this.nodes.filter((n) => !n.proc.running).map((n) => ({ name: n.name, code: n.proc.child.exitCode }));
  }

  /** The journal could not keep up with the chain (the network should stop). */
  journalError(): Error | undefined {
    return this.recorder.error;
  }

  static async start(options: LocalNetworkOptions): Promise<LocalNetwork> {
    const dir = path.resolve(options.dir);
    mkdirSync(dir, { recursive: true });
    const lock = path.join(dir, LOCK);
    if (existsSync(lock)) {
      const pid = Number(readFileSync(lock, "utf8"));
      if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) throw new LocalNetworkError(`another npm start (pid ${pid}) is using ${dir}`, "dir");
    }
    if (options.fresh) LocalNetwork.wipe(dir);
    writeFileSync(lock, String(process.pid));
    const started: NodeProcess[] = [];
    try {
      return await LocalNetwork.bringUp(dir, options, started);
    } catch (error) {
      for (const p of started.reverse()) await p.stop("SIGTERM", 5_000).catch(() => undefined);
      rmSync(lock, { force: true });
      throw error;
    }
  }

  /** Deletes a previous network in `dir`; refuses a folder that holds anything else. */
  private static wipe(dir: string): void {
    const entries = readdirSync(dir).filter((e) => e !== LOCK);
    if (entries.length === 0) return;
    if (!entries.includes(MANIFEST) && !entries.includes(JOURNAL)) {
      throw new LocalNetworkError(`${dir} is not empty and holds no network (no ${MANIFEST}); refusing to delete it with --fresh`, "dir");
    }
    for (const entry of entries) rmSync(path.join(dir, entry), { recursive: true, force: true });
  }

  private static async bringUp(dir: string, options: LocalNetworkOptions, started: NodeProcess[]): Promise<LocalNetwork> {
    const log = options.log;
    const manifestFile = path.join(dir, MANIFEST);
    const journalFile = path.join(dir, JOURNAL);
    const resumed = existsSync(manifestFile);
    let manifest: Manifest;
    let setup: NetworkSetup;
    let chain: { rpcUrl: string; node: NodeProcess };
    let recorder: ChainRecorder;
    const requirePort = async (port: number, what: string) => {
      if (!(await portIsFree(port))) throw new LocalNetworkError(`port ${port} (${what}) is in use: is another network running? (npm start -- --port N picks another explorer port; --fresh starts over)`, what);
    };
    if (resumed) {
      manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
      if (manifest.format !== "vb.local-network/1") throw new LocalNetworkError(`${manifestFile} is not a network manifest; start over with --fresh`, "dir");
      if (!existsSync(journalFile)) throw new LocalNetworkError(`${journalFile} is missing, so the chain cannot be rebuilt; start over with --fresh`, "dir");
      for (const [what, port] of Object.entries(manifest.ports)) await requirePort(port, what);
      const journal = readJournal(journalFile);
      log(`resuming the network in ${dir}: replaying ${journal.head} blocks (${journal.transactions} transactions) into a fresh chain…`);
      chain = await startHardhatNode(dir, manifest.ports.chain, { network: "replayable", detached: true, env: { VB_CHAIN_GENESIS_TIME: String(journal.header.genesis.timestamp) } });
      started.push(chain.node);
      const client = createPublicClient({ transport: http(chain.rpcUrl), pollingInterval: 250 }) as PublicClient;
      await replayJournal(journalFile, client);
      // Time passed while the network was down: the next block says so (and the journal keeps
      // it like any other), so windows that ran out meanwhile are over on chain too.
      const last = await client.getBlock();
      const now = BigInt(Math.floor(Date.now() / 1000));
      if (now > last.timestamp + 1n) await client.request({ method: "evm_setNextBlockTimestamp" as never, params: [`0x${now.toString(16)}`] as never });
      await client.request({ method: "evm_mine" as never, params: [] as never });
      recorder = await ChainRecorder.open(journalFile, client);
      const deploymentFile = path.join(dir, manifest.deploymentFile);
      setup = {
        rpcUrl: chain.rpcUrl,
        dir,
        deployment: readDeploymentFile(deploymentFile, "deployment"),
        deploymentFile,
        provers: manifest.provers.map((k) => loadKeyPair(dir, k)),
        operators: manifest.operators.map((k) => loadKeyPair(dir, k)),
        aggregator: loadKeyPair(dir, manifest.aggregator),
        publicClient: client,
      };
    } else {
      const explorer = options.explorerPort === 0 ? await freePort() : options.explorerPort;
      await requirePort(explorer, "explorer");
      const ports = { chain: await freePort(), explorer, honest: await freePort(), cheater: await freePort() };
      log(`starting a new network in ${dir}: chain, contracts, keys…`);
      chain = await startHardhatNode(dir, ports.chain, { network: "replayable", detached: true });
      started.push(chain.node);
      const client = createPublicClient({ transport: http(chain.rpcUrl), pollingInterval: 250 }) as PublicClient;
      recorder = await ChainRecorder.open(journalFile, client);
      recorder.start();
      setup = await setupNetwork(chain.rpcUrl, dir, { operators: OPERATORS, provers: 2, config: NETWORK_CONFIG });
      manifest = {
        format: "vb.local-network/1",
        createdAt: new Date().toISOString(),
        cheater: options.cheater,
        ports,
        deploymentFile: relative(dir, setup.deploymentFile),
        provers: setup.provers.map((k) => keyFiles(dir, k)),
        operators: setup.operators.map((k) => keyFiles(dir, k)),
        aggregator: keyFiles(dir, setup.aggregator),
      };
    }
    if (resumed) recorder.start();
    await setup.publicClient.request({ method: "evm_setIntervalMining" as never, params: [1000] as never });

    const nodes: Running[] = [];
    const keep = <T extends { proc: NodeProcess }>(name: string, launched: T): T => {
      started.push(launched.proc);
      nodes.push({ name, proc: launched.proc });
      return launched;
    };
    log(`starting the aggregator, two provers (one cheating: ${manifest.cheater} weights), ${OPERATORS} operators and the explorer…`);
    const aggregator = keep("aggregator", await launchAggregator(setup, { AGGREGATOR_LOG_LEVEL: "info" }));
    const cheaterWeights = cheaterModel(manifest.cheater, path.join(dir, "models"));
    const proverEnv = { PROVER_BATCH_MAX_RECORDS: BATCH_RECORDS, PROVER_BATCH_MAX_AGE_MS: BATCH_AGE_MS, PROVER_THREADS: "1", PROVER_LOG_LEVEL: "info" };
    const [honest, cheater, ...operators] = await Promise.all([
      launchProver(setup, { index: 0, port: manifest.ports.honest, env: proverEnv }),
      launchProver(setup, { index: 1, port: manifest.ports.cheater, env: proverEnv, args: ["--model", cheaterWeights, "--model-id", DEFAULT_MODEL_MANIFEST.modelId, "--registry-check", "warn"] }),
      ...setup.operators.map((_, index) => launchOperator(setup, { index, aggregatorUrl: aggregator.url, bootstrap: [aggregator.mesh], threads: 1, bls: true })),
    ]);
    keep("honest prover", honest!);
    keep("cheating prover", cheater!);
    operators.forEach((op, i) => keep(`operator ${i + 1}`, op));
    const labels = [
      `${setup.provers[0]!.account.address}=honest-prover`,
      `${setup.provers[1]!.account.address}=cheating-prover`,
      ...setup.operators.map((op, i) => `${op.account.address}=operator-${i + 1}`),
      `${setup.aggregator.account.address}=aggregator`,
    ];
    const explorer = keep("explorer", await launchExplorer(setup, { port: manifest.ports.explorer, provers: [honest!.url, cheater!.url], labels }));
    manifest.endpoints = {
      explorer: explorer.url, chain: chain.rpcUrl, honestProver: honest!.url, cheatingProver: cheater!.url, aggregator: aggregator.url,
      ...Object.fromEntries(operators.map((op, i) => [`operator${i + 1}`, op!.url])),
    };
    writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    const network = new LocalNetwork(dir, resumed, setup, explorer.url, { honest: honest!.url, cheater: cheater!.url }, chain.node, recorder, nodes, options.traffic, log);
    await network.history.refresh();
    network.pauseCheaterIfSlashed();
    return network;
  }

  /** Process ids of everything this network runs (the chain and the nodes). */
  pids(): number[] {
    return [this.chain, ...this.nodes.map((n) => n.proc)].map((p) => p.child.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Kills whatever still runs, at once (when this process exits without stop()). */
  killNow(): void {
    for (const n of this.nodes) if (n.proc.running) n.proc.child.kill("SIGKILL");
    if (this.chain.running) this.chain.child.kill("SIGKILL");
  }

  /** Reads the chain; stops the cheater's traffic once it no longer has a prover's stake. */
  async refresh(): Promise<void> {
    await this.history.refresh();
    this.pauseCheaterIfSlashed();
  }

  private pauseCheaterIfSlashed(): void {
    const cheater = this.history.member(this.cheaterAccount);
    if (cheater && cheater.stake.active < BigInt(this.setup.deployment.config.minProverStake)) this.traffic.pause("cheater");
  }

  /** Stops everything, in order; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.traffic.stop();
      this.log("stopping the nodes…");
      await Promise.all(this.nodes.map((n) => n.proc.stop("SIGTERM", 20_000).catch(() => undefined)));
      // The nodes are down: nothing sends transactions any more. Freeze the chain, record it to
      // its head, and only then stop it.
      await this.setup.publicClient.request({ method: "evm_setIntervalMining" as never, params: [0] as never }).catch(() => undefined);
      await this.recorder.stop().catch((error: unknown) => this.log(`the chain journal could not be completed: ${(error as Error).message}`));
      await this.chain.stop("SIGTERM", 10_000);
      rmSync(path.join(this.dir, LOCK), { force: true });
    })();
    return this.stopping;
  }
}
