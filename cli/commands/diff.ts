/** `vb diff BASELINE CANDIDATE`: deltas, intervals, a bootstrap test on the traces, verdicts; --html writes the report. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { DEFAULT_TOLERANCE, diffEnvelopes, formatDiff, runSample, type DiffOptions } from "../../benchmark/diff.ts";
import { diffReportHtml } from "../../benchmark/report/index.ts";
import { isVbFormat } from "../../protocol/envelope/validate.ts";
import { loadEnvelopeFile, readSignedTraces } from "../../protocol/envelope/verify.ts";
import type { TraceLine } from "../../protocol/envelope/traces.ts";
import { command, EXIT_FAILURE, num, parse, str, UsageError } from "../common.ts";
import { refuseOverwrite } from "./report.ts";

export function diffCommand(): Command {
  return command("diff", "compare two envelopes: per-metric deltas with intervals, a bootstrap test on their traces, and verdicts")
    .argument("<baseline>", "the baseline envelope")
    .argument("<candidate>", "the candidate envelope")
    .option("--tolerance <x>", "relative change within which a metric counts as unchanged", String(DEFAULT_TOLERANCE))
    .option("--alpha <a>", "family-wise false-alarm rate of the whole table", "0.05")
    .option("--min-delta-ms <ms>", "latency changes smaller than this are unchanged whatever their relative size", "0.5")
    .option("--resamples <n>", "bootstrap resamples of the test", "2000")
    .option("--no-traces", "ignore the traces next to the envelopes (decide by the envelopes' intervals)")
    .option("--strict", "exit 1 when any metric regressed (beyond the tolerance and real; never on noise)")
    .option("--html <file>", "also write the diff as one self-contained HTML report")
    .option("--force", "overwrite an existing --html file")
    .option("--json", "print the report as JSON");
}

function tracesNextTo(file: string, plain: Record<string, unknown>, format: string): TraceLine[] | null {
  if (!isVbFormat(format as never)) return null;
  return readSignedTraces(plain, (name) => {
    const path = join(dirname(file), name);
    return existsSync(path) ? readFileSync(path) : null;
  })?.lines ?? null;
}

export async function diffMain(args: string[]): Promise<number> {
  const { opts: v, args: [baseFile, candFile] } = parse(diffCommand(), args);
  const tolerance = num(v.tolerance, "--tolerance", DEFAULT_TOLERANCE);
  if (tolerance < 0) throw new UsageError(`--tolerance must be >= 0, got ${tolerance}`);
  const alpha = num(v.alpha, "--alpha", 0.05);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha must be in (0, 1), got ${alpha}`);
  const resamples = num(v.resamples, "--resamples", 2000);
  if (!Number.isInteger(resamples) || resamples < 100) throw new UsageError(`--resamples must be an integer >= 100, got ${resamples}`);
  const html = str(v.html);
  if (html) refuseOverwrite(html, v.force === true, "--html");
  const a = loadEnvelopeFile(baseFile!);
  const b = loadEnvelopeFile(candFile!);
  const ta = v.traces === false ? null : tracesNextTo(baseFile!, a.plain, a.format);
  const tb = v.traces === false ? null : tracesNextTo(candFile!, b.plain, b.format);
  const o: DiffOptions = { tolerance, alpha, minDeltaMs: num(v.minDeltaMs, "--min-delta-ms", 0.5), resamples };
  if (ta && tb) Object.assign(o, { baselineRun: runSample(a.plain, ta), candidateRun: runSample(b.plain, tb) });
  const report = diffEnvelopes(a.plain, b.plain, o);
  if (html) {
    writeFileSync(html, diffReportHtml({ report, baseline: { path: baseFile!, envelope: a.plain, traces: ta }, candidate: { path: candFile!, envelope: b.plain, traces: tb } }));
  }
  console.log(v.json ? JSON.stringify(report) : formatDiff(report) + (html ? `\nwrote ${html}` : ""));
  return v.strict && report.regressions > 0 ? EXIT_FAILURE : 0;
}
