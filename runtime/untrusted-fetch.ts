/**
 * Fetching a URL that someone else chose: a batch's data URI a prover put on chain (the
 * operator), an envelope source (`vb fetch`). The policy:
 *   - http: and https: only;
 *   - the host is resolved first and EVERY address it resolves to is checked: loopback,
 *     private (RFC 1918, unique-local), link-local, carrier-grade NAT, multicast, unspecified and
 *     reserved ranges are refused unless a configured CIDR allows them (the local network allows
 *     127.0.0.1/32); the connection then goes to the checked address, so a second DNS answer
 *     cannot swap it (rebinding);
 *   - redirects only to the same scheme, host and port, at most `maxRedirects`;
 *   - the body is streamed and counted, and refused as soon as it passes `maxBytes`
 *     (Content-Length is believed only when it already says too much);
 *   - one deadline (`timeoutMs`) covers resolution, connection, headers and the whole body, so
 *     a server that drips bytes cannot hold a fetch open.
 * Every refusal is an UntrustedFetchError naming its kind; no URL credential appears in it.
 */
import { lookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { FieldError } from "../protocol/errors.ts";
import { redactUrl } from "./redact.ts";

export type FetchRefusal = "url" | "scheme" | "address" | "dns" | "redirect" | "status" | "too-large" | "timeout" | "network" | "json";

export class UntrustedFetchError extends FieldError {
  override name = "UntrustedFetchError";
  constructor(
    message: string,
    field: string,
    /** Which rule refused the fetch. */
    readonly kind: FetchRefusal,
    /** HTTP status, for kind "status". */
    readonly status?: number,
  ) {
    super(message, field);
  }
}

export interface FetchPolicy {
  /** CIDR blocks ("127.0.0.1/32", "10.0.0.0/8", "::1/128") that may be fetched although they are not public. */
  allowPrivateNetworks: readonly string[];
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** Deadline of the whole fetch (resolution, connection, headers, body). */
  timeoutMs: number;
  /** Same-host redirects followed (0: none). */
  maxRedirects: number;
}

export const DEFAULT_FETCH_POLICY: Readonly<FetchPolicy> = Object.freeze({ allowPrivateNetworks: [], maxBytes: 16 << 20, timeoutMs: 30_000, maxRedirects: 3 });

/** Ranges that are not the public internet (IANA special-purpose registries), IPv4 then IPv6. */
const NOT_PUBLIC: readonly [string, number, "ipv4" | "ipv6"][] = [
  ["0.0.0.0", 8, "ipv4"], ["10.0.0.0", 8, "ipv4"], ["100.64.0.0", 10, "ipv4"], ["127.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"], ["172.16.0.0", 12, "ipv4"], ["192.0.0.0", 24, "ipv4"], ["192.0.2.0", 24, "ipv4"],
  ["192.88.99.0", 24, "ipv4"], ["192.168.0.0", 16, "ipv4"], ["198.18.0.0", 15, "ipv4"], ["198.51.100.0", 24, "ipv4"],
  ["203.0.113.0", 24, "ipv4"], ["224.0.0.0", 4, "ipv4"], ["240.0.0.0", 4, "ipv4"],
  ["::", 128, "ipv6"], ["::1", 128, "ipv6"], ["64:ff9b::", 96, "ipv6"], ["64:ff9b:1::", 48, "ipv6"], ["100::", 64, "ipv6"],
  ["2001::", 23, "ipv6"], ["2001:db8::", 32, "ipv6"], ["2002::", 16, "ipv6"], ["fc00::", 7, "ipv6"], ["fe80::", 10, "ipv6"], ["ff00::", 8, "ipv6"],
];

const notPublic = new BlockList();
for (const [address, prefix, family] of NOT_PUBLIC) notPublic.addSubnet(address, prefix, family);

/** Parses "a.b.c.d/n" or "x::y/n" (a bare address is a /32 or /128); throws on anything else. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } {
  const [address = "", bits] = cidr.trim().split("/");
  const version = isIP(address);
  if (version === 0) throw new UntrustedFetchError(`"${cidr}" is not an IP address or CIDR block`, "allowPrivateNetworks", "url");
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
    throw new UntrustedFetchError(`"${cidr}" has a bad prefix length (0..${max})`, "allowPrivateNetworks", "url");
  }
  return { address, prefix, family: version === 4 ? "ipv4" : "ipv6" };
}

/** A BlockList holding the given CIDR blocks (throws UntrustedFetchError on a malformed one). */
export function cidrList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const { address, prefix, family } = parseCidr(cidr);
    list.addSubnet(address, prefix, family);
  }
  return list;
}

/** Why `address` may not be fetched under the allow list, or undefined when it may. */
export function addressRefusal(address: string, allowed: BlockList): string | undefined {
  const version = isIP(address);
  if (version === 0) return `${address} is not an IP address`;
  const family = version === 4 ? "ipv4" : "ipv6";
  if (!notPublic.check(address, family)) return undefined;
  if (allowed.check(address, family)) return undefined;
  return `${address} is a loopback, private, link-local or reserved address (not allowed by the fetch policy)`;
}

export interface UntrustedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The URL the body came from (after same-host redirects). */
  url: string;
}

export interface UntrustedRequest {
  headers?: Record<string, string>;
  /** Names the input in errors, e.g. "dataURI" (default "url"). */
  field?: string;
  /** Extra cancellation (the node stopping). */
  signal?: AbortSignal;
}

/** A fetcher bound to one policy (the allow list is parsed once). */
export class UntrustedFetcher {
  private readonly allowed: BlockList;

  constructor(readonly policy: FetchPolicy) {
    this.allowed = cidrList(policy.allowPrivateNetworks);
    if (!(policy.maxBytes > 0) || !(policy.timeoutMs > 0) || !(policy.maxRedirects >= 0)) {
      throw new UntrustedFetchError("fetch policy: maxBytes and timeoutMs must be positive, maxRedirects >= 0", "fetchPolicy", "url");
    }
  }

  /** GET under the policy; resolves on status 200 only (others: UntrustedFetchError kind "status"). */
  async get(url: string, request: UntrustedRequest = {}): Promise<UntrustedResponse> {
    const field = request.field ?? "url";
    const deadline = AbortSignal.timeout(this.policy.timeoutMs);
    const signal = request.signal ? AbortSignal.any([deadline, request.signal]) : deadline;
    let current = parseUrl(url, field);
    for (let redirects = 0; ; redirects++) {
      const response = await this.once(current, request.headers ?? {}, field, signal);
      if (response.redirect === undefined) return { status: response.status, headers: response.headers, body: response.body!, url: current.href };
      const next = parseUrl(new URL(response.redirect, current).href, field);
      if (next.protocol !== current.protocol || next.host !== current.host) {
        throw new UntrustedFetchError(`${field}: ${redactUrl(current.href)} redirects to another host or scheme (${redactUrl(next.href)}); the fetch policy follows same-host redirects only`, field, "redirect");
      }
      if (redirects >= this.policy.maxRedirects) throw new UntrustedFetchError(`${field}: more than ${this.policy.maxRedirects} redirects from ${redactUrl(url)}`, field, "redirect");
      current = next;
    }
  }

  /** get() and JSON.parse of the body (kind "json" when it does not parse). */
  async getJson(url: string, request: UntrustedRequest = {}): Promise<unknown> {
    const field = request.field ?? "url";
    const response = await this.get(url, { ...request, headers: { accept: "application/json", ...request.headers } });
    try {
      return JSON.parse(response.body.toString("utf8"));
    } catch (error) {
      throw new UntrustedFetchError(`${field}: ${redactUrl(response.url)} did not answer JSON (${(error as Error).message})`, field, "json");
    }
  }

  /** Resolves and checks the host: the address to connect to. */
  private async resolve(target: URL, field: string): Promise<{ address: string; family: 4 | 6 }> {
    const host = target.hostname.replace(/^\[|\]$/g, "");
    let addresses: { address: string; family: number }[];
    if (isIP(host)) {
      addresses = [{ address: host, family: isIP(host) }];
    } else {
      try {
        addresses = await lookup(host, { all: true, verbatim: true });
      } catch (error) {
        throw new UntrustedFetchError(`${field}: cannot resolve ${host} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, field, "dns");
      }
    }
    if (addresses.length === 0) throw new UntrustedFetchError(`${field}: ${host} resolves to no address`, field, "dns");
    for (const { address } of addresses) {
      const refusal = addressRefusal(address, this.allowed);
      if (refusal) throw new UntrustedFetchError(`${field}: ${host} -> ${refusal}`, field, "address");
    }
    return { address: addresses[0]!.address, family: addresses[0]!.family === 6 ? 6 : 4 };
  }

  private async once(target: URL, headers: Record<string, string>, field: string, signal: AbortSignal): Promise<{ status: number; headers: http.IncomingHttpHeaders; body?: Buffer; redirect?: string }> {
    const shown = redactUrl(target.href);
    if (signal.aborted) throw timeout(field, shown, this.policy.timeoutMs);
    const pinned = await this.resolve(target, field);
    // The connection goes to the address just checked, whatever a second DNS answer would say.
    const pinnedLookup: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
      else callback(null, pinned.address, pinned.family);
    };
    const transport = target.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(error);
      };
      const onAbort = () => fail(timeout(field, shown, this.policy.timeoutMs));
      signal.addEventListener("abort", onAbort, { once: true });
      const req = transport.request(target, { method: "GET", headers: { "user-agent": "verifiable-benchmarks", ...headers }, lookup: pinnedLookup, agent: false }, (res) => {
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && typeof res.headers.location === "string") {
          res.resume();
          settled = true;
          signal.removeEventListener("abort", onAbort);
          return resolve({ status, headers: res.headers, redirect: res.headers.location });
        }
        if (status !== 200) {
          res.resume();
          return fail(new UntrustedFetchError(`${field}: GET ${shown} answered HTTP ${status}`, field, "status", status));
        }
        const declared = Number(res.headers["content-length"]);
        if (Number.isFinite(declared) && declared > this.policy.maxBytes) {
          return fail(new UntrustedFetchError(`${field}: ${shown} declares ${declared} bytes; the limit is ${this.policy.maxBytes}`, field, "too-large"));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.policy.maxBytes) return fail(new UntrustedFetchError(`${field}: ${shown} is larger than ${this.policy.maxBytes} bytes`, field, "too-large"));
          chunks.push(chunk);
        });
        res.on("end", () => {
          if (settled) return;
          settled = true;
          signal.removeEventListener("abort", onAbort);
          resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on("error", (error) => fail(new UntrustedFetchError(`${field}: reading ${shown}: ${error.message}`, field, "network")));
      });
      req.on("error", (error) => fail(error instanceof UntrustedFetchError ? error : new UntrustedFetchError(`${field}: GET ${shown} failed: ${(error as NodeJS.ErrnoException).code ?? error.message}`, field, "network")));
      req.end();
    });
  }
}

function timeout(field: string, shown: string, ms: number): UntrustedFetchError {
  return new UntrustedFetchError(`${field}: ${shown} did not answer in full within ${ms} ms`, field, "timeout");
}

function parseUrl(text: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UntrustedFetchError(`${field}: not a URL: ${JSON.stringify(redactUrl(String(text)).slice(0, 200))}`, field, "url");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UntrustedFetchError(`${field}: scheme ${url.protocol} is not allowed (http and https only)`, field, "scheme");
  }
  return url;
}
