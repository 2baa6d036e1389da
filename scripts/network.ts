/**
 * `npm run network`: a whole local network on loopback, as separate processes: a Hardhat node
 * (1 s interval mining), the contracts (short windows), a prover on the default model that
 * commits its batches on chain, an aggregator and N operators over libp2p. Prints the endpoints
 * and keeps running until Ctrl-C; logs and keys are in the printed folder.
 *
 *   npm run network [-- --operators 3 --dir /tmp/vb-net --batch-size 32]
 *
 * Then send requests to the prover (any OpenAI client) and watch batches become Attested and
 * Finalized in the aggregator's /v1/status.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { launchAggregator, launchOperator, launchProver, setupNetwork, startHardhatNode, type NodeProcess } from "./network/launch.ts";

const { values } = parseArgs({
  options: {
    operators: { type: "string", default: "3" },
    dir: { type: "string" },
    "batch-size": { type: "string", default: "32" },
    "challenge-window": { type: "string", default: "60" },
  },
});
const operatorCount = Number(values.operators);
if (!Number.isInteger(operatorCount) || operatorCount < 1 || operatorCount > 16) throw new Error(`--operators must be 1..16, got ${values.operators}`);
const dir = path.resolve(values.dir ?? mkdtempSync(path.join(tmpdir(), "vb-network-")));
mkdirSync(dir, { recursive: true });
const procs: NodeProcess[] = [];
const stopAll = async () => {
  for (const p of procs.reverse()) await p.stop("SIGTERM").catch(() => undefined);
};
process.on("SIGINT", () => void stopAll().then(() => process.exit(0)));
process.on("SIGTERM", () => void stopAll().then(() => process.exit(0)));

try {
  const chain = await startHardhatNode(dir);
  procs.push(chain.node);
  const setup = await setupNetwork(chain.rpcUrl, dir, {
    operators: operatorCount,
    provers: 1,
    blockIntervalMs: 1000,
    config: { challengeWindow: Number(values["challenge-window"]), responseWindow: 600, votingWindow: 600, unbondingDelay: 7200 },
  });
  const aggregator = await launchAggregator(setup);
  procs.push(aggregator.proc);
  const prover = await launchProver(setup, { index: 0, env: { PROVER_BATCH_MAX_RECORDS: values["batch-size"]!, PROVER_LOG_LEVEL: "info" } });
  procs.push(prover.proc);
  const operators = [];
  for (let index = 0; index < operatorCount; index++) {
    const op = await launchOperator(setup, { index, aggregatorUrl: aggregator.url, bootstrap: [aggregator.mesh] });
    procs.push(op.proc);
    operators.push(op);
  }
  console.log(`local network up (folder ${dir})`);
  console.log(`  chain       ${setup.rpcUrl} (chain ${setup.deployment.chainId}), deployment ${setup.deploymentFile}`);
  console.log(`  prover      ${prover.url}/v1  (batches of ${values["batch-size"]})`);
  console.log(`  aggregator  ${aggregator.url}/v1/status  mesh ${aggregator.mesh}`);
  operators.forEach((op, i) => console.log(`  operator ${i + 1}  ${op.url}/v1/status  metrics ${op.url}/metrics`));
  console.log("Ctrl-C stops everything.");
} catch (error) {
  console.error(`network: ${(error as Error).message}`);
  await stopAll();
  process.exit(1);
}
