/**
 * Building blocks of a local network on loopback, shared by `npm run network`, the end-to-end
 * test and `npm run bench:network`: a Hardhat node as a child process, the deployment, funded
 * keys for provers, operators and the aggregator (0600 key files), prover registration, and
 * spawning the nodes as separate processes whose output is kept for assertions.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { createPublicClient, createWalletClient, encodeAbiParameters, http, parseEther, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { devStakeTokenAbi, eigenAllocationManagerAbi, eigenServiceManagerAbi, modelRegistryAbi, stakeRegistryAbi } from "../../protocol/contracts/abis.ts";
import { deploymentPath, type DeployedConfig, type Deployment, type StakingMode } from "../../protocol/contracts/deployments.ts";
import { FULL_MAGNITUDE, joinEigenLayer } from "../../runtime/eigenlayer-join.ts";
import type { ChainConnection } from "../../runtime/chain.ts";
import { protocolDomain, Role, signRegistration } from "../../protocol/eip712/index.ts";
import { deploy } from "../deploy.ts";

export const ROOT = path.resolve(import.meta.dirname, "../..");
const PROVER_SET_ID = 1;
export const HARDHAT_CLI = path.join(ROOT, "node_modules/hardhat/dist/src/cli.js");

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A child process whose output is kept (bounded) and written to a log file. */
export class NodeProcess {
  private output = "";
  private readonly file: WriteStream;
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    logPath: string,
  ) {
    this.file = createWriteStream(logPath, { flags: "a" });
    const take = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString("utf8")).slice(-1_000_000);
      this.file.write(chunk);
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    this.exited = new Promise((resolve) => child.once("exit", (code) => {
      this.file.end();
      resolve(code);
    }));
  }

  get log(): string {
    return this.output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first match of `pattern` in the output, bounded by `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.output.match(pattern);
      if (match) return match;
      if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${pattern}:\n${this.output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends `signal` and waits (bounded) for the exit; SIGKILL after the bound. */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs a TypeScript entry point with node --import tsx. */
export function spawnTs(name: string, script: string, args: string[], env: Record<string, string>, logDir: string): NodeProcess {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new NodeProcess(name, child, path.join(logDir, `${name}.log`));
}

export interface HardhatNodeOptions {
  /** A network of hardhat.config.ts to serve (e.g. "replayable"); default Hardhat's own "node". */
  network?: string;
  env?: Record<string, string>;
  /**
   * In a process group of its own, so that a Ctrl-C in the terminal does not reach it: the
   * caller stops it last, after the nodes that use it (npm start journals the chain meanwhile).
   */
  detached?: boolean;
}

export async function startHardhatNode(logDir: string, port?: number, options: HardhatNodeOptions = {}): Promise<{ rpcUrl: string; node: NodeProcess }> {
  const p = port ?? (await freePort());
  const network = options.network ? ["--network", options.network] : [];
  const child = spawn(process.execPath, [HARDHAT_CLI, ...network, "node", "--hostname", "127.0.0.1", "--port", String(p)], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  const node = new NodeProcess("hardhat", child, path.join(logDir, "hardhat.log"));
  await node.waitFor(/Started HTTP and WebSocket JSON-RPC server|JSON-RPC server at/i, 60_000);
  return { rpcUrl: `http://127.0.0.1:${p}`, node };
}

export interface KeyPair {
  name: string;
  account: PrivateKeyAccount;
  accountKeyFile: string;
  signer: PrivateKeyAccount;
  signerKeyFile: string;
  /** Operators: the seed of a BLS key (bound when the operator starts with OperatorLaunch.bls). */
  blsKeyFile?: string;
}

export interface NetworkSetup {
  rpcUrl: string;
  dir: string;
  deployment: Deployment;
  deploymentFile: string;
  provers: KeyPair[];
  operators: KeyPair[];
  aggregator: KeyPair;
  publicClient: PublicClient;
}

export interface SetupOptions {
  operators: number;
  provers: number;
  config?: Partial<DeployedConfig>;
  /** Tokens minted to each operator beyond its stake (dispute bonds). */
  operatorExtraTokens?: bigint;
  operatorStake?: bigint;
  /** Ether sent to each account for gas (default 100 ETH; the deployer holds 10,000, so 100 identities need less). */
  ethPerAccount?: bigint;
  /** Interval mining: blocks keep coming without transactions (sampling seeds, timestamps). */
  blockIntervalMs?: number;
  /**
   * More model ids to bind in the ModelRegistry (the default model's profile always is), each to
   * a profile hash; operators that lack that profile refuse to judge its batches.
   */
  models?: { model: string; profileHash: Hex; weightsHash: Hex }[];
  /**
   * Staking mode (default native). EigenLayer mode deploys EigenLayer's core on the chain first;
   * provers join operator set 1 the real way here (runtime/eigenlayer-join.ts), operators join
   * set 0 themselves when they start; `challengePool` reward tokens fund the AVS's challenge pool.
   */
  mode?: StakingMode;
  challengePool?: bigint;
}

function writeKey(dir: string, name: string, key: Hex): string {
  const file = path.join(dir, `${name}.key`);
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return file;
}

function keyPair(dir: string, name: string): KeyPair {
  const accountKey = generatePrivateKey();
  const signerKey = generatePrivateKey();
  return {
    name,
    account: privateKeyToAccount(accountKey),
    accountKeyFile: writeKey(dir, `${name}-account`, accountKey),
    signer: privateKeyToAccount(signerKey),
    signerKeyFile: writeKey(dir, `${name}-signer`, signerKey),
  };
}

/** Deploys to `rpcUrl` (a Hardhat node with unlocked accounts), funds and registers members. */
export async function setupNetwork(rpcUrl: string, dir: string, options: SetupOptions): Promise<NetworkSetup> {
  mkdirSync(dir, { recursive: true });
  const mode = options.mode ?? "native";
  const deployment = await deploy({ rpcUrl, mode, outDir: dir, ...(options.config ? { config: options.config } : {}) });
  const transport = http(rpcUrl);
  const publicClient = createPublicClient({ transport, pollingInterval: 100 }) as PublicClient;
  const deployerWallet = createWalletClient({ transport });
  const token = deployment.contracts.stakeToken.address;
  const registry = deployment.contracts.registry.address;
  const wait = async (hash: Hex) => {
    const r = await publicClient.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`setup transaction ${hash} reverted`);
  };
  for (const m of options.models ?? []) {
    const models = deployment.contracts.modelRegistry;
    await wait(await deployerWallet.writeContract({ address: models.address, abi: modelRegistryAbi, functionName: "setModelProfile", args: [m.model, m.profileHash, m.weightsHash, ""], account: deployment.deployer, chain: null }));
  }
  // A transfer rather than hardhat_setBalance: every change of state is a transaction, so a
  // journal of the chain's transactions rebuilds it (scripts/network/chain-journal.ts).
  const fundEth = async (to: Address) => wait(await deployerWallet.sendTransaction({ to, value: options.ethPerAccount ?? parseEther("100"), account: deployment.deployer, chain: null }));
  const mint = async (to: Address, amount: bigint) =>
    wait(await deployerWallet.writeContract({ address: token, abi: devStakeTokenAbi, functionName: "mint", args: [to, amount], account: deployment.deployer, chain: null }));

  const stake = options.operatorStake ?? parseEther("100");
  const extra = options.operatorExtraTokens ?? parseEther("100");
  const operators = Array.from({ length: options.operators }, (_, i) => ({
    ...keyPair(dir, `operator-${i + 1}`),
    blsKeyFile: writeKey(dir, `operator-${i + 1}-bls`, generatePrivateKey()),
  }));
  for (const op of operators) {
    await fundEth(op.account.address);
    await mint(op.account.address, stake + extra);
  }
  const provers = Array.from({ length: options.provers }, (_, i) => keyPair(dir, `prover-${i + 1}`));
  const proverStake = BigInt(deployment.config.minProverStake);
  const chainId = deployment.chainId;
  for (const p of provers) {
    await fundEth(p.account.address);
    await mint(p.account.address, proverStake);
    const wallet = createWalletClient({ transport, account: p.account });
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const signature = await signRegistration(p.signer, protocolDomain(chainId, registry), { operator: p.account.address, signingKey: p.signer.address, role: Role.Prover, deadline });
    if (mode === "eigenlayer") {
      const chain = { id: chainId, name: "local", nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } } as const;
      const conn = { chainId, chain, deployment, publicClient, account: p.account, walletClient: createWalletClient({ transport, account: p.account, chain }) } as unknown as ChainConnection;
      await joinEigenLayer(conn, deployment.eigenLayer!, registry, PROVER_SET_ID, {
        stake: proverStake, allocationDelay: 1, magnitude: FULL_MAGNITUDE, metadataURI: "", pollMs: 1,
        // Interval mining starts after the setup: mine the allocation delay here.
        onWait: async () => { await publicClient.request({ method: "hardhat_mine" as never, params: ["0x1"] as never }); },
      });
      const data = encodeAbiParameters([{ type: "address" }, { type: "uint256" }, { type: "bytes" }], [p.signer.address, deadline, signature]);
      await wait(await wallet.writeContract({
        address: deployment.eigenLayer!.allocationManager, abi: eigenAllocationManagerAbi, functionName: "registerForOperatorSets",
        args: [p.account.address, { avs: registry, operatorSetIds: [PROVER_SET_ID], data }], chain: null,
      }));
      continue;
    }
    await wait(await wallet.writeContract({ address: token, abi: devStakeTokenAbi, functionName: "approve", args: [registry, proverStake], chain: null }));
    await wait(await wallet.writeContract({ address: registry, abi: stakeRegistryAbi, functionName: "register", args: [Role.Prover, proverStake, p.signer.address, deadline, signature], chain: null }));
  }
  if (mode === "eigenlayer" && options.challengePool) {
    await mint(deployment.deployer, options.challengePool);
    await wait(await deployerWallet.writeContract({ address: token, abi: devStakeTokenAbi, functionName: "approve", args: [registry, options.challengePool], account: deployment.deployer, chain: null }));
    await wait(await deployerWallet.writeContract({ address: registry, abi: eigenServiceManagerAbi, functionName: "fundPool", args: [0, options.challengePool], account: deployment.deployer, chain: null }));
  }
  const aggregator = keyPair(dir, "aggregator");
  await fundEth(aggregator.account.address);
  if (options.blockIntervalMs) await publicClient.request({ method: "evm_setIntervalMining" as never, params: [options.blockIntervalMs] as never });
  return { rpcUrl, dir, deployment, deploymentFile: deploymentPath(chainId, dir), provers, operators, aggregator, publicClient };
}

export interface ProverLaunch {
  index: number;
  /** Port to listen on (batch data URIs name it, so a restarted network keeps it); default a free one. */
  port?: number;
  /** Extra prover flags (e.g. --model, --model-id). */
  args?: string[];
  /** Entry point; default prover/main.ts (npm run prover). */
  script?: string;
  env?: Record<string, string>;
}

export async function launchProver(setup: NetworkSetup, launch: ProverLaunch): Promise<{ proc: NodeProcess; url: string }> {
  const p = setup.provers[launch.index]!;
  const port = launch.port ?? (await freePort());
  const proc = spawnTs(p.name, launch.script ?? "prover/main.ts", ["--port", String(port), "--data-dir", path.join(setup.dir, p.name), ...(launch.args ?? [])], {
    PROVER_RPC_URL: setup.rpcUrl,
    PROVER_DEPLOYMENT: setup.deploymentFile,
    PROVER_KEY_FILE: p.accountKeyFile,
    PROVER_LOG_LEVEL: "warn",
    PROVER_SYNC_WRITES: "false",
    // The local network's clients (tests, bench, chaos) are on this machine; the prover listens on 127.0.0.1.
    PROVER_AUTH: "off",
    ...launch.env,
  }, setup.dir);
  const match = await proc.waitFor(/prover: serving \S+ on (\S+)/, 120_000);
  return { proc, url: match[1]! };
}

/** Fixed ports keep an aggregator's HTTP and mesh addresses across restarts (operators keep theirs). */
export interface AggregatorPorts {
  http?: number;
  mesh?: number;
}

export async function launchAggregator(setup: NetworkSetup, env: Record<string, string> = {}, rpcUrl = setup.rpcUrl, ports: AggregatorPorts = {}): Promise<{ proc: NodeProcess; url: string; mesh: string }> {
  const a = setup.aggregator;
  const configFile = path.join(setup.dir, "aggregator.json");
  writeFileSync(configFile, JSON.stringify({
    chain: { rpcUrl, deployment: setup.deploymentFile, pollIntervalMs: 200 },
    account: { keyFile: a.accountKeyFile },
    dataDir: path.join(setup.dir, "aggregator"),
    http: { host: "127.0.0.1", port: ports.http ?? 0 },
    ...(ports.mesh !== undefined ? { mesh: { listen: [`/ip4/127.0.0.1/tcp/${ports.mesh}`], bootstrap: [] } } : {}),
  }, null, 2));
  const proc = spawnTs("aggregator", "aggregator/main.ts", ["--config", configFile], { AGGREGATOR_LOG_LEVEL: "info", ...env }, setup.dir);
  const match = await proc.waitFor(/aggregator: ready on (\S+) mesh (\S+)/, 60_000);
  return { proc, url: match[1]!, mesh: match[2]!.split(",")[0]! };
}

export interface OperatorLaunch {
  index: number;
  aggregatorUrl: string;
  bootstrap: string[];
  script?: string;
  env?: Record<string, string>;
  samplingFraction?: number;
  /** onnxruntime threads of its engine (default: onnxruntime's choice). */
  threads?: number;
  /** CIDR blocks the operator may fetch data URIs from (default 127.0.0.1/32). */
  allowPrivateNetworks?: string[];
  /** More configuration fields (fetchTimeoutMs, maxBatchLeaves, ...). */
  config?: Record<string, unknown>;
  /** Sign attestations with the operator's BLS key too (bound on chain at start). */
  bls?: boolean;
}

export async function launchOperator(setup: NetworkSetup, launch: OperatorLaunch): Promise<{ proc: NodeProcess; url: string }> {
  const op = setup.operators[launch.index]!;
  const configFile = path.join(setup.dir, `${op.name}.json`);
  writeFileSync(configFile, JSON.stringify({
    chain: { rpcUrl: setup.rpcUrl, deployment: setup.deploymentFile, pollIntervalMs: 200 },
    account: { keyFile: op.accountKeyFile },
    signer: { keyFile: op.signerKeyFile },
    ...(launch.bls && op.blsKeyFile ? { blsKey: { keyFile: op.blsKeyFile } } : {}),
    dataDir: path.join(setup.dir, op.name),
    samplingFraction: launch.samplingFraction ?? 1,
    ...(launch.threads !== undefined ? { model: { threads: launch.threads } } : {}),
    http: { host: "127.0.0.1", port: 0 },
    mesh: { listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: launch.bootstrap },
    aggregatorUrls: [launch.aggregatorUrl],
    resendIntervalMs: 3000,
    // Provers serve on 127.0.0.1 here; any other non-public address stays refused.
    fetchPolicy: { allowPrivateNetworks: launch.allowPrivateNetworks ?? ["127.0.0.1/32"], maxBytes: 16 << 20, maxRedirects: 3 },
    retry: { baseMs: 1000, maxMs: 5000 },
    ...launch.config,
  }, null, 2));
  const proc = spawnTs(op.name, launch.script ?? "operator/main.ts", ["--config", configFile], { OPERATOR_LOG_LEVEL: "info", ...launch.env }, setup.dir);
  const match = await proc.waitFor(/operator: ready on (\S+)/, 90_000);
  return { proc, url: match[1]! };
}

export interface ExplorerLaunch {
  port: number;
  /** Data endpoints the explorer reads (and offers in its check view). */
  provers: string[];
  /** "0xADDRESS=name" entries. */
  labels?: string[];
  statsLeaves?: number;
}

/** Starts `npm run explorer` over the network's chain; its config file is <dir>/explorer.json. */
export async function launchExplorer(setup: NetworkSetup, launch: ExplorerLaunch): Promise<{ proc: NodeProcess; url: string }> {
  const configFile = path.join(setup.dir, "explorer.json");
  writeFileSync(configFile, JSON.stringify({
    chain: { rpcUrl: setup.rpcUrl, deployment: setup.deploymentFile, pollIntervalMs: 1000, logRange: 2000 },
    http: { host: "127.0.0.1", port: launch.port },
    provers: launch.provers,
    labels: launch.labels ?? [],
    stats: { leavesPerBatch: launch.statsLeaves ?? 4, fetchTimeoutMs: 10_000, model: { threads: 1 } },
    logLevel: "warn",
  }, null, 2));
  const proc = spawnTs("explorer", "explorer/main.ts", ["--config", configFile], {}, setup.dir);
  const match = await proc.waitFor(/explorer: serving (\S+)/, 60_000);
  return { proc, url: match[1]! };
}
