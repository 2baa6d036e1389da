/**
 * `npm run bench:start`: is the main job light enough for a 2-core machine? Brings the whole
 * `npm start` network up in a fresh temporary folder (LocalNetwork, as npm start does, traffic
 * on), times the way to the explorer's URL, the first attested batch and the cheater's slashing,
 * then measures the CPU and memory of every process of the network over a steady minute; stops
 * it and starts it again on the same folder to time the chain's replay and the resume.
 *
 *   npm run bench:start [-- --seconds 60] [--record]
 *
 * Linux only (reads /proc). Targets: steady CPU at most 1 core (half the machine), resident
 * memory at most 3 GiB, the cheater slashed within 120 s of the URL.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { LocalNetwork } from "../network/local-network.ts";
import { machineLine, printTable, recordSection } from "./harness.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" }, record: { type: "boolean", default: false } } });
const seconds = Number(values.seconds);
if (!Number.isInteger(seconds) || seconds < 10 || seconds > 600) throw new Error(`--seconds must be 10..600, got ${values.seconds}`);
const TICK = 100; // clock ticks per second on Linux (getconf CLK_TCK)

/** utime + stime (ticks) and RSS (KiB) of a process. */
function usage(pid: number): { ticks: number; rssKiB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return { ticks: Number(fields[11]) + Number(fields[12]), rssKiB: Number(rss ?? 0) };
  } catch {
    return undefined;
  }
}

async function until(what: string, timeoutMs: number, probe: () => boolean | Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await probe())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return (Date.now() - start) / 1000;
}

const dir = mkdtempSync(path.join(tmpdir(), "vb-bench-start-"));
const log = (line: string) => console.log(`  ${line}`);
try {
  console.log(`npm start, measured (${machineLine().replace(", single thread", "")})`);
  let t0 = Date.now();
  let net = await LocalNetwork.start({ dir, fresh: true, explorerPort: 0, traffic: true, cheater: "other-model", log });
  const upS = (Date.now() - t0) / 1000;
  const refresh = async () => {
    await net.refresh();
    return true;
  };
  const attestedS = upS + (await until("first attested batch", 180_000, async () => (await refresh()) && net.history.batches().some((b) => b.standing === "attested" || b.standing === "finalized")));
  const slashedS = await until("cheater slashed", 180_000, async () => (await refresh()) && net.history.batches().some((b) => b.state === "Slashed"));
  const pids = [...net.pids()];
  const before = new Map(pids.map((pid) => [pid, usage(pid)?.ticks ?? 0]));
  const self0 = process.cpuUsage();
  let peakRss = 0;
  for (let s = 0; s < seconds; s++) {
    await new Promise((r) => setTimeout(r, 1_000));
    await net.refresh();
    peakRss = Math.max(peakRss, pids.reduce((sum, pid) => sum + (usage(pid)?.rssKiB ?? 0), 0) + process.memoryUsage().rss / 1024);
  }
  const childTicks = pids.reduce((sum, pid) => sum + ((usage(pid)?.ticks ?? 0) - before.get(pid)!), 0);
  const self = process.cpuUsage(self0);
  const cores = (childTicks / TICK + (self.user + self.system) / 1e6) / seconds;
  const batches = net.history.batches().length;
  await net.stop();
  t0 = Date.now();
  net = await LocalNetwork.start({ dir, fresh: false, explorerPort: 0, traffic: false, cheater: "other-model", log });
  const resumeS = (Date.now() - t0) / 1000;
  const blocks = net.history.head.number;
  await net.stop();

  const gib = peakRss / 1024 / 1024;
  const rows = [
    ["measure", "value", "target", ""],
    ["explorer URL after start (fresh folder)", `${upS.toFixed(1)} s`, "", ""],
    ["first attested batch after start", `${attestedS.toFixed(1)} s`, "", ""],
    ["cheater slashed after the URL", `${(attestedS - upS + slashedS).toFixed(1)} s`, "<= 120 s", attestedS - upS + slashedS <= 120 ? "met" : "MISSED"],
    [`CPU, steady ${seconds} s (all processes)`, `${cores.toFixed(2)} cores`, "<= 1.00 cores", cores <= 1 ? "met" : "MISSED"],
    ["resident memory, peak (all processes)", `${gib.toFixed(2)} GiB`, "<= 3.00 GiB", gib <= 3 ? "met" : "MISSED"],
    [`resume: replay ${blocks} blocks, nodes up`, `${resumeS.toFixed(1)} s`, "", ""],
  ];
  const table = printTable(rows);
  const note = `${pids.length} processes (chain, 2 provers, 3 operators, aggregator, explorer) and this one; ${batches} batches by the end of the steady minute; load average ${loadavg()[1]!.toFixed(1)} over the last 5 minutes (other work on the machine lengthens the times, not the CPU figure: it is CPU time used by the network's own processes)`;
  console.log(note);
  if (values.record) {
    recordSection("start", `## The main job (\`npm run bench:start\`)\n\n${machineLine().replace(", single thread", "")}.\n\n\`\`\`\n${table}\n\`\`\`\n\n${note}.`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
