/**
 * `npm run fuzz`: generated hostile input against every external interface, on loopback only,
 * bounded in count (--runs per interface) and time (a hang bound per input), with a fixed seed.
 *
 *   npm run fuzz                          # 10,000 inputs per interface, seed 1
 *   npm run fuzz -- --runs 2000 --seed 7 --only prover-http,toploc
 *   npm run fuzz -- --record              # also rewrite the fuzz section of BENCHMARKS.md
 *
 * Interfaces: prover HTTP (raw sockets), aggregator HTTP and gossip (a Hardhat node, three
 * operators, the aggregator in-process, a libp2p peer), the leaf parser, the TOPLOC decoder and
 * the envelope verifier. Targets: >= 10,000 inputs each; 0 crashes, hangs, 5xx, untyped errors.
 * Exit code 1 when a target is missed.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { homedir } from "node:os";
import { fuzzAggregator } from "./fuzz/aggregator.ts";
import { met, MIN_INPUTS, type Figures } from "./fuzz/figures.ts";
import { fuzzEnvelopeVerifier, fuzzLeafParser, fuzzToplocDecoder } from "./fuzz/parsers.ts";
import { fuzzProverHttp } from "./fuzz/prover-http.ts";
import { machineLine, printTable, recordSection } from "./bench/harness.ts";

const TARGETS = ["prover-http", "aggregator", "leaf-parser", "toploc", "envelope"] as const;
type Target = (typeof TARGETS)[number];

export interface FuzzRunOptions {
  runs: number;
  seed: number;
  only?: readonly Target[];
  cacheDir?: string;
  log?: (line: string) => void;
}

/** Runs the chosen interfaces one after the other; returns their figures. */
export async function runFuzz(options: FuzzRunOptions): Promise<Figures[]> {
  const chosen = options.only?.length ? options.only : TARGETS;
  const log = options.log ?? (() => undefined);
  const out: Figures[] = [];
  for (const target of chosen) {
    log(`fuzzing ${target} (${options.runs} inputs, seed ${options.seed}) ...`);
    if (target === "toploc") out.push(fuzzToplocDecoder(options.runs, options.seed));
    else if (target === "leaf-parser") out.push(fuzzLeafParser(options.runs, options.seed));
    else if (target === "envelope") out.push(await fuzzEnvelopeVerifier(options.runs, options.seed));
    else if (target === "prover-http") out.push(await fuzzProverHttp({ runs: options.runs, seed: options.seed, ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) }));
    else out.push(...(await fuzzAggregator({ runs: options.runs, seed: options.seed })));
  }
  return out;
}

export function fuzzTable(figures: Figures[], minInputs = MIN_INPUTS): string[][] {
  return [
    ["interface", "inputs", "crashes", "hangs", "5xx", "untyped", "seconds", "target", "status"],
    ...figures.map((f) => [f.name, String(f.inputs), String(f.crashes), String(f.hangs), String(f.http5xx), String(f.untyped), f.seconds.toFixed(1), `>= ${minInputs.toLocaleString("en-US")}, 0 / 0 / 0 / 0`, met(f, minInputs) ? "met" : "MISSED"]),
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: "string" }, seed: { type: "string" }, only: { type: "string" }, record: { type: "boolean" }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) {
    console.log("usage: npm run fuzz -- [--runs N (10000)] [--seed N (1)] [--only prover-http,aggregator,leaf-parser,toploc,envelope] [--record]");
    return;
  }
  const runs = Number(values.runs ?? MIN_INPUTS);
  const seed = Number(values.seed ?? 1);
  if (!Number.isInteger(runs) || runs < 1 || runs > 1_000_000) throw new Error(`--runs must be an integer in 1..1000000, got ${values.runs}`);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const only = (values.only ?? "").split(",").map((s) => s.trim()).filter(Boolean) as Target[];
  for (const name of only) if (!TARGETS.includes(name)) throw new Error(`--only: unknown interface ${name} (one of ${TARGETS.join(", ")})`);
  const started = Date.now();
  const figures = await runFuzz({ runs, seed, only, cacheDir: join(homedir(), ".cache", "verifiable-benchmarks", "models"), log: (line) => console.log(line) });
  console.log("");
  const table = printTable(fuzzTable(figures));
  const lines: string[] = [];
  for (const f of figures) {
    const outcomes = [...f.outcomes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ");
    lines.push(`- ${f.name}: ${outcomes}`);
    for (const example of f.examples) lines.push(`  - ${example.replace(/\s+/g, " ").slice(0, 300)}`);
  }
  console.log(`\noutcomes:\n${lines.join("\n")}`);
  const total = (Date.now() - started) / 1000;
  console.log(`\n${figures.reduce((a, f) => a + f.inputs, 0).toLocaleString("en-US")} inputs in ${total.toFixed(0)} s (seed ${seed})`);
  if (values.record) {
    recordSection("fuzz", [
      "## Fuzzing the external interfaces (`npm run fuzz`)",
      "",
      `${machineLine()}; ${runs.toLocaleString("en-US")} generated inputs per interface, seed ${seed}, ${total.toFixed(0)} s in all.`,
      "",
      "```",
      table,
      "```",
      "",
      "What the inputs exercised (answers and typed errors, by count):",
      "",
      ...lines,
    ].join("\n"));
  }
  if (!figures.every((f) => met(f))) process.exitCode = 1;
}

if (process.argv[1]?.endsWith("scripts/fuzz.ts")) {
  main().then(() => setTimeout(() => process.exit(process.exitCode ?? 0), 100), (error: unknown) => {
    console.error(`fuzz: ${(error as Error).stack ?? String(error)}`);
    process.exit(2);
  });
}
