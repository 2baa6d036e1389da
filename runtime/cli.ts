/**
 * Command-line help for the long-running nodes (prover, operator, aggregator, explorer): a
 * commander command whose options are the node's flags, each saying which configuration field
 * it sets and which environment variable sets it too, so that `--help` is generated from the
 * same table the configuration loader reads (runtime/config.ts) and cannot drift from it.
 */
import { Command } from "commander";
import type { ConfigSpec } from "./config.ts";

export interface NodeCliSpec {
  /** The command as users type it, e.g. "npm run operator --". */
  name: string;
  summary: string;
  spec: Pick<ConfigSpec, "envPrefix" | "env" | "flags">;
  /** Shown after the options (examples, notes). */
  epilogue?: string;
}

const VALUE = { string: "value", integer: "n", number: "x", boolean: "true|false", list: "a,b,..." } as const;

/** A command that knows the node's flags; its action is the caller's. */
export function nodeCommand(cli: NodeCliSpec): Command {
  const envOf = new Map(Object.entries(cli.spec.env).map(([name, [field]]) => [field, name]));
  const command = new Command(cli.name)
    .description(cli.summary)
    .option("--config <file>", `JSON configuration file (or ${cli.spec.envPrefix}_CONFIG)`)
    .helpOption("-h, --help", "show this help");
  for (const [flag, [field, kind]] of Object.entries(cli.spec.flags)) {
    const env = envOf.get(field);
    command.option(`--${flag} <${VALUE[kind]}>`, `sets ${field}${env ? ` (or ${env})` : ""}`);
  }
  const onlyEnv = Object.entries(cli.spec.env).filter(([, [field]]) => !Object.values(cli.spec.flags).some(([f]) => f === field));
  const envLines = onlyEnv.map(([name, [field]]) => `  ${name.padEnd(34)} ${field}`).join("\n");
  command.addHelpText(
    "after",
    `\nConfiguration: defaults < the JSON file < environment variables < flags; a bad value stops the start, naming the field (exit 2).` +
      (envLines ? `\nOther environment variables:\n${envLines}` : "") +
      (cli.epilogue ? `\n\n${cli.epilogue}` : ""),
  );
  return command;
}

/** True when argv asks for help (node entry points that parse argv with the config loader). */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}
