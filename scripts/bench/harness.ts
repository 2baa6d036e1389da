import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { cpus } from "node:os";

/** Timing statistics over repeated runs, in milliseconds. */
export interface Timing {
  runs: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
}

/** Times `fn(i)` for `runs` iterations after `warmup` untimed ones. */
export function time(runs: number, warmup: number, fn: (i: number) => void): Timing {
  for (let i = 0; i < warmup; i++) fn(i);
  const samples = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn(i);
    samples[i] = Number(process.hrtime.bigint() - start) / 1e6;
  }
  samples.sort();
  const at = (q: number) => samples[Math.min(runs - 1, Math.floor(q * runs))]!;
  return { runs, meanMs: samples.reduce((a, b) => a + b, 0) / runs, p50Ms: at(0.5), p95Ms: at(0.95) };
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${cpu}, ${cpus().length} cores visible, Node ${process.version}, single thread`;
}

/** Prints an aligned table. */
export function printTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const text = lines.join("\n");
  console.log(text);
  return text;
}

/**
 * Replaces this benchmark's section of BENCHMARKS.md (between its markers) with `body`, so that
 * the recorded figures are always the output of the script, never typed by hand.
 */
export function recordSection(name: string, body: string, file = "BENCHMARKS.md"): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n\nFigures written by the `npm run bench:*` scripts with `--record`.\n";
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  text = from >= 0 && to > from ? text.slice(0, from) + block + text.slice(to + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
  console.log(`\nrecorded in ${file} (section ${name})`);
}

/** Seeded normal variates (xorshift32 + Box-Muller) for reproducible synthetic activations. */
export function seededNormals(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 1) / 4294967297;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}
