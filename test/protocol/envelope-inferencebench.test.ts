import assert from "node:assert/strict";
import {
  JsonNumber,
  VerificationError,
  canonicalJson,
  contentHash,
  generateEd25519,
  parseLossless,
  prettyJson,
  publicKeyToPem,
  signHash,
  verifyEnvelopeText,
  type JsonValue,
} from "../../protocol/envelope/index.ts";
import { IB_DIR, inferenceBenchFiles, leafPaths, readFixture, tamperedValue, withLeaf, type Path } from "../helpers/inferencebench-fixtures.ts";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { rng } from "../../benchmark/rng.ts";

async function assertTamperFails(tree: JsonValue, path: Path, label: string): Promise<void> {
  const before = JSON.stringify(path);
  const tampered = withLeaf(tree, path, tamperedValue(leafAt(tree, path)));
  await assert.rejects(verifyEnvelopeText(prettyJson(tampered)), (e: unknown) => {
    // A tamper may also break the schema (e.g. a hash pattern); any failure must be a VerificationError.
    return e instanceof VerificationError && (e.check === "signature[0]" || e.check === "schema");
  }, `${label}: tamper at ${before} was not detected`);
}

function leafAt(tree: JsonValue, path: Path): JsonValue {
  let v: JsonValue = tree;
  for (const p of path) v = (v as Record<string | number, JsonValue>)[p]!;
  return v;
}

const files = inferenceBenchFiles();
const cosignPub = readFileSync(new URL("bench_cosign.pub", IB_DIR), "utf8");

describe("InferenceBench v1 interoperability", () => {
  it("has the 63 signed fixtures", () => {
    assert.equal(files.length, 63);
  });

  it("verifies every signed fixture's dev-key signature over the Python-canonical content hash", async () => {
    for (const f of files) {
      const report = await verifyEnvelopeText(readFixture(f));
      assert.equal(report.format, "inferencebench/v1", f);
      // Checked only against the key it carries: consistent, but not verified.
      assert.equal(report.status, "unverified", f);
      assert.equal(report.checks.find((c) => c.check === "signature[0]")?.result, "unverified", f);
    }
  });

  it("computes the content hash from the lexical numbers (JSON.parse would get it wrong)", () => {
    let differs = 0;
    for (const f of files) {
      const text = readFixture(f);
      const viaLossless = contentHash(parseLossless(text));
      const plain = JSON.parse(text) as Record<string, unknown>;
      delete plain.signature;
      if (createHash("sha256").update(canonicalJson(plain)).digest("hex") !== viaLossless) differs++;
    }
    // Most fixtures hold integral floats such as "ok_rate": 1.0 that JSON.parse turns into 1.
    assert.equal(differs, files.length, `only ${differs} fixtures depend on lexical numbers`);
  });

  it("reports verified when the caller trusts the signing key (bench_cosign.pub signs bench_baseline.json)", async () => {
    const report = await verifyEnvelopeText(readFixture("bench_baseline.json"), { ed25519: [cosignPub] });
    assert.equal(report.status, "verified");
    assert.equal(report.trustedSigners.length, 1);
  });

  it("fails the trust check when the trusted key is not the signer's", async () => {
    const other = files.find((f) => !readFixture(f).includes("vKKkBvLA7CY3F7"))!;
    await assert.rejects(verifyEnvelopeText(readFixture(other), { ed25519: [cosignPub] }), (e: unknown) => e instanceof VerificationError && e.check === "trust" && e.stored!.startsWith("ed25519:"));
  });

  it("fails after every single-value tamper of every leaf, for four envelopes", async function () {
    this.timeout(120_000);
    const picks = [files[0]!, "bench_baseline.json", files.find((f) => f.includes("llm-h100__c16"))!, files.find((f) => f.includes("voice-rtx4000ada"))!];
    let tampers = 0;
    for (const f of picks) {
      const tree = parseLossless(readFixture(f));
      for (const path of leafPaths(tree)) {
        await assertTamperFails(tree, path, f);
        tampers++;
      }
    }
    assert.ok(tampers > 500, `only ${tampers} leaves tampered`);
  });

  it("fails after one random single-value tamper on every envelope", async () => {
    const next = rng(20261123);
    for (const f of files) {
      const tree = parseLossless(readFixture(f));
      const paths = leafPaths(tree);
      await assertTamperFails(tree, paths[Math.floor(next() * paths.length)]!, f);
    }
  });

  it("fails when a key is added or removed, or the signature or key is swapped", async () => {
    const tree = parseLossless(readFixture(files[1]!)) as Record<string, JsonValue>;
    const added = { ...tree, extra: "x" };
    await assert.rejects(verifyEnvelopeText(prettyJson(added)), VerificationError);
    const { warnings: _w, ...removed } = tree;
    await assert.rejects(verifyEnvelopeText(prettyJson(removed)), VerificationError);
    const sig = tree.signature as Record<string, JsonValue>;
    const flipped = Buffer.from(String(sig.bundle), "base64");
    flipped[5]! ^= 1;
    await assert.rejects(verifyEnvelopeText(prettyJson({ ...tree, signature: { ...sig, bundle: flipped.toString("base64") } })), (e: unknown) => e instanceof VerificationError && e.check === "signature[0]");
    // A forger re-signs the tampered content with their own key and swaps in their certificate:
    // consistent, but only "unverified", and a failure for anyone who trusts the real key.
    const forger = generateEd25519();
    const forged = { ...tree, seed: new JsonNumber("7") };
    const hash = contentHash(forged);
    const forgedText = prettyJson({ ...forged, signature: { ...sig, certificate: publicKeyToPem(forger.publicKey), bundle: signHash(hash, forger.secretKey) } });
    assert.equal((await verifyEnvelopeText(forgedText)).status, "unverified");
    const realKey = String(sig.certificate);
    await assert.rejects(verifyEnvelopeText(forgedText, { ed25519: [realKey] }), (e: unknown) => e instanceof VerificationError && e.check === "trust");
    // A signature moved onto another envelope does not verify there.
    const other = parseLossless(readFixture(files[2]!)) as Record<string, JsonValue>;
    await assert.rejects(verifyEnvelopeText(prettyJson({ ...other, signature: sig })), VerificationError);
  });

  it("rejects unsigned, unknown-method and malformed envelopes with the failed check named", async () => {
    const tree = parseLossless(readFixture(files[0]!)) as Record<string, JsonValue>;
    await assert.rejects(verifyEnvelopeText(prettyJson({ ...tree, signature: null })), (e: unknown) => e instanceof VerificationError && e.check === "signature");
    const sig = tree.signature as Record<string, JsonValue>;
    await assert.rejects(verifyEnvelopeText(prettyJson({ ...tree, signature: { ...sig, method: "sigstore-cosign" } })), (e: unknown) => e instanceof VerificationError && e.check === "signature[0]");
    await assert.rejects(verifyEnvelopeText(prettyJson({ ...tree, signature: { ...sig, certificate: "not a key" } })), (e: unknown) => e instanceof VerificationError && e.check === "signature[0]");
    await assert.rejects(verifyEnvelopeText(prettyJson({ ...tree, envelope_version: "v2" })), (e: unknown) => e instanceof VerificationError && e.check === "schema");
    await assert.rejects(verifyEnvelopeText(readFixture(files[0]!).slice(0, 200)), (e: unknown) => e instanceof VerificationError && e.check === "parse");
  });
});
