/**
 * `npm start`: the main job with embedded defaults. The whole local network comes up (a Hardhat
 * node, the contracts, an honest prover, a cheating prover that serves another model's weights
 * under the honest model's id, three operators, an aggregator, a traffic generator and the
 * explorer), the explorer's URL is printed, and a live table shows batches moving
 * Submitted -> Attested -> Finalized, or Disputed -> Slashed. Ctrl-C stops all of it; the next
 * `npm start` goes on with the same network (same data folder), `--fresh` starts over.
 *
 *   npm start [-- --dir FOLDER] [--fresh] [--port 8700] [--no-traffic] [--cheater fp8|int8|other-model]
 */
import { join } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { defaultDataDir } from "../runtime/config.ts";
import { BatchTable } from "./network/batch-table.ts";
import { CHEATER_WEIGHTS, CHEATS, type CheaterWeights } from "./network/cheater.ts";
import { LocalNetwork, LocalNetworkError } from "./network/local-network.ts";

const program = new Command("npm start --")
  .exitOverride()
  .description("Run the whole local verification network with its explorer; Ctrl-C stops it, the next npm start resumes it.")
  .option("--dir <folder>", "data folder (chain journal, keys, node state, logs)", join(defaultDataDir("network")))
  .option("--fresh", "delete the folder's network and start a new one", false)
  .option("--port <n>", "the explorer's port (0: any free port)", (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("must be a port number, 0..65535");
    return n;
  }, 8700)
  .option("--no-traffic", "send no generated requests (send your own to the provers)")
  .addOption(new Option("--cheater <weights>", "what the cheating prover of a new network serves under the honest model's id (a resumed network keeps its own)").choices(Object.keys(CHEATS)).default(CHEATER_WEIGHTS))
  .addHelpText("after", `
The data folder keeps the chain (a journal of its blocks, replayed on the next start), the keys,
every node's state and logs, and network.json with every endpoint. One URL is printed: the
explorer's. Check a response against the chain: npm run vb -- receipt RECORD_ID --prover URL --rpc-url URL --deployment FOLDER/31337.json`);

async function main(): Promise<void> {
  try {
    program.parse(process.argv);
  } catch (error) {
    // --help (exit 0), or a bad flag commander has explained (exit 2).
    process.exit(error instanceof CommanderError && error.exitCode === 0 ? 0 : 2);
  }
  const o = program.opts<{ dir: string; fresh: boolean; port: number; traffic: boolean; cheater: CheaterWeights }>();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  let network: LocalNetwork;
  try {
    network = await LocalNetwork.start({ dir: o.dir, fresh: o.fresh, explorerPort: o.port, traffic: o.traffic, cheater: o.cheater, log });
  } catch (error) {
    process.stderr.write(`npm start: ${(error as Error).message}\n`);
    process.exit(error instanceof LocalNetworkError ? 2 : 1);
  }
  // The chain runs in a process group of its own: never leave it behind.
  process.on("exit", () => network.killNow());
  log(`\nexplorer: ${network.explorerUrl}\n`);
  const table = new BatchTable(network.history, {
    names: network.names,
    header: [`Verifiable Benchmarks local network: ${network.resumed ? "resumed" : "new"}, data in ${network.dir}`],
    footer: () => {
      const t = network.traffic.stats();
      const part = (name: string) => {
        const c = t.get(name)!;
        return `${name} ${c.ok}${c.failed ? ` (${c.failed} failed)` : ""}${c.paused ? ", paused: slashed below the prover minimum" : ""}`;
      };
      const exited = network.exitedNodes().map((n) => `${n.name} exited (${n.code}), see its log in the data folder`);
      return [
        `chain block ${network.history.head.number}  ·  requests: ${part("honest")}; ${part("cheater")}`,
        ...exited,
        "Ctrl-C stops everything; npm start resumes, npm start -- --fresh starts over.",
      ];
    },
  });
  let ticking = true;
  const tick = async () => {
    while (ticking) {
      try {
        await network.refresh();
        table.render();
      } catch (error) {
        if (ticking) log(`chain read failed: ${(error as Error).message.split("\n")[0]}`);
      }
      const journal = network.journalError();
      if (journal) {
        log(`the chain journal failed (${journal.message}); stopping so that no history is lost`);
        void shutdown("journal");
        return;
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  };
  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    ticking = false;
    log(`\n${why}: stopping the network…`);
    try {
      await network.stop();
      log(`stopped. Everything is kept in ${network.dir}: npm start resumes it, npm start -- --fresh starts over.`);
      process.exit(0);
    } catch (error) {
      process.stderr.write(`npm start: stopping failed: ${(error as Error).message}\n`);
      process.exit(1);
    }
  };
  process.on("SIGINT", () => {
    if (stopping) {
      // A second Ctrl-C: do not wait any longer.
      process.stderr.write("npm start: stopping at once\n");
      process.exit(130);
    }
    void shutdown("SIGINT");
  });
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGHUP", () => void shutdown("SIGHUP"));
  void tick();
}

await main();
