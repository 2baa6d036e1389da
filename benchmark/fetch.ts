/**
 * `vb fetch SOURCE`: gets an envelope from the Hugging Face Hub (hf://datasets/OWNER/REPO[/FILE],
 * resolved as {endpoint}/datasets/OWNER/REPO/resolve/main/FILE, endpoint from --hf-endpoint,
 * HF_ENDPOINT or https://huggingface.co), an http(s) URL, a file:// URL or a path. Remote
 * envelopes are parsed and checked against their schema BEFORE they are stored in the cache
 * ($XDG_CACHE_HOME or ~/.cache, under verifiable-benchmarks/envelopes); nothing invalid is kept.
 * A source is somebody else's URL: it is fetched under the untrusted-URL policy
 * (runtime/untrusted-fetch.ts): http(s) only, public addresses only unless --allow-private-network
 * names a CIDR block, same-host redirects only, a streamed size limit and one deadline.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "../protocol/envelope/content-hash.ts";
import { contentHash } from "../protocol/envelope/content-hash.ts";
import { loadEnvelopeText } from "../protocol/envelope/verify.ts";
import type { EnvelopeFormat } from "../protocol/envelope/validate.ts";
import { redactUrl } from "../runtime/redact.ts";
import { DEFAULT_FETCH_POLICY, UntrustedFetcher, UntrustedFetchError } from "../runtime/untrusted-fetch.ts";

export class FetchError extends Error {
  override name = "FetchError";
  constructor(message: string, readonly source: string) {
    super(message);
  }
}

export interface FetchOptions {
  hfEndpoint?: string;
  cacheDir?: string;
  /** Refuse bodies larger than this (default 16 MiB). */
  maxBytes?: number;
  timeoutMs?: number;
  /** Download again even if cached. */
  refresh?: boolean;
  /** CIDR blocks of non-public addresses that may be fetched (a Hub mirror on the local network, tests on loopback). */
  allowPrivateNetworks?: readonly string[];
}

export type ResolvedSource = { kind: "remote"; url: string } | { kind: "local"; path: string };

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME && process.env.XDG_CACHE_HOME.startsWith("/") ? process.env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "verifiable-benchmarks");
}

const HF_PATH = /^hf:\/\/datasets\/([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)(?:\/(.+))?$/;

export function resolveSource(source: string, opts: FetchOptions = {}): ResolvedSource {
  if (source.startsWith("hf://")) {
    const m = HF_PATH.exec(source);
    if (!m) throw new FetchError(`not a Hub dataset reference: "${source}" (expected hf://datasets/OWNER/REPO[/FILE])`, source);
    const file = m[3] ?? "envelope.json";
    if (file.split("/").some((seg) => seg === ".." || seg === "")) throw new FetchError(`bad file path in "${source}"`, source);
    const endpoint = (opts.hfEndpoint ?? process.env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
    const encoded = file.split("/").map(encodeURIComponent).join("/");
    return { kind: "remote", url: `${endpoint}/datasets/${m[1]}/${m[2]}/resolve/main/${encoded}` };
  }
  if (source.startsWith("https://") || source.startsWith("http://")) return { kind: "remote", url: source };
  if (source.startsWith("file://")) return { kind: "local", path: fileURLToPath(source) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) throw new FetchError(`unsupported scheme in "${source}" (use hf://, https://, http://, file:// or a path)`, source);
  return { kind: "local", path: source };
}

async function download(url: string, opts: FetchOptions): Promise<Buffer> {
  const fetcher = new UntrustedFetcher({
    ...DEFAULT_FETCH_POLICY,
    allowPrivateNetworks: opts.allowPrivateNetworks ?? [],
    maxBytes: opts.maxBytes ?? 16 << 20,
    timeoutMs: opts.timeoutMs ?? 30_000,
    maxRedirects: 5,
  });
  const headers: Record<string, string> = { accept: "application/json" };
  // The token goes to the Hub endpoint only; redirects never leave its host.
  if (process.env.HF_TOKEN && url.includes("/resolve/")) headers.authorization = `Bearer ${process.env.HF_TOKEN}`;
  try {
    return (await fetcher.get(url, { headers, field: "source" })).body;
  } catch (error) {
    if (error instanceof UntrustedFetchError) {
      const shown = redactUrl(url);
      const message = error.kind === "status" ? `GET ${shown} answered HTTP ${error.status}`
        : error.kind === "too-large" ? `${shown} is larger than ${fetcher.policy.maxBytes} bytes`
        : error.message.replace(/^source: /, "");
      throw new FetchError(message, shown);
    }
    throw error;
  }
}

export interface FetchResult {
  path: string;
  format: EnvelopeFormat;
  contentHash: string;
  fromCache: boolean;
  url?: string;
}

/** Fetches, validates and caches an envelope; throws FetchError, MalformedJsonError or SchemaValidationError. */
export async function fetchEnvelope(source: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const resolved = resolveSource(source, opts);
  if (resolved.kind === "local") {
    if (!existsSync(resolved.path)) throw new FetchError(`no such file: ${resolved.path}`, source);
    const loaded = loadEnvelopeText(readFileSync(resolved.path, "utf8"));
    return { path: resolved.path, format: loaded.format, contentHash: contentHash(loaded.lossless), fromCache: false };
  }
  const dir = join(opts.cacheDir ?? defaultCacheDir(), "envelopes");
  const name = `${sha256Hex(resolved.url).slice(0, 16)}-${basename(new URL(resolved.url).pathname) || "envelope.json"}`;
  const cached = join(dir, name);
  if (!opts.refresh && existsSync(cached)) {
    const loaded = loadEnvelopeText(readFileSync(cached, "utf8"));
    return { path: cached, format: loaded.format, contentHash: contentHash(loaded.lossless), fromCache: true, url: resolved.url };
  }
  const body = await download(resolved.url, opts);
  // Validate first: an envelope that does not parse or match its schema never reaches the cache.
  const loaded = loadEnvelopeText(body.toString("utf8"));
  mkdirSync(dir, { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  writeFileSync(tmp, body);
  renameSync(tmp, cached);
  return { path: cached, format: loaded.format, contentHash: contentHash(loaded.lossless), fromCache: false, url: resolved.url };
}
