/**
 * vb calibrate: a model's verification profile, from the model file alone.
 *
 *   npm run vb -- calibrate --model M.onnx [--tokenizer tokenizer.json] --out profile.json
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { InvalidArgumentError } from "commander";
import { command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, parse } from "../common.ts";
import { calibrate, type CalibrationProgress } from "../../calibration/calibrate.ts";
import { formatDetectionTable } from "../../calibration/detection.ts";

function positiveInt(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
    return n;
  };
}

function probability(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 0.5)) throw new InvalidArgumentError("must be a number in (0, 0.5)");
  return n;
}

/** One line per phase change, and every few seconds within a phase: progress without flooding a log. */
function progressPrinter(stream: NodeJS.WriteStream): (event: CalibrationProgress) => void {
  let lastKey = "";
  let lastAt = 0;
  return (event) => {
    const key = `${event.phase}:${event.variant ?? ""}`;
    const now = event.elapsedMs;
    if (key === lastKey && event.done !== event.total && now - lastAt < 5000) return;
    lastKey = key;
    lastAt = now;
    const what = event.variant ? `${event.phase} ${event.variant}` : event.phase;
    stream.write(`[${(now / 1000).toFixed(0).padStart(4)} s] ${what.padEnd(34)} ${event.done}/${event.total}\n`);
  };
}

export async function calibrateMain(argv: string[]): Promise<number> {
  const program = command("calibrate", "")
    .description("Measure a model's honest band (fp32 and bf16 provers) and what its cheats look like; write a verification profile")
    .option("--model <file>", "ONNX causal LM the verifier recomputes with (fp32); default the embedded default model")
    .option("--tokenizer <file>", "Hugging Face tokenizer.json (text prompts); default random token prompts")
    .option("--model-id <id>", "model id the profile names; default from the file name")
    .option("--out <file>", "where to write the profile", "profile.json")
    .option("--requests <n>", "requests per variant (>= 16)", positiveInt(16), 64)
    .option("--seed <n>", "seed of the request set", positiveInt(0), 1)
    .option("--budget <p>", "false-rejection budget per honest request", probability, 1e-6)
    .option("--cache-dir <dir>", "where model variants are written")
    .option("--force", "overwrite --out if it exists");
  const o = parse(program, argv).opts as{ model?: string; tokenizer?: string; modelId?: string; out: string; requests: number; seed: number; budget: number; cacheDir?: string; force?: boolean };
  if (existsSync(o.out) && !o.force) {
    process.stderr.write(`vb calibrate: ${o.out} exists; pass --force to overwrite it\n`);
    return EXIT_USAGE;
  }
  const { profile, table } = await calibrate({
    ...(o.model ? { modelPath: o.model } : {}),
    ...(o.tokenizer ? { tokenizerPath: o.tokenizer } : {}),
    ...(o.modelId ? { modelId: o.modelId } : {}),
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    requests: o.requests,
    seed: o.seed,
    falseRejectionBudget: o.budget,
    onProgress: progressPrinter(process.stderr),
  });
  await writeFile(o.out, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o644 });
  const report = profile.calibration as { durationSeconds: number; thresholdsAtReferenceSize: Record<string, Record<string, number | null>> };
  process.stdout.write(`${formatDetectionTable(table)}\n\n`);
  process.stdout.write(`thresholds for a request of 3 chunks and 65 tokens (false-rejection budget ${o.budget} per request):\n`);
  for (const [mode, t] of Object.entries(report.thresholdsAtReferenceSize)) {
    process.stdout.write(`  ${mode.padEnd(8)} ${Object.entries(t).map(([k, v]) => `${k} ${v === null ? "n/a" : v.toPrecision(3)}`).join("  ")}\n`);
  }
  process.stdout.write(`\nprofile ${profile.name} ${profile.contentHash}\nwritten to ${o.out} in ${report.durationSeconds} s\n`);
  const honestRejected = table.some((r) => r.honest && r.rejected > 0);
  return honestRejected ? EXIT_FAILURE : EXIT_OK;
}
