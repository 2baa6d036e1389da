/**
 * What every node does first on chain: read the deployment file, connect to the RPC endpoint,
 * check that both name the same chain, and load its keys. Shared by operator and aggregator.
 */
import type { EigenMetrics } from "./eigen-node-api.ts";
import { readFileSync, statSync } from "node:fs";
import { createPublicClient, createWalletClient, http, type Account, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";
import { blsKeyPairFromSeed, type BlsKeyPair } from "../protocol/bls/index.ts";
import type { PrivateKeyAccount } from "viem/accounts";
import { parseDeployment, type Deployment } from "../protocol/contracts/deployments.ts";
import { NodeConfigError, type KeyConfig } from "./config.ts";
import { loadAccount, loadSecret, looseModeProblem, type KeySource } from "./keys.ts";
import { redactUrl, registerSecret } from "./redact.ts";
import { FieldError } from "../protocol/errors.ts";

export class ChainSetupError extends FieldError {
  override name = "ChainSetupError";
}

/** Reads deployments/<chainId>.json (as scripts/deploy.ts writes it) from an explicit path. */
export function readDeploymentFile(path: string, field = "chain.deployment"): Deployment {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ChainSetupError(`${field}: cannot read deployment ${path}: ${(error as Error).message}`, field);
  }
  try {
    return parseDeployment(json);
  } catch (error) {
    throw new ChainSetupError(`${field}: ${path}: ${(error as Error).message}`, field);
  }
}

export interface ChainConnection {
  chainId: number;
  chain: Chain;
  deployment: Deployment;
  publicClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, Account>;
  account: PrivateKeyAccount;
}

/** Connects to `rpcUrl`, refusing an endpoint whose chain id differs from the deployment's. */
export async function connectChain(rpcUrl: string, deployment: Deployment, account: PrivateKeyAccount, options: { metrics?: EigenMetrics } = {}): Promise<ChainConnection> {
  // RPC URLs often carry an API key (https://host/v3/<key>, ?apikey=): never shown from here on.
  registerSecret(rpcUrl);
  const shown = redactUrl(rpcUrl);
  const base = http(rpcUrl, { retryCount: 2, timeout: 20_000 });
  const transport = options.metrics ? options.metrics.timed(base) : base;
  const probe = createPublicClient({ transport });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (error) {
    throw new ChainSetupError(`chain.rpcUrl: cannot reach ${shown}: ${(error as Error).message.split("\n")[0]}`, "chain.rpcUrl");
  }
  if (options.metrics) {
    const client = await probe.request({ method: "web3_clientVersion" }).catch(() => "unknown/unknown");
    options.metrics.setClient(String(client));
  }
  if (chainId !== deployment.chainId) {
    throw new ChainSetupError(`chain.rpcUrl: ${shown} is chain ${chainId} but the deployment is for chain ${deployment.chainId}`, "chain.rpcUrl");
  }
  const chain: Chain = {
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  };
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 }) as PublicClient;
  const walletClient = createWalletClient({ chain, transport, account });
  return { chainId, chain, deployment, publicClient, walletClient, account };
}

/** Turns a key config into a KeySource (the password comes from a file or an environment variable). */
export function keySource(config: KeyConfig | undefined, field: string, env: Readonly<Record<string, string | undefined>> = process.env): KeySource {
  if (!config || (!config.keystore && !config.keyFile)) throw new NodeConfigError(`${field} needs keystore or keyFile`, field);
  if (config.keystore && config.keyFile) throw new NodeConfigError(`${field} takes keystore or keyFile, not both`, field);
  if (config.keyFile) return { keyFile: config.keyFile };
  let password: string | undefined;
  if (config.passwordFile) {
    const loose = looseModeProblem(statSync(config.passwordFile, { throwIfNoEntry: false })?.mode, config.passwordFile);
    if (loose) throw new NodeConfigError(`${field}.passwordFile: ${loose}`, `${field}.passwordFile`);
    try {
      password = readFileSync(config.passwordFile, "utf8").replace(/\r?\n$/, "");
    } catch (error) {
      throw new NodeConfigError(`${field}.passwordFile: cannot read ${config.passwordFile}: ${(error as Error).message}`, `${field}.passwordFile`);
    }
  } else if (config.passwordEnv) {
    password = env[config.passwordEnv];
    if (password === undefined) throw new NodeConfigError(`${field}.passwordEnv: environment variable ${config.passwordEnv} is not set`, `${field}.passwordEnv`);
  } else {
    throw new NodeConfigError(`${field}.keystore needs passwordFile or passwordEnv`, `${field}.keystore`);
  }
  registerSecret(password);
  return { keystore: config.keystore!, password };
}

export async function loadKey(config: KeyConfig | undefined, field: string, env?: Readonly<Record<string, string | undefined>>): Promise<PrivateKeyAccount> {
  return loadAccount(keySource(config, field, env), field);
}

/** The BLS key a configured key holds the 32-byte seed of. */
export async function loadBlsKey(config: KeyConfig | undefined, field: string, env?: Readonly<Record<string, string | undefined>>): Promise<BlsKeyPair> {
  return blsKeyPairFromSeed(await loadSecret(keySource(config, field, env), field));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
