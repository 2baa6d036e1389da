import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { getAddress, isAddress, type Abi, type Address } from "viem";
import { DeploymentNotFoundError, InvalidDeploymentError } from "./errors.ts";

/** Which staking back end a deployment uses. */
export type StakingMode = "native" | "eigenlayer";

/** One deployed contract as written to deployments/<chainId>.json. */
export interface DeployedContract {
  name: string;
  address: Address;
  abi: Abi;
}

/** The BatchManager parameters, as deployed. */
export interface DeployedConfig {
  attestThresholdBps: number;
  voteThresholdBps: number;
  responseWindow: number;
  challengeWindow: number;
  votingWindow: number;
  unbondingDelay: number;
  proverSlashBps: number;
  operatorSlashBps: number;
  challengerRewardBps: number;
  disputeBond: string; // decimal token units (wei), as a string: JSON has no bigint
  minOperatorStake: string;
  minProverStake: string;
}

/**
 * Addresses of EigenLayer's core contracts the AVS uses: deployed by `npm run deploy -- --mode
 * eigenlayer` on a bare local chain (local: true), or given by flags on a network where
 * EigenLayer is deployed. The ABIs are the bindings' eigen*Abi.
 */
export interface EigenLayerCore {
  allocationManager: Address;
  delegationManager: Address;
  strategyManager: Address;
  rewardsCoordinator: Address;
  permissionController?: Address;
  avsDirectory?: Address;
  /** The strategies whose allocated stake counts (ascending); the first holds the stake token. */
  strategies: Address[];
  proxyAdmin?: Address;
  pauserRegistry?: Address;
  /** RewardsCoordinator.CALCULATION_INTERVAL_SECONDS (rewards periods are multiples of it). */
  calculationIntervalSeconds: number;
  /** Deployed by this project on a bare chain (not a network's own core). */
  local: boolean;
}

/** deployments/<chainId>.json: what `npm run deploy` writes and every TypeScript node reads. */
export interface Deployment {
  chainId: number;
  mode: StakingMode;
  deployer: Address;
  blockNumber: number;
  contracts: {
    stakeToken: DeployedContract;
    /** StakeRegistry (native) or EigenServiceManager (eigenlayer): the IOperatorRegistry. */
    registry: DeployedContract;
    batchManager: DeployedContract;
    /** Binds model ids to verification profiles (BatchManager.models). */
    modelRegistry: DeployedContract;
    /** Only in eigenlayer mode: EigenLayer's AllocationManager (or its local stand-in). */
    allocationManager?: DeployedContract;
  };
  /** Only in eigenlayer mode against EigenLayer's core (absent with the unit tests' stand-in). */
  eigenLayer?: EigenLayerCore;
  config: DeployedConfig;
}

/** Where deployments are written by default: deployments/ at the repository root. */
export const DEFAULT_DEPLOYMENTS_DIR = path.resolve(import.meta.dirname, "../../deployments");

export function deploymentPath(chainId: number, dir = DEFAULT_DEPLOYMENTS_DIR): string {
  return path.join(dir, `${chainId}.json`);
}

/** Reads and checks deployments/<chainId>.json. */
export function loadDeployment(chainId: number, dir = DEFAULT_DEPLOYMENTS_DIR): Deployment {
  const file = deploymentPath(chainId, dir);
  if (!existsSync(file)) throw new DeploymentNotFoundError(`no deployment for chain ${chainId} at ${file}; run npm run deploy`, "chainId");
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new InvalidDeploymentError(`${file} is not valid JSON: ${(err as Error).message}`, "file");
  }
  const deployment = parseDeployment(json);
  if (deployment.chainId !== chainId) {
    throw new InvalidDeploymentError(`${file} is for chain ${deployment.chainId}, not ${chainId}`, "chainId");
  }
  return deployment;
}

/** Checks the shape of a parsed deployment file and normalizes addresses to checksum form. */
export function parseDeployment(json: unknown): Deployment {
  const root = object(json, "deployment");
  const chainId = integer(root.chainId, "chainId");
  const mode = root.mode;
  if (mode !== "native" && mode !== "eigenlayer") throw new InvalidDeploymentError(`mode must be "native" or "eigenlayer", got ${JSON.stringify(mode)}`, "mode");
  const contracts = object(root.contracts, "contracts");
  const config = object(root.config, "config");
  const numberFields = [
    "attestThresholdBps", "voteThresholdBps", "responseWindow", "challengeWindow", "votingWindow",
    "unbondingDelay", "proverSlashBps", "operatorSlashBps", "challengerRewardBps",
  ] as const;
  const stringFields = ["disputeBond", "minOperatorStake", "minProverStake"] as const;
  const parsedConfig = {} as Record<string, number | string>;
  for (const f of numberFields) parsedConfig[f] = integer(config[f], `config.${f}`);
  for (const f of stringFields) {
    const v = config[f];
    if (typeof v !== "string" || !/^[0-9]+$/.test(v)) throw new InvalidDeploymentError(`config.${f} must be a decimal string, got ${JSON.stringify(v)}`, `config.${f}`);
    parsedConfig[f] = v;
  }
  const deployment: Deployment = {
    chainId,
    mode,
    deployer: address(root.deployer, "deployer"),
    blockNumber: integer(root.blockNumber, "blockNumber"),
    contracts: {
      stakeToken: contract(contracts.stakeToken, "contracts.stakeToken"),
      registry: contract(contracts.registry, "contracts.registry"),
      batchManager: contract(contracts.batchManager, "contracts.batchManager"),
      modelRegistry: contract(contracts.modelRegistry, "contracts.modelRegistry"),
    },
    config: parsedConfig as unknown as DeployedConfig,
  };
  if (mode === "eigenlayer") deployment.contracts.allocationManager = contract(contracts.allocationManager, "contracts.allocationManager");
  if (mode === "eigenlayer" && root.eigenLayer !== undefined) deployment.eigenLayer = eigenLayerCore(root.eigenLayer);
  return deployment;
}

function eigenLayerCore(value: unknown): EigenLayerCore {
  const c = object(value, "eigenLayer");
  const optional = (f: string) => (c[f] === undefined ? {} : { [f]: address(c[f], `eigenLayer.${f}`) });
  if (!Array.isArray(c.strategies) || c.strategies.length === 0) throw new InvalidDeploymentError("eigenLayer.strategies must be a non-empty array of addresses", "eigenLayer.strategies");
  if (typeof c.local !== "boolean") throw new InvalidDeploymentError("eigenLayer.local must be a boolean", "eigenLayer.local");
  return {
    allocationManager: address(c.allocationManager, "eigenLayer.allocationManager"),
    delegationManager: address(c.delegationManager, "eigenLayer.delegationManager"),
    strategyManager: address(c.strategyManager, "eigenLayer.strategyManager"),
    rewardsCoordinator: address(c.rewardsCoordinator, "eigenLayer.rewardsCoordinator"),
    ...optional("permissionController"),
    ...optional("avsDirectory"),
    ...optional("proxyAdmin"),
    ...optional("pauserRegistry"),
    strategies: c.strategies.map((s, i) => address(s, `eigenLayer.strategies[${i}]`)),
    calculationIntervalSeconds: integer(c.calculationIntervalSeconds, "eigenLayer.calculationIntervalSeconds"),
    local: c.local,
  };
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InvalidDeploymentError(`${field} must be an object`, field);
  return value as Record<string, unknown>;
}
function integer(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new InvalidDeploymentError(`${field} must be a non-negative integer, got ${JSON.stringify(value)}`, field);
  return value;
}
function address(value: unknown, field: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) throw new InvalidDeploymentError(`${field} must be an address, got ${JSON.stringify(value)}`, field);
  return getAddress(value);
}
function contract(value: unknown, field: string): DeployedContract {
  const c = object(value, field);
  if (typeof c.name !== "string" || c.name === "") throw new InvalidDeploymentError(`${field}.name must be a contract name`, `${field}.name`);
  if (!Array.isArray(c.abi)) throw new InvalidDeploymentError(`${field}.abi must be an array`, `${field}.abi`);
  return { name: c.name, address: address(c.address, `${field}.address`), abi: c.abi as Abi };
}
