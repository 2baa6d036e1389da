/**
 * vb: the Verifiable Benchmarks CLI (npm run vb -- <command> ...). Each command is a module of
 * cli/commands/ with its own --help (commander); this file only dispatches and maps errors to
 * exit codes.
 *
 *   run SUITE      drive an OpenAI-compatible endpoint, write a signed envelope, traces, summary
 *                  (--rate 1,2,4,8 or --sweep: one envelope per point and a combined report)
 *   verify FILE    check schema, content hash, signatures and trust (exit 0 verified, 3 unverified);
 *                  --rpc-url: the traced responses are proven leaves of the attested batches
 *   fetch SOURCE   hf://datasets/OWNER/REPO[/FILE], https://, file:// or a path; validated, cached
 *   replay FILE    verify, re-run the same suite/dataset/seed elsewhere, sign, compare
 *   diff A B       deltas, intervals, a bootstrap test, verdicts (--strict: exit 1 on a real regression)
 *   report PATH    one self-contained HTML report of an envelope or a folder of them, and CSV
 *   sign FILE      add signatures to a signed envelope (e.g. a registered prover's Ethereum key)
 *   keygen         write a dev ed25519 key file (mode 0600)
 *   schema         print the envelope JSON Schema
 *   calibrate      measure a model's honest band and its cheats; write its verification profile
 *   check-proofs   judge proofs made elsewhere (a cases file) with a profile, per variant
 *   receipt ID     is a response a leaf of an attested on-chain batch (protocol/receipt.ts)
 *   root ROOT      the on-chain batch that committed a Merkle root
 * Exit codes: 0 success, 1 failure (or a regression with --strict), 2 usage error, 3 unverified;
 * receipt and root: 3 pending, 4 disputed, 5 slashed, 6 expired, 7 not included.
 */
import { diffMain } from "./commands/diff.ts";
import { fetchMain } from "./commands/fetch.ts";
import { keygenMain } from "./commands/keygen.ts";
import { receiptMain } from "./commands/receipt.ts";
import { rootMain } from "./commands/root.ts";
import { replayMain } from "./commands/replay.ts";
import { reportMain } from "./commands/report.ts";
import { runMain } from "./commands/run.ts";
import { schemaMain } from "./commands/schema.ts";
import { signMain } from "./commands/sign.ts";
import { verifyMain } from "./commands/verify.ts";
import { calibrateMain } from "./commands/calibrate.ts";
import { checkProofsMain } from "./commands/check-proofs.ts";
import { EXIT_FAILURE, EXIT_USAGE, HelpShown, UsageError } from "./common.ts";
import { childLaunchMain } from "../benchmark/run.ts";
import { RunConfigError } from "../benchmark/errors.ts";
import { redactText } from "../runtime/redact.ts";

const USAGE = `usage: vb <command> [options]    (vb <command> --help lists a command's options)
  run SUITE --model ID --engine NAME[@VERSION] --base-url URL --output DIR --key KEYFILE
                      benchmark an endpoint; --rate 1,2,4,8 or --sweep for one envelope per point
  verify ENVELOPE     check schema, hashes, signatures, trust; --rpc-url: the chain link
  fetch SOURCE        fetch and validate an envelope (hf://, https://, file://, a path)
  replay ENVELOPE --base-url URL --output DIR --key KEYFILE
                      re-run an envelope's workload elsewhere and compare
  diff BASELINE CANDIDATE [--strict] [--html FILE]
                      deltas with intervals and a bootstrap test; exit 1 on a real regression
  report ENVELOPE|DIR [--output FILE] [--csv]
                      one self-contained HTML report (and CSV of traces and metrics)
  sign ENVELOPE       add signatures (e.g. a prover's Ethereum key)
  keygen --out FILE   a dev ed25519 key
  schema [--format vb|vb-v1|traces|inferencebench]
  calibrate [--model M.onnx] [--tokenizer T] --out profile.json
                      a model's verification profile: honest band, cheats, thresholds
  check-proofs --model M.onnx --profile profile.json --cases CASES.json [--json]
                      judge proofs made elsewhere with a profile; accepted / total per variant
  receipt RECORD_ID|RESPONSE.json --prover URL --rpc-url URL [--deployment FILE] [--json]
                      is this response a leaf of an attested on-chain batch? (exit 0 yes; 3 pending,
                      4 disputed, 5 slashed, 6 expired, 7 not included)
  root ROOT --rpc-url URL [--deployment FILE] [--json]
                      the on-chain batch that committed a Merkle root`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  run: runMain,
  verify: verifyMain,
  fetch: fetchMain,
  replay: replayMain,
  diff: diffMain,
  report: reportMain,
  sign: signMain,
  keygen: keygenMain,
  schema: schemaMain,
  calibrate: calibrateMain,
  "check-proofs": checkProofsMain,
  receipt: receiptMain,
  root: rootMain,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "_launch") {
      await childLaunchMain(rest[0]!, Number(rest[1]), rest[2]!);
      return 0;
    }
    if (command === undefined || command === "help" || command === "--help" || command === "-h") {
      if (command === "help" && rest[0] && COMMANDS[rest[0]]) return await COMMANDS[rest[0]]!(["--help"]);
      console.log(USAGE);
      return command === undefined ? EXIT_USAGE : 0;
    }
    const run = COMMANDS[command];
    if (!run) throw new UsageError(`unknown command "${command}"`);
    return await run(rest);
  } catch (e) {
    const err = e as Error;
    if (err instanceof HelpShown) return 0;
    if (err instanceof UsageError || err instanceof RunConfigError) {
      const hint = COMMANDS[command ?? ""] ? `(vb ${command} --help lists its options)` : USAGE;
      console.error(redactText(`error: ${err.message}\n${hint}`));
      return EXIT_USAGE;
    }
    // An endpoint URL in an error may carry credentials (https://user:key@host, ?api_key=): never shown.
    console.error(redactText(`error: ${err.name}: ${err.message}`));
    return EXIT_FAILURE;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("/cli/vb.ts")) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
