import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import {
  ENVELOPE_SCHEMA,
  ENVELOPE_V1_SCHEMA,
  KeyFormatError,
  SchemaValidationError,
  SigstoreUnavailableError,
  VerificationError,
  contentHash,
  generateEd25519,
  normalizeAddress,
  parseLossless,
  prettyJson,
  publicKeyToPem,
  readKeyFile,
  signEnvelope,
  signSigstore,
  validateVbEnvelope,
  validateVbEnvelopeV1,
  verifyEnvelopeText,
  verifySigstoreBundle,
  verifyTracesFile,
  readSignedTraces,
  writeKeyFile,
  type VbEnvelope,
} from "../../protocol/envelope/index.ts";
import { sampleEnvelope, sampleEnvelopeV1 } from "../helpers/sample-envelope.ts";
import { startSigstoreInstance, unsignedIdToken } from "../helpers/sigstore-instance.ts";

const ETH_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" as const; // Hardhat's account #1, public test key
const FIXTURES = new URL("../fixtures/envelope/", import.meta.url);

function p256Bundle(artifact: Buffer, keyHint: string, privateKey: Parameters<typeof nodeSign>[2]) {
  return {
    mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
    verificationMaterial: { publicKey: { hint: keyHint }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    messageSignature: {
      messageDigest: { algorithm: "SHA2_256", digest: createHash("sha256").update(artifact).digest("base64") },
      signature: nodeSign("sha256", artifact, privateKey).toString("base64"),
    },
  };
}

describe("vb.envelope/2 and /1 schemas, signatures and verification", () => {
  const key = generateEd25519();
  const keyPem = publicKeyToPem(key.publicKey);

  for (const [version, schema, make, validate] of [
    ["vb.envelope/2", ENVELOPE_SCHEMA, sampleEnvelope, validateVbEnvelope],
    ["vb.envelope/1", ENVELOPE_V1_SCHEMA, sampleEnvelopeV1, validateVbEnvelopeV1],
  ] as const) {
    it(`keeps the TypeScript type and the JSON Schema of ${version} in step`, () => {
      const sample = make() as unknown as Record<string, object>;
      const props = schema.properties as unknown as Record<string, { properties?: Record<string, unknown> }>;
      assert.deepEqual(Object.keys(sample).filter((k) => k !== "signature").sort(), Object.keys(props).filter((k) => k !== "signature").sort());
      assert.ok(schema.required.every((k) => k in sample), "every required property is in the sample");
      validate(sample);
      // Each nested object: the sample's keys are exactly the schema's properties.
      for (const k of ["suite", "model", "engine", "dataset", "seeds", "driver_options", "hardware_fingerprint", "software_provenance", "phases", "energy", "traces", "commitment"]) {
        assert.deepEqual(Object.keys(sample[k]!).sort(), Object.keys(props[k]!.properties!).sort(), k);
      }
    });
  }

  it("keeps vb.envelope/1 envelopes valid and verifiable, and tells the versions apart", async () => {
    const v1 = await signEnvelope(sampleEnvelopeV1() as unknown as VbEnvelope, { ed25519: key });
    const report = await verifyEnvelopeText(prettyJson(v1), { ed25519: [keyPem] });
    assert.deepEqual([report.format, report.status], ["vb.envelope/1", "verified"]);
    // A v1 document is not a v2 one, and the other way round: each version keeps its own schema.
    assert.throws(() => validateVbEnvelope(sampleEnvelopeV1()), SchemaValidationError);
    assert.throws(() => validateVbEnvelopeV1(sampleEnvelope()), SchemaValidationError);
    const v2 = await signEnvelope(sampleEnvelope() as VbEnvelope, { ed25519: key });
    assert.equal((await verifyEnvelopeText(prettyJson(v2), { ed25519: [keyPem] })).format, "vb.envelope/2");
  });

  it("rejects documents that break the schema, naming the field", () => {
    const cases: [string, (e: Record<string, any>) => void][] = [
      ["/envelope_version", (e) => (e.envelope_version = "vb.envelope/3")],
      ["/metrics/ttft_p50_ms", (e) => (e.metrics.ttft_p50_ms = "fast")],
      ["/seed", (e) => (e.seed = -1)],
      ["/commitment/batches/0/root", (e) => (e.commitment.batches[0].root = "0x12")],
      ["/commitment/batches", (e) => (e.commitment.batches = [])],
      ["/traces/format", (e) => (e.traces.format = "vb.traces/1")],
      ["/driver_options/max_tokens_dist/kind", (e) => (e.driver_options.max_tokens_dist.kind = "zipf")],
      ["/phases", (e) => delete e.phases.probe],
      ["/driver_options/mode", (e) => (e.driver_options.mode = "burst")],
      ["", (e) => (e.unexpected = 1)],
      ["/run_id", (e) => (e.run_id = "not-a-uuid")],
      ["/created_at", (e) => (e.created_at = "yesterday")],
    ];
    for (const [field, mutate] of cases) {
      const doc = sampleEnvelope() as unknown as Record<string, any>;
      mutate(doc);
      assert.throws(() => validateVbEnvelope(doc), (e: unknown) => e instanceof SchemaValidationError && e.errors.some((m) => m.startsWith(field || "/")), field);
    }
  });

  it("signs with ed25519 and reports verified only against a trusted key", async () => {
    const signed = await signEnvelope(sampleEnvelope() as VbEnvelope, { ed25519: key });
    const text = prettyJson(signed);
    assert.equal(signed.signature!.content_hash, contentHash(parseLossless(text)));
    const self = await verifyEnvelopeText(text);
    assert.equal(self.status, "unverified");
    const trusted = await verifyEnvelopeText(text, { ed25519: [keyPem] });
    assert.equal(trusted.status, "verified");
    assert.deepEqual(trusted.checks.map((c) => c.check), ["schema", "content_hash", "hardware_fingerprint", "signature[0]", "trust"]);
    await assert.rejects(verifyEnvelopeText(text, { ed25519: [publicKeyToPem(generateEd25519().publicKey)] }), (e: unknown) => e instanceof VerificationError && e.check === "trust");
  });

  it("fails with stored and recomputed hashes when content changes", async () => {
    const signed = await signEnvelope(sampleEnvelope() as VbEnvelope, { ed25519: key });
    const tampered = { ...signed, metrics: { ...signed.metrics, ttft_p50_ms: 12.4 } };
    await assert.rejects(verifyEnvelopeText(prettyJson(tampered), { ed25519: [keyPem] }), (e: unknown) => {
      assert.ok(e instanceof VerificationError);
      assert.equal(e.check, "content_hash");
      assert.equal(e.stored, signed.signature!.content_hash);
      assert.equal(e.recomputed, contentHash(tampered as unknown as Record<string, unknown>));
      assert.match(e.message, /stored: {5}[0-9a-f]{64}\n {2}recomputed: [0-9a-f]{64}/);
      return true;
    });
  });

  it("fails when the hardware fingerprint's hash does not match its contents", async () => {
    const sample = sampleEnvelope() as VbEnvelope;
    const edited = { ...sample, hardware_fingerprint: { ...sample.hardware_fingerprint, kernel: "6.2.0" } };
    const signed = await signEnvelope(edited, { ed25519: key });
    await assert.rejects(verifyEnvelopeText(prettyJson(signed), { ed25519: [keyPem] }), (e: unknown) => e instanceof VerificationError && e.check === "hardware_fingerprint" && e.stored === sample.hardware_fingerprint.sha256);
  });

  it("checks the traces file an envelope names, line by line against its format", () => {
    const plain = sampleEnvelope() as unknown as Record<string, unknown>;
    const line = (seq: number, extra: Record<string, unknown> = {}) => JSON.stringify({
      seq, launch: 0, prompt_index: seq, ok: true, status: 200, error: null, scheduled_ms: 0, queue_ms: 0.1, ttft_ms: 5, e2e_ms: 9, tpot_ms: 1, itl_ms: [1, 1],
      output_tokens: 3, prompt_tokens: 8, token_source: "server_usage", slo_met: true, max_tokens: 16,
      proof: { record_id: `rec_${seq}`, leaf_hash: "0x" + "ab".repeat(32), batch_id: "3", leaf_index: seq }, ...extra,
    });
    const body = Buffer.from(`${line(0)}\n${line(1)}\n`);
    const withTraces = { ...plain, traces: { file: "traces.jsonl", sha256: createHash("sha256").update(body).digest("hex"), count: 2, format: "vb.traces/2" } };
    const read = readSignedTraces(withTraces, () => body)!;
    assert.deepEqual(read.lines.map((l) => l.proof?.record_id), ["rec_0", "rec_1"]);
    // A line that breaks the format fails by line number, even when the file's hash was updated to match.
    for (const bad of [line(1, { proof: { record_id: "rec 1", leaf_hash: null, batch_id: null, leaf_index: null } }), line(1, { seq: -1 }), "{not json"]) {
      const edited = Buffer.from(`${line(0)}\n${bad}\n`);
      const signed = { ...withTraces, traces: { ...withTraces.traces, sha256: createHash("sha256").update(edited).digest("hex") } };
      assert.throws(() => verifyTracesFile(signed, () => edited), (e: unknown) => e instanceof VerificationError && /traces line 2/.test(e.message), bad);
    }
    assert.equal(verifyTracesFile(withTraces, () => body)!.result, "pass");
    assert.throws(() => verifyTracesFile(withTraces, () => Buffer.from('{"seq":0}\n')), (e: unknown) => e instanceof VerificationError && e.check === "traces");
    assert.throws(() => verifyTracesFile(withTraces, () => null), (e: unknown) => e instanceof VerificationError && /missing/.test(e.message));
    assert.throws(() => verifyTracesFile({ ...withTraces, traces: { ...withTraces.traces, file: "../etc/passwd" } }, () => body), VerificationError);
    assert.throws(() => verifyTracesFile({ ...withTraces, traces: { ...withTraces.traces, count: 3 } }, () => body), /has 2 requests/);
    assert.equal(verifyTracesFile({ ...plain, traces: undefined }, () => body), null);
  });

  it("fails a signature that does not match, even when the stored hash was updated to match the content", async () => {
    const signed = await signEnvelope(sampleEnvelope() as VbEnvelope, { ed25519: key });
    const { signature, ...rest } = { ...signed, seed: 43 };
    const forged = { ...rest, signature: { ...signature!, content_hash: contentHash(rest as Record<string, unknown>) } };
    await assert.rejects(verifyEnvelopeText(prettyJson(forged)), (e: unknown) => e instanceof VerificationError && e.check === "signature[0]");
    const other = await signEnvelope({ ...(sampleEnvelope() as VbEnvelope), seed: 1 }, { ed25519: key });
    const moved = { ...other, signature: { ...other.signature!, signers: signed.signature!.signers } };
    await assert.rejects(verifyEnvelopeText(prettyJson(moved)), (e: unknown) => e instanceof VerificationError && e.check === "signature[0]");
  });

  it("signs with an Ethereum key (EIP-191 over the content hash) and checks the trusted address", async () => {
    const address = privateKeyToAccount(ETH_KEY).address;
    const signed = await signEnvelope(sampleEnvelope() as VbEnvelope, { ed25519: key, ethereumPrivateKey: ETH_KEY });
    const text = prettyJson(signed);
    assert.equal(signed.signature!.signers[1]!.scheme, "eip191");
    assert.equal((await verifyEnvelopeText(text, { addresses: [address.toLowerCase()] })).status, "verified");
    await assert.rejects(verifyEnvelopeText(text, { addresses: ["0x000000000000000000000000000000000000dEaD"] }), (e: unknown) => e instanceof VerificationError && e.check === "trust");
    const s = signed.signature!.signers[1] as { address: string; signature: string };
    const wrongAddress = { ...signed, signature: { ...signed.signature!, signers: [{ ...s, address: "0x000000000000000000000000000000000000dEaD" }] } };
    await assert.rejects(verifyEnvelopeText(prettyJson(wrongAddress)), (e: unknown) => e instanceof VerificationError && e.check === "signature[0]" && e.recomputed === address);
    await assert.rejects(signEnvelope(sampleEnvelope() as VbEnvelope, { ethereumPrivateKey: "0x1234" }), KeyFormatError);
  });

  it("checksums addresses as EIP-55 (same as viem's getAddress)", async () => {
    const { getAddress } = await import("viem");
    for (let i = 0; i < 200; i++) {
      const a = "0x" + createHash("sha256").update(`addr${i}`).digest("hex").slice(0, 40);
      assert.equal(normalizeAddress(a), getAddress(a));
      assert.equal(normalizeAddress(a.toUpperCase().replace("0X", "0x")), getAddress(a));
    }
    assert.throws(() => normalizeAddress("0x1234"), KeyFormatError);
  });

  it("verifies a Sigstore bundle offline against a named key and rejects it over other content", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const unsigned = sampleEnvelope() as VbEnvelope;
    const hash = contentHash(unsigned as unknown as Record<string, unknown>);
    const bundle = p256Bundle(Buffer.from(hash, "ascii"), "release-key", privateKey);
    const doc = { ...unsigned, signature: { content_hash: hash, signers: [{ scheme: "sigstore" as const, bundle }] } };
    const report = await verifyEnvelopeText(prettyJson(doc), { sigstore: { publicKeys: { "release-key": { pem } } } });
    assert.equal(report.status, "verified");
    assert.equal((await verifyEnvelopeText(prettyJson(doc))).status, "unverified");
    const otherHash = contentHash({ ...unsigned, seed: 5 } as unknown as Record<string, unknown>);
    await assert.rejects(verifySigstoreBundle(bundle, otherHash, { publicKeys: { "release-key": { pem } } }), /signature verification failed/);
    const changed = { ...doc, seed: 5, signature: { ...doc.signature, content_hash: otherHash } };
    await assert.rejects(verifyEnvelopeText(prettyJson(changed), { sigstore: { publicKeys: { "release-key": { pem } } } }), (e: unknown) => e instanceof VerificationError && e.check === "signature[0]");
    await assert.rejects(verifySigstoreBundle({ mediaType: "nope" }, hash, {}), Error);
  });

  it("rejects a keyless bundle whose certificate does not chain to the pinned Sigstore root", async () => {
    const cert = readFileSync(new URL("selfsigned-TEST-ONLY-cert.pem", FIXTURES), "utf8");
    const certKey = readFileSync(new URL("selfsigned-TEST-ONLY-cert.key", FIXTURES), "utf8");
    const der = Buffer.from(cert.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    const unsigned = sampleEnvelope() as VbEnvelope;
    const hash = contentHash(unsigned as unknown as Record<string, unknown>);
    const artifact = Buffer.from(hash, "ascii");
    const bundle = {
      mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
      verificationMaterial: { certificate: { rawBytes: der.toString("base64") }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
      messageSignature: { messageDigest: { algorithm: "SHA2_256", digest: createHash("sha256").update(artifact).digest("base64") }, signature: nodeSign("sha256", artifact, certKey).toString("base64") },
    };
    const doc = prettyJson({ ...unsigned, signature: { content_hash: hash, signers: [{ scheme: "sigstore", bundle }] } });
    // Without a named identity the bundle is not checked, so the envelope is not "verified".
    assert.equal((await verifyEnvelopeText(doc)).status, "unverified");
    await assert.rejects(verifyEnvelopeText(doc, { sigstore: { identity: "test@example.com", issuer: "https://accounts.example.com" } }), (e: unknown) => e instanceof VerificationError && e.check === "signature[0]");
  });

  it("signs keylessly with a private Sigstore instance and verifies offline against its trusted root, identity and issuer", async () => {
    const sigstore = await startSigstoreInstance();
    try {
      const identity = "ci@example.com";
      const issuer = "https://token.actions.example";
      const unsigned = sampleEnvelope() as VbEnvelope;
      const signed = await signEnvelope(unsigned, {
        ed25519: key,
        sigstore: { identityToken: unsignedIdToken({ iss: issuer, email: identity }), fulcioURL: sigstore.fulcioURL, rekorURL: sigstore.rekorURL },
      });
      const signer = signed.signature!.signers[1]!;
      assert.equal(signer.scheme, "sigstore");
      const doc = prettyJson(signed);
      const trust = { trustedRoot: sigstore.trustedRoot, identity, issuer };
      const report = await verifyEnvelopeText(doc, { sigstore: trust });
      assert.equal(report.status, "verified");
      assert.ok(report.checks.some((c) => c.check === "signature[1]" && c.result === "pass"), JSON.stringify(report.checks));
      // The bundle carries a certificate, an SCT and a transparency-log entry: each must check out.
      assert.deepEqual(await verifySigstoreBundle((signer as { bundle: unknown }).bundle, signed.signature!.content_hash, trust), { identity, issuer });
      const rejected = (over: Partial<typeof trust>) =>
        assert.rejects(verifyEnvelopeText(doc, { sigstore: { ...trust, ...over } }), (e: unknown) => e instanceof VerificationError && e.check === "signature[1]", JSON.stringify(Object.keys(over)));
      await rejected({ identity: "someone-else@example.com" });
      await rejected({ issuer: "https://accounts.example.com" });
      // The public-good root does not vouch for this instance's certificates.
      await rejected({ trustedRoot: undefined });
      // No identity named: the bundle is not checked, and the ed25519 key is one the envelope carries itself.
      assert.equal((await verifyEnvelopeText(doc)).status, "unverified");
      const tampered = JSON.parse(doc) as VbEnvelope;
      tampered.seeds.dataset = 1234;
      await assert.rejects(verifyEnvelopeText(prettyJson(tampered), { sigstore: trust }), (e: unknown) => e instanceof VerificationError);
    } finally {
      await sigstore.close();
    }
  });

  it("refuses Sigstore signing without an identity token, with a clear error", async () => {
    await assert.rejects(signSigstore("ab".repeat(32), { identityToken: "" }), (e: unknown) => e instanceof SigstoreUnavailableError && /SIGSTORE_ID_TOKEN/.test(e.message));
  });

  it("writes dev key files with mode 0600 and refuses malformed ones", () => {
    const dir = mkdtempSync(join(tmpdir(), "vb-key-"));
    const path = join(dir, "dev.key");
    writeKeyFile(path, key);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readKeyFile(path).publicKey, key.publicKey);
    assert.throws(() => writeKeyFile(path, key), /EEXIST/);
    const committed = readKeyFile(new URL("test-ed25519-TEST-ONLY.key.json", FIXTURES).pathname);
    assert.equal(committed.publicKey.length, 32);
    const bad = join(dir, "bad.key");
    for (const body of ["not json", '{"type":"other"}', '{"type":"vb.ed25519-key/1","secret_key":"zz"}']) {
      writeFileSync(bad, body);
      assert.throws(() => readKeyFile(bad), KeyFormatError);
    }
  });

  it("refuses to sign without any key", async () => {
    await assert.rejects(signEnvelope(sampleEnvelope() as VbEnvelope, {}), /no signing key/);
  });
});
