/**
 * `npm run explorer`: the read-only web page over the chain and the provers' data. Loads the
 * configuration (file + EXPLORER_* environment + flags), serves until SIGINT/SIGTERM.
 *
 *   npm run explorer -- --rpc-url http://127.0.0.1:8545 --deployment deployments/31337.json \
 *       --provers http://127.0.0.1:8000 --port 8700
 */
import { pathToFileURL } from "node:url";
import { ChainSetupError } from "../runtime/chain.ts";
import { nodeCommand, wantsHelp } from "../runtime/cli.ts";
import { NodeConfigError } from "../runtime/config.ts";
import { stopOnSignals } from "../runtime/process.ts";
import { EXPLORER_CONFIG_SPEC, loadExplorerConfig, type ExplorerConfig } from "./config.ts";
import { ExplorerServer } from "./server.ts";

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (wantsHelp(argv)) {
    nodeCommand({
      name: "npm run explorer --",
      summary: "A read-only web page over the chain and the provers' data: batches and their states, attestations, disputes and votes, slashing, operators, verification statistics, and an in-browser check of a response against the on-chain root.",
      spec: EXPLORER_CONFIG_SPEC,
      epilogue: "Example: npm run explorer -- --rpc-url http://127.0.0.1:8545 --deployment deployments/31337.json --provers http://127.0.0.1:8000\nAPI: /api/overview, /api/batches[/:id[/stats]], /api/disputes[/:id], /api/slashings, /api/operators, /api/provers, /api/members/:address, /api/roots/:root.",
    }).outputHelp();
    process.exit(0);
  }
  let config: ExplorerConfig;
  let server: ExplorerServer;
  try {
    config = loadExplorerConfig({ argv, env: process.env });
    server = await ExplorerServer.start(config);
  } catch (error) {
    if (error instanceof NodeConfigError || error instanceof ChainSetupError) {
      process.stderr.write(`explorer: invalid configuration: ${error.message} (field ${error.field})\n`);
      process.exit(2);
    }
    throw error;
  }
  process.stdout.write(`explorer: serving ${server.url}\n`);
  stopOnSignals("explorer", () => server.stop());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    process.stderr.write(`explorer: failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  });
}
