import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  FIELD_PRIME,
  evaluate,
  evaluateMany,
  evaluateManyJs,
  interpolate,
  interpolateJs,
  invMod,
} from "../../protocol/toploc/field.ts";
import { WasmField } from "../../protocol/toploc/wasm-field.ts";

const P = FIELD_PRIME;

/** Deterministic xorshift32 stream in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** k distinct x values in [0, P) (0 among them when withZero) and k y values in [0, 65536). */
function pointSet(next: () => number, k: number, withZero: boolean): { x: Float64Array; y: Uint32Array } {
  const xs = new Set<number>();
  if (withZero) xs.add(0);
  while (xs.size < k) xs.add(Math.floor(next() * P));
  const y = new Uint32Array(k);
  for (let i = 0; i < k; i++) y[i] = Math.floor(next() * 65536);
  return { x: Float64Array.from(xs), y };
}

/** p(x) mod P with BigInt arithmetic: an independent reference for the field code. */
function evaluateBig(coeffs: ArrayLike<number>, x: number): number {
  let acc = 0n;
  for (let i = coeffs.length - 1; i >= 0; i--) acc = (acc * BigInt(x) + BigInt(coeffs[i]!)) % BigInt(P);
  return Number(acc);
}

describe("TOPLOC wasm field kernel", () => {
  it("is the path field.ts takes on this host", () => {
    assert.equal(typeof (globalThis as { WebAssembly?: unknown }).WebAssembly, "object");
    const inverses = new Uint16Array(P);
    for (let a = 1; a < P; a++) inverses[a] = invMod(a);
    assert.ok(WasmField.create(inverses) instanceof WasmField);
  });

  it("interpolates exactly like the JavaScript path on 300 random point sets (k = 1..256, x = 0 included)", () => {
    const next = random(0x70c10c);
    for (let t = 0; t < 300; t++) {
      const k = t < 4 ? [1, 2, 255, 256][t]! : 1 + Math.floor(next() * 256);
      const { x, y } = pointSet(next, k, t % 3 === 0);
      const viaWasm = interpolate(x, y);
      assert.deepEqual(viaWasm, interpolateJs(x, y), `point set ${t} (k = ${k})`);
      // The polynomial really passes through the points (checked with BigInt arithmetic).
      for (let i = 0; i < k; i += 17) assert.equal(evaluateBig(viaWasm, x[i]!), y[i]! % P, `set ${t}, point ${i}`);
    }
  });

  it("evaluates many points exactly like the JavaScript path, including lengths that are not a multiple of 4", () => {
    const next = random(0xe7a1);
    for (let t = 0; t < 200; t++) {
      const k = 1 + Math.floor(next() * 256);
      const coeffs = new Uint16Array(k);
      // Coefficients up to 65535: decoded proofs may carry values >= P, and both paths must agree.
      for (let i = 0; i < k; i++) coeffs[i] = Math.floor(next() * 65536);
      const count = Math.floor(next() * 70);
      const xs = new Uint32Array(count);
      for (let i = 0; i < count; i++) xs[i] = i === 0 ? 0 : Math.floor(next() * P);
      const viaWasm = new Uint32Array(count);
      const viaJs = new Uint32Array(count);
      evaluateMany(coeffs, xs, viaWasm);
      evaluateManyJs(coeffs, xs, viaJs);
      assert.deepEqual(viaWasm, viaJs, `set ${t} (k = ${k}, ${count} points)`);
      for (let i = 0; i < count; i++) assert.equal(viaWasm[i], k === 1 ? coeffs[0] : evaluate(coeffs, xs[i]!));
    }
  });

  it("grows its memory for inputs larger than the initial scratch space", () => {
    const next = random(0xb16);
    const { x, y } = pointSet(next, 1500, true);
    const coeffs = interpolate(x, y);
    assert.deepEqual(coeffs, interpolateJs(x, y));
    const xs = new Uint32Array(50_001);
    for (let i = 0; i < xs.length; i++) xs[i] = Math.floor(next() * P);
    const viaWasm = new Uint32Array(xs.length);
    const viaJs = new Uint32Array(xs.length);
    evaluateMany(coeffs, xs, viaWasm);
    evaluateManyJs(coeffs, xs, viaJs);
    assert.deepEqual(viaWasm, viaJs);
    // And still agrees on a small input afterwards (views refreshed after the growth).
    const small = pointSet(next, 128, false);
    assert.deepEqual(interpolate(small.x, small.y), interpolateJs(small.x, small.y));
  });

  it("handles empty inputs", () => {
    assert.deepEqual(interpolate([], []), new Uint16Array(0));
    const out = new Uint32Array(0);
    evaluateMany(new Uint16Array([5]), new Uint32Array(0), out);
    assert.equal(out.length, 0);
  });
});
