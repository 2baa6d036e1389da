/**
 * TOPLOC decoder strictness: one encoding per proof. A proof whose modulus is not the one the
 * reference chooses (the largest modulus keeping the top-k indices distinct) used to verify; so
 * did calling the decoder with something that is not bytes throw a bare TypeError.
 */
import assert from "node:assert/strict";
import {
  FIELD_PRIME,
  InvalidBase64Error,
  InvalidParameterError,
  MalformedProofError,
  NonCanonicalModulusError,
  ToplocProof,
  canonicalModulusProblem,
  findInjectiveModulus,
  topKByMagnitude,
  verifyProofs,
} from "../../protocol/toploc/index.ts";
import { interpolate } from "../../protocol/toploc/field.ts";

const K = 128;
const BF16_ONE = 0x3f80;

/** A chunk of `n` small values with `k` large ones at `hot` (descending magnitude). */
function chunkWith(n: number, hot: number[]): Uint16Array {
  const bits = new Uint16Array(n).fill(0x3c00); // 2^-7: far below the hot values
  hot.forEach((index, rank) => (bits[index] = BF16_ONE + 0x200 - rank)); // distinct, descending
  return bits;
}

describe("protocol/toploc strictness: non-canonical moduli and non-bytes input", () => {
  it("refuses anything but bytes with MalformedProofError, and non-strings as base64 with InvalidBase64Error", () => {
    for (const bad of [null, undefined, 42, "AAAA", [0, 1, 2, 3], { length: 4 }, new Uint16Array(4).buffer]) {
      assert.throws(() => ToplocProof.fromBytes(bad as unknown as Uint8Array), (e: unknown) => e instanceof MalformedProofError && e.field === "proof", String(bad));
    }
    for (const bad of [null, undefined, 42, new Uint8Array(4)]) {
      assert.throws(() => ToplocProof.fromBase64(bad as unknown as string), InvalidBase64Error);
    }
    const chunk = chunkWith(4 * K, Array.from({ length: K }, (_, i) => i * 3));
    assert.throws(() => verifyProofs([chunk], [null as never], { topk: K }), InvalidParameterError);
  });

  it("refuses a modulus below k at decoding: k indices never stay distinct modulo fewer values", () => {
    const bytes = new Uint8Array(2 + 2 * K);
    bytes[0] = 0;
    bytes[1] = K - 1;
    assert.throws(() => ToplocProof.fromBytes(bytes, K), (e: unknown) => e instanceof NonCanonicalModulusError && e.field === "proof.modulus");
  });

  it("refuses a proof re-encoded with another modulus, which used to verify with zero error", () => {
    const hot = Array.from({ length: K }, (_, i) => i * 977 + 11);
    const chunk = chunkWith(32 * 4096, hot);
    const { indices, values } = topKByMagnitude(chunk, K);
    const canonical = ToplocProof.fromPoints(indices, values);
    assert.equal(canonical.modulus, findInjectiveModulus(indices));
    assert.equal(verifyProofs([chunk], [canonical.toBytes()], { topk: K })[0]!.expMismatches, 0);
    // The same claims through another modulus that keeps these indices distinct.
    for (const modulus of [canonical.modulus - 1000, 40_000, 20_011]) {
      assert.equal(new Set(Array.from(indices, (i) => i % modulus)).size, K, `${modulus} keeps the indices distinct`);
      const xs = Float64Array.from(indices, (i) => i % modulus);
      const forged = new ToplocProof(modulus, interpolate(xs, values));
      for (let i = 0; i < K; i++) assert.equal(forged.valueAt(indices[i]!), values[i], "the forged proof makes the same claims");
      assert.throws(
        () => verifyProofs([chunk], [forged.toBytes()], { topk: K }),
        (e: unknown) => e instanceof NonCanonicalModulusError && e.field === "proof.modulus" && /not \d+, the largest modulus/.test(e.message),
        `modulus ${modulus}`,
      );
    }
  });

  it("still accepts an honest proof when noise on other hardware swaps in a top-k index that collides at the prover's modulus", () => {
    // The prover's top-k are distinct modulo 65497; on the verifier's hardware the runner-up,
    // exactly 65497 above the first index, edges out the last one, so the recomputed indices are
    // not distinct modulo 65497 and their own canonical modulus is smaller.
    const hot = Array.from({ length: K }, (_, i) => i * 101 + 5);
    const n = 2 * FIELD_PRIME + 1024;
    const prover = chunkWith(n, hot);
    const runnerUp = hot[0]! + FIELD_PRIME;
    prover[runnerUp] = prover[hot[K - 1]!]! - 1;
    const { indices, values } = topKByMagnitude(prover, K);
    const proof = ToplocProof.fromPoints(indices, values);
    assert.equal(proof.modulus, FIELD_PRIME);
    const verifier = prover.slice();
    verifier[runnerUp] = prover[hot[K - 1]!]! + 1;
    const recomputed = topKByMagnitude(verifier, K).indices;
    assert.ok(findInjectiveModulus(recomputed) < FIELD_PRIME, "the recomputed canonical modulus differs");
    assert.equal(canonicalModulusProblem(proof.modulus, recomputed), undefined);
    const [result] = verifyProofs([verifier], [proof.toBytes()], { topk: K });
    assert.ok(result!.expMismatches <= 2, `${result!.expMismatches} mismatches`);
  });

  it("and when the recomputation lacks the index that made the prover's modulus smaller", () => {
    const hot = Array.from({ length: K - 1 }, (_, i) => i * 101 + 5);
    const collider = hot[0]! + FIELD_PRIME;
    const n = 2 * FIELD_PRIME + 1024;
    const prover = chunkWith(n, [...hot, collider]);
    const { indices, values } = topKByMagnitude(prover, K);
    const proof = ToplocProof.fromPoints(indices, values);
    assert.ok(proof.modulus < FIELD_PRIME);
    const verifier = prover.slice();
    verifier[collider] = 0x3c00;
    const runnerUp = 7;
    verifier[runnerUp] = BF16_ONE;
    const recomputed = topKByMagnitude(verifier, K).indices;
    assert.equal(findInjectiveModulus(recomputed), FIELD_PRIME);
    assert.equal(canonicalModulusProblem(proof.modulus, recomputed), undefined);
  });
});
