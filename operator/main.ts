/**
 * `npm run operator`: with no command (or `run`), loads the configuration (file + OPERATOR_*
 * environment + flags), starts the node, and stops it cleanly on SIGINT/SIGTERM; a bad
 * configuration exits 2 naming the field. The other commands (keys, status, register, deregister,
 * withdraw) are operator/cli/program.ts; `--help` on any of them says more.
 */
import { pathToFileURL } from "node:url";
import { NodeConfigError } from "../runtime/config.ts";
import { ChainSetupError } from "../runtime/chain.ts";
import { KeyLoadError } from "../runtime/keys.ts";
import { loadOperatorConfig, type OperatorConfig } from "./config.ts";
import { OperatorError, OperatorNode, type OperatorOptions } from "./node.ts";
import { stopOnSignals } from "../runtime/process.ts";
import { runOperatorCli } from "./cli/program.ts";
import { redactText } from "../runtime/redact.ts";

/** The process entry; `options` lets test harnesses start a node with a check hook. */
export async function runOperatorMain(options: Omit<OperatorOptions, "env"> = {}, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let config: OperatorConfig;
  try {
    config = loadOperatorConfig({ argv, env: process.env });
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
  let node = false;
  const run = (argv: string[]) => {
    node = true;
    return runOperatorMain({}, argv).catch((error: unknown) => {
      process.stderr.write(redactText(`operator: failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`));
      process.exit(1);
    });
  };
  const code = await runOperatorCli(process.argv.slice(2), run);
  // A command is done; the node runs until a signal.
  if (!node || code !== 0) process.exit(code);
}
