/**
 * bfloat16 helpers. TOPLOC works on bf16 bit patterns: a float32 activation is first rounded to
 * bf16 (round to nearest, ties to even, as torch does), and comparisons read the 8-bit exponent
 * and 7-bit mantissa of those patterns. The sign bit is not compared, as in the reference.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export const BF16_EXPONENT_MASK = 0x7f80;
export const BF16_MANTISSA_MASK = 0x007f;
/** Magnitude bits (everything but the sign). Ordering by these equals ordering by |value|. */
export const BF16_MAGNITUDE_MASK = 0x7fff;
/** Smallest magnitude pattern that is not finite (Inf; above it, NaN). */
export const BF16_NON_FINITE = 0x7f80;

/** Rounds one float32 to the bit pattern of the nearest bf16 (ties to even). NaN stays NaN. */
export function float32ToBf16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x0040; // quiet NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Rounds a whole float32 array to bf16 bit patterns. */
export function float32ArrayToBf16(values: Float32Array): Uint16Array {
  // Signed 32-bit view: V8 keeps every step below in int32 registers. Wrapping arithmetic
  // gives the same high 16 bits as the unsigned formula, and finite values never wrap.
  const src = new Int32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < src.length; i++) {
    const bits = src[i]!;
    out[i] =
      (bits & 0x7fffffff) > 0x7f800000
        ? (bits >>> 16) | 0x0040
        : (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** The float value of a bf16 bit pattern. */
export function bf16BitsToFloat32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

export function bf16Exponent(bits: number): number {
  return (bits & BF16_EXPONENT_MASK) >>> 7;
}

export function bf16Mantissa(bits: number): number {
  return bits & BF16_MANTISSA_MASK;
}
