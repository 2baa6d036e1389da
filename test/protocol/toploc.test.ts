import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  ChunkTooShortError,
  FIELD_PRIME,
  InvalidBase64Error,
  InvalidParameterError,
  MalformedProofError,
  NonFiniteActivationError,
  ProofCountMismatchError,
  REFERENCE_BF16_K128,
  ToplocProof,
  bf16BitsToFloat32,
  buildProofs,
  buildProofsBase64,
  float32ArrayToBf16,
  float32ToBf16Bits,
  findInjectiveModulus,
  proofByteLength,
  topKByMagnitude,
  verifyAndJudge,
  verifyProofs,
  type MedianConvention,
} from "../../protocol/toploc/index.ts";
import { decodeActivation, loadReferenceVectors } from "../helpers/toploc-fixtures.ts";

const vectors = loadReferenceVectors();
const PATHS: Record<string, MedianConvention> = { list_path: "mean-of-middle", batched_path: "upper-middle" };

/** Deterministic pseudo-random activations (xorshift32) for tests that need fresh data. */
function randomBf16(n: number, seed: number, scale = 4): Uint16Array {
  let s = seed >>> 0 || 1;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    f[i] = ((s / 0xffffffff) * 2 - 1) * scale;
  }
  return float32ArrayToBf16(f);
}

describe("protocol/toploc against the reference library (toploc 0.1.6)", () => {
  it("loads every reference case", () => {
    assert.match(vectors.source, /toploc 0\.1\.6/);
    assert.equal(vectors.cases.length, 7);
  });

  for (const c of vectors.cases) {
    const params = { topk: c.topk, decodeBatchSize: c.decode_batching_size, skipPrefill: c.skip_prefill };
    describe(`case ${c.name} (k=${c.topk}, batch=${c.decode_batching_size}, skip_prefill=${c.skip_prefill})`, () => {
      it("builds the reference proofs byte for byte", () => {
        const proofs = buildProofsBase64(c.inputs.same.map(decodeActivation), params);
        assert.deepEqual(proofs, c.proofs_base64);
        for (const p of proofs) assert.equal(Buffer.from(p, "base64").length, proofByteLength(c.topk));
      });

      for (const variant of ["same", "benign", "foreign"] as const) {
        for (const [path, expected] of Object.entries(c.verify[variant])) {
          it(`reproduces ${variant} verification of the ${path}`, () => {
            const results = verifyProofs(c.inputs[variant].map(decodeActivation), c.proofs_base64, {
              ...params,
              median: PATHS[path],
            });
            assert.deepEqual(
              results.map((r) => ({ exp_mismatches: r.expMismatches, mant_err_mean: r.mantErrMean, mant_err_median: r.mantErrMedian })),
              expected,
            );
          });
        }
      }

      if (c.topk === 128) {
        it("accepts same and benign recomputations and rejects the foreign one (reference-bf16-k128)", () => {
          for (const variant of ["same", "benign"] as const) {
            const verdict = verifyAndJudge(c.inputs[variant].map(decodeActivation), c.proofs_base64, params);
            assert.equal(verdict.accepted, true, `${variant}: ${JSON.stringify(verdict.chunks)}`);
          }
          const foreign = verifyAndJudge(c.inputs.foreign.map(decodeActivation), c.proofs_base64, params);
          assert.equal(foreign.accepted, false);
          assert.ok(foreign.chunks.every((chunk) => !chunk.accepted && chunk.failures.length > 0));
        });
      }
    });
  }

  it("uses the reference thresholds 38 / 10 / 8 for k = 128", () => {
    assert.equal(REFERENCE_BF16_K128.expMismatchesMax, vectors.thresholds_bf16_k128.exp_mismatches_max);
    assert.equal(REFERENCE_BF16_K128.mantErrMeanMax, vectors.thresholds_bf16_k128.mant_err_mean_max);
    assert.equal(REFERENCE_BF16_K128.mantErrMedianMax, vectors.thresholds_bf16_k128.mant_err_median_max);
  });

  it("defaults to the list path's median (mean of the two middle values)", () => {
    const c = vectors.cases.find((x) => x.name === "h512_skip_prefill")!;
    const params = { decodeBatchSize: c.decode_batching_size, skipPrefill: true };
    const results = verifyProofs(c.inputs.foreign.map(decodeActivation), c.proofs_base64, params);
    assert.deepEqual(
      results.map((r) => r.mantErrMedian),
      c.verify.foreign.list_path!.map((r) => r.mant_err_median),
    );
  });
});

describe("protocol/toploc bf16 rounding", () => {
  it("rounds float32 to the nearest bf16, ties to even", () => {
    assert.equal(float32ToBf16Bits(1), 0x3f80);
    assert.equal(float32ToBf16Bits(-2), 0xc000);
    // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
    assert.equal(float32ToBf16Bits(1 + 2 ** -8), 0x3f80);
    // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
    assert.equal(float32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(float32ToBf16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
    assert.equal(bf16BitsToFloat32(0x3f81), 1 + 2 ** -7);
  });

  it("proves float32 activations exactly as their bf16 rounding", () => {
    const f = new Float32Array(4096).map((_, i) => Math.sin(i * 12.9898) * 3.1);
    const fromFloat = buildProofsBase64([f], { topk: 32 });
    const fromBits = buildProofsBase64([float32ArrayToBf16(f)], { topk: 32 });
    assert.deepEqual(fromFloat, fromBits);
  });
});

describe("protocol/toploc proofs", () => {
  it("round-trips bytes and base64, and evaluates back to every interpolated value", () => {
    const chunk = randomBf16(32 * 256, 7);
    const { indices, values } = topKByMagnitude(chunk, 128);
    const proof = ToplocProof.fromPoints(indices, values);
    const decoded = ToplocProof.fromBase64(proof.toBase64(), 128);
    assert.deepEqual(decoded.toBytes(), proof.toBytes());
    for (let i = 0; i < 128; i++) assert.equal(decoded.valueAt(indices[i]!), values[i]);
  });

  it("finds the largest modulus that keeps indices distinct", () => {
    assert.equal(findInjectiveModulus([1, 2, 3]), FIELD_PRIME);
    assert.equal(findInjectiveModulus([0, FIELD_PRIME]), FIELD_PRIME - 1);
  });

  it("selects by magnitude, sign ignored", () => {
    const chunk = float32ArrayToBf16(new Float32Array([0.5, -8, 3, -0.25, 7]));
    const { indices } = topKByMagnitude(chunk, 2);
    assert.deepEqual([...indices].sort(), [1, 4]);
  });

  it("rejects a recomputation from a different model and accepts one with small numeric noise", () => {
    const act = [randomBf16(20 * 512, 1), ...Array.from({ length: 64 }, (_, i) => randomBf16(512, 100 + i))];
    const proofs = buildProofs(act);
    const noisy = act.map((a) => a.map((b) => ((b & 0x7f) === 0x7f ? b : b + ((b * 7919) % 3 === 0 ? 1 : 0))));
    assert.equal(verifyAndJudge(noisy, proofs).accepted, true);
    const other = act.map((a, i) => randomBf16(a.length, 999 + i));
    assert.equal(verifyAndJudge(other, proofs).accepted, false);
  });
});

describe("protocol/toploc bad input", () => {
  const activations = [randomBf16(10 * 64, 3), randomBf16(64, 4), randomBf16(64, 5)];
  const params = { topk: 8, decodeBatchSize: 2 };
  const good = buildProofs(activations, params).map((p) => p.toBytes());

  it("rejects a proof of the wrong length", () => {
    assert.throws(() => verifyProofs(activations, [good[0]!, good[1]!.subarray(0, 16)], params), MalformedProofError);
    assert.throws(() => ToplocProof.fromBytes(new Uint8Array(3)), MalformedProofError);
    assert.throws(() => ToplocProof.fromBytes(new Uint8Array(2)), MalformedProofError);
    assert.throws(() => ToplocProof.fromBytes(good[0]!, 128), /expected 258 bytes for k = 128/);
  });

  it("rejects modulus 0 and a modulus above the field prime", () => {
    const zero = good[0]!.slice();
    zero[0] = 0;
    zero[1] = 0;
    assert.throws(() => verifyProofs(activations, [zero, good[1]!], params), (e: unknown) => e instanceof MalformedProofError && e.field === "proofs[0].modulus");
    const big = good[0]!.slice();
    big[0] = 0xff;
    big[1] = 0xff;
    assert.throws(() => ToplocProof.fromBytes(big), /modulus is 65535/);
  });

  it("rejects a coefficient >= 65497", () => {
    const bad = good[1]!.slice();
    bad[4] = 0xff;
    bad[5] = 0xd9; // 65497
    assert.throws(
      () => verifyProofs(activations, [good[0]!, bad], params),
      (e: unknown) => e instanceof MalformedProofError && e.field === "proofs[1].coefficients[1]" && /65497/.test(e.message),
    );
  });

  it("rejects invalid base64", () => {
    const text = Buffer.from(good[0]!).toString("base64");
    for (const bad of [text.slice(0, -1), `${text.slice(0, -2)}*=`, ` ${text}`, `${text}AA`, "AAA=A===", "AAA"]) {
      assert.throws(() => ToplocProof.fromBase64(bad, 8), InvalidBase64Error, JSON.stringify(bad));
    }
    assert.throws(() => ToplocProof.fromBase64("", 8), MalformedProofError);
    // Non-zero padding bits decode leniently in Node; canonical encoding is required.
    assert.throws(() => ToplocProof.fromBase64("AAB=", undefined), /canonical/);
  });

  it("rejects k and chunk size out of range", () => {
    for (const topk of [0, -1, 1.5, 8193, Number.NaN]) {
      assert.throws(() => buildProofs(activations, { topk }), (e: unknown) => e instanceof InvalidParameterError && e.field === "topk");
    }
    for (const decodeBatchSize of [0, 4097, 2.5]) {
      assert.throws(() => buildProofs(activations, { decodeBatchSize }), (e: unknown) => e instanceof InvalidParameterError && e.field === "decodeBatchSize");
    }
  });

  it("rejects NaN and Inf activations, naming the position", () => {
    const withNaN = activations.map((a) => a.slice());
    withNaN[1]![5] = 0x7fc0;
    assert.throws(() => buildProofs(withNaN, params), (e: unknown) => e instanceof NonFiniteActivationError && /\[5\] is NaN/.test(e.message));
    const withInf = [new Float32Array(640).fill(1)];
    withInf[0]![9] = Number.NEGATIVE_INFINITY;
    assert.throws(() => buildProofs(withInf, params), /\[9\] is Inf/);
    assert.throws(() => verifyProofs(withNaN, good, params), NonFiniteActivationError);
  });

  it("rejects a chunk shorter than k", () => {
    assert.throws(() => buildProofs([randomBf16(100, 1), randomBf16(64, 2)], { topk: 128 }), ChunkTooShortError);
    assert.throws(() => verifyProofs([randomBf16(4, 1)], [good[0]!], params), ChunkTooShortError);
  });

  it("rejects a proof count that does not match the chunks", () => {
    assert.throws(() => verifyProofs(activations, [good[0]!], params), ProofCountMismatchError);
    assert.throws(() => verifyProofs(activations, [...good, good[0]!], params), ProofCountMismatchError);
  });

  it("rejects empty or mistyped activations", () => {
    assert.throws(() => buildProofs([], params), InvalidParameterError);
    assert.throws(() => buildProofs([[1, 2, 3] as unknown as Uint16Array], params), /activations\[0\] must be a Uint16Array/);
  });

  it("refuses a threshold profile calibrated for another k", () => {
    assert.throws(() => verifyAndJudge(activations, good, params), /calibrated for k = 128/);
  });
});
