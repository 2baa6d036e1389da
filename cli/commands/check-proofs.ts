/**
 * vb check-proofs: judge every case of a cases file (proofs made elsewhere) with a profile.
 *
 *   npm run vb -- check-proofs --model M.onnx --profile profile.json --cases CASES.json [--json]
 */
import { command, EXIT_OK, parse } from "../common.ts";
import { checkProofs, type VariantResult } from "../../calibration/check-proofs.ts";
import { readCasesFile } from "../../calibration/cases.ts";
import { loadProfile } from "../../protocol/verification/load.ts";
import { Engine } from "../../prover/engine/index.ts";

function format(x: number): string {
  return !Number.isFinite(x) ? String(x) : Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

export function formatResults(results: ReadonlyMap<string, VariantResult>): string {
  const lines: string[] = [];
  for (const [name, r] of results) {
    lines.push(`${name.padEnd(24)} accepted ${`${r.accepted}/${r.total}`.padStart(7)}`);
    const worst = Object.entries(r.worst).map(([k, w]) => `${k} ${format(w.value)} (threshold ${format(w.threshold)})`);
    if (worst.length > 0) lines.push(`    worst: ${worst.join(", ")}`);
    const failed = Object.entries(r.failedBy).map(([k, n]) => `${k} ${n}`);
    if (failed.length > 0) lines.push(`    rejected by: ${failed.join(", ")}`);
    for (const refused of r.refused.slice(0, 3)) lines.push(`    case ${refused.index} refused: ${refused.reason}`);
  }
  return lines.join("\n");
}

export async function checkProofsMain(argv: string[]): Promise<number> {
  const program = command("check-proofs", "")
    .description("Verify every case of a cases file with the request-level decision and count, per variant, the requests accepted")
    .requiredOption("--model <file>", "the ONNX model the cases claim (recomputed in fp32)")
    .requiredOption("--profile <file|name>", "verification profile (vb calibrate), or reference-bf16-k128")
    .requiredOption("--cases <file>", "cases file: prompts and, per variant, {generated, proofs_base64} per prompt")
    .option("--tokenizer <file>", "tokenizer.json of the model (only to load it as the prover would)")
    .option("--json", 'print one JSON object: {"variants": {"NAME": {"accepted": N, "total": N}}}')
    .option("--cache-dir <dir>", "where the hooked model is cached");
  const o = parse(program, argv).opts as { model: string; profile: string; cases: string; tokenizer?: string; json?: boolean; cacheDir?: string };
  const profile = await loadProfile(o.profile);
  const cases = await readCasesFile(o.cases);
  const engine = await Engine.load({ modelPath: o.model, ...(o.tokenizer ? { tokenizerPath: o.tokenizer } : {}), ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}) });
  try {
    const total = [...cases.variants.values()].reduce((a, l) => a + l.length, 0);
    let done = 0;
    const results = await checkProofs(engine, profile, cases, () => {
      done++;
      if (!o.json && process.stderr.isTTY) process.stderr.write(`\r${done}/${total} cases`);
    });
    if (!o.json && process.stderr.isTTY) process.stderr.write("\r");
    if (o.json) {
      const variants = Object.fromEntries([...results].map(([name, r]) => [name, { accepted: r.accepted, total: r.total }]));
      process.stdout.write(`${JSON.stringify({ variants })}\n`);
    } else {
      const name = "schema" in profile ? `${profile.name} ${profile.contentHash}` : profile.name;
      process.stdout.write(`profile ${name}\n${formatResults(results)}\n`);
    }
    return EXIT_OK;
  } finally {
    await engine.close();
  }
}
