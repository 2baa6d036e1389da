import { FIELD_PRIME, evaluate, evaluateMany, interpolate } from "./field.ts";
import { InvalidBase64Error, MalformedProofError, NoInjectiveModulusError, NonCanonicalModulusError } from "./errors.ts";

/**
 * One TOPLOC proof: a polynomial over GF(65497) through the points (index mod m, bf16 bits),
 * where m is the largest modulus <= 65497 that keeps the k indices distinct.
 *
 * Wire format (as the reference library writes it): 2 + 2k bytes, big-endian u16 modulus, then
 * k big-endian u16 coefficients, lowest degree first; transported as standard padded base64.
 */
export class ToplocProof {
  constructor(
    readonly modulus: number,
    readonly coefficients: Uint16Array,
  ) {}

  /** Number of interpolated points (k). */
  get k(): number {
    return this.coefficients.length;
  }

  /** Interpolates the proof through the given top-k indices and bf16 values. */
  static fromPoints(indices: ArrayLike<number>, values: ArrayLike<number>): ToplocProof {
    const modulus = findInjectiveModulus(indices);
    const x = new Float64Array(indices.length);
    for (let i = 0; i < x.length; i++) x[i] = indices[i]! % modulus;
    return new ToplocProof(modulus, interpolate(x, values));
  }

  /** The bf16 bit pattern the proof claims for flat index `index` (as a field element). */
  valueAt(index: number): number {
    return evaluate(this.coefficients, index % this.modulus);
  }

  /**
   * The claims at the verifier's recomputed top-k indices (the verifier's hot path). Checks first
   * that the modulus is canonical for those indices (canonicalModulusProblem): a proof with any
   * other modulus is refused with NonCanonicalModulusError, not evaluated.
   */
  valuesAt(indices: ArrayLike<number>, field = "proof"): Uint32Array {
    const problem = canonicalModulusProblem(this.modulus, indices);
    if (problem) throw new NonCanonicalModulusError(`${field}.modulus ${problem}`, `${field}.modulus`);
    const xs = new Uint32Array(indices.length);
    for (let i = 0; i < xs.length; i++) xs[i] = indices[i]! % this.modulus;
    const out = new Uint32Array(indices.length);
    evaluateMany(this.coefficients, xs, out);
    return out;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(2 + 2 * this.k);
    out[0] = this.modulus >>> 8;
    out[1] = this.modulus & 0xff;
    for (let i = 0; i < this.k; i++) {
      out[2 + 2 * i] = this.coefficients[i]! >>> 8;
      out[3 + 2 * i] = this.coefficients[i]! & 0xff;
    }
    return out;
  }

  toBase64(): string {
    return Buffer.from(this.toBytes()).toString("base64");
  }

  /**
   * Decodes and validates proof bytes. `expectedK`, when given, pins the length to 2 + 2k.
   * Rejects what the reference would misread: odd or short lengths, modulus 0 (division by
   * zero in the reference), a modulus above the field prime, coefficients outside the field;
   * and what no honest prover writes: a modulus below k (k distinct indices never stay distinct
   * modulo fewer than k values). Anything but a Uint8Array is a MalformedProofError too.
   */
  static fromBytes(bytes: Uint8Array, expectedK?: number, field = "proof"): ToplocProof {
    if (!(bytes instanceof Uint8Array)) {
      const got = bytes === null ? "null" : Array.isArray(bytes) ? "an array" : typeof bytes;
      throw new MalformedProofError(`${field} must be bytes (a Uint8Array), got ${got}`, field);
    }
    if (bytes.length < 4 || bytes.length % 2 !== 0) {
      throw new MalformedProofError(
        `${field} is ${bytes.length} bytes; a proof is 2 + 2k bytes (k >= 1)`,
        field,
      );
    }
    const k = (bytes.length - 2) / 2;
    if (expectedK !== undefined && k !== expectedK) {
      throw new MalformedProofError(
        `${field} is ${bytes.length} bytes (k = ${k}); expected ${2 + 2 * expectedK} bytes for k = ${expectedK}`,
        field,
      );
    }
    const modulus = (bytes[0]! << 8) | bytes[1]!;
    if (modulus === 0 || modulus > FIELD_PRIME) {
      throw new MalformedProofError(
        `${field}.modulus is ${modulus}; it must be in 1..${FIELD_PRIME}`,
        `${field}.modulus`,
      );
    }
    if (modulus < k) {
      throw new NonCanonicalModulusError(`${field}.modulus is ${modulus}; ${k} distinct indices need a modulus of at least ${k}`, `${field}.modulus`);
    }
    const coefficients = new Uint16Array(k);
    for (let i = 0; i < k; i++) {
      const c = (bytes[2 + 2 * i]! << 8) | bytes[3 + 2 * i]!;
      if (c >= FIELD_PRIME) {
        throw new MalformedProofError(
          `${field}.coefficients[${i}] is ${c}; coefficients must be below ${FIELD_PRIME}`,
          `${field}.coefficients[${i}]`,
        );
      }
      coefficients[i] = c;
    }
    return new ToplocProof(modulus, coefficients);
  }

  static fromBase64(text: string, expectedK?: number, field = "proof"): ToplocProof {
    return ToplocProof.fromBytes(decodeBase64Strict(text, field), expectedK, field);
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard, padded, canonical base64 only: Buffer.from(…, "base64") would skip bad characters. */
export function decodeBase64Strict(text: string, field = "proof"): Uint8Array {
  if (typeof text !== "string" || !BASE64.test(text)) {
    const shown = typeof text === "string" ? JSON.stringify(text.slice(0, 24)) : typeof text;
    throw new InvalidBase64Error(`${field} is not valid padded base64: ${shown}`, field);
  }
  const bytes = Buffer.from(text, "base64");
  if (bytes.toString("base64") !== text) {
    throw new InvalidBase64Error(`${field} is not canonical base64 (non-zero padding bits)`, field);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

// Generation-stamped table: avoids clearing 65497 slots for every candidate modulus.
const seenAt = new Uint32Array(FIELD_PRIME);
let generation = 0;

/** Largest m in (0, 65497] such that the indices are pairwise distinct mod m. */
export function findInjectiveModulus(indices: ArrayLike<number>): number {
  for (let m = FIELD_PRIME; m > 0; m--) {
    if (++generation === 0xffffffff) {
      seenAt.fill(0);
      generation = 1;
    }
    let injective = true;
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i]! % m;
      if (seenAt[r] === generation) {
        injective = false;
        break;
      }
      seenAt[r] = generation;
    }
    if (injective) return m;
  }
  throw new NoInjectiveModulusError(`no modulus maps ${indices.length} indices injectively`, "indices");
}

/** Distinct residues of `indices` modulo m. */
function residueCount(indices: ArrayLike<number>, m: number, skip = -1): number {
  if (++generation === 0xffffffff) {
    seenAt.fill(0);
    generation = 1;
  }
  let distinct = 0;
  for (let i = 0; i < indices.length; i++) {
    if (i === skip) continue;
    const r = indices[i]! % m;
    if (seenAt[r] !== generation) {
      seenAt[r] = generation;
      distinct++;
    }
  }
  return distinct;
}

/**
 * Why `modulus` is not canonical for the recomputed top-k `indices`, or undefined when it is.
 * Canonical is what the reference's prover chooses: the largest injective modulus of ITS top-k
 * indices. The verifier only has its recomputation, whose top-k set may differ from the
 * prover's by an index or two on other hardware (bf16 rounding noise); in about 1 chunk in 400
 * (k = 128, 32 x 4096 values, measured) such a differing index changes the largest injective
 * modulus. So the rule allows exactly that much: the modulus must be the largest injective
 * modulus of the recomputed indices with at most one index removed or one index added. Any
 * other modulus, e.g. one a prover picked to re-encode the same claims, is refused.
 */
export function canonicalModulusProblem(modulus: number, indices: ArrayLike<number>): string | undefined {
  const k = indices.length;
  if (k === 0) return undefined;
  const expected = findInjectiveModulus(indices);
  if (modulus === expected) return undefined;
  const shown = `is ${modulus}, not ${expected}, the largest modulus that keeps the ${k} recomputed top-k indices distinct`;
  if (modulus > expected) {
    // One recomputed index the prover did not have may collide at the prover's modulus.
    if (k - residueCount(indices, modulus) !== 1) return shown;
    for (let skip = 0; skip < k; skip++) {
      if (residueCount(indices, modulus, skip) !== k - 1) continue;
      let largest = true;
      for (let m = FIELD_PRIME; m > modulus && largest; m--) if (residueCount(indices, m, skip) === k - 1) largest = false;
      if (largest) return undefined;
    }
    return shown;
  }
  // The prover may have had one index the recomputation lacks, colliding at every larger
  // modulus at which the recomputed indices are distinct: possible for one such modulus only.
  let distinctAbove = 0;
  for (let m = FIELD_PRIME; m > modulus && distinctAbove <= 1; m--) if (residueCount(indices, m) === k) distinctAbove++;
  return distinctAbove <= 1 && residueCount(indices, modulus) === k ? undefined : shown;
}
