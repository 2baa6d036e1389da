/**
 * OpenAI-style client authentication for the inference routes: `Authorization: Bearer <key>`,
 * keys from a keys file or the environment, and per-key limits, so that nobody can fill the
 * engine queue for everyone else.
 *
 *   - a missing or unknown key: 401 invalid_api_key (the key is never echoed or logged);
 *   - more requests in flight than the key's maxConcurrent: 429 concurrency_limit_exceeded;
 *   - more than requestsPerMinute (a token bucket, bursts up to a minute's worth): 429
 *     rate_limit_exceeded; both with Retry-After in seconds.
 *
 * The data endpoint (batches, leaves, records) and /health stay public: operators and anyone
 * verifying a batch read them without an account.
 *
 * Keys file (JSON, mode 0600, refused otherwise):
 *   { "keys": [ { "name": "team-a", "key": "sk-...", "maxConcurrent": 4, "requestsPerMinute": 120 },
 *               { "name": "team-b", "sha256": "<hex of sha256(key)>" } ] }
 * A key may be stored as its sha256 so that the file does not hold it. Lookups hash the
 * presented key and compare digests in constant time.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { FastifyReply, FastifyRequest } from "fastify";
import { FieldError } from "../../protocol/errors.ts";
import { registerSecret } from "../../runtime/redact.ts";
import { ApiError } from "./errors.ts";

export class ApiKeyConfigError extends FieldError {
  override name = "ApiKeyConfigError";
}

export interface KeyLimits {
  maxConcurrent: number;
  requestsPerMinute: number;
}

export interface ApiKeyEntry extends KeyLimits {
  name: string;
  /** sha256 of the key, 32 bytes. */
  digest: Buffer;
}

/** Shortest key accepted: anything shorter can be guessed. */
export const MIN_KEY_LENGTH = 16;

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

function checkLimits(value: unknown, field: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) throw new ApiKeyConfigError(`${field} must be an integer in 1..${max}, got ${JSON.stringify(value)}`, field);
  return value;
}

/** The keys a prover accepts, with each key's limits. */
export class ApiKeys {
  private constructor(readonly entries: readonly ApiKeyEntry[]) {}

  /** Keys given directly (PROVER_API_KEYS: comma-separated), named key-1, key-2, ... */
  static fromList(keys: readonly string[], defaults: KeyLimits, field = "auth.keys"): ApiKeys {
    return new ApiKeys(keys.map((key, i) => {
      if (key.length < MIN_KEY_LENGTH) throw new ApiKeyConfigError(`${field}[${i}] is ${key.length} characters; an API key needs at least ${MIN_KEY_LENGTH}`, `${field}[${i}]`);
      registerSecret(key);
      return { name: `key-${i + 1}`, digest: sha256(key), ...defaults };
    }));
  }

  /** Reads a keys file (see the module comment); refuses one that group or others can read. */
  static fromFile(path: string, defaults: KeyLimits, field = "auth.keysFile"): ApiKeys {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) throw new ApiKeyConfigError(`${field}: ${path} does not exist`, field);
    if ((stat.mode & 0o077) !== 0) throw new ApiKeyConfigError(`${field}: ${path} is readable or writable by group or others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`, field);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (error) {
      throw new ApiKeyConfigError(`${field}: ${path} is not JSON (${(error as Error).message})`, field);
    }
    const list = (parsed as { keys?: unknown })?.keys;
    if (!Array.isArray(list) || list.length === 0) throw new ApiKeyConfigError(`${field}: ${path} must hold {"keys": [...]} with at least one key`, field);
    const names = new Set<string>();
    return new ApiKeys(list.map((item, i) => {
      const at = `${field}.keys[${i}]`;
      if (typeof item !== "object" || item === null) throw new ApiKeyConfigError(`${at} must be an object`, at);
      const { name, key, sha256: hex, maxConcurrent, requestsPerMinute, ...extra } = item as Record<string, unknown>;
      const unknown = Object.keys(extra)[0];
      if (unknown !== undefined) throw new ApiKeyConfigError(`${at}.${unknown} is not a field of a key`, `${at}.${unknown}`);
      if (typeof name !== "string" || !/^[\w.-]{1,64}$/.test(name)) throw new ApiKeyConfigError(`${at}.name must be 1..64 letters, digits, _ . -`, `${at}.name`);
      if (names.has(name)) throw new ApiKeyConfigError(`${at}.name ${name} appears twice`, `${at}.name`);
      names.add(name);
      let digest: Buffer;
      if (typeof key === "string" && hex === undefined) {
        if (key.length < MIN_KEY_LENGTH) throw new ApiKeyConfigError(`${at}.key is ${key.length} characters; an API key needs at least ${MIN_KEY_LENGTH}`, `${at}.key`);
        registerSecret(key);
        digest = sha256(key);
      } else if (typeof hex === "string" && key === undefined && /^[0-9a-fA-F]{64}$/.test(hex)) {
        digest = Buffer.from(hex, "hex");
      } else {
        throw new ApiKeyConfigError(`${at} needs "key" (at least ${MIN_KEY_LENGTH} characters) or "sha256" (64 hex digits), not both`, at);
      }
      return {
        name,
        digest,
        maxConcurrent: checkLimits(maxConcurrent, `${at}.maxConcurrent`, defaults.maxConcurrent, 10_000),
        requestsPerMinute: checkLimits(requestsPerMinute, `${at}.requestsPerMinute`, defaults.requestsPerMinute, 10_000_000),
      };
    }));
  }

  /** One set from several (a keys file and PROVER_API_KEYS); names stay unique. */
  static merge(sets: readonly ApiKeys[]): ApiKeys {
    const entries: ApiKeyEntry[] = [];
    for (const set of sets) for (const entry of set.entries) entries.push(entries.some((e) => e.name === entry.name) ? { ...entry, name: `${entry.name}-${entries.length + 1}` } : entry);
    return new ApiKeys(entries);
  }

  /** The entry for a presented key, or undefined; every entry is compared (no early exit). */
  lookup(presented: string): ApiKeyEntry | undefined {
    const digest = sha256(presented);
    let found: ApiKeyEntry | undefined;
    for (const entry of this.entries) if (timingSafeEqual(entry.digest, digest) && !found) found = entry;
    return found;
  }
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  inFlight: number;
}

function unauthorized(message: string, code: string): ApiError {
  return new ApiError(401, message, "invalid_request_error", null, code, { "www-authenticate": 'Bearer realm="verifiable-benchmarks prover"' });
}

/** The onRequest hook of the authenticated routes: who is calling, and may they now. */
export class ApiKeyGuard {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly keys: ApiKeys,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws ApiError 401 / 429; on success the request holds a concurrency slot until its response closes. */
  admit(request: FastifyRequest, reply: FastifyReply): void {
    const header = request.headers.authorization;
    if (header === undefined || header === "") {
      throw unauthorized("You didn't provide an API key. Provide it in an Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY).", "missing_api_key");
    }
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(Array.isArray(header) ? header[0]! : header);
    const entry = match ? this.keys.lookup(match[1]!) : undefined;
    if (!entry) throw unauthorized("Incorrect API key provided.", "invalid_api_key");
    const bucket = this.bucket(entry);
    if (bucket.inFlight >= entry.maxConcurrent) {
      throw new ApiError(429, `Too many concurrent requests for key ${entry.name}: at most ${entry.maxConcurrent} in flight. Retry when one completes.`, "rate_limit_error", null, "concurrency_limit_exceeded", { "retry-after": "1" });
    }
    if (bucket.tokens < 1) {
      const perMs = entry.requestsPerMinute / 60_000;
      const waitS = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      throw new ApiError(429, `Rate limit reached for key ${entry.name}: ${entry.requestsPerMinute} requests per minute. Retry in ${waitS} s.`, "rate_limit_error", null, "rate_limit_exceeded", { "retry-after": String(waitS) });
    }
    bucket.tokens -= 1;
    bucket.inFlight += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      bucket.inFlight -= 1;
    };
    // "close" comes after the last byte or when the client goes away, streamed (hijacked) replies included.
    reply.raw.once("close", release);
    (request as FastifyRequest & { apiKeyName?: string }).apiKeyName = entry.name;
  }

  private bucket(entry: ApiKeyEntry): Bucket {
    const now = this.now();
    let bucket = this.buckets.get(entry.name);
    if (!bucket) {
      bucket = { tokens: entry.requestsPerMinute, updatedAt: now, inFlight: 0 };
      this.buckets.set(entry.name, bucket);
    }
    bucket.tokens = Math.min(entry.requestsPerMinute, bucket.tokens + ((now - bucket.updatedAt) * entry.requestsPerMinute) / 60_000);
    bucket.updatedAt = now;
    return bucket;
  }
}
