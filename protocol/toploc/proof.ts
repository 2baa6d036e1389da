import { FIELD_PRIME, evaluate, evaluateMany, interpolate } from "./field.ts";
import { InvalidBase64Error, MalformedProofError, NoInjectiveModulusError } from "./errors.ts";

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

  /** valueAt for many indices at once (the verifier's hot path). */
  valuesAt(indices: ArrayLike<number>): Uint32Array {
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
   * zero in the reference), a modulus above the field prime, coefficients outside the field.
   */
  static fromBytes(bytes: Uint8Array, expectedK?: number, field = "proof"): ToplocProof {
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
