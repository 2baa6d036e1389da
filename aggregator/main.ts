/**
 * `npm run aggregator`: loads the configuration (file + OPERATOR_* environment + flags), starts the
 * node, and stops it cleanly on SIGINT/SIGTERM. A bad configuration exits 2 naming the field.
 */
import { pathToFileURL } from "node:url";
import { NodeConfigError } from "../runtime/config.ts";
import { ChainSetupError } from "../runtime/chain.ts";
import { KeyLoadError } from "../runtime/keys.ts";
import { loadAggregatorConfig, type AggregatorConfig } from "./config.ts";
import { AggregatorNode } from "./node.ts";

async function main(): Promise<void> {
  let config: AggregatorConfig;
  try {
    config = loadAggregatorConfig({ argv: process.argv.slice(2), env: process.env });
  } catch (error) {
    if (error instanceof NodeConfigError) {
      process.stderr.write(`aggregator: invalid configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let node: AggregatorNode;
  try {
    node = await AggregatorNode.start(config, { env: process.env });
  } catch (error) {
    if (error instanceof NodeConfigError || error instanceof KeyLoadError || error instanceof ChainSetupError) {
      process.stderr.write(`aggregator: invalid configuration: ${error.message} (field ${error.field})\n`);
      process.exit(2);
    }
    throw error;
  }
  process.stdout.write(`aggregator: ready on ${node.address} mesh ${node.mesh.addresses.join(",")}\n`);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    process.stdout.write(`aggregator: ${signal}, shutting down\n`);
    node.stop().then(() => process.exit(0), (error: unknown) => {
      process.stderr.write(`aggregator: shutdown failed: ${String(error)}\n`);
      process.exit(1);
    });
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    process.stderr.write(`aggregator: failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  });
}
