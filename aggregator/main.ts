/**
 * `npm run aggregator`: loads the configuration (file + OPERATOR_* environment + flags), starts the
 * node, and stops it cleanly on SIGINT/SIGTERM. A bad configuration exits 2 naming the field.
 */
import { pathToFileURL } from "node:url";
import { NodeConfigError } from "../runtime/config.ts";
import { ChainSetupError } from "../runtime/chain.ts";
import { KeyLoadError } from "../runtime/keys.ts";
import { AGGREGATOR_CONFIG_SPEC, loadAggregatorConfig, type AggregatorConfig } from "./config.ts";
import { nodeCommand, wantsHelp } from "../runtime/cli.ts";
import { AggregatorNode } from "./node.ts";
import { stopOnSignals } from "../runtime/process.ts";
import { redactText } from "../runtime/redact.ts";

async function main(): Promise<void> {
  if (wantsHelp(process.argv.slice(2))) {
    nodeCommand({
      name: "npm run aggregator --",
      summary: "Gathers operators' signed attestations and dispute votes (libp2p gossipsub, HTTP fallback) and submits them on chain at stake-weighted quorum; finalizes, expires and slashes equivocation.",
      spec: AGGREGATOR_CONFIG_SPEC,
      epilogue: "Endpoints: POST /v1/attestations, POST /v1/votes, GET /v1/status, /healthz, /readyz, /metrics. See aggregator/README.md.",
    }).outputHelp();
    process.exit(0);
  }
  let config: AggregatorConfig;
  try {
    config = loadAggregatorConfig({ argv: process.argv.slice(2), env: process.env });
  } catch (error) {
    if (error instanceof NodeConfigError) {
      process.stderr.write(redactText(`aggregator: invalid configuration: ${error.message}\n`));
      process.exit(2);
    }
    throw error;
  }
  let node: AggregatorNode;
  try {
    node = await AggregatorNode.start(config, { env: process.env });
  } catch (error) {
    if (error instanceof NodeConfigError || error instanceof KeyLoadError || error instanceof ChainSetupError) {
      process.stderr.write(redactText(`aggregator: invalid configuration: ${error.message} (field ${error.field})\n`));
      process.exit(2);
    }
    throw error;
  }
  process.stdout.write(`aggregator: ready on ${node.address} mesh ${node.mesh.addresses.join(",")}\n`);
  stopOnSignals("aggregator", () => node.stop());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    process.stderr.write(redactText(`aggregator: failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`));
    process.exit(1);
  });
}
