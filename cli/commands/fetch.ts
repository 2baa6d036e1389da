/** `vb fetch SOURCE`: download (or read) an envelope, schema-check it and cache it. */
import { copyFileSync } from "node:fs";
import { fetchEnvelope } from "../../benchmark/fetch.ts";
import { command, parse, str } from "../common.ts";

export async function fetchMain(args: string[]): Promise<number> {
  const cmd = command("fetch", "fetch an envelope (hf://datasets/OWNER/REPO[/FILE], https://, file:// or a path), validate it and cache it")
    .argument("<source>", "where the envelope is")
    .option("--hf-endpoint <url>", "the Hugging Face endpoint (default: HF_ENDPOINT or huggingface.co)")
    .option("--cache-dir <dir>", "the cache folder (default: $XDG_CACHE_HOME/verifiable-benchmarks)")
    .option("--refresh", "download again even when cached")
    .option("--output <file>", "also copy the envelope here")
    .option("--json", "print the result as JSON")
    .option("--allow-private-network <cidr...>", "allow this loopback/private/link-local CIDR block (default: public addresses only; also VB_ALLOW_PRIVATE_NETWORKS, comma-separated)");
  const { opts: v, args: positionals } = parse(cmd, args);
  // The source is someone else's URL: non-public addresses only where named.
  const allowPrivateNetworks = [...((v.allowPrivateNetwork as string[] | undefined) ?? []), ...(process.env.VB_ALLOW_PRIVATE_NETWORKS ?? "").split(",")]
    .flatMap((c) => c.split(",")).map((c) => c.trim()).filter(Boolean);
  const r = await fetchEnvelope(positionals[0]!, { hfEndpoint: str(v.hfEndpoint), cacheDir: str(v.cacheDir), refresh: v.refresh === true, allowPrivateNetworks });
  const output = str(v.output);
  if (output) copyFileSync(r.path, output);
  if (v.json) console.log(JSON.stringify(r));
  else console.log(`fetched ${r.format} envelope (content hash ${r.contentHash})${r.fromCache ? " from cache" : ""}: ${output ?? r.path}\nschema: valid; run \`vb verify\` to check its signature`);
  return 0;
}
