/**
 * bench:client — is the load generator ever the bottleneck?
 *
 * A loopback streaming server runs in a child process. In the same run, alternating rounds drive
 * it with (a) the tool's client (benchmark/http-client.ts + the closed-loop driver: pooled
 * keep-alive sockets, HTTP/1.1 and SSE parsers, JSON per event) and (b) a raw-socket client that
 * writes prebuilt request bytes on its own keep-alive sockets and only looks for the first
 * content bytes and the end of the chunked body. The TTFT the tool adds is the difference of the
 * two TTFT distributions at p50 and p99 with 256 concurrent streams, with a 95% bootstrap interval
 * for the p99 difference (rounds alternate so that slow phases of the machine hit both clients;
 * what remains of them is what the interval shows). The tool's TTFT is the one
 * it reports (request on the wire to first parsed content); the time from the driver's send call
 * to the wire is client queueing, which the tool reports apart, and is printed here as well.
 * Streams look like LLM decoding: first token after 50 ms, then 12 to 20 tokens 25 ms apart, and
 * both clients ramp their 256 streams up over one stream's length, as real traffic is not in
 * lock-step (equal streams started together would arrive, and be parsed, in 256-wide waves).
 * Then the sustained rate of short (1-token) requests the tool completes, next to the raw client.
 *
 *   npm run bench:client [-- --streams 256 --rounds 16 --per-round 768 --rate-seconds 4 --record]
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { cpus, loadavg } from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { StreamingClient } from "../../benchmark/http-client.ts";
import { closedLoop, type Job } from "../../benchmark/loadgen.ts";
import { rng } from "../../benchmark/rng.ts";
import { percentileSorted, percentileUnsorted, sortedCopy } from "../../benchmark/stats.ts";
import { machineLine, printTable, recordSection } from "./harness.ts";

const { values } = parseArgs({
  options: {
    streams: { type: "string" }, rounds: { type: "string" }, "per-round": { type: "string" },
    "rate-seconds": { type: "string" }, "rate-concurrency": { type: "string" }, record: { type: "boolean" },
  },
});
const STREAMS = Number(values.streams ?? 256);
const ROUNDS = Number(values.rounds ?? 16);
const PER_ROUND = Number(values["per-round"] ?? 768);
const RATE_SECONDS = Number(values["rate-seconds"] ?? 4);
const RATE_CONCURRENCY = Number(values["rate-concurrency"] ?? 64);
const TTFT_TARGET_MS = 1;
/** About one stream's length (50 ms + 16 x 25 ms). */
const RAMP_MS = 450;
const RATE_TARGET = 2000;

async function startServer(args: string[]): Promise<{ port: number; child: ChildProcess }> {
  const entry = fileURLToPath(new URL("./client-server.ts", import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, entry, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const line: string = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (c) => reject(new Error(`server exited with ${c}`)));
  });
  return { port: (JSON.parse(line) as { port: number }).port, child };
}

function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.stdin!.end();
    setTimeout(() => child.kill(), 5000).unref();
  });
}

const PROMPT = "how fast is this client";
const jobs = (n: number, maxTokens = 16): Job[] => Array.from({ length: n }, (_, i) => ({ promptIndex: i, prompt: PROMPT, maxTokens }));

/** Tool client: TTFT as the tool reports it, plus its client queueing. */
async function toolRound(port: number, n: number, concurrency: number, maxTokens: number, rampUpMs = 0): Promise<{ ttfts: number[]; queue: number[]; done: number; seconds: number }> {
  const client = new StreamingClient({ baseUrl: `http://127.0.0.1:${port}/v1`, api: "chat", model: "bench", maxTokens, temperature: 0, maxSockets: concurrency, timeoutMs: 30_000 });
  try {
    const t0 = performance.now();
    const traces = await closedLoop(client, jobs(n, maxTokens), concurrency, { rampUpMs });
    const seconds = (performance.now() - t0) / 1000;
    const ok = traces.filter((t) => t.ok && t.firstTokenAt !== null);
    if (ok.length !== traces.length) throw new Error(`${traces.length - ok.length} tool requests failed: ${traces.find((t) => !t.ok)?.error}`);
    return { ttfts: ok.map((t) => t.firstTokenAt! - t.sentAt), queue: ok.map((t) => t.sentAt - t.scheduledAt), done: ok.length, seconds };
  } finally {
    client.close();
  }
}

/** Raw client: prebuilt bytes on keep-alive sockets; TTFT from write() to the first content bytes. */
async function rawRound(port: number, n: number, concurrency: number, maxTokens: number, rampUpMs = 0): Promise<{ ttfts: number[]; queue: number[]; done: number; seconds: number }> {
  const body = JSON.stringify({ model: "bench", max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: PROMPT }] });
  const request = Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`);
  const ttfts: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.setNoDelay(true);
      let tail = "";
      let sentAt = 0;
      let first = false;
      const send = () => {
        if (next >= n) {
          socket.end();
          return resolve();
        }
        next++;
        tail = "";
        first = false;
        sentAt = performance.now();
        socket.write(request);
      };
      socket.on("connect", () => setTimeout(send, (index / concurrency) * rampUpMs));
      socket.on("data", (chunk: Buffer) => {
        const now = performance.now();
        const text = chunk.toString("latin1");
        if (!first && text.includes('"content"')) {
          first = true;
          ttfts.push(now - sentAt);
        }
        tail = (tail + text).slice(-16);
        // End of a chunked body: the zero-length chunk.
        if (tail.endsWith("\r\n0\r\n\r\n")) send();
      });
      socket.on("error", reject);
    });
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  return { ttfts, queue: [], done: ttfts.length, seconds: (performance.now() - t0) / 1000 };
}

async function timedRate(kind: "tool" | "raw", port: number, seconds: number, concurrency: number): Promise<number> {
  // Warm the connections, then count completions over batches until the time is up.
  const round = kind === "tool" ? toolRound : rawRound;
  await round(port, concurrency * 4, concurrency, 1);
  let done = 0;
  let spent = 0;
  while (spent < seconds) {
    const r = await round(port, concurrency * 200, concurrency, 1);
    done += r.done;
    spent += r.seconds;
  }
  return done / spent;
}

const q = (xs: number[], p: number) => percentileSorted(sortedCopy(xs), p);
const fmt = (x: number) => x.toFixed(3);
const verdict = (ok: boolean) => (ok ? "met" : "MISSED");

console.log(`bench:client — ${machineLine()}`);
console.log(`TTFT: ${STREAMS} concurrent streams ramped up over ${RAMP_MS} ms, ${ROUNDS} alternating rounds of ${PER_ROUND} requests per client; server (child process): 12-20 tokens, first after 50 ms, 25 ms apart\n`);

const streaming = await startServer(["--tokens", "12", "--jitter", "8", "--first-ms", "50", "--gap-ms", "25"]);
const tool: number[] = [];
const queue: number[] = [];
// Event-loop stalls (GC, or the OS not scheduling this process) delay every stream at once.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
const loadBefore = loadavg()[0]!;
const raw: number[] = [];
try {
  // One untimed full round each to warm the JIT (a run has its own warm-up phases too).
  await toolRound(streaming.port, PER_ROUND, STREAMS, 20, RAMP_MS);
  await rawRound(streaming.port, PER_ROUND, STREAMS, 20, RAMP_MS);
  for (let r = 0; r < ROUNDS; r++) {
    loopDelay.enable();
    const t = await toolRound(streaming.port, PER_ROUND, STREAMS, 20, RAMP_MS);
    tool.push(...t.ttfts);
    queue.push(...t.queue);
    loopDelay.disable();
    raw.push(...(await rawRound(streaming.port, PER_ROUND, STREAMS, 20, RAMP_MS)).ttfts);
  }
} finally {
  await stopServer(streaming.child);
}

const short = await startServer(["--tokens", "1"]);
let toolRate = 0;
let rawRate = 0;
try {
  rawRate = await timedRate("raw", short.port, RATE_SECONDS / 2, RATE_CONCURRENCY);
  toolRate = await timedRate("tool", short.port, RATE_SECONDS, RATE_CONCURRENCY);
} finally {
  await stopServer(short.child);
}

/** 95% bootstrap interval of p(tool) - p(raw), resampling each client's TTFTs independently. */
function differenceCI(a: number[], b: number[], p: number, resamples = 1000): [number, number] {
  const next = rng(7);
  const ra = new Float64Array(a.length);
  const rb = new Float64Array(b.length);
  const diffs = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) {
    for (let j = 0; j < ra.length; j++) ra[j] = a[Math.floor(next() * a.length)]!;
    for (let j = 0; j < rb.length; j++) rb[j] = b[Math.floor(next() * b.length)]!;
    diffs[i] = percentileUnsorted(ra, p) - percentileUnsorted(rb, p);
  }
  diffs.sort();
  return [percentileSorted(diffs, 0.025), percentileSorted(diffs, 0.975)];
}

const addedP50 = q(tool, 0.5) - q(raw, 0.5);
const addedP99 = q(tool, 0.99) - q(raw, 0.99);
const [lowP99, highP99] = differenceCI(tool, raw, 0.99);
const rows = [
  ["figure", "tool", "raw socket", "added by tool", "target", "result"],
  [`TTFT p50 (ms), ${STREAMS} streams`, fmt(q(tool, 0.5)), fmt(q(raw, 0.5)), fmt(addedP50), "", ""],
  [`TTFT p99 (ms), ${STREAMS} streams`, fmt(q(tool, 0.99)), fmt(q(raw, 0.99)), fmt(addedP99), `<= ${TTFT_TARGET_MS} ms added`, verdict(addedP99 <= TTFT_TARGET_MS)],
  [`  95% interval of the p99 added`, "", "", `${fmt(lowP99)} .. ${fmt(highP99)}`, "", ""],
  [`client queueing p99 (ms), reported apart`, fmt(q(queue, 0.99)), "", "", "", ""],
  [`short requests/s, concurrency ${RATE_CONCURRENCY}`, toolRate.toFixed(0), rawRate.toFixed(0), "", `>= ${RATE_TARGET}/s`, verdict(toolRate >= RATE_TARGET)],
];
const table = printTable(rows);
console.log(`\nsamples: ${tool.length} tool, ${raw.length} raw TTFTs; rate over ${RATE_SECONDS} s (tool) and ${RATE_SECONDS / 2} s (raw)`);
console.log(`event-loop delay during tool rounds: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms; 1-min load average ${loadBefore.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores (other processes on the machine inflate every figure)`);
if (values.record) recordSection("client", `${machineLine()}\n\n\`\`\`\n${table}\n\`\`\``);
