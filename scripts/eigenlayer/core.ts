/**
 * Deploys EigenLayer's core (contracts/vendor/eigenlayer, BUSL-1.1, for local testing) on a bare
 * chain, wired as EigenLayer's own local deployment script (script/deploy/local/
 * deploy_from_scratch.slashing.s.sol) wires it: one ProxyAdmin, a PauserRegistry, empty
 * transparent proxies first, implementations built against the proxies, then upgradeAndCall with
 * each initializer; an AllocationManagerView beside the AllocationManager; an EigenStrategy; the
 * EigenPod beacon; a StrategyBaseTVLLimits proxy for each token (here: the project's stake token),
 * whitelisted for deposits. The deployer plays the script's executor, operations and pauser
 * multisigs. Delays and rewards parameters default to the script's local config
 * (script/configs/local/deploy_from_scratch.slashing.anvil.config.json).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { encodeFunctionData, getAddress, type Abi, type Account, type Address, type Hex, type PublicClient, type WalletClient } from "viem";
import { FieldError } from "../../protocol/errors.ts";
import type { EigenLayerCore } from "../../protocol/contracts/deployments.ts";

export class CoreDeployError extends FieldError {
  override name = "CoreDeployError";
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const VENDOR = "contracts/vendor/eigenlayer/src";
const OZ4 = "openzeppelin-contracts-v4/proxy";

/** Artifact paths under artifacts/ of what the local core deployment uses. */
export const CORE_ARTIFACTS = {
  ProxyAdmin: `${OZ4}/transparent/ProxyAdmin.sol/ProxyAdmin.json`,
  TransparentUpgradeableProxy: `${OZ4}/transparent/TransparentUpgradeableProxy.sol/TransparentUpgradeableProxy.json`,
  UpgradeableBeacon: `${OZ4}/beacon/UpgradeableBeacon.sol/UpgradeableBeacon.json`,
  PauserRegistry: `${VENDOR}/contracts/permissions/PauserRegistry.sol/PauserRegistry.json`,
  EmptyContract: `${VENDOR}/test/mocks/EmptyContract.sol/EmptyContract.json`,
  ETHPOSDepositMock: `${VENDOR}/test/mocks/ETHDepositMock.sol/ETHPOSDepositMock.json`,
  EigenStrategy: `${VENDOR}/contracts/strategies/EigenStrategy.sol/EigenStrategy.json`,
  EigenPod: `${VENDOR}/contracts/pods/EigenPod.sol/EigenPod.json`,
  EigenPodManager: `${VENDOR}/contracts/pods/EigenPodManager.sol/EigenPodManager.json`,
  AllocationManagerView: `${VENDOR}/contracts/core/AllocationManagerView.sol/AllocationManagerView.json`,
  AllocationManager: `${VENDOR}/contracts/core/AllocationManager.sol/AllocationManager.json`,
  DelegationManager: `${VENDOR}/contracts/core/DelegationManager.sol/DelegationManager.json`,
  StrategyManager: `${VENDOR}/contracts/core/StrategyManager.sol/StrategyManager.json`,
  AVSDirectory: `${VENDOR}/contracts/core/AVSDirectory.sol/AVSDirectory.json`,
  RewardsCoordinator: `${VENDOR}/contracts/core/RewardsCoordinator.sol/RewardsCoordinator.json`,
  PermissionController: `${VENDOR}/contracts/permissions/PermissionController.sol/PermissionController.json`,
  StrategyBaseTVLLimits: `${VENDOR}/contracts/strategies/StrategyBaseTVLLimits.sol/StrategyBaseTVLLimits.json`,
} as const;

export type CoreContractName = keyof typeof CORE_ARTIFACTS;

/** Reads one core artifact (abi + bytecode). */
export function readCoreArtifact(name: CoreContractName, artifactsDir = path.join(ROOT, "artifacts")): { abi: Abi; bytecode: Hex } {
  const file = path.join(artifactsDir, CORE_ARTIFACTS[name]);
  let artifact: { abi: Abi; bytecode: Hex };
  try {
    artifact = JSON.parse(readFileSync(file, "utf8")) as { abi: Abi; bytecode: Hex };
  } catch (err) {
    throw new CoreDeployError(`cannot read ${name}'s artifact ${file} (run npx hardhat build): ${(err as Error).message}`, name);
  }
  return artifact;
}

/** The parameters the local config of EigenLayer's script sets (delays in blocks, times in seconds). */
export interface CoreParams {
  semver: string;
  minWithdrawalDelayBlocks: number;
  deallocationDelayBlocks: number;
  allocationConfigurationDelayBlocks: number;
  calculationIntervalSeconds: number;
  maxRewardsDuration: number;
  maxRetroactiveLength: number;
  maxFutureLength: number;
  genesisRewardsTimestamp: number;
  activationDelay: number;
  defaultOperatorSplitBips: number;
  eigenPodManagerInitPausedStatus: bigint;
}

/** The script's local config, except the semver ("v1.12.0" for the version vendored, not "v0.0.0"). */
export const LOCAL_CORE_PARAMS: CoreParams = {
  semver: "v1.12.0",
  minWithdrawalDelayBlocks: 900,
  deallocationDelayBlocks: 900,
  allocationConfigurationDelayBlocks: 1200,
  calculationIntervalSeconds: 604800,
  maxRewardsDuration: 6048000,
  maxRetroactiveLength: 7776000,
  maxFutureLength: 2592000,
  genesisRewardsTimestamp: 1710979200,
  activationDelay: 7200,
  defaultOperatorSplitBips: 1000,
  eigenPodManagerInitPausedStatus: 30n,
};

interface Ctx {
  publicClient: PublicClient;
  walletClient: WalletClient;
  account: Account | Address;
}

async function deployArtifact(ctx: Ctx, name: CoreContractName, args: unknown[]): Promise<Address> {
  const { abi, bytecode } = readCoreArtifact(name);
  const hash = await ctx.walletClient.deployContract({ abi, bytecode, args, account: ctx.account, chain: null });
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress) throw new CoreDeployError(`deploying ${name} failed (tx ${hash})`, name);
  return getAddress(receipt.contractAddress);
}

async function call(ctx: Ctx, name: CoreContractName, address: Address, functionName: string, args: unknown[]): Promise<void> {
  const { abi } = readCoreArtifact(name);
  const hash = await ctx.walletClient.writeContract({ address, abi, functionName, args, account: ctx.account, chain: null });
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new CoreDeployError(`${name}.${functionName} reverted (tx ${hash})`, functionName);
}

function initCall(name: CoreContractName, args: unknown[]): Hex {
  return encodeFunctionData({ abi: readCoreArtifact(name).abi, functionName: "initialize", args });
}

/**
 * Deploys the core and one strategy per token in `strategyTokens` (deposits whitelisted), with
 * the deployer as owner, pauser, unpauser, strategy whitelister and rewards updater.
 */
export async function deployEigenLayerCore(
  ctx: Ctx,
  strategyTokens: Address[],
  params: CoreParams = LOCAL_CORE_PARAMS,
  onStep: (what: string) => void = () => {},
): Promise<EigenLayerCore> {
  const owner = typeof ctx.account === "string" ? ctx.account : ctx.account.address;
  const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    onStep(what);
    return f();
  };
  const proxyAdmin = await step("ProxyAdmin", () => deployArtifact(ctx, "ProxyAdmin", []));
  const pauserRegistry = await step("PauserRegistry", () => deployArtifact(ctx, "PauserRegistry", [[owner], owner]));
  const empty = await step("EmptyContract", () => deployArtifact(ctx, "EmptyContract", []));
  // Proxies first, pointing at an empty contract: the implementations take each other's proxies.
  const proxy = (label: string) => step(`${label} proxy`, () => deployArtifact(ctx, "TransparentUpgradeableProxy", [empty, proxyAdmin, "0x"]));
  const delegationManager = await proxy("DelegationManager");
  const strategyManager = await proxy("StrategyManager");
  const avsDirectory = await proxy("AVSDirectory");
  const eigenPodManager = await proxy("EigenPodManager");
  const rewardsCoordinator = await proxy("RewardsCoordinator");
  const allocationManager = await proxy("AllocationManager");
  const permissionController = await proxy("PermissionController");

  const eigenStrategy = await step("EigenStrategy", () => deployArtifact(ctx, "EigenStrategy", [strategyManager, pauserRegistry]));
  // No beacon chain here: EigenPods deposit into a stand-in of the ETH2 deposit contract.
  const ethPOS = await step("ETHPOSDepositMock", () => deployArtifact(ctx, "ETHPOSDepositMock", []));
  const eigenPodImpl = await step("EigenPod", () => deployArtifact(ctx, "EigenPod", [ethPOS, eigenPodManager]));
  const eigenPodBeacon = await step("UpgradeableBeacon", () => deployArtifact(ctx, "UpgradeableBeacon", [eigenPodImpl]));

  const allocationManagerView = await step("AllocationManagerView", () =>
    deployArtifact(ctx, "AllocationManagerView", [delegationManager, eigenStrategy, params.deallocationDelayBlocks, params.allocationConfigurationDelayBlocks]));
  const impl = {
    DelegationManager: await step("DelegationManager", () => deployArtifact(ctx, "DelegationManager", [
      strategyManager, eigenPodManager, allocationManager, pauserRegistry, permissionController, params.minWithdrawalDelayBlocks, params.semver,
    ])),
    StrategyManager: await step("StrategyManager", () => deployArtifact(ctx, "StrategyManager", [allocationManager, delegationManager, pauserRegistry, params.semver])),
    AVSDirectory: await step("AVSDirectory", () => deployArtifact(ctx, "AVSDirectory", [delegationManager, pauserRegistry, params.semver])),
    EigenPodManager: await step("EigenPodManager", () => deployArtifact(ctx, "EigenPodManager", [ethPOS, eigenPodBeacon, delegationManager, pauserRegistry])),
    RewardsCoordinator: await step("RewardsCoordinator", () => deployArtifact(ctx, "RewardsCoordinator", [{
      delegationManager, strategyManager, allocationManager,
      emissionsController: "0x0000000000000000000000000000000000000000",
      pauserRegistry, permissionController,
      CALCULATION_INTERVAL_SECONDS: params.calculationIntervalSeconds,
      MAX_REWARDS_DURATION: params.maxRewardsDuration,
      MAX_RETROACTIVE_LENGTH: params.maxRetroactiveLength,
      MAX_FUTURE_LENGTH: params.maxFutureLength,
      GENESIS_REWARDS_TIMESTAMP: params.genesisRewardsTimestamp,
    }])),
    AllocationManager: await step("AllocationManager", () => deployArtifact(ctx, "AllocationManager", [
      allocationManagerView, delegationManager, eigenStrategy, pauserRegistry, permissionController,
      params.deallocationDelayBlocks, params.allocationConfigurationDelayBlocks,
    ])),
    PermissionController: await step("PermissionController", () => deployArtifact(ctx, "PermissionController", [])),
  };

  const upgrade = (label: string, proxyAddress: Address, implementation: Address, data: Hex) =>
    step(`initialize ${label}`, () => call(ctx, "ProxyAdmin", proxyAdmin, "upgradeAndCall", [proxyAddress, implementation, data]));
  await upgrade("DelegationManager", delegationManager, impl.DelegationManager, initCall("DelegationManager", [0n]));
  await upgrade("StrategyManager", strategyManager, impl.StrategyManager, initCall("StrategyManager", [owner, owner, 0n]));
  await upgrade("AVSDirectory", avsDirectory, impl.AVSDirectory, initCall("AVSDirectory", [owner, 0n]));
  await upgrade("EigenPodManager", eigenPodManager, impl.EigenPodManager, initCall("EigenPodManager", [owner, params.eigenPodManagerInitPausedStatus]));
  await upgrade("RewardsCoordinator", rewardsCoordinator, impl.RewardsCoordinator,
    initCall("RewardsCoordinator", [owner, 0n, owner, params.activationDelay, params.defaultOperatorSplitBips, owner]));
  await upgrade("AllocationManager", allocationManager, impl.AllocationManager, initCall("AllocationManager", [0n]));
  await step("upgrade PermissionController", () => call(ctx, "ProxyAdmin", proxyAdmin, "upgrade", [permissionController, impl.PermissionController]));

  const strategyImpl = await step("StrategyBaseTVLLimits", () => deployArtifact(ctx, "StrategyBaseTVLLimits", [strategyManager, pauserRegistry]));
  const strategies: Address[] = [];
  const unlimited = 2n ** 256n - 1n;
  for (const token of strategyTokens) {
    const data = encodeFunctionData({ abi: readCoreArtifact("StrategyBaseTVLLimits").abi, functionName: "initialize", args: [unlimited, unlimited, token] });
    strategies.push(await step(`strategy for ${token}`, () => deployArtifact(ctx, "TransparentUpgradeableProxy", [strategyImpl, proxyAdmin, data])));
  }
  if (strategies.length > 0) {
    await step("whitelist strategies", () => call(ctx, "StrategyManager", strategyManager, "addStrategiesToDepositWhitelist", [strategies]));
  }
  // DelegationManager.slashOperatorShares looks up its queue at block.number - MIN_WITHDRAWAL_DELAY
  // - 1, which underflows (and every slash reverts) while the chain is younger than that: a bare
  // local chain is. Development nodes (Hardhat, anvil) mine the gap at once, in the same second
  // (interval 0): the chain clock must stay on the wall clock for nodes that compare the two.
  const head = Number(await ctx.publicClient.getBlockNumber());
  const needed = params.minWithdrawalDelayBlocks + 2;
  if (head < needed) {
    await step(`mine to block ${needed} (slashing needs the chain older than the withdrawal delay)`, async () => {
      try {
        await ctx.publicClient.request({ method: "hardhat_mine" as never, params: [`0x${(needed - head).toString(16)}`, "0x0"] as never });
      } catch (err) {
        throw new CoreDeployError(`the chain is at block ${head}; EigenLayer's slashing needs block ${needed} and this node cannot mine on request (${(err as Error).message})`, "minWithdrawalDelayBlocks");
      }
    });
  }
  return {
    allocationManager, delegationManager, strategyManager, rewardsCoordinator, permissionController, avsDirectory,
    strategies, proxyAdmin, pauserRegistry, local: true,
    calculationIntervalSeconds: params.calculationIntervalSeconds,
  };
}
