/**
 * `npm run operator`: loads the configuration (file + OPERATOR_* environment + flags), starts the
 * node, and stops it cleanly on SIGINT/SIGTERM. A bad configuration exits 2 naming the field.
 */
import { pathToFileURL } from "node:url";
import { NodeConfigError } from "../runtime/config.ts";
import { ChainSetupError } from "../runtime/chain.ts";
import { KeyLoadError } from "../runtime/keys.ts";
import { loadOperatorConfig, type OperatorConfig } from "./config.ts";
import { OperatorError, OperatorNode, type OperatorOptions } from "./node.ts";
import { stopOnSignals } from "../runtime/process.ts";
import { redactText } from "../runtime/redact.ts";

/** The process entry; `options` lets test harnesses start a node with a check hook. */
export async function runOperatorMain(options: Omit<OperatorOptions, "env"> = {}): Promise<void> {
  let config: OperatorConfig;
  try {
    config = loadOperatorConfig({ argv: process.argv.slice(2), env: process.env });
  } catch (error) {
    if (error instanceof NodeConfigError) {
      process.stderr.write(redactText(`operator: invalid configuration: ${error.message}\n`));
      process.exit(2);
    }
    throw error;
  }
  let node: OperatorNode;
  try {
    node = await OperatorNode.start(config, { ...options, env: process.env });
  } catch (error) {
    if (error instanceof NodeConfigError || error instanceof KeyLoadError || error instanceof ChainSetupError || error instanceof OperatorError) {
      process.stderr.write(redactText(`operator: invalid configuration: ${error.message} (field ${error.field})\n`));
      process.exit(2);
    }
    throw error;
  }
  process.stdout.write(`operator: ready on ${node.address} signer ${node.signer.address}\n`);
  stopOnSignals("operator", () => node.stop());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  runOperatorMain().catch((error: unknown) => {
    process.stderr.write(redactText(`operator: failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`));
    process.exit(1);
  });
}
