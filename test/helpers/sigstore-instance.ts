/**
 * A private Sigstore instance on loopback, for keyless signing tests: Fulcio (a CA with its own
 * CT log) and Rekor from @sigstore/mock's request handlers, served over real HTTP on 127.0.0.1,
 * plus the trusted_root.json that verifies what they issue. Nothing starts on import.
 */
import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface SigstoreInstance {
  fulcioURL: string;
  rekorURL: string;
  trustedRoot: Record<string, unknown>;
  close(): Promise<void>;
}

const p256 = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const spki = (k: KeyObject | Buffer): Buffer => (Buffer.isBuffer(k) ? k : k.export({ type: "spki", format: "der" }));
const since = { start: "2000-01-01T00:00:00Z" };

export async function startSigstoreInstance(): Promise<SigstoreInstance> {
  // The handler modules only: the package's index loads nock, which would patch node:http for every later test.
  const { initializeCA, initializeCTLog, fulcioHandler } = await import("@sigstore/mock/dist/fulcio/index.js");
  const { initializeTLog, rekorHandler } = await import("@sigstore/mock/dist/rekor/index.js");
  const ctKeys = p256();
  const ctlog = await initializeCTLog(ctKeys);
  const ca = await initializeCA(p256(), ctlog);
  const fulcio = fulcioHandler(ca, { strict: true, subjectClaim: "email" });
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rekorKeys = p256();
  const rekor = rekorHandler(await initializeTLog(base, rekorKeys), { strict: true });
  const routes = new Map([[fulcio.path, fulcio.fn], [rekor.path, rekor.fn]]);
  server.on("request", (req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const handler = req.method === "POST" ? routes.get(req.url ?? "") : undefined;
      if (!handler) return void res.writeHead(404).end();
      handler(Buffer.concat(parts).toString("utf8")).then(
        ({ statusCode, response, contentType }) => res.writeHead(statusCode, { "content-type": contentType ?? "application/json" }).end(response),
        (e: Error) => res.writeHead(500).end(e.message),
      );
    });
  });
  const key = (der: Buffer) => ({ rawBytes: der.toString("base64"), keyDetails: "PKIX_ECDSA_P256_SHA_256", validFor: since });
  const rekorDer = spki(rekorKeys.publicKey);
  const trustedRoot = {
    mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    tlogs: [{ baseUrl: base, hashAlgorithm: "SHA2_256", publicKey: key(rekorDer), logId: { keyId: createHash("sha256").update(rekorDer).digest("base64") } }],
    certificateAuthorities: [{
      subject: { organization: "vb-test", commonName: "vb-test-fulcio" },
      uri: base,
      certChain: { certificates: [{ rawBytes: Buffer.from(ca.rootCertificate.buffer, ca.rootCertificate.byteOffset, ca.rootCertificate.byteLength).toString("base64") }] },
      validFor: since,
    }],
    ctlogs: [{ baseUrl: base, hashAlgorithm: "SHA2_256", publicKey: key(spki(ctKeys.publicKey)), logId: { keyId: Buffer.from(ctlog.logID.buffer, ctlog.logID.byteOffset, ctlog.logID.byteLength).toString("base64") } }],
    timestampAuthorities: [],
  };
  return {
    fulcioURL: base,
    rekorURL: base,
    trustedRoot,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** An unsigned OIDC token with the claims Fulcio puts in the certificate (the mock does not check signatures). */
export function unsignedIdToken(claims: { iss: string; email: string }): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...claims, sub: claims.email, aud: "sigstore", email_verified: true, exp: Math.floor(Date.now() / 1000) + 600 })}.`;
}
