/**
 * Arithmetic in GF(65497), the prime field TOPLOC interpolates over, and the polynomial
 * operations the proofs need. All values are plain numbers in [0, P). Products of two field
 * elements stay below 2^33, so they are exact in a double; reduction uses a Barrett-style
 * floor(p / P) estimate, which is several times faster in V8 than the `%` operator on doubles.
 * interpolate and evaluateMany run in a small WebAssembly kernel (wasm-field.ts) where the host
 * has WebAssembly; the JavaScript versions stay as the fallback and as the kernel's reference.
 */
import { WasmField } from "./wasm-field.ts";

export const FIELD_PRIME = 65497;
const INV_PRIME = 1 / FIELD_PRIME;

/** (a * b) mod P for a, b in [0, P). */
function mulMod(a: number, b: number): number {
  const p = a * b;
  const r = p - Math.floor(p * INV_PRIME) * FIELD_PRIME;
  return r < 0 ? r + FIELD_PRIME : r >= FIELD_PRIME ? r - FIELD_PRIME : r;
}

/** Reduces any integer below 2^52 in magnitude into [0, P). */
export function reduce(v: number): number {
  const r = v - Math.floor(v * INV_PRIME) * FIELD_PRIME;
  return r < 0 ? r + FIELD_PRIME : r >= FIELD_PRIME ? r - FIELD_PRIME : r;
}

// Inverses fit in 16 bits; the 128 KiB table stays in L2 cache during interpolation.
let inverses: Uint16Array | undefined;

/** Multiplicative inverses of 1..P-1, built once (inv[i] = -(P / i) * inv[P mod i]). */
function inverseTable(): Uint16Array {
  if (inverses) return inverses;
  const inv = new Uint16Array(FIELD_PRIME);
  inv[1] = 1;
  for (let i = 2; i < FIELD_PRIME; i++) {
    inv[i] = FIELD_PRIME - mulMod(Math.floor(FIELD_PRIME / i), inv[FIELD_PRIME % i]!);
  }
  inverses = inv;
  return inv;
}

/** a^-1 mod P; a must be non-zero mod P. */
export function invMod(a: number): number {
  const r = reduce(a);
  if (r === 0) throw new RangeError("0 has no inverse in GF(65497)");
  return inverseTable()[r]!;
}

/**
 * Coefficients c[0..n-1] (lowest degree first) of the unique polynomial of degree < n through
 * the points (x[i], y[i]) over GF(P). The x values must be distinct and in [0, P). Newton's
 * divided differences, then expansion into the monomial basis; O(n^2). The reductions are
 * written out inline: this is the prover's hot loop, and V8 does not inline reduce() here.
 */
// Scratch rows reused across calls (interpolation runs once per proof on the prover's hot path).
let ddScratch = new Float64Array(256);
let coeffScratch = new Float64Array(256);

export function interpolateJs(x: ArrayLike<number>, y: ArrayLike<number>): Uint16Array {
  const n = x.length;
  const inv = inverseTable();
  if (ddScratch.length < n) {
    ddScratch = new Float64Array(n);
    coeffScratch = new Float64Array(n);
  }
  const dd = ddScratch;
  for (let i = 0; i < n; i++) dd[i] = reduce(y[i]!);
  for (let k = 1; k < n; k++) {
    for (let i = n - 1; i >= k; i--) {
      let denom = x[i]! - x[i - k]!;
      if (denom < 0) denom += FIELD_PRIME;
      // (dd[i] - dd[i-1] + P) < 2P, times an inverse < P: below 2^34, exact in a double.
      const v: number = (dd[i]! - dd[i - 1]! + FIELD_PRIME) * inv[denom]!;
      const r = v - Math.floor(v * INV_PRIME) * FIELD_PRIME;
      dd[i] = r >= FIELD_PRIME ? r - FIELD_PRIME : r < 0 ? r + FIELD_PRIME : r;
    }
  }
  // Horner-style expansion from the highest Newton term down:
  // p(x) = dd[0] + (x - x0)(dd[1] + (x - x1)(dd[2] + ...)).
  const coeffs = coeffScratch;
  coeffs.fill(0, 0, n);
  let degree = 0;
  coeffs[0] = dd[n - 1]!;
  for (let i = n - 2; i >= 0; i--) {
    const negXi = x[i] === 0 ? 0 : FIELD_PRIME - x[i]!;
    // coeffs <- coeffs * (x - x[i]) + dd[i]
    coeffs[degree + 1] = coeffs[degree]!;
    for (let j = degree; j >= 1; j--) {
      const v: number = coeffs[j - 1]! + coeffs[j]! * negXi;
      const r = v - Math.floor(v * INV_PRIME) * FIELD_PRIME;
      coeffs[j] = r >= FIELD_PRIME ? r - FIELD_PRIME : r < 0 ? r + FIELD_PRIME : r;
    }
    const v0: number = coeffs[0]! * negXi + dd[i]!;
    const r0 = v0 - Math.floor(v0 * INV_PRIME) * FIELD_PRIME;
    coeffs[0] = r0 >= FIELD_PRIME ? r0 - FIELD_PRIME : r0 < 0 ? r0 + FIELD_PRIME : r0;
    degree++;
  }
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = coeffs[i]!;
  return out;
}

/** Evaluates the polynomial with the given coefficients (lowest degree first) at x, mod P. */
export function evaluate(coeffs: ArrayLike<number>, x: number): number {
  const xr = reduce(x);
  let acc = coeffs[coeffs.length - 1] ?? 0;
  for (let i = coeffs.length - 2; i >= 0; i--) {
    acc = reduce(acc * xr + coeffs[i]!);
  }
  return acc;
}

/**
 * Evaluates the polynomial at every point of `xs` (each already in [0, P)) into `out`. Four
 * points share each pass over the coefficients: Horner's rule is one long dependency chain per
 * point, so interleaving four chains keeps the CPU's multipliers busy.
 */
export function evaluateManyJs(coeffs: Uint16Array, xs: ArrayLike<number>, out: Uint32Array): void {
  const top = coeffs.length - 1;
  let p = 0;
  for (; p + 4 <= xs.length; p += 4) {
    const x0 = xs[p]!, x1 = xs[p + 1]!, x2 = xs[p + 2]!, x3 = xs[p + 3]!;
    let a0 = coeffs[top]!, a1 = a0, a2 = a0, a3 = a0;
    for (let i = top - 1; i >= 0; i--) {
      const c = coeffs[i]!;
      a0 = a0 * x0 + c;
      a1 = a1 * x1 + c;
      a2 = a2 * x2 + c;
      a3 = a3 * x3 + c;
      a0 -= Math.floor(a0 * INV_PRIME) * FIELD_PRIME;
      a1 -= Math.floor(a1 * INV_PRIME) * FIELD_PRIME;
      a2 -= Math.floor(a2 * INV_PRIME) * FIELD_PRIME;
      a3 -= Math.floor(a3 * INV_PRIME) * FIELD_PRIME;
      // The floor estimate is off by one at most; fix up so each stays in [0, P).
      if (a0 >= FIELD_PRIME) a0 -= FIELD_PRIME; else if (a0 < 0) a0 += FIELD_PRIME;
      if (a1 >= FIELD_PRIME) a1 -= FIELD_PRIME; else if (a1 < 0) a1 += FIELD_PRIME;
      if (a2 >= FIELD_PRIME) a2 -= FIELD_PRIME; else if (a2 < 0) a2 += FIELD_PRIME;
      if (a3 >= FIELD_PRIME) a3 -= FIELD_PRIME; else if (a3 < 0) a3 += FIELD_PRIME;
    }
    out[p] = a0;
    out[p + 1] = a1;
    out[p + 2] = a2;
    out[p + 3] = a3;
  }
  for (; p < xs.length; p++) out[p] = evaluate(coeffs, xs[p]!);
}

// The kernel, built on first use; null where the host has no WebAssembly.
let kernel: WasmField | null | undefined;

function wasmKernel(): WasmField | null {
  if (kernel === undefined) kernel = WasmField.create(inverseTable()) ?? null;
  return kernel;
}

/**
 * Coefficients (lowest degree first) of the polynomial of degree < n through (x[i], y[i]) over
 * GF(P); x distinct in [0, P), y non-negative integers. Same results as interpolateJs.
 */
export function interpolate(x: ArrayLike<number>, y: ArrayLike<number>): Uint16Array {
  const k = kernel ?? wasmKernel();
  return k ? k.interpolate(x, y) : interpolateJs(x, y);
}

/** The polynomial at every point of `xs` (each already in [0, P)) into `out`; same as evaluateManyJs. */
export function evaluateMany(coeffs: Uint16Array, xs: ArrayLike<number>, out: Uint32Array): void {
  const k = kernel ?? wasmKernel();
  if (k) k.evaluateMany(coeffs, xs, out);
  else evaluateManyJs(coeffs, xs, out);
}
