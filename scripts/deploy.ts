/**
 * Deploys the contracts to an RPC endpoint and writes deployments/<chainId>.json (addresses,
 * ABIs, parameters), which protocol/contracts/deployments.ts loads for the TypeScript nodes.
 *
 *   npm run deploy                                  # native mode to http://127.0.0.1:8545
 *   npm run deploy -- --mode eigenlayer             # EigenLayer's core on this bare chain, then the AVS
 *   npm run deploy -- --rpc URL --mode eigenlayer --allocation-manager 0x.. --delegation-manager 0x..
 *        --strategy-manager 0x.. --rewards-coordinator 0x.. --strategies 0x..,0x.. --stake-token 0x..
 *                                                   # a network where EigenLayer is deployed
 *   npm run deploy -- --profile my-model.profile.json     # register more models (repeatable)
 *
 * A ModelRegistry is deployed with the deployer as its owner and every model's verification
 * profile registered: the default model's own (prover/model/*.profile.json) unless --no-default-profile,
 * plus each --profile file. BatchManager refuses batches of models without a profile.
 *
 * EigenLayer mode on a bare chain deploys EigenLayer's core first (scripts/eigenlayer/core.ts, as
 * EigenLayer's local deployment script wires it) with a strategy for the stake token; against a
 * network's own core every core address is given and nothing of EigenLayer's is deployed.
 * --stake-token is then the token of the AVS's challenge and rewards pools (an existing ERC-20).
 *
 * The deployer is DEPLOYER_PRIVATE_KEY when set, else the node's first unlocked account (a
 * Hardhat node's). Artifacts must be compiled (npm run deploy builds first).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  createPublicClient,
  createWalletClient,
  getAddress,
  http,
  isAddress,
  type Abi,
  type Account,
  type Address,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { readArtifact, type BoundContractName } from "./gen-bindings.ts";
import { DEFAULT_DEPLOYMENTS_DIR, deploymentPath, type Deployment, type DeployedConfig, type EigenLayerCore, type StakingMode } from "../protocol/contracts/deployments.ts";
import { eigenRewardsCoordinatorAbi } from "../protocol/contracts/abis.ts";
import { deployEigenLayerCore, LOCAL_CORE_PARAMS } from "./eigenlayer/core.ts";
import { FieldError } from "../protocol/errors.ts";
import type { VerificationProfile } from "../protocol/verification/index.ts";
import { loadProfile } from "../protocol/verification/load.ts";
import { defaultModelProfile } from "../prover/model/profile.ts";

export interface DeployOptions {
  rpcUrl: string;
  mode: StakingMode;
  outDir: string;
  /** EigenLayer mode on a network with EigenLayer: its core's addresses; the core is deployed when absent. */
  allocationManager?: Address;
  delegationManager?: Address;
  strategyManager?: Address;
  rewardsCoordinator?: Address;
  /** EigenLayer mode: strategies whose stake counts (sorted ascending before use). */
  strategies?: Address[];
  /** EigenLayer mode against an existing core: the ERC-20 of the AVS's pools (no DevStakeToken is deployed). */
  stakeToken?: Address;
  config?: Partial<DeployedConfig>;
  /** Profiles to register in the ModelRegistry; default the default model's. */
  profiles?: VerificationProfile[];
  /** Progress of long deployments (EigenLayer's core is some 30 transactions). */
  onStep?: (what: string) => void;
}

/** The addresses of a network's own EigenLayer core, from the flags; checks that code is there. */
async function existingEigenLayerCore(ctx: Ctx, options: DeployOptions): Promise<EigenLayerCore> {
  const need = (value: Address | undefined, flag: string): Address => {
    if (!value) throw new DeployError(`${flag} is needed with --allocation-manager (an existing EigenLayer core)`, flag);
    return getAddress(value);
  };
  const core = {
    allocationManager: need(options.allocationManager, "--allocation-manager"),
    delegationManager: need(options.delegationManager, "--delegation-manager"),
    strategyManager: need(options.strategyManager, "--strategy-manager"),
    rewardsCoordinator: need(options.rewardsCoordinator, "--rewards-coordinator"),
  };
  if (!options.strategies?.length) throw new DeployError("--strategies is needed with an existing EigenLayer core", "--strategies");
  for (const [field, address] of Object.entries(core)) {
    const code = await ctx.publicClient.getCode({ address });
    if (!code || code === "0x") throw new DeployError(`${field} ${address} has no code on this chain`, field);
  }
  const interval = await ctx.publicClient.readContract({ address: core.rewardsCoordinator, abi: eigenRewardsCoordinatorAbi, functionName: "CALCULATION_INTERVAL_SECONDS" });
  return { ...core, strategies: options.strategies.map((s) => getAddress(s)), calculationIntervalSeconds: Number(interval), local: false };
}

/** Parameters of local networks: short windows, 100-token minimum stakes, a 10-token bond. */
export const DEFAULT_CONFIG: DeployedConfig = {
  attestThresholdBps: 6666,
  voteThresholdBps: 5000,
  responseWindow: 600,
  challengeWindow: 3600,
  votingWindow: 1800,
  unbondingDelay: 7200,
  proverSlashBps: 5000,
  operatorSlashBps: 1000,
  challengerRewardBps: 5000,
  disputeBond: (10n * 10n ** 18n).toString(),
  minOperatorStake: (100n * 10n ** 18n).toString(),
  minProverStake: (100n * 10n ** 18n).toString(),
};

export class DeployError extends FieldError {
  override name = "DeployError";
}

interface Ctx {
  publicClient: PublicClient;
  walletClient: WalletClient;
  account: Account | Address;
}

async function deployContract(ctx: Ctx, name: BoundContractName, args: unknown[]): Promise<{ address: Address; abi: Abi }> {
  const { abi, bytecode } = readArtifact(name);
  const hash = await ctx.walletClient.deployContract({ abi: abi as Abi, bytecode, args, account: ctx.account, chain: null });
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress) throw new DeployError(`deploying ${name} failed (tx ${hash})`, name);
  return { address: getAddress(receipt.contractAddress), abi: abi as Abi };
}

async function send(ctx: Ctx, address: Address, abi: Abi, functionName: string, args: unknown[]): Promise<void> {
  const hash: Hex = await ctx.walletClient.writeContract({ address, abi, functionName, args, account: ctx.account, chain: null });
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new DeployError(`${functionName} on ${address} reverted (tx ${hash})`, functionName);
}

/** Clients to deploy with instead of options.rpcUrl (tests on the in-process chain). */
export interface DeployClients {
  publicClient: PublicClient;
  walletClient: WalletClient;
  account: Account | Address;
}

/** Deploys everything for `options.mode` and writes the deployment file; returns what it wrote. */
export async function deploy(options: DeployOptions, clients?: DeployClients): Promise<Deployment> {
  const config: DeployedConfig = { ...DEFAULT_CONFIG, ...options.config };
  let publicClient: PublicClient;
  let walletClient: WalletClient;
  let account: Account | Address;
  if (clients) {
    ({ publicClient, walletClient, account } = clients);
  } else {
    const transport = http(options.rpcUrl);
    publicClient = createPublicClient({ transport }) as PublicClient;
    walletClient = createWalletClient({ transport });
    const key = process.env.DEPLOYER_PRIVATE_KEY;
    if (key) {
      if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new DeployError("DEPLOYER_PRIVATE_KEY must be 32 bytes of 0x-hex", "DEPLOYER_PRIVATE_KEY");
      account = privateKeyToAccount(key as Hex);
    } else {
      const accounts = await walletClient.getAddresses();
      if (accounts.length === 0) throw new DeployError(`${options.rpcUrl} has no unlocked account; set DEPLOYER_PRIVATE_KEY`, "DEPLOYER_PRIVATE_KEY");
      account = accounts[0]!;
    }
  }
  const chainId = await publicClient.getChainId();
  const deployer = typeof account === "string" ? account : account.address;
  const ctx: Ctx = { publicClient, walletClient, account };

  const existingCore = options.mode === "eigenlayer" && options.allocationManager !== undefined;
  let stakeToken: { name: string; address: Address; abi: Abi };
  if (existingCore) {
    if (!options.stakeToken) throw new DeployError("--stake-token is needed with an existing EigenLayer core (the token of the AVS's pools)", "--stake-token");
    stakeToken = { name: "IERC20", address: getAddress(options.stakeToken), abi: readArtifact("DevStakeToken").abi as Abi };
  } else {
    stakeToken = { name: "DevStakeToken", ...(await deployContract(ctx, "DevStakeToken", [deployer])) };
  }
  let registry: { address: Address; abi: Abi };
  let registryName: BoundContractName;
  let allocationManager: { name: string; address: Address; abi: Abi } | undefined;
  let eigenLayer: EigenLayerCore | undefined;
  if (options.mode === "native") {
    registryName = "StakeRegistry";
    registry = await deployContract(ctx, registryName, [
      stakeToken.address, BigInt(config.minOperatorStake), BigInt(config.minProverStake), BigInt(config.unbondingDelay), deployer,
    ]);
  } else {
    eigenLayer = existingCore ? await existingEigenLayerCore(ctx, options) : await deployEigenLayerCore(ctx, [stakeToken.address], LOCAL_CORE_PARAMS, options.onStep);
    allocationManager = { name: "AllocationManager", address: eigenLayer.allocationManager, abi: readArtifact("EigenAllocationManager").abi as Abi };
    const strategies = [...eigenLayer.strategies].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    eigenLayer.strategies = strategies;
    registryName = "EigenServiceManager";
    registry = await deployContract(ctx, registryName, [
      allocationManager.address, strategies, BigInt(config.minOperatorStake), BigInt(config.minProverStake),
      BigInt(config.unbondingDelay), 10, deployer, stakeToken.address, eigenLayer.rewardsCoordinator,
    ]);
  }
  const modelRegistry = await deployContract(ctx, "ModelRegistry", [deployer]);
  const profiles = options.profiles ?? [defaultModelProfile()].filter((p): p is VerificationProfile => p !== undefined);
  for (const profile of profiles) {
    await send(ctx, modelRegistry.address, modelRegistry.abi, "setModelProfile", [profile.model.id, profile.contentHash, `0x${profile.model.weightsHash}`, ""]);
  }
  const batchManager = await deployContract(ctx, "BatchManager", [
    registry.address,
    modelRegistry.address,
    stakeToken.address,
    deployer,
    {
      attestThresholdBps: config.attestThresholdBps,
      voteThresholdBps: config.voteThresholdBps,
      responseWindow: config.responseWindow,
      challengeWindow: config.challengeWindow,
      votingWindow: config.votingWindow,
      proverSlashBps: config.proverSlashBps,
      operatorSlashBps: config.operatorSlashBps,
      challengerRewardBps: config.challengerRewardBps,
      disputeBond: BigInt(config.disputeBond),
    },
  ]);
  await send(ctx, registry.address, registry.abi, "setSlasher", [batchManager.address]);
  if (options.mode === "eigenlayer") {
    await send(ctx, registry.address, registry.abi, "initializeAVS", ["https://verifiable-benchmarks.invalid/avs.json"]);
  }

  const deployment: Deployment = {
    chainId,
    mode: options.mode,
    deployer,
    blockNumber: Number(await publicClient.getBlockNumber()),
    contracts: {
      stakeToken,
      registry: { name: registryName, ...registry },
      batchManager: { name: "BatchManager", ...batchManager },
      modelRegistry: { name: "ModelRegistry", ...modelRegistry },
      ...(allocationManager ? { allocationManager } : {}),
    },
    ...(eigenLayer ? { eigenLayer } : {}),
    config,
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(deploymentPath(chainId, options.outDir), `${JSON.stringify(deployment, null, 2)}\n`);
  return deployment;
}

function addressFlag(value: string, flag: string): Address {
  if (!isAddress(value, { strict: false })) throw new DeployError(`${flag} must be an address, got ${value}`, flag);
  return getAddress(value);
}

/** Parses the command line (see the header comment). */
export async function parseDeployArgs(argv: string[]): Promise<DeployOptions> {
  const options: DeployOptions = { rpcUrl: "http://127.0.0.1:8545", mode: "native", outDir: DEFAULT_DEPLOYMENTS_DIR };
  const profiles: VerificationProfile[] = [];
  let withDefault = true;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--no-default-profile") {
      withDefault = false;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("--")) throw new DeployError(`${flag} needs a value`, flag);
    i++;
    switch (flag) {
      case "--rpc":
        if (!/^https?:\/\//.test(value)) throw new DeployError(`--rpc must be an http(s) URL, got ${value}`, "--rpc");
        options.rpcUrl = value;
        break;
      case "--mode":
        if (value !== "native" && value !== "eigenlayer") throw new DeployError(`--mode must be native or eigenlayer, got ${value}`, "--mode");
        options.mode = value;
        break;
      case "--out":
        options.outDir = path.resolve(value);
        break;
      case "--allocation-manager":
        options.allocationManager = addressFlag(value, flag);
        break;
      case "--delegation-manager":
        options.delegationManager = addressFlag(value, flag);
        break;
      case "--strategy-manager":
        options.strategyManager = addressFlag(value, flag);
        break;
      case "--rewards-coordinator":
        options.rewardsCoordinator = addressFlag(value, flag);
        break;
      case "--stake-token":
        options.stakeToken = addressFlag(value, flag);
        break;
      case "--strategies":
        options.strategies = value.split(",").map((s) => addressFlag(s.trim(), flag));
        break;
      case "--profile": {
        const profile = await loadProfile(value);
        if (!("schema" in profile)) throw new DeployError(`--profile needs a calibrated profile file, got the reference profile ${value}`, "--profile");
        profiles.push(profile);
        break;
      }
      default:
        throw new DeployError(`unknown option ${flag}`, flag);
    }
  }
  const fallback = withDefault ? defaultModelProfile() : undefined;
  if (fallback && !profiles.some((p) => p.model.id === fallback.model.id)) profiles.unshift(fallback);
  options.profiles = profiles;
  return options;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const options = await parseDeployArgs(process.argv.slice(2));
  options.onStep = (what) => console.log(`  EigenLayer core: ${what}`);
  const deployment = await deploy(options);
  console.log(`deployed (${deployment.mode}) to chain ${deployment.chainId} at block ${deployment.blockNumber}`);
  for (const [role, c] of Object.entries(deployment.contracts)) console.log(`  ${role.padEnd(18)} ${c.name.padEnd(22)} ${c.address}`);
  for (const p of options.profiles ?? []) console.log(`  model ${p.model.id}: profile ${p.contentHash}`);
  console.log(`wrote ${deploymentPath(deployment.chainId, options.outDir)}`);
}
