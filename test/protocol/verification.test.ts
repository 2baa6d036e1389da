import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { buildProofs, ProofCountMismatchError } from "../../protocol/toploc/index.ts";
import {
  chunkThreshold,
  divergenceThreshold,
  fitChunkBand,
  fitTokenBand,
  InvalidProfileError,
  judgeRequest,
  marginSumTail,
  maxMarginThreshold,
  normalQuantile,
  parseProfile,
  PROFILE_SCHEMA,
  profileHash,
  requestEvidence,
  sealProfile,
  TAIL_MODEL,
  type UnhashedProfile,
} from "../../protocol/verification/index.ts";

function activations(seed: number, rows: number, hidden = 256): Float32Array[] {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 4;
  const prefill = Float32Array.from({ length: 4 * hidden }, next);
  return [prefill, ...Array.from({ length: rows }, () => Float32Array.from({ length: hidden }, next))];
}

function sampleProfile(): UnhashedProfile {
  return {
    schema: PROFILE_SCHEMA,
    name: "test/calibrated",
    model: { id: "test", weightsHash: "ab".repeat(32), vocabSize: 8, hiddenSize: 256 },
    toploc: { topk: 128, decodeBatchSize: 32 },
    recomputation: "fp32",
    garbageUlps: 8,
    falseRejectionBudget: 1e-6,
    tailModel: TAIL_MODEL,
    bands: {
      garbage_rate: [{ variant: "bf16", mu: 0.02, between: 0.005, within: 0.01, requests: 64, chunks: 190, maxObserved: 0.03 }],
      sq_error: [{ variant: "bf16", mu: 1, between: 0.1, within: 0.2, requests: 64, chunks: 190, maxObserved: 1.3 }],
      tokens: { greedy: [{ variant: "bf16", p0: 0.02, beta: 0.02, tokens: 2000, positives: 30, maxObserved: 0.08 }] },
    },
    calibration: { note: "hand-made" },
  };
}

describe("protocol/verification", () => {
  it("tail math: quantiles, thresholds that grow with the evidence they must cover", () => {
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
    assert.ok(Math.abs(normalQuantile(1 - 2.5e-7) - 5.0263) < 1e-3);
    assert.ok(Math.abs(normalQuantile(1e-3) + 3.090232) < 1e-5);
    const band = { mu: 1, between: 0.1, within: 0.3 };
    assert.ok(chunkThreshold(band, 1, 1e-6) > chunkThreshold(band, 10, 1e-6), "more chunks, tighter");
    assert.ok(chunkThreshold(band, 3, 1e-6) > chunkThreshold(band, 3, 1e-3), "smaller budget, wider");
    const tokens = { p0: 0.03, beta: 0.02 };
    assert.ok(maxMarginThreshold(tokens, 500, 1e-6) > maxMarginThreshold(tokens, 50, 1e-6), "more tokens, more room for one near-tie");
    // The divergence threshold sits where the compound tail says the budget is.
    const t = divergenceThreshold(tokens, 65, 2.5e-7);
    assert.ok(Math.abs(Math.log(marginSumTail(tokens, 65, t * 65)) - Math.log(2.5e-7)) < 0.05);
    assert.equal(maxMarginThreshold({ p0: 1e-9, beta: 1 }, 10, 1e-6), 0, "no near-ties expected: nothing is tolerated");
  });

  it("fits bands on synthetic data to at least the spread it was drawn with", () => {
    let s = 7;
    const gauss = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const u = (s + 0.5) / 2 ** 32;
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const v = (s + 0.5) / 2 ** 32;
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    };
    const requests = Array.from({ length: 200 }, () => {
      const b = 0.1 * gauss();
      return Array.from({ length: 3 }, () => 1 + b + 0.2 * gauss());
    });
    const band = fitChunkBand(requests);
    assert.ok(band.mu > 0.97 && band.mu < 1.06, `mu ${band.mu}`);
    assert.ok(band.within > 0.19 && band.within < 0.25, `within ${band.within}`);
    assert.ok(band.between > 0.05 && band.between < 0.16, `between ${band.between}`);
    const margins = Array.from({ length: 4000 }, (_, i) => (i % 50 === 0 ? 0.02 * (1 + (i % 7)) : 0));
    const tokens = fitTokenBand(margins, 0.01);
    assert.equal(tokens.positives, 80);
    assert.ok(tokens.p0 >= 80 / 4000 && tokens.p0 < 0.03);
    assert.ok(tokens.beta >= 0.08 * 0.9);
  });

  it("seals a profile with its content hash and refuses one whose content moved", () => {
    const profile = sealProfile(sampleProfile());
    assert.match(profile.contentHash, /^0x[0-9a-f]{64}$/);
    const parsed = parseProfile(JSON.parse(JSON.stringify(profile)));
    assert.equal(parsed.contentHash, profile.contentHash);
    assert.equal(profileHash(parsed), profile.contentHash);
    const tampered = JSON.parse(JSON.stringify(profile));
    tampered.bands.sq_error[0].mu = 5;
    assert.throws(() => parseProfile(tampered), (e: unknown) => e instanceof InvalidProfileError && e.field === "contentHash");
    const bad: [(p: any) => void, string][] = [
      [(p) => (p.schema = "other/1"), "schema"],
      [(p) => (p.falseRejectionBudget = 0.7), "falseRejectionBudget"],
      [(p) => (p.bands.sq_error = []), "bands.sq_error"],
      [(p) => (p.bands.tokens.sideways = p.bands.tokens.greedy), "bands.tokens.sideways"],
      [(p) => (p.bands.tokens.greedy[0].p0 = 2), "bands.tokens.greedy[0].p0"],
      [(p) => (p.model.vocabSize = 0), "model.vocabSize"],
      [(p) => delete p.contentHash, "contentHash"],
    ];
    for (const [mutate, field] of bad) {
      const copy = JSON.parse(JSON.stringify(profile));
      mutate(copy);
      assert.throws(() => parseProfile(copy), (e: unknown) => e instanceof InvalidProfileError && e.field === field, field);
    }
  });

  it("evidence: the verifier's own proofs are close everywhere, another computation's are garbage", () => {
    const acts = activations(3, 40);
    const proofs = buildProofs(acts).map((p) => p.toBytes());
    const V = 8;
    const output = Array.from({ length: 41 }, () => 0);
    const logits = new Float32Array(41 * V);
    for (let t = 0; t < 41; t++) logits[t * V] = 1; // token 0 is every row's argmax
    const input = { activations: acts, outputLogits: logits, vocabSize: V, outputTokens: output, sampling: { sampler: 2 as const, temperature: 0, topP: 1, seed: 0n } };
    const own = requestEvidence({ ...input, proofs });
    assert.equal(own.chunks.length, 3);
    for (const c of own.chunks) {
      assert.equal(c.garbage, 0);
      assert.equal(c.expMismatches, 0);
      // Only the rounding of fp32 to bf16 remains: r uniform in [0, 0.5], E[r^2] = 1/12.
      assert.ok(c.sqErrorSum / c.close < 0.12, String(c.sqErrorSum / c.close));
    }
    const other = requestEvidence({ ...input, proofs: buildProofs(activations(4, 40)).map((p) => p.toBytes()) });
    assert.ok(other.chunks.every((c) => c.garbage > 100));
    assert.throws(() => requestEvidence({ ...input, proofs: proofs.slice(1) }), ProofCountMismatchError);

    const profile = sealProfile({ ...sampleProfile(), model: { ...sampleProfile().model, vocabSize: V } });
    const accepted = judgeRequest(own, profile);
    assert.equal(accepted.accepted, true, accepted.failures.join("; "));
    const rejected = judgeRequest(other, profile);
    assert.equal(rejected.accepted, false);
    assert.match(rejected.failures.join("\n"), /garbage_rate 0\.9\d\d > 0\.\d+ \(over 3 chunks\)/, rejected.failures.join("\n"));
    const edited = judgeRequest(requestEvidence({ ...input, proofs, outputTokens: [...output.slice(0, 40), 5] }), profile);
    assert.equal(edited.accepted, false);
    assert.match(edited.failures.join("\n"), /token_max_margin 1\.000 > .* \(output token 40 of 41: the replayed greedy sampler chose 0\)/);
    const sampled = judgeRequest(requestEvidence({ ...input, proofs, sampling: { sampler: 1, temperature: 1, topP: 1, seed: 3n } }), profile);
    assert.deepEqual(sampled.skipped, [
      "token_max_margin: the profile has no calibration for uniform tokens",
      "token_divergence: the profile has no calibration for uniform tokens",
    ]);
  });
});
