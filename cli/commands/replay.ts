/** `vb replay ENVELOPE --base-url URL --output DIR`: verify, re-run the same workload elsewhere, sign, compare. */
import type { Command } from "commander";
import { replayEnvelope } from "../../benchmark/replay.ts";
import { addSigningOptions, addTrustOptions, command, num, parse, signingKeys, str, trustAnchors } from "../common.ts";

export function replayCommand(): Command {
  const cmd = command("replay", "verify an envelope, re-run its suite, dataset, seed and driver options against another endpoint, sign, and compare")
    .argument("<envelope>", "the source envelope")
    .requiredOption("--base-url <url>", "the endpoint to replay against")
    .requiredOption("--output <dir>", "where to write the replay (refused when it is not empty, unless --force)")
    .option("--force", "replace the run files in a non-empty --output")
    .option("--no-verify", "replay even when the source's signature is not by a key you trust")
    .option("--dataset <file>", "the source's dataset file, for envelopes not made from the built-in prompts")
    .option("--model <id>", "request this model instead of the source's")
    .option("--engine <name>", "the engine under test", "unknown")
    .option("--engine-version <v>", "its version", "unknown")
    .option("--convergence-timeout <s>", "override the source's convergence timeout")
    .option("--request-timeout <s>", "a request fails after S seconds without data", "120")
    .option("--api-key-env <name>", "the environment variable that holds the API key", "OPENAI_API_KEY")
    .option("--no-progress", "no progress line, even on a terminal");
  return addSigningOptions(addTrustOptions(cmd));
}

export async function replayMain(args: string[]): Promise<number> {
  const { opts: v, args: positionals } = parse(replayCommand(), args);
  const r = await replayEnvelope(positionals[0]!, {
    baseUrl: String(v.baseUrl),
    outDir: String(v.output),
    force: v.force === true,
    noVerify: v.verify === false,
    trust: trustAnchors(v),
    keys: signingKeys(v, true),
    dataset: str(v.dataset),
    model: str(v.model),
    engine: str(v.engine),
    engineVersion: str(v.engineVersion),
    apiKey: process.env[String(v.apiKeyEnv)],
    progress: v.progress !== false,
    convergenceTimeoutS: v.convergenceTimeout === undefined ? undefined : num(v.convergenceTimeout, "--convergence-timeout", 60),
    requestTimeoutMs: num(v.requestTimeout, "--request-timeout", 120) * 1000,
  });
  console.log(r.verification ? `source: ${r.verification.status} (${r.verification.trustedSigners.join(", ")})` : "source: NOT verified (--no-verify)");
  console.log(r.sideBySide);
  console.log(`\nwrote ${r.run.dir}/envelope.json (replay_of ${r.run.envelope.replay_of})`);
  return 0;
}
