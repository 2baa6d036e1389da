/**
 * A prover that commits its batches on chain: the prover's own configuration (prover/config.ts:
 * flags, PROVER_* environment, file) plus three variables for the chain hand-off:
 *
 *   PROVER_RPC_URL      the EVM endpoint
 *   PROVER_DEPLOYMENT   deployments/<chainId>.json
 *   PROVER_KEY_FILE     the prover's registered account key (0600 file), or
 *   PROVER_KEYSTORE + PROVER_KEYSTORE_PASSWORD_FILE
 *
 * Used by scripts/network.ts and the end-to-end test; prints "prover: serving ... on URL".
 */
import { pathToFileURL } from "node:url";
import { ChainCommitter } from "../../prover/batch/chain-committer.ts";
import { ConfigError, loadConfig } from "../../prover/config.ts";
import { startProver, type RunningProver } from "../../prover/main.ts";
import { connectChain, loadKey, readDeploymentFile } from "../../runtime/chain.ts";

export async function startChainProver(argv: string[], env: Readonly<Record<string, string | undefined>>): Promise<RunningProver> {
  const config = loadConfig({ argv, env });
  const rpcUrl = env.PROVER_RPC_URL;
  const deploymentPath = env.PROVER_DEPLOYMENT;
  if (!rpcUrl) throw new ConfigError("PROVER_RPC_URL is required", "PROVER_RPC_URL");
  if (!deploymentPath) throw new ConfigError("PROVER_DEPLOYMENT is required", "PROVER_DEPLOYMENT");
  const account = await loadKey(
    env.PROVER_KEY_FILE ? { keyFile: env.PROVER_KEY_FILE } : { keystore: env.PROVER_KEYSTORE, passwordFile: env.PROVER_KEYSTORE_PASSWORD_FILE },
    "prover.key",
    env,
  );
  const conn = await connectChain(rpcUrl, readDeploymentFile(deploymentPath, "PROVER_DEPLOYMENT"), account);
  return startProver(config, { committer: new ChainCommitter(conn) });
}

export async function runProverMain(start: typeof startChainProver = startChainProver): Promise<void> {
  let prover: RunningProver;
  try {
    prover = await start(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`prover: failed to start: ${(error as Error).message}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
  process.stdout.write(`prover: serving ${prover.engine.info.modelId} on ${prover.address}\n`);
  const shutdown = () => void prover.close().then(() => process.exit(0), () => process.exit(1));
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await runProverMain();
