/** `vb run SUITE ...`: one benchmark run, or a sweep of rates (one envelope per point). */
import type { Command } from "commander";
import type { RunOptions } from "../../benchmark/run.ts";
import { runBenchmark } from "../../benchmark/run.ts";
import { runSweep } from "../../benchmark/sweep.ts";
import { fixedDistribution, parseDistribution } from "../../benchmark/workload.ts";
import { addSigningOptions, command, num, parse, signingKeys, str, UsageError } from "../common.ts";

function parseSlo(text: string | undefined): RunOptions["slo"] {
  const slo: RunOptions["slo"] = { ttft_ms: null, tpot_ms: null, e2e_ms: null };
  if (!text) return slo;
  for (const part of text.split(",")) {
    const m = /^\s*(ttft|tpot|e2e)\s*[=<]\s*([0-9.]+)\s*(ms)?\s*$/.exec(part);
    if (!m) throw new UsageError(`--slo entries look like ttft=200,tpot=50,e2e=3000 (milliseconds); got "${part}"`);
    const v = Number(m[2]);
    if (!(v > 0)) throw new UsageError(`--slo ${m[1]} must be positive, got ${m[2]}`);
    slo[`${m[1]}_ms` as keyof RunOptions["slo"]] = v;
  }
  return slo;
}

export function runCommand(): Command {
  const cmd = command("run", "drive an OpenAI-compatible endpoint and write a signed envelope, traces.jsonl and summary.txt")
    .argument("<suite>", "the suite's name, recorded in the envelope")
    .requiredOption("--model <id>", "the model to request (the probe checks the endpoint serves it)")
    .requiredOption("--engine <name[@version]>", "the engine under test, recorded in the envelope")
    .requiredOption("--base-url <url>", "the API root, e.g. http://127.0.0.1:8000/v1")
    .requiredOption("--output <dir>", "where to write the run (refused when it is not empty, unless --force)")
    .option("--force", "replace the run files in a non-empty --output")
    .option("--revision <rev>", "the model's revision", "unknown")
    .option("--engine-version <v>", "the engine's version (or NAME@VERSION in --engine)")
    .option("--quant <q>", "the quantization, recorded in the envelope")
    .option("--api <kind>", "chat or completions (always streaming)", "chat")
    .option("--concurrency <n>", "closed loop: requests in flight (open loop: the socket cap, default 256)")
    .option("--ramp-up <ms>", "closed loop: spread the workers' first requests over this many ms", "0")
    .option("--rate <r>", "open loop at R requests/s (seeded Poisson); a list 1,2,4,8 runs a sweep, one envelope per rate")
    .option("--sweep [points]", "sweep: synchronous, max throughput, then POINTS open-loop rates between them (default 5)")
    .option("--num-requests <n>", "measured requests", "100")
    .option("--duration <s>", "stop starting requests after S seconds")
    .option("--seed <n>", "the master seed", "42")
    .option("--dataset <spec>", "synthetic, or a ShareGPT-style JSON file", "synthetic")
    .option("--input-tokens <dist>", "synthetic prompts of this length in the endpoint's tokens: N, normal:MEAN,SD[,MIN,MAX] or uniform:MIN,MAX")
    .option("--max-tokens <dist>", "max_tokens per request: N, normal:MEAN,SD[,MIN,MAX] or uniform:MIN,MAX", "128")
    .option("--temperature <t>", "sampling temperature", "0")
    .option("--slo <spec>", "service-level objectives for goodput, e.g. ttft=200,tpot=50,e2e=3000 (ms)")
    .option("--max-error-rate <r>", "the share of failed requests that still makes a run (above it: exit 1, no envelope)", "0")
    .option("--warmup-runs <n>", "closed-loop warm-up rounds of --concurrency requests, discarded", "3")
    .option("--convergence-window <n>", "the gate's window of successful requests", "30")
    .option("--convergence-cv <x>", "the gate passes when TTFT's CV over the window is below this", "0.05")
    .option("--convergence-timeout <s>", "the gate gives up (with a warning) after S seconds; 0 skips it", "60")
    .option("--launches <n>", "independent launches, each in its own process", "1")
    .option("--resamples <n>", "bootstrap resamples for the envelope's CIs", "1000")
    .option("--suite-version <v>", "the suite's semver", "1.0.0")
    .option("--request-timeout <s>", "a request fails after S seconds without data", "120")
    .option("--api-key-env <name>", "the environment variable that holds the API key", "OPENAI_API_KEY")
    .option("--link-batches", "link every response to the on-chain batch it went into (the project's prover) and commit the envelope to them")
    .option("--data-url <url>", "the prover's API root for --link-batches, when it is not --base-url")
    .option("--link-timeout <s>", "how long --link-batches waits for batches to close and be committed", "120")
    .option("--no-progress", "no progress line, even on a terminal")
    .option("--json", "print a JSON summary instead of the table");
  return addSigningOptions(cmd);
}

export async function runMain(args: string[]): Promise<number> {
  const { opts: v, args: positionals } = parse(runCommand(), args);
  const engineArg = String(v.engine);
  const at = engineArg.indexOf("@");
  const [engineName, engineAt] = at >= 0 ? [engineArg.slice(0, at), engineArg.slice(at + 1)] : [engineArg, undefined];
  const api = String(v.api);
  if (api !== "chat" && api !== "completions") throw new UsageError(`--api must be chat or completions, got "${api}"`);
  const rateText = str(v.rate);
  const rates = rateText?.includes(",") ? rateText.split(",").map((r) => num(r.trim(), "--rate", 0)) : null;
  const rate = rateText === undefined || rates ? null : num(rateText, "--rate", 0);
  if (v.sweep !== undefined && rateText !== undefined) throw new UsageError("--sweep chooses its own rates; it does not go with --rate");
  const maxTokensDist = parseDistribution(String(v.maxTokens), "--max-tokens");
  const o: RunOptions = {
    suite: positionals[0]!,
    suiteVersion: String(v.suiteVersion),
    model: String(v.model),
    modelRevision: String(v.revision),
    engine: engineName,
    engineVersion: str(v.engineVersion) ?? engineAt ?? "unknown",
    quant: str(v.quant) ?? null,
    baseUrl: String(v.baseUrl),
    apiKey: process.env[String(v.apiKeyEnv)],
    api,
    // Open loop: --concurrency only caps the sockets, so its default is generous there.
    concurrency: num(v.concurrency, "--concurrency", rateText === undefined && v.sweep === undefined ? 1 : 256),
    rate,
    numRequests: num(v.numRequests, "--num-requests", 100),
    durationS: v.duration === undefined ? null : num(v.duration, "--duration", 0),
    rampUpMs: num(v.rampUp, "--ramp-up", 0),
    maxTokens: maxTokensDist.max,
    maxTokensDist: maxTokensDist.kind === "fixed" ? fixedDistribution(maxTokensDist.max) : maxTokensDist,
    inputTokens: v.inputTokens === undefined ? null : parseDistribution(String(v.inputTokens), "--input-tokens"),
    temperature: num(v.temperature, "--temperature", 0),
    seed: num(v.seed, "--seed", 42),
    dataset: String(v.dataset),
    warmupRuns: num(v.warmupRuns, "--warmup-runs", 3),
    convergence: {
      window: num(v.convergenceWindow, "--convergence-window", 30),
      cvThreshold: num(v.convergenceCv, "--convergence-cv", 0.05),
      timeoutS: num(v.convergenceTimeout, "--convergence-timeout", 60),
    },
    slo: parseSlo(str(v.slo)),
    launches: num(v.launches, "--launches", 1),
    resamples: num(v.resamples, "--resamples", 1000),
    requestTimeoutMs: num(v.requestTimeout, "--request-timeout", 120) * 1000,
    maxErrorRate: num(v.maxErrorRate, "--max-error-rate", 0),
    ...(v.linkBatches ? { linkBatches: { dataUrl: str(v.dataUrl), timeoutS: num(v.linkTimeout, "--link-timeout", 120) } } : {}),
    force: v.force === true,
    progress: v.progress !== false,
  };
  if (v.dataUrl !== undefined && !v.linkBatches) throw new UsageError("--data-url goes with --link-batches");
  const keys = signingKeys(v, true);
  const output = String(v.output);
  if (rates || v.sweep !== undefined) {
    const points = v.sweep === true ? 5 : v.sweep === undefined ? 0 : num(v.sweep, "--sweep", 5);
    const sweep = await runSweep(o, keys, output, rates ? { kind: "rate", rates } : { kind: "sweep", points });
    if (v.json) console.log(JSON.stringify(sweep.index));
    else {
      console.log(sweep.table);
      console.log(`\nwrote ${sweep.points.length} envelopes under ${output}/, ${output}/sweep.json, ${output}/sweep.csv and ${output}/report.html`);
    }
    return 0;
  }
  const out = await runBenchmark(o, keys, output);
  if (v.json) console.log(JSON.stringify({ envelope: `${out.dir}/envelope.json`, content_hash: out.envelope.signature?.content_hash, metrics: out.envelope.metrics }));
  else {
    console.log(out.summary);
    console.log(`\nwrote ${out.dir}/envelope.json, ${out.dir}/traces.jsonl, ${out.dir}/summary.txt`);
  }
  return 0;
}
