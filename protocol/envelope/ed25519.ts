/**
 * Dev ed25519 keys. The signed message is the ASCII text of the 64-character content hash (what
 * InferenceBench v1 signs too); public keys travel as SPKI PEM, signatures as base64.
 * Key files are JSON, written with mode 0600, made by `vb keygen`.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { ed25519 } from "@noble/curves/ed25519.js";
import { KeyFormatError } from "./errors.ts";

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQ { SEQ { OID 1.3.101.112 }, BIT STRING }. */
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
export const KEY_FILE_TYPE = "vb.ed25519-key/1";

export interface Ed25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export function generateEd25519(): Ed25519KeyPair {
  const { secretKey, publicKey } = ed25519.keygen();
  return { secretKey, publicKey };
}

export function keyPairFromSecret(secretKey: Uint8Array): Ed25519KeyPair {
  if (secretKey.length !== 32) throw new KeyFormatError(`ed25519 secret key must be 32 bytes, got ${secretKey.length}`, "secret_key");
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function publicKeyToPem(publicKey: Uint8Array): string {
  const der = new Uint8Array(SPKI_PREFIX.length + 32);
  der.set(SPKI_PREFIX);
  der.set(publicKey, SPKI_PREFIX.length);
  return `-----BEGIN PUBLIC KEY-----\n${Buffer.from(der).toString("base64")}\n-----END PUBLIC KEY-----`;
}

/** Reads an Ed25519 public key from SPKI PEM, or 64 hex characters. */
export function parsePublicKey(text: string): Uint8Array {
  const t = text.trim();
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(t)) return Uint8Array.from(Buffer.from(t.replace(/^0x/, ""), "hex"));
  const m = /^-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----$/.exec(t);
  if (!m) throw new KeyFormatError("public key is neither SPKI PEM nor 64 hex characters", "public_key");
  const der = Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
  if (der.length !== 44 || !der.subarray(0, 12).equals(SPKI_PREFIX)) {
    throw new KeyFormatError(`PEM is not an Ed25519 public key (DER length ${der.length})`, "public_key");
  }
  return Uint8Array.from(der.subarray(12));
}

export function signHash(contentHashHex: string, secretKey: Uint8Array): string {
  return Buffer.from(ed25519.sign(new TextEncoder().encode(contentHashHex), secretKey)).toString("base64");
}

/** False for a wrong signature; a malformed signature (not 64 bytes of base64) is false too. */
export function verifyHash(contentHashHex: string, signatureB64: string, publicKey: Uint8Array): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureB64)) return false;
  const sig = Buffer.from(signatureB64, "base64");
  if (sig.length !== 64) return false;
  try {
    return ed25519.verify(sig, new TextEncoder().encode(contentHashHex), publicKey);
  } catch {
    return false;
  }
}

export function writeKeyFile(path: string, pair: Ed25519KeyPair, label = "dev key"): void {
  const body = {
    type: KEY_FILE_TYPE,
    label,
    secret_key: Buffer.from(pair.secretKey).toString("hex"),
    public_key_pem: publicKeyToPem(pair.publicKey),
  };
  writeFileSync(path, JSON.stringify(body, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
}

export function readKeyFile(path: string): Ed25519KeyPair {
  let body: { type?: unknown; secret_key?: unknown };
  try {
    body = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new KeyFormatError(`cannot read key file ${path}: ${(e as Error).message}`, path);
  }
  if (body.type !== KEY_FILE_TYPE) throw new KeyFormatError(`key file ${path} has type ${JSON.stringify(body.type)}, expected "${KEY_FILE_TYPE}"`, "type");
  if (typeof body.secret_key !== "string" || !/^[0-9a-f]{64}$/.test(body.secret_key)) {
    throw new KeyFormatError(`key file ${path}: secret_key must be 64 lower-case hex characters`, "secret_key");
  }
  return keyPairFromSecret(Uint8Array.from(Buffer.from(body.secret_key, "hex")));
}
