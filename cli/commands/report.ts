/** `vb report ENVELOPE|DIR`: one self-contained HTML report, and with --csv the traces and metrics as CSV. */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import { metricsCsv, sweepCsv, tracesCsv } from "../../benchmark/report/csv.ts";
import { runReportHtml, sweepReportHtml, type ReportRun } from "../../benchmark/report/index.ts";
import { isVbFormat } from "../../protocol/envelope/validate.ts";
import { loadEnvelopeFile, readSignedTraces } from "../../protocol/envelope/verify.ts";
import { command, parse, str, UsageError } from "../common.ts";

export function reportCommand(): Command {
  return command("report", "write one self-contained HTML report of an envelope, or of a folder of them (a sweep), and optionally CSV")
    .argument("<path>", "an envelope.json, a run folder, or a folder of run folders (a sweep)")
    .option("--output <file>", "the HTML file (default: report.html in the run or sweep folder)")
    .option("--csv", "also write traces.csv and metrics.csv (a sweep: sweep.csv) beside the report")
    .option("--force", "overwrite existing report and CSV files");
}

/** Refuses to overwrite a file unless --force. */
export function refuseOverwrite(file: string, force: boolean, flag: string): void {
  if (existsSync(file) && !force) throw new UsageError(`${file} exists; pass --force to overwrite it, or choose another ${flag}`);
}

function loadRun(envelopeFile: string, label: string): ReportRun {
  const loaded = loadEnvelopeFile(envelopeFile);
  const traces = isVbFormat(loaded.format)
    ? readSignedTraces(loaded.plain, (name) => {
        const p = join(dirname(envelopeFile), name);
        return existsSync(p) ? readFileSync(p) : null;
      })?.lines ?? null
    : null;
  return { label, path: envelopeFile, envelope: loaded.plain, traces };
}

/** The run folders of a sweep (by its sweep.json) or of any folder of runs. */
function runFolders(dir: string): string[] {
  const index = join(dir, "sweep.json");
  if (existsSync(index)) {
    const doc = JSON.parse(readFileSync(index, "utf8")) as { points?: { dir?: unknown }[] };
    const dirs = (doc.points ?? []).map((p) => p.dir).filter((d): d is string => typeof d === "string" && !d.includes("..") && !d.startsWith("/"));
    return dirs.map((d) => join(dir, d));
  }
  return readdirSync(dir).sort().map((n) => join(dir, n)).filter((p) => statSync(p).isDirectory() && existsSync(join(p, "envelope.json")));
}

export async function reportMain(args: string[]): Promise<number> {
  const { opts: v, args: [path] } = parse(reportCommand(), args);
  if (!existsSync(path!)) throw new UsageError(`${path} does not exist`);
  const force = v.force === true;
  const isDir = statSync(path!).isDirectory();
  const single = !isDir ? path! : existsSync(join(path!, "envelope.json")) ? join(path!, "envelope.json") : null;
  const home = single ? dirname(single) : path!;
  const output = str(v.output) ?? join(home, "report.html");
  const csvFiles = v.csv ? (single ? [join(dirname(output), "traces.csv"), join(dirname(output), "metrics.csv")] : [join(dirname(output), "sweep.csv")]) : [];
  for (const f of [output, ...csvFiles]) refuseOverwrite(f, force, f === output ? "--output" : "folder");
  if (single) {
    const run = loadRun(single, basename(dirname(single)));
    writeFileSync(output, runReportHtml(run));
    if (v.csv) {
      if (run.traces) writeFileSync(csvFiles[0]!, tracesCsv(run.traces));
      writeFileSync(csvFiles[1]!, metricsCsv(run.envelope));
    }
  } else {
    const folders = runFolders(path!);
    if (folders.length === 0) throw new UsageError(`${path} holds no envelope.json and no run folders with one`);
    const runs = folders.map((f) => loadRun(join(f, "envelope.json"), basename(f)));
    writeFileSync(output, sweepReportHtml(runs));
    if (v.csv) writeFileSync(csvFiles[0]!, sweepCsv(runs.map((r) => r.envelope as never)));
  }
  console.log(`wrote ${[output, ...csvFiles.filter((f) => existsSync(f))].join(", ")}`);
  return 0;
}
