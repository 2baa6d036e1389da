/**
 * Sigstore bundles. Verification is offline: the trusted root (Fulcio CAs, Rekor and CT log keys,
 * timestamp authorities) is the public-good instance's trusted_root.json pinned in this folder
 * (sigstore-trusted-root.json, sha256 6494e21e...0b66, taken from @sigstore/tuf's embedded seed),
 * or one the user names. The artifact is the ASCII text of the content hash.
 * Signing needs the network (Fulcio, Rekor) and an OIDC identity token (SIGSTORE_ID_TOKEN); when
 * either is missing it fails with SigstoreUnavailableError instead of producing a partial bundle.
 * A private Sigstore instance is named with SIGSTORE_FULCIO_URL and SIGSTORE_REKOR_URL (its
 * trusted_root.json then goes to verify's --trusted-root).
 * The Sigstore libraries are loaded on first use, to keep the CLI's start-up short.
 */
import { readFileSync } from "node:fs";
import type { SerializedBundle } from "@sigstore/bundle";
import type { PublicKey } from "@sigstore/protobuf-specs";
import type { VerificationPolicy } from "@sigstore/verify";
import { KeyFormatError, SigstoreUnavailableError } from "./errors.ts";

export const PINNED_TRUSTED_ROOT_PATH = new URL("./sigstore-trusted-root.json", import.meta.url);

export interface SigstoreTrust {
  /** trusted_root.json contents; the pinned public-good root when absent. */
  trustedRoot?: unknown;
  /** Expected certificate identity (SAN), for keyless bundles. */
  identity?: string;
  /** Expected OIDC issuer, for keyless bundles. */
  issuer?: string;
  /** Keys for bundles signed with a public key instead of a certificate, by hint. */
  publicKeys?: Record<string, { pem: string }>;
  /** Transparency-log / timestamp thresholds; keyless defaults are 1 each. */
  tlogThreshold?: number;
  ctlogThreshold?: number;
  timestampThreshold?: number;
}

export function loadPinnedTrustedRoot(): unknown {
  return JSON.parse(readFileSync(PINNED_TRUSTED_ROOT_PATH, "utf8"));
}

function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
  if (!m) throw new KeyFormatError("Sigstore public key must be SPKI PEM", "public_key");
  return Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
}

/**
 * Verifies a bundle over the content hash. Throws (with the library's message) when the bundle
 * is malformed, the signature does not match, the chain does not lead to the trusted root, or
 * the identity / issuer differ from the expected ones. Returns the signer's identity if any.
 */
export async function verifySigstoreBundle(bundleJson: unknown, contentHashHex: string, trust: SigstoreTrust): Promise<{ identity?: string; issuer?: string }> {
  const { bundleFromJSON } = await import("@sigstore/bundle");
  const { TrustedRoot } = await import("@sigstore/protobuf-specs");
  const { Verifier, toSignedEntity, toTrustMaterial } = await import("@sigstore/verify");
  const bundle = bundleFromJSON(bundleJson);
  const root = TrustedRoot.fromJSON(trust.trustedRoot ?? loadPinnedTrustedRoot());
  const keys: Record<string, PublicKey> = {};
  for (const [hint, { pem }] of Object.entries(trust.publicKeys ?? {})) {
    keys[hint] = { rawBytes: pemToDer(pem), keyDetails: 5 /* PKIX_ECDSA_P256_SHA_256 */, validFor: { start: new Date(0) } } as PublicKey;
  }
  const keyed = bundle.verificationMaterial.content.$case === "publicKey";
  const verifier = new Verifier(toTrustMaterial(root, keys), {
    tlogThreshold: trust.tlogThreshold ?? (keyed ? 0 : 1),
    ctlogThreshold: trust.ctlogThreshold ?? (keyed ? 0 : 1),
    timestampThreshold: trust.timestampThreshold ?? (keyed ? 0 : 1),
  });
  const policy: VerificationPolicy = {};
  if (!keyed) {
    if (!trust.identity || !trust.issuer) {
      throw new KeyFormatError("a keyless Sigstore bundle needs the expected --sigstore-identity and --sigstore-issuer", "sigstore");
    }
    policy.subjectAlternativeName = trust.identity;
    policy.extensions = { issuer: trust.issuer };
  }
  const signer = verifier.verify(toSignedEntity(bundle, Buffer.from(contentHashHex, "ascii")), policy);
  return { identity: signer.identity?.subjectAlternativeName, issuer: signer.identity?.extensions?.issuer };
}

export interface SigstoreSigning {
  /** OIDC identity token; default: SIGSTORE_ID_TOKEN. */
  identityToken?: string;
  /** Fulcio and Rekor of a private instance; default: SIGSTORE_FULCIO_URL / SIGSTORE_REKOR_URL, else the public-good instance. */
  fulcioURL?: string;
  rekorURL?: string;
}

/** Signs with Sigstore keyless signing. Needs an identity token and the network. */
export async function signSigstore(contentHashHex: string, opts: SigstoreSigning = {}): Promise<SerializedBundle> {
  const identityToken = opts.identityToken ?? process.env.SIGSTORE_ID_TOKEN;
  if (!identityToken) {
    throw new SigstoreUnavailableError(
      "Sigstore signing needs an OIDC identity token (set SIGSTORE_ID_TOKEN, e.g. from your CI's OIDC provider) and network access to Fulcio and Rekor; use --key for a dev ed25519 key instead",
      "SIGSTORE_ID_TOKEN",
    );
  }
  const fulcioURL = opts.fulcioURL ?? process.env.SIGSTORE_FULCIO_URL;
  const rekorURL = opts.rekorURL ?? process.env.SIGSTORE_REKOR_URL;
  const { sign } = await import("sigstore");
  try {
    return await sign(Buffer.from(contentHashHex, "ascii"), { identityToken, ...(fulcioURL && { fulcioURL }), ...(rekorURL && { rekorURL }) });
  } catch (e) {
    throw new SigstoreUnavailableError(`Sigstore signing failed (network or token): ${(e as Error).message}`, "sigstore");
  }
}
