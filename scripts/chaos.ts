/**
 * `npm run chaos`: the local network on loopback under a hostile operator, a hostile prover
 * and SIGKILLs of every honest node (scripts/chaos/run.ts), bounded in batches and time. Prints
 * what it counted against the targets: every honest batch attested within its window, no
 * acknowledged completion lost, no double signature, the internal service never fetched, the
 * hostile operator slashed. Exit code 1 when a target is missed.
 *
 *   npm run chaos                                 # 6 batches of 4, SIGKILL operators 1-3, aggregator, prover
 *   npm run chaos -- --batches 3 --kills operator-1,prover --keep
 *   npm run chaos -- --record                     # also rewrite the chaos section of BENCHMARKS.md
 */
import { parseArgs } from "node:util";
import { machineLine, printTable, recordSection } from "./bench/harness.ts";
import { chaosMet, runChaos, type ChaosKill } from "./chaos/run.ts";

const ALL_KILLS: ChaosKill[] = ["operator-1", "aggregator", "prover", "operator-2", "operator-3"];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { batches: { type: "string" }, requests: { type: "string" }, kills: { type: "string" }, keep: { type: "boolean" }, record: { type: "boolean" }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) {
    console.log(`usage: npm run chaos -- [--batches 6] [--requests 4] [--kills ${ALL_KILLS.join(",")}] [--keep] [--record]`);
    return;
  }
  const batches = Number(values.batches ?? 6);
  const requestsPerBatch = Number(values.requests ?? 4);
  const kills = (values.kills ?? ALL_KILLS.join(",")).split(",").map((k) => k.trim()).filter(Boolean) as ChaosKill[];
  for (const k of kills) if (!ALL_KILLS.includes(k)) throw new Error(`--kills: unknown node ${k} (one of ${ALL_KILLS.join(", ")})`);
  if (!Number.isInteger(batches) || batches < 1 || batches > 50) throw new Error(`--batches must be 1..50, got ${values.batches}`);
  if (!Number.isInteger(requestsPerBatch) || requestsPerBatch < 1 || requestsPerBatch > 64) throw new Error(`--requests must be 1..64, got ${values.requests}`);
  const f = await runChaos({ batches, requestsPerBatch, kills, keep: values.keep === true, log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`) });
  console.log("");
  const checks = chaosMet(f);
  const table = printTable([["figure", "value", "target", "status"], ...checks.map((c) => [c.name, c.value, c.target, c.met ? "met" : "MISSED"])]);
  const details = [
    `SIGKILLed and restarted: ${f.kills.join(", ") || "none"}`,
    `signed messages observed on the mesh: ${f.messagesObserved}`,
    `honest operators' decisions on the hostile batches: ${Object.entries(f.hostileBatchDecisions).map(([k, v]) => `${k}: ${v.join(" / ")}`).join("; ") || "none"}`,
    `hostile prover: ${JSON.stringify(f.hostileProver)}`,
    `hostile operator: ${JSON.stringify(f.hostileOperator)}`,
  ];
  console.log(`\n${details.join("\n")}\n\n${f.seconds.toFixed(0)} s${values.keep ? `; logs in ${f.dir}` : ""}`);
  if (values.record) {
    recordSection("chaos", [
      "## Chaos run of the local network (`npm run chaos`)",
      "",
      `${machineLine()}; ${batches} honest batches of ${requestsPerBatch} completions, ${f.seconds.toFixed(0)} s.`,
      "",
      "```",
      table,
      "```",
      "",
      ...details.map((d) => `- ${d}`),
    ].join("\n"));
  }
  if (!checks.every((c) => c.met)) process.exitCode = 1;
}

main().then(() => setTimeout(() => process.exit(process.exitCode ?? 0), 100), (error: unknown) => {
  console.error(`chaos: ${(error as Error).stack ?? String(error)}`);
  process.exit(2);
});
