/**
 * The content hash of an envelope: sha256 (lower-case hex) of the canonical JSON of the envelope
 * with its "signature" member removed. The same rule holds for vb.envelope/1 and InferenceBench
 * v1, so the signature block can be added, replaced or extended without changing what was signed.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json.ts";
import { EnvelopeError } from "./errors.ts";
import type { JsonValue } from "./lossless-json.ts";

/** The member that holds signatures and is left out of the hash. */
export const SIGNATURE_FIELD = "signature";

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The envelope without its signature block (a shallow copy; the input is not changed). */
export function withoutSignature(envelope: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(envelope)) {
    if (k !== SIGNATURE_FIELD) Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/** The exact text that is hashed. */
export function contentHashPreimage(envelope: JsonValue | Record<string, unknown>): string {
  if (envelope === null || typeof envelope !== "object" || Array.isArray(envelope)) {
    throw new EnvelopeError("an envelope must be a JSON object", "/");
  }
  return canonicalJson(withoutSignature(envelope as Record<string, unknown>));
}

export function contentHash(envelope: JsonValue | Record<string, unknown>): string {
  return sha256Hex(contentHashPreimage(envelope));
}

/** sha256 of the canonical JSON of a hardware fingerprint without its own "sha256" member. */
export function fingerprintDigest(fingerprint: Record<string, unknown>): string {
  const { sha256: _s, ...body } = fingerprint;
  return sha256Hex(canonicalJson(body));
}
