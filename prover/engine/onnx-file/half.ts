/** IEEE half (fp16) and bfloat16 <-> float32, bit-exact (every fp16 and bf16 value is a float32). */

export const FLOAT = 1;
export const FLOAT16 = 10;
export const BFLOAT16 = 16;

export function isHalfType(dataType: number | null | undefined): boolean {
  return dataType === FLOAT16 || dataType === BFLOAT16;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 bits of an fp16 value (subnormals, infinities and NaN included). */
export function halfBitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal: normalise.
  let e = 113;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

export function halfBitsToFloat32(h: number): number {
  u32[0] = halfBitsToFloat32Bits(h);
  return f32[0]!;
}

/** fp16 bits of a float32, rounded to nearest, ties to even; beyond the fp16 range it saturates to +-65504 (as export converters clamp). */
export function float32ToHalfBits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return mantissa !== 0 ? sign | 0x7e00 : sign | 0x7bff;
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  if ((half & 0x7fff) >= 0x7c00) return sign | 0x7bff;
  return sign | half;
}

/** Converts little-endian fp16 or bf16 bytes to little-endian float32 bytes. */
export function upcastBytes(source: Uint8Array, dataType: number): Uint8Array {
  if (source.length % 2 !== 0) throw new RangeError("half-precision data has an odd byte count");
  const count = source.length / 2;
  const out = new Uint8Array(count * 4);
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength);
  const target = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    const h = view.getUint16(i * 2, true);
    target.setUint32(i * 4, dataType === BFLOAT16 ? (h << 16) >>> 0 : halfBitsToFloat32Bits(h), true);
  }
  return out;
}
