/**
 * vb: the Verifiable Benchmarks CLI (npm run vb -- <command> ...).
 *
 *   run SUITE      drive an OpenAI-compatible endpoint, write a signed envelope, traces, summary
 *   verify FILE    check schema, content hash, signatures and trust (exit 0 verified, 3 unverified)
 *   fetch SOURCE   hf://datasets/OWNER/REPO[/FILE], https://, file:// or a path; validated, cached
 *   replay FILE    verify, re-run the same suite/dataset/seed elsewhere, sign, compare
 *   diff A B       per-metric deltas and verdicts (--strict: exit 1 on any regression)
 *   sign FILE      add signatures to a signed envelope (e.g. a registered prover's Ethereum key)
 *   keygen         write a dev ed25519 key file (mode 0600)
 *   schema         print the envelope JSON Schema
 * Exit codes: 0 success, 1 failure (or a regression with --strict), 2 usage error, 3 unverified.
 */
import { existsSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Hex } from "viem";
import { generateEd25519, publicKeyToPem, readKeyFile, writeKeyFile, parsePublicKey } from "../protocol/envelope/ed25519.ts";
import { ENVELOPE_SCHEMA, type Commitment, type VbEnvelope } from "../protocol/envelope/schema.ts";
import { INFERENCEBENCH_SCHEMA } from "../protocol/envelope/validate.ts";
import { cosignEnvelopeText, loadEnvelopeFile, loadEnvelopeText, verifyEnvelopeText, verifyTracesFile, type SigningKeys, type TrustAnchors } from "../protocol/envelope/verify.ts";
import { EnvelopeError, VerificationError } from "../protocol/envelope/errors.ts";
import { checkCommitment } from "../benchmark/commitment.ts";
import { diffEnvelopes, formatDiff } from "../benchmark/diff.ts";
import { fetchEnvelope } from "../benchmark/fetch.ts";
import { replayEnvelope } from "../benchmark/replay.ts";
import { childLaunchMain, runBenchmark, RunConfigError, type RunOptions } from "../benchmark/run.ts";
import { loadPinnedTrustedRoot } from "../protocol/envelope/sigstore.ts";

class UsageError extends Error {
  override name = "UsageError";
}

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const EXIT_UNVERIFIED = 3;

type Options = NonNullable<ParseArgsConfig["options"]>;

function parse(args: string[], options: Options, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length !== positionals) throw new UsageError(`expected ${positionals} positional argument(s), got ${parsed.positionals.length}: ${parsed.positionals.join(" ") || "(none)"}`);
  return parsed as { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
}

function num(v: unknown, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(x)) throw new UsageError(`${flag} must be a number, got "${String(v)}"`);
  return x;
}

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

const SIGNING_OPTIONS: Options = {
  key: { type: "string" },
  "eth-key-file": { type: "string" },
  sigstore: { type: "boolean" },
};

function signingKeys(v: Record<string, unknown>, required: boolean): SigningKeys {
  const keys: SigningKeys = {};
  if (typeof v.key === "string") keys.ed25519 = readKeyFile(v.key);
  if (typeof v["eth-key-file"] === "string") {
    const text = readFileSync(v["eth-key-file"], "utf8").trim();
    if (!/^0x[0-9a-fA-F]{64}$/.test(text)) throw new UsageError(`--eth-key-file must hold 0x + 64 hex characters`);
    keys.ethereumPrivateKey = text as Hex;
  } else if (process.env.VB_ETH_PRIVATE_KEY) {
    keys.ethereumPrivateKey = process.env.VB_ETH_PRIVATE_KEY as Hex;
  }
  if (v.sigstore === true) keys.sigstore = true;
  if (required && !keys.ed25519 && !keys.ethereumPrivateKey && !keys.sigstore) {
    throw new UsageError("a signing key is required: --key FILE (make one with `vb keygen --out FILE`), --eth-key-file FILE or --sigstore");
  }
  return keys;
}

const TRUST_OPTIONS: Options = {
  "trust-key": { type: "string", multiple: true },
  "trust-address": { type: "string", multiple: true },
  "sigstore-identity": { type: "string" },
  "sigstore-issuer": { type: "string" },
  "trusted-root": { type: "string" },
};

/** --trust-key accepts a PEM file, a vb key file, or 64 hex characters. */
function trustedKeyText(arg: string): string {
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(arg)) return arg;
  if (!existsSync(arg)) throw new UsageError(`--trust-key ${arg}: no such file (and not 64 hex characters)`);
  const text = readFileSync(arg, "utf8");
  if (text.includes("BEGIN PUBLIC KEY")) return text;
  return publicKeyToPem(readKeyFile(arg).publicKey);
}

function trustAnchors(v: Record<string, unknown>): TrustAnchors {
  const trust: TrustAnchors = {};
  const keys = (v["trust-key"] as string[] | undefined) ?? [];
  if (keys.length) trust.ed25519 = keys.map(trustedKeyText);
  for (const k of trust.ed25519 ?? []) parsePublicKey(k);
  const addresses = (v["trust-address"] as string[] | undefined) ?? [];
  if (addresses.length) trust.addresses = addresses;
  if (v["sigstore-identity"] || v["sigstore-issuer"]) {
    if (!v["sigstore-identity"] || !v["sigstore-issuer"]) throw new UsageError("--sigstore-identity and --sigstore-issuer go together");
    trust.sigstore = {
      identity: String(v["sigstore-identity"]),
      issuer: String(v["sigstore-issuer"]),
      trustedRoot: v["trusted-root"] ? JSON.parse(readFileSync(String(v["trusted-root"]), "utf8")) : loadPinnedTrustedRoot(),
    };
  }
  return trust;
}

const RUN_OPTIONS: Options = {
  model: { type: "string" },
  revision: { type: "string" },
  engine: { type: "string" },
  "engine-version": { type: "string" },
  quant: { type: "string" },
  concurrency: { type: "string" },
  "base-url": { type: "string" },
  output: { type: "string" },
  rate: { type: "string" },
  duration: { type: "string" },
  "ramp-up": { type: "string" },
  "num-requests": { type: "string" },
  seed: { type: "string" },
  dataset: { type: "string" },
  slo: { type: "string" },
  api: { type: "string" },
  "max-tokens": { type: "string" },
  temperature: { type: "string" },
  "warmup-runs": { type: "string" },
  "convergence-window": { type: "string" },
  "convergence-cv": { type: "string" },
  "convergence-timeout": { type: "string" },
  launches: { type: "string" },
  resamples: { type: "string" },
  "suite-version": { type: "string" },
  "request-timeout": { type: "string" },
  "api-key-env": { type: "string" },
  "commit-chain-id": { type: "string" },
  "commit-contract": { type: "string" },
  "commit-batch-id": { type: "string" },
  "commit-root": { type: "string" },
  "no-progress": { type: "boolean" },
  json: { type: "boolean" },
  ...SIGNING_OPTIONS,
};

function required(v: Record<string, unknown>, flag: string): string {
  const x = v[flag];
  if (typeof x !== "string" || x === "") throw new UsageError(`--${flag} is required`);
  return x;
}

function commitment(v: Record<string, unknown>): Commitment | undefined {
  const flags = ["commit-chain-id", "commit-contract", "commit-batch-id", "commit-root"];
  const given = flags.filter((f) => v[f] !== undefined);
  if (given.length === 0) return undefined;
  if (given.length !== flags.length) throw new UsageError(`a batch commitment needs all of ${flags.map((f) => "--" + f).join(", ")}`);
  const c = { chain_id: num(v["commit-chain-id"], "--commit-chain-id", 0), contract: String(v["commit-contract"]), batch_id: String(v["commit-batch-id"]), root: String(v["commit-root"]).toLowerCase() };
  if (!Number.isInteger(c.chain_id) || c.chain_id < 1) throw new UsageError(`--commit-chain-id must be a positive integer, got ${v["commit-chain-id"]}`);
  if (!/^0x[0-9a-fA-F]{40}$/.test(c.contract)) throw new UsageError(`--commit-contract must be a 0x address, got ${c.contract}`);
  if (!/^(0|[1-9][0-9]*)$/.test(c.batch_id)) throw new UsageError(`--commit-batch-id must be a decimal integer, got ${c.batch_id}`);
  if (!/^0x[0-9a-f]{64}$/.test(c.root)) throw new UsageError(`--commit-root must be 0x + 64 hex characters, got ${c.root}`);
  return c;
}

async function cmdRun(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(args, RUN_OPTIONS, 1);
  const engineArg = required(v, "engine");
  const [engineName, engineAt] = engineArg.includes("@") ? [engineArg.slice(0, engineArg.indexOf("@")), engineArg.slice(engineArg.indexOf("@") + 1)] : [engineArg, undefined];
  const api = (v.api as string | undefined) ?? "chat";
  if (api !== "chat" && api !== "completions") throw new UsageError(`--api must be chat or completions, got "${api}"`);
  const apiKeyEnv = (v["api-key-env"] as string | undefined) ?? "OPENAI_API_KEY";
  const o: RunOptions = {
    suite: positionals[0]!,
    suiteVersion: (v["suite-version"] as string | undefined) ?? "1.0.0",
    model: required(v, "model"),
    modelRevision: (v.revision as string | undefined) ?? "unknown",
    engine: engineName,
    engineVersion: (v["engine-version"] as string | undefined) ?? engineAt ?? "unknown",
    quant: (v.quant as string | undefined) ?? null,
    baseUrl: required(v, "base-url"),
    apiKey: process.env[apiKeyEnv],
    api,
    // Open loop: --concurrency only caps the sockets, so its default is generous there.
    concurrency: num(v.concurrency, "--concurrency", v.rate === undefined ? 1 : 256),
    rate: v.rate === undefined ? null : num(v.rate, "--rate", 0),
    numRequests: num(v["num-requests"], "--num-requests", 100),
    durationS: v.duration === undefined ? null : num(v.duration, "--duration", 0),
    rampUpMs: num(v["ramp-up"], "--ramp-up", 0),
    maxTokens: num(v["max-tokens"], "--max-tokens", 128),
    temperature: num(v.temperature, "--temperature", 0),
    seed: num(v.seed, "--seed", 42),
    dataset: (v.dataset as string | undefined) ?? "synthetic",
    warmupRuns: num(v["warmup-runs"], "--warmup-runs", 3),
    convergence: {
      window: num(v["convergence-window"], "--convergence-window", 30),
      cvThreshold: num(v["convergence-cv"], "--convergence-cv", 0.05),
      timeoutS: num(v["convergence-timeout"], "--convergence-timeout", 60),
    },
    slo: parseSlo(v.slo as string | undefined),
    launches: num(v.launches, "--launches", 1),
    resamples: num(v.resamples, "--resamples", 1000),
    requestTimeoutMs: num(v["request-timeout"], "--request-timeout", 120) * 1000,
    commitment: commitment(v),
    progress: v["no-progress"] !== true,
  };
  const keys = signingKeys(v, true);
  const out = await runBenchmark(o, keys, required(v, "output"));
  if (v.json) console.log(JSON.stringify({ envelope: `${out.dir}/envelope.json`, content_hash: out.envelope.signature?.content_hash, metrics: out.envelope.metrics }));
  else {
    console.log(out.summary);
    console.log(`\nwrote ${out.dir}/envelope.json, ${out.dir}/traces.jsonl, ${out.dir}/summary.txt`);
  }
  return 0;
}

async function cmdVerify(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(args, { ...TRUST_OPTIONS, json: { type: "boolean" }, "skip-traces": { type: "boolean" }, "rpc-url": { type: "string" } }, 1);
  const trust = trustAnchors(v);
  const rpcUrl = v["rpc-url"] as string | undefined;
  if (rpcUrl !== undefined && !/^https?:\/\/\S+$/.test(rpcUrl)) throw new UsageError(`--rpc-url must be an http(s) URL, got "${rpcUrl}"`);
  let text: string;
  try {
    text = readFileSync(positionals[0]!, "utf8");
  } catch (e) {
    throw new EnvelopeError(`cannot read ${positionals[0]}: ${(e as Error).message}`, positionals[0]!);
  }
  try {
    const report = await verifyEnvelopeText(text, trust);
    // verifyEnvelopeText parsed the text already; it parses again only for the vb-only checks below.
    const plain = report.format === "vb.envelope/1" ? loadEnvelopeText(text).plain : undefined;
    // The traces file travels next to the envelope; when it is there it must be the signed one.
    if (plain && v["skip-traces"] !== true) {
      const folder = dirname(positionals[0]!);
      const traces = verifyTracesFile(plain, (file) => {
        const path = join(folder, file);
        return existsSync(path) ? readFileSync(path) : null;
      });
      if (traces) report.checks.splice(report.checks.length - 1, 0, traces);
    }
    // With --rpc-url, the batch the envelope commits to is checked on chain.
    if (rpcUrl !== undefined) {
      const commitment = (plain as unknown as VbEnvelope | undefined)?.commitment;
      if (!commitment) throw new VerificationError("commitment", "--rpc-url was given, but the envelope commits to no on-chain batch");
      const onChain = await checkCommitment(commitment, rpcUrl);
      report.checks.splice(report.checks.length - 1, 0, onChain);
      if (onChain.result !== "pass") report.status = "unverified";
    }
    if (v.json) console.log(JSON.stringify(report));
    else {
      for (const c of report.checks) console.log(`${c.result === "pass" ? "PASS      " : "UNVERIFIED"}  ${c.check}: ${c.detail}`);
      const why = report.checks.find((c) => c.check === "commitment" && c.result !== "pass")
        ? "its batch is not attested on chain yet"
        : "the signature is consistent, but with no key you trust; pass --trust-key/--trust-address/--sigstore-identity";
      console.log(report.status === "verified" ? `VERIFIED (${report.format}, content hash ${report.contentHash})` : `UNVERIFIED (${report.format}): ${why}`);
    }
    return report.status === "verified" ? 0 : EXIT_UNVERIFIED;
  } catch (e) {
    if (e instanceof VerificationError) {
      if (v.json) console.log(JSON.stringify({ status: "failed", check: e.check, message: e.message, stored: e.stored, recomputed: e.recomputed }));
      else console.error(`FAILED  ${e.message}`);
      return EXIT_FAILURE;
    }
    throw e;
  }
}

async function cmdFetch(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(args, { "hf-endpoint": { type: "string" }, "cache-dir": { type: "string" }, refresh: { type: "boolean" }, output: { type: "string" }, json: { type: "boolean" }, "allow-private-network": { type: "string", multiple: true } }, 1);
  // Non-public addresses (loopback, private, link-local) only where named: flag or VB_ALLOW_PRIVATE_NETWORKS.
  const allowPrivateNetworks = [...((v["allow-private-network"] as string[] | undefined) ?? []), ...(process.env.VB_ALLOW_PRIVATE_NETWORKS ?? "").split(",")]
    .flatMap((c) => c.split(",")).map((c) => c.trim()).filter(Boolean);
  const r = await fetchEnvelope(positionals[0]!, { hfEndpoint: v["hf-endpoint"] as string | undefined, cacheDir: v["cache-dir"] as string | undefined, refresh: v.refresh === true, allowPrivateNetworks });
  if (typeof v.output === "string") copyFileSync(r.path, v.output);
  if (v.json) console.log(JSON.stringify(r));
  else console.log(`fetched ${r.format} envelope (content hash ${r.contentHash})${r.fromCache ? " from cache" : ""}: ${typeof v.output === "string" ? v.output : r.path}\nschema: valid; run \`vb verify\` to check its signature`);
  return 0;
}

async function cmdReplay(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(
    args,
    {
      ...TRUST_OPTIONS, ...SIGNING_OPTIONS,
      "base-url": { type: "string" }, output: { type: "string" }, "no-verify": { type: "boolean" }, dataset: { type: "string" },
      model: { type: "string" }, engine: { type: "string" }, "engine-version": { type: "string" }, "convergence-timeout": { type: "string" },
      "request-timeout": { type: "string" }, "api-key-env": { type: "string" }, "no-progress": { type: "boolean" },
    },
    1,
  );
  const r = await replayEnvelope(positionals[0]!, {
    baseUrl: required(v, "base-url"),
    outDir: required(v, "output"),
    noVerify: v["no-verify"] === true,
    trust: trustAnchors(v),
    keys: signingKeys(v, true),
    dataset: v.dataset as string | undefined,
    model: v.model as string | undefined,
    engine: v.engine as string | undefined,
    engineVersion: v["engine-version"] as string | undefined,
    apiKey: process.env[(v["api-key-env"] as string | undefined) ?? "OPENAI_API_KEY"],
    progress: v["no-progress"] !== true,
    convergenceTimeoutS: v["convergence-timeout"] === undefined ? undefined : num(v["convergence-timeout"], "--convergence-timeout", 60),
    requestTimeoutMs: v["request-timeout"] === undefined ? undefined : num(v["request-timeout"], "--request-timeout", 120) * 1000,
  });
  console.log(r.verification ? `source: ${r.verification.status} (${r.verification.trustedSigners.join(", ")})` : "source: NOT verified (--no-verify)");
  console.log(r.sideBySide);
  console.log(`\nwrote ${r.run.dir}/envelope.json (replay_of ${r.run.envelope.replay_of})`);
  return 0;
}

async function cmdDiff(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(args, { tolerance: { type: "string" }, strict: { type: "boolean" }, json: { type: "boolean" } }, 2);
  const tolerance = num(v.tolerance, "--tolerance", 0.02);
  if (tolerance < 0) throw new UsageError(`--tolerance must be >= 0, got ${tolerance}`);
  const a = loadEnvelopeFile(positionals[0]!);
  const b = loadEnvelopeFile(positionals[1]!);
  const report = diffEnvelopes(a.plain, b.plain, tolerance);
  console.log(v.json ? JSON.stringify(report) : formatDiff(report));
  return v.strict && report.regressions > 0 ? EXIT_FAILURE : 0;
}

async function cmdSign(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(args, { ...SIGNING_OPTIONS, output: { type: "string" } }, 1);
  const keys = signingKeys(v, true);
  const text = readFileSync(positionals[0]!, "utf8");
  const out = (v.output as string | undefined) ?? positionals[0]!;
  writeFileSync(out, await cosignEnvelopeText(text, keys));
  console.log(`added ${[keys.ed25519 && "ed25519", keys.ethereumPrivateKey && "eip191", keys.sigstore && "sigstore"].filter(Boolean).join(", ")} signature(s): ${out}`);
  return 0;
}

async function cmdKeygen(args: string[]): Promise<number> {
  const { values: v } = parse(args, { out: { type: "string" }, label: { type: "string" } }, 0);
  const out = required(v, "out");
  if (existsSync(out)) throw new UsageError(`${out} exists; refusing to overwrite a key`);
  const pair = generateEd25519();
  writeKeyFile(out, pair, (v.label as string | undefined) ?? "vb dev key");
  const pem = publicKeyToPem(pair.publicKey);
  writeFileSync(`${out}.pub`, pem + "\n");
  console.log(`wrote ${out} (mode 0600) and ${out}.pub\n${pem}`);
  return 0;
}

async function cmdSchema(args: string[]): Promise<number> {
  const { values: v } = parse(args, { format: { type: "string" } }, 0);
  const f = (v.format as string | undefined) ?? "vb";
  if (f !== "vb" && f !== "inferencebench") throw new UsageError(`--format must be vb or inferencebench, got "${f}"`);
  console.log(JSON.stringify(f === "vb" ? ENVELOPE_SCHEMA : INFERENCEBENCH_SCHEMA, null, 2));
  return 0;
}

const USAGE = `usage: vb <command> [options]
  run SUITE --model ID --engine NAME[@VERSION] --base-url URL --output DIR --key KEYFILE
            [--concurrency N [--ramp-up MS] | --rate R] [--num-requests N] [--duration S] [--seed N] [--dataset synthetic|FILE]
            [--api chat|completions] [--quant Q] [--revision REV] [--slo ttft=200,tpot=50,e2e=3000]
            [--warmup-runs 3] [--convergence-window 30] [--convergence-cv 0.05] [--convergence-timeout 60]
            [--launches N] [--max-tokens 128] [--commit-chain-id .. --commit-contract .. --commit-batch-id .. --commit-root ..]
  verify ENVELOPE [--trust-key PEM|KEYFILE|HEX]... [--trust-address 0x..]... [--sigstore-identity ID --sigstore-issuer URL] [--rpc-url URL] [--skip-traces] [--json]
  fetch SOURCE [--hf-endpoint URL] [--cache-dir DIR] [--refresh] [--output FILE] [--allow-private-network CIDR]...
  replay ENVELOPE --base-url URL --output DIR --key KEYFILE [--trust-key ..] [--no-verify] [--dataset FILE]
  diff BASELINE CANDIDATE [--tolerance 0.02] [--strict] [--json]
  sign ENVELOPE (--key KEYFILE | --eth-key-file FILE | --sigstore) [--output FILE]   add signatures (e.g. a prover's Ethereum key)
  keygen --out FILE
  schema [--format vb|inferencebench]`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run": return await cmdRun(rest);
      case "verify": return await cmdVerify(rest);
      case "fetch": return await cmdFetch(rest);
      case "replay": return await cmdReplay(rest);
      case "diff": return await cmdDiff(rest);
      case "keygen": return await cmdKeygen(rest);
      case "sign": return await cmdSign(rest);
      case "schema": return await cmdSchema(rest);
      case "_launch":
        await childLaunchMain(rest[0]!, Number(rest[1]), rest[2]!);
        return 0;
      case undefined:
      case "help":
      case "--help":
        console.log(USAGE);
        return command === undefined ? EXIT_USAGE : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError || err instanceof RunConfigError) {
      console.error(`error: ${err.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    console.error(`error: ${err.name}: ${err.message}`);
    return EXIT_FAILURE;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("/cli/vb.ts")) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
