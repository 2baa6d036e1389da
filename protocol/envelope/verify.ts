/**
 * Signing and verification of envelopes (vb.envelope/1 and InferenceBench v1).
 *
 * Verification is all-or-nothing: every check either passes or throws a VerificationError that
 * names the check and shows the stored and recomputed values. There is no warnings-only mode.
 * The result's status is "verified" only when a signature checked out against a key, address or
 * Sigstore identity the CALLER trusts; a signature that is merely consistent with a key the
 * envelope carries itself proves nothing about who made it, so that result is "unverified".
 */
import { readFileSync } from "node:fs";
import { prettyJson } from "./canonical-json.ts";
import { contentHash, fingerprintDigest, sha256Hex } from "./content-hash.ts";
import { parsePublicKey, publicKeyToPem, signHash, verifyHash, type Ed25519KeyPair } from "./ed25519.ts";
import { EnvelopeError, MalformedJsonError, SchemaValidationError, VerificationError } from "./errors.ts";
import { normalizeAddress, recoverEip191, signHashEip191 } from "./ethereum.ts";
import { parseLossless, toPlain, type JsonValue } from "./lossless-json.ts";
import type { Signer, VbEnvelope } from "./schema.ts";
import { parseTraces, TraceFormatError, TRACES_FORMAT, type TraceLine } from "./traces.ts";
import { signSigstore, verifySigstoreBundle, type SigstoreSigning, type SigstoreTrust } from "./sigstore.ts";
import { isVbFormat, validateAnyEnvelope, type EnvelopeFormat } from "./validate.ts";
import type { Hex } from "viem";

/** A parsed envelope: the lossless tree (for hashing) and a plain copy (for reading). */
export interface LoadedEnvelope {
  format: EnvelopeFormat;
  lossless: JsonValue;
  plain: Record<string, unknown>;
}

/** Parses and schema-checks envelope text. Throws MalformedJsonError or SchemaValidationError. */
export function loadEnvelopeText(text: string): LoadedEnvelope {
  const lossless = parseLossless(text);
  const plain = toPlain(lossless) as Record<string, unknown>;
  const format = validateAnyEnvelope(plain);
  return { format, lossless, plain };
}

export function loadEnvelopeFile(path: string): LoadedEnvelope {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new EnvelopeError(`cannot read envelope ${path}: ${(e as Error).message}`, path);
  }
  return loadEnvelopeText(text);
}

export interface SigningKeys {
  ed25519?: Ed25519KeyPair;
  ethereumPrivateKey?: Hex;
  /** Sign with Sigstore too (needs an identity token and the network): true takes everything from the environment. */
  sigstore?: boolean | SigstoreSigning;
}

async function makeSigners(hash: string, keys: SigningKeys): Promise<Signer[]> {
  const signers: Signer[] = [];
  if (keys.ed25519) signers.push({ scheme: "ed25519", public_key: publicKeyToPem(keys.ed25519.publicKey), signature: signHash(hash, keys.ed25519.secretKey) });
  if (keys.ethereumPrivateKey) {
    const { address, signature } = await signHashEip191(hash, keys.ethereumPrivateKey);
    signers.push({ scheme: "eip191", address, signature });
  }
  if (keys.sigstore) {
    const bundle = await signSigstore(hash, keys.sigstore === true ? {} : keys.sigstore);
    signers.push({ scheme: "sigstore", bundle: bundle as unknown as Record<string, unknown> });
  }
  if (signers.length === 0) throw new EnvelopeError("no signing key given (need an ed25519 key file, an Ethereum key or Sigstore)", "signature");
  return signers;
}

/** Returns a copy of the envelope with a fresh signature block over its content hash. */
export async function signEnvelope(envelope: VbEnvelope, keys: SigningKeys): Promise<VbEnvelope> {
  const { signature: _old, ...unsigned } = envelope;
  const hash = contentHash(unsigned as Record<string, unknown>);
  return { ...(unsigned as VbEnvelope), signature: { content_hash: hash, signers: await makeSigners(hash, keys) } };
}

/**
 * Adds signatures to a signed vb.envelope/1 (a prover co-signing with its Ethereum key, say),
 * working on the lossless tree so no number changes form. Refuses an envelope whose stored
 * content hash does not match its content: co-signing must not bless an edited envelope.
 */
export async function cosignEnvelopeText(text: string, keys: SigningKeys): Promise<string> {
  const loaded = loadEnvelopeText(text);
  if (!isVbFormat(loaded.format)) throw new EnvelopeError(`only vb.envelope envelopes can be co-signed, this is ${loaded.format}`, "envelope_version");
  const tree = loaded.lossless as Record<string, JsonValue>;
  const block = tree.signature as Record<string, JsonValue> | undefined;
  const hash = contentHash(tree);
  if (block && block.content_hash !== hash) throw new VerificationError("content_hash", "refusing to co-sign: the stored content hash differs from the envelope's content", String(block.content_hash), hash);
  const existing = (block?.signers as JsonValue[] | undefined) ?? [];
  const added = (await makeSigners(hash, keys)) as unknown as JsonValue[];
  return prettyJson({ ...tree, signature: { content_hash: hash, signers: [...existing, ...added] } });
}

export interface TrustAnchors {
  /** Trusted ed25519 public keys (PEM or hex). */
  ed25519?: string[];
  /** Trusted Ethereum addresses. */
  addresses?: string[];
  /** Sigstore identity/issuer (and optionally another trusted root). */
  sigstore?: SigstoreTrust;
}

export interface CheckResult {
  check: string;
  result: "pass" | "unverified";
  detail: string;
}

export interface VerifyReport {
  format: EnvelopeFormat;
  status: "verified" | "unverified";
  contentHash: string;
  checks: CheckResult[];
  /** Who signed, as "ed25519:<pem base64 tail>", "eip191:0x...", "sigstore:<identity>". */
  trustedSigners: string[];
}

/** Verifies envelope text against the caller's trust anchors. Throws VerificationError. */
export async function verifyEnvelopeText(text: string, trust: TrustAnchors = {}): Promise<VerifyReport> {
  let loaded: LoadedEnvelope;
  try {
    loaded = loadEnvelopeText(text);
  } catch (e) {
    if (e instanceof MalformedJsonError) throw new VerificationError("parse", e.message);
    if (e instanceof SchemaValidationError) throw new VerificationError("schema", e.message);
    throw e;
  }
  return verifyLoaded(loaded, trust);
}

export async function verifyLoaded(loaded: LoadedEnvelope, trust: TrustAnchors = {}): Promise<VerifyReport> {
  const checks: CheckResult[] = [{ check: "schema", result: "pass", detail: `valid ${loaded.format}` }];
  const recomputed = contentHash(loaded.lossless);
  const trustedKeys = new Set((trust.ed25519 ?? []).map((k) => Buffer.from(parsePublicKey(k)).toString("hex")));
  const trustedAddresses = new Set((trust.addresses ?? []).map((a) => normalizeAddress(a)));
  const anchorsGiven = trustedKeys.size + trustedAddresses.size > 0 || trust.sigstore?.identity !== undefined || trust.sigstore?.publicKeys !== undefined;
  const trustedSigners: string[] = [];
  const presented: string[] = [];

  const sig = loaded.plain.signature as Record<string, unknown> | null | undefined;
  if (sig === undefined || sig === null) throw new VerificationError("signature", "the envelope carries no signature block", "(none)", recomputed);

  if (isVbFormat(loaded.format)) {
    const stored = String(sig.content_hash);
    if (stored !== recomputed) throw new VerificationError("content_hash", "the stored content hash differs from the hash of the envelope's content", stored, recomputed);
    checks.push({ check: "content_hash", result: "pass", detail: recomputed });
    // The fingerprint's own hash is what diff compares: it must match the parts it summarizes.
    const fp = loaded.plain.hardware_fingerprint as Record<string, unknown>;
    const fpHash = fingerprintDigest(fp);
    if (fp.sha256 !== fpHash) throw new VerificationError("hardware_fingerprint", "hardware_fingerprint.sha256 does not match the fingerprint's contents", String(fp.sha256), fpHash);
    checks.push({ check: "hardware_fingerprint", result: "pass", detail: fpHash });
    const signers = sig.signers as Signer[];
    for (let i = 0; i < signers.length; i++) {
      const s = signers[i]!;
      const name = `signature[${i}]`;
      if (s.scheme === "ed25519") {
        const key = parsePublicKey(s.public_key);
        if (!verifyHash(recomputed, s.signature, key)) throw new VerificationError(name, "ed25519 signature does not verify over the content hash with the key it names", s.signature, recomputed);
        const hex = Buffer.from(key).toString("hex");
        presented.push(`ed25519:${hex}`);
        if (trustedKeys.has(hex)) trustedSigners.push(`ed25519:${hex}`);
        checks.push({ check: name, result: trustedKeys.has(hex) ? "pass" : "unverified", detail: `ed25519 key ${hex}${trustedKeys.has(hex) ? " (trusted)" : " (carried by the envelope, not trusted)"}` });
      } else if (s.scheme === "eip191") {
        const recovered = await recoverEip191(recomputed, s.signature);
        const claimed = normalizeAddress(s.address);
        if (recovered === null || recovered !== claimed) throw new VerificationError(name, "EIP-191 signature does not recover to the address it names", claimed, recovered ?? "(unrecoverable signature)");
        presented.push(`eip191:${claimed}`);
        if (trustedAddresses.has(claimed)) trustedSigners.push(`eip191:${claimed}`);
        checks.push({ check: name, result: trustedAddresses.has(claimed) ? "pass" : "unverified", detail: `Ethereum address ${claimed}${trustedAddresses.has(claimed) ? " (trusted)" : " (not trusted)"}` });
      } else if (s.scheme === "sigstore") {
        const keyless = !("publicKey" in ((s.bundle.verificationMaterial as Record<string, unknown> | undefined) ?? {}));
        if (keyless && (!trust.sigstore?.identity || !trust.sigstore.issuer)) {
          presented.push("sigstore:(identity not checked)");
          checks.push({ check: name, result: "unverified", detail: "Sigstore bundle not checked: name the expected --sigstore-identity and --sigstore-issuer" });
          continue;
        }
        if (!keyless && !trust.sigstore?.publicKeys) {
          presented.push("sigstore:(key not named)");
          checks.push({ check: name, result: "unverified", detail: "Sigstore key-signed bundle not checked: name its public key" });
          continue;
        }
        let who: { identity?: string; issuer?: string };
        try {
          who = await verifySigstoreBundle(s.bundle, recomputed, trust.sigstore ?? {});
        } catch (e) {
          throw new VerificationError(name, `Sigstore bundle does not verify: ${(e as Error).message}`, JSON.stringify(trust.sigstore?.identity ?? "(key)"), recomputed);
        }
        const label = `sigstore:${who.identity ?? "key"}${who.issuer ? `@${who.issuer}` : ""}`;
        presented.push(label);
        trustedSigners.push(label);
        checks.push({ check: name, result: "pass", detail: `Sigstore bundle verified offline (${label})` });
      }
    }
  } else {
    // InferenceBench v1: { method, certificate (PEM public key for dev-key), bundle (base64 signature) }.
    const method = sig.method;
    if (method !== "dev-key") throw new VerificationError("signature[0]", `unsupported InferenceBench signature method ${JSON.stringify(method)} (only "dev-key" is supported offline)`);
    let key: Uint8Array;
    try {
      key = parsePublicKey(String(sig.certificate ?? ""));
    } catch (e) {
      throw new VerificationError("signature[0]", `the dev-key certificate is not an Ed25519 public key: ${(e as Error).message}`);
    }
    if (!verifyHash(recomputed, String(sig.bundle ?? ""), key)) {
      throw new VerificationError("signature[0]", "dev-key signature does not verify over the recomputed content hash (the content or the signature was changed)", String(sig.bundle), recomputed);
    }
    checks.push({ check: "content_hash", result: "pass", detail: recomputed });
    const hex = Buffer.from(key).toString("hex");
    presented.push(`ed25519:${hex}`);
    if (trustedKeys.has(hex)) trustedSigners.push(`ed25519:${hex}`);
    checks.push({ check: "signature[0]", result: trustedKeys.has(hex) ? "pass" : "unverified", detail: `dev-key ${hex}${trustedKeys.has(hex) ? " (trusted)" : " (carried by the envelope, not trusted)"}` });
  }

  if (anchorsGiven && trustedSigners.length === 0) {
    throw new VerificationError("trust", "no signature is by a key, address or identity you trust", presented.join(", ") || "(none)", [...trustedKeys].map((k) => `ed25519:${k}`).concat([...trustedAddresses].map((a) => `eip191:${a}`)).join(", ") || "(sigstore identity)");
  }
  checks.push({
    check: "trust",
    result: trustedSigners.length > 0 ? "pass" : "unverified",
    detail: trustedSigners.length > 0 ? `signed by ${trustedSigners.join(", ")}` : "no trusted key named: the signature only matches a key the envelope carries itself",
  });
  return { format: loaded.format, status: trustedSigners.length > 0 ? "verified" : "unverified", contentHash: recomputed, checks, trustedSigners };
}

/**
 * Reads the per-request traces file an envelope names (a path relative to the envelope's
 * folder), checks it against the sha256 and count the envelope records, and parses every line
 * by the traces format of the envelope's version. Returns null when the envelope names no
 * traces; throws VerificationError("traces") when they differ, are malformed or are missing.
 */
export function readSignedTraces(plain: Record<string, unknown>, readRelative: (file: string) => Buffer | null): { lines: TraceLine[]; check: CheckResult } | null {
  const traces = plain.traces as { file: string; sha256: string; count: number; format?: string } | undefined;
  if (!traces) return null;
  if (traces.file.includes("/") || traces.file.includes("\\") || traces.file.startsWith(".")) {
    throw new VerificationError("traces", `traces.file must be a plain file name next to the envelope, got ${JSON.stringify(traces.file)}`);
  }
  const bytes = readRelative(traces.file);
  if (bytes === null) throw new VerificationError("traces", `the traces file ${traces.file} named by the envelope is missing`, traces.sha256, "(no file)");
  const digest = sha256Hex(bytes);
  if (digest !== traces.sha256) throw new VerificationError("traces", `${traces.file} differs from the traces the envelope signed`, traces.sha256, digest);
  let lines: TraceLine[];
  try {
    lines = parseTraces(bytes.toString("utf8"), traces.format === TRACES_FORMAT ? TRACES_FORMAT : "vb.traces/1");
  } catch (e) {
    if (e instanceof TraceFormatError) throw new VerificationError("traces", `${traces.file}: ${e.message}`);
    throw e;
  }
  if (lines.length !== traces.count) throw new VerificationError("traces", `${traces.file} has ${lines.length} requests, the envelope says ${traces.count}`, String(traces.count), String(lines.length));
  return { lines, check: { check: "traces", result: "pass", detail: `${traces.file}: ${lines.length} requests, sha256 ${digest}` } };
}

/** readSignedTraces, keeping only the check result (vb verify). */
export function verifyTracesFile(plain: Record<string, unknown>, readRelative: (file: string) => Buffer | null): CheckResult | null {
  return readSignedTraces(plain, readRelative)?.check ?? null;
}
