/**
 * Deploys the contracts to an RPC endpoint and writes deployments/<chainId>.json (addresses,
 * ABIs, parameters), which protocol/contracts/deployments.ts loads for the TypeScript nodes.
 *
 *   npm run deploy                                  # native mode to http://127.0.0.1:8545
 *   npm run deploy -- --mode eigenlayer             # EigenLayer mode (local AllocationManager stand-in)
 *   npm run deploy -- --rpc URL --out DIR --allocation-manager 0x.. --strategies 0x..,0x..
 *   npm run deploy -- --profile my-model.profile.json     # register more models (repeatable)
 *
 * A ModelRegistry is deployed with the deployer as its owner and every model's verification
 * profile registered: the default model's own (prover/model/*.profile.json) unless --no-default-profile,
 * plus each --profile file. BatchManager refuses batches of models without a profile.
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
  type Abi,
  type Account,
  type Address,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { readArtifact, type BoundContractName } from "./gen-bindings.ts";
import { DEFAULT_DEPLOYMENTS_DIR, deploymentPath, type Deployment, type DeployedConfig, type StakingMode } from "../protocol/contracts/deployments.ts";
import { FieldError } from "../protocol/errors.ts";
import type { VerificationProfile } from "../protocol/verification/index.ts";
import { loadProfile } from "../protocol/verification/load.ts";
import { defaultModelProfile } from "../prover/model/profile.ts";

export interface DeployOptions {
  rpcUrl: string;
  mode: StakingMode;
  outDir: string;
  /** EigenLayer mode: an existing AllocationManager; a MockAllocationManager is deployed when absent. */
  allocationManager?: Address;
  /** EigenLayer mode: strategies whose stake counts (sorted ascending before use). */
  strategies?: Address[];
  config?: Partial<DeployedConfig>;
  /** Profiles to register in the ModelRegistry; default the default model's. */
  profiles?: VerificationProfile[];
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

/** A placeholder strategy for the local AllocationManager stand-in (no EigenLayer strategy exists there). */
export const DEV_STRATEGY: Address = "0x0000000000000000000000000000000000005747";

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

/** Deploys everything for `options.mode` and writes the deployment file; returns what it wrote. */
export async function deploy(options: DeployOptions): Promise<Deployment> {
  const config: DeployedConfig = { ...DEFAULT_CONFIG, ...options.config };
  const transport = http(options.rpcUrl);
  const publicClient = createPublicClient({ transport }) as PublicClient;
  const walletClient = createWalletClient({ transport });
  const chainId = await publicClient.getChainId();
  let account: Account | Address;
  const key = process.env.DEPLOYER_PRIVATE_KEY;
  if (key) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new DeployError("DEPLOYER_PRIVATE_KEY must be 32 bytes of 0x-hex", "DEPLOYER_PRIVATE_KEY");
    account = privateKeyToAccount(key as Hex);
  } else {
    const accounts = await walletClient.getAddresses();
    if (accounts.length === 0) throw new DeployError(`${options.rpcUrl} has no unlocked account; set DEPLOYER_PRIVATE_KEY`, "DEPLOYER_PRIVATE_KEY");
    account = accounts[0]!;
  }
  const deployer = typeof account === "string" ? account : account.address;
  const ctx: Ctx = { publicClient, walletClient, account };

  const stakeToken = await deployContract(ctx, "DevStakeToken", [deployer]);
  let registry: { address: Address; abi: Abi };
  let registryName: BoundContractName;
  let allocationManager: { name: string; address: Address; abi: Abi } | undefined;
  if (options.mode === "native") {
    registryName = "StakeRegistry";
    registry = await deployContract(ctx, registryName, [
      stakeToken.address, BigInt(config.minOperatorStake), BigInt(config.minProverStake), BigInt(config.unbondingDelay), deployer,
    ]);
  } else {
    if (options.allocationManager) {
      allocationManager = { name: "AllocationManager", address: getAddress(options.allocationManager), abi: readArtifact("IAllocationManager").abi as Abi };
    } else {
      allocationManager = { name: "MockAllocationManager", ...(await deployContract(ctx, "MockAllocationManager", [])) };
    }
    const strategies = (options.strategies?.length ? options.strategies : [DEV_STRATEGY])
      .map((s) => getAddress(s))
      .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    registryName = "EigenServiceManager";
    registry = await deployContract(ctx, registryName, [
      allocationManager.address, strategies, BigInt(config.minOperatorStake), BigInt(config.minProverStake),
      BigInt(config.unbondingDelay), 10, deployer,
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
      stakeToken: { name: "DevStakeToken", ...stakeToken },
      registry: { name: registryName, ...registry },
      batchManager: { name: "BatchManager", ...batchManager },
      modelRegistry: { name: "ModelRegistry", ...modelRegistry },
      ...(allocationManager ? { allocationManager } : {}),
    },
    config,
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(deploymentPath(chainId, options.outDir), `${JSON.stringify(deployment, null, 2)}\n`);
  return deployment;
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
        options.allocationManager = getAddress(value);
        break;
      case "--strategies":
        options.strategies = value.split(",").map((s) => getAddress(s.trim()));
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
  const deployment = await deploy(options);
  console.log(`deployed (${deployment.mode}) to chain ${deployment.chainId} at block ${deployment.blockNumber}`);
  for (const [role, c] of Object.entries(deployment.contracts)) console.log(`  ${role.padEnd(18)} ${c.name.padEnd(22)} ${c.address}`);
  for (const p of options.profiles ?? []) console.log(`  model ${p.model.id}: profile ${p.contentHash}`);
  console.log(`wrote ${deploymentPath(deployment.chainId, options.outDir)}`);
}
