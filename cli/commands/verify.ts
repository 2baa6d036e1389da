/** `vb verify ENVELOPE`: schema, content hash, signatures, trust, traces, and with --rpc-url the chain link. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { checkChainLinkOfEnvelope } from "../../benchmark/verify-chain.ts";
import { EnvelopeError, VerificationError } from "../../protocol/envelope/errors.ts";
import { isVbFormat } from "../../protocol/envelope/validate.ts";
import { loadEnvelopeText, readSignedTraces, verifyEnvelopeText } from "../../protocol/envelope/verify.ts";
import { addTrustOptions, command, EXIT_FAILURE, EXIT_UNVERIFIED, httpUrl, num, parse, trustAnchors, UsageError } from "../common.ts";

export function verifyCommand(): Command {
  const cmd = command("verify", "check an envelope: schema, content hash, signatures, trust, its traces, and (--rpc-url) that its responses are proven leaves of attested batches")
    .argument("<envelope>", "envelope.json (vb.envelope/1 or /2) or an InferenceBench v1 envelope")
    .option("--rpc-url <url>", "check the envelope's batch commitment on this chain")
    .option("--sample <n>", "with --rpc-url: how many traced responses to check as proven leaves", "16")
    .option("--sample-seed <n>", "with --rpc-url: the sample's seed (default: from the content hash)")
    .option("--all", "with --rpc-url: check every traced response, not a sample")
    .option("--data-url <url>", "with --rpc-url: fetch leaves from this origin instead of the batches' on-chain data URIs")
    .option("--allow-private-network <cidr...>", "with --rpc-url: an on-chain data URI may point at this loopback/private CIDR block (default: public addresses only; also VB_ALLOW_PRIVATE_NETWORKS)")
    .option("--skip-traces", "do not check the traces file next to the envelope")
    .option("--json", "print the report as JSON");
  return addTrustOptions(cmd);
}

export async function verifyMain(args: string[]): Promise<number> {
  const { opts: v, args: positionals } = parse(verifyCommand(), args);
  const trust = trustAnchors(v);
  const rpcUrl = httpUrl(v.rpcUrl, "--rpc-url");
  const dataUrl = httpUrl(v.dataUrl, "--data-url");
  const sample = num(v.sample, "--sample", 16);
  if (!Number.isInteger(sample) || sample < 1) throw new UsageError(`--sample must be a positive integer, got ${sample}`);
  const sampleSeed = v.sampleSeed === undefined ? undefined : num(v.sampleSeed, "--sample-seed", 0);
  if (rpcUrl === undefined && (v.all || v.dataUrl !== undefined || v.sampleSeed !== undefined)) throw new UsageError("--all, --sample-seed and --data-url go with --rpc-url");
  if (rpcUrl !== undefined && v.skipTraces) throw new UsageError("--rpc-url checks the traced responses; it does not go with --skip-traces");
  const file = positionals[0]!;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new EnvelopeError(`cannot read ${file}: ${(e as Error).message}`, file);
  }
  try {
    const report = await verifyEnvelopeText(text, trust);
    const plain = isVbFormat(report.format) ? loadEnvelopeText(text).plain : undefined;
    // The traces file travels next to the envelope; when it is there it must be the signed one.
    const folder = dirname(file);
    const read = (name: string) => {
      const path = join(folder, name);
      return existsSync(path) ? readFileSync(path) : null;
    };
    const traces = plain && v.skipTraces !== true ? readSignedTraces(plain, read) : null;
    if (traces) report.checks.splice(report.checks.length - 1, 0, traces.check);
    if (rpcUrl !== undefined) {
      if (!plain?.commitment) throw new VerificationError("commitment", "--rpc-url was given, but the envelope commits to no on-chain batch");
      const onChain = await checkChainLinkOfEnvelope(plain, traces?.lines ?? null, rpcUrl, report.contentHash, { sample, all: v.all === true, seed: sampleSeed, dataUrl, allowPrivateNetworks: privateNetworks(v.allowPrivateNetwork) });
      report.checks.splice(report.checks.length - 1, 0, onChain);
      if (onChain.result !== "pass") report.status = "unverified";
    }
    if (v.json) console.log(JSON.stringify(report));
    else {
      for (const c of report.checks) console.log(`${c.result === "pass" ? "PASS      " : "UNVERIFIED"}  ${c.check}: ${c.detail}`);
      const why = report.checks.find((c) => c.check === "commitment" && c.result !== "pass")
        ? "the commitment is not confirmed (see its line)"
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

/** --allow-private-network values and VB_ALLOW_PRIVATE_NETWORKS, comma lists allowed. */
function privateNetworks(flag: unknown): string[] {
  return [...((flag as string[] | undefined) ?? []), ...(process.env.VB_ALLOW_PRIVATE_NETWORKS ?? "").split(",")]
    .flatMap((c) => c.split(",")).map((c) => c.trim()).filter(Boolean);
}
