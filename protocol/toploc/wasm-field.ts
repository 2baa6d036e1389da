/**
 * The O(k^2) hot loops of protocol/toploc/field.ts (Newton interpolation and many-point Horner
 * evaluation over GF(65497)) as a tiny WebAssembly module assembled at load time. Why: wasm has
 * exact 64-bit integer multiplies, so a reduction is one Barrett step (multiply by a constant,
 * shift, multiply by P, subtract) instead of JavaScript's double-precision floor trick with its
 * two-sided fix-up; interpolation keeps values lazily in [0, 2P) and so needs no fix-up at all
 * (about 1.6x faster than the JavaScript version at k = 128 on the 2-core dev machine).
 *
 * Memory (imported as env.memory; WasmField creates and grows it), by byte offset:
 *   [0, 2P)            u16 table of inverses mod P (entry 0 is 0), filled once at creation
 *   SCRATCH_OFFSET...  u32 arrays the wrapper places per call
 * Exports:
 *   interpolate(x, dd, out, n)          x, dd (y values, reduced; overwritten), out: u32 arrays;
 *                                       out[i] is left in [0, 2P) for the wrapper to finish
 *   evaluateMany(c, n, xs, out, count)  out[p] = sum c[i] xs[p]^i mod P, c and xs u32 arrays
 */
import {
  Code, I32, I64, VOID, WASM_HEADER, WASM_PAGE_BYTES, name, section, uleb, vec, webAssembly,
  type WasmMemory, type WasmModule,
} from "../wasm/assembler.ts";

const P = 65497;
// Barrett constant: floor(2^47 / P). For v < 2^32, floor(v * M / 2^47) is floor(v / P) or one
// less (the error in v * M / 2^47 is below v / 2^47 < 2^-15), so one conditional subtract fixes it.
const BARRETT_SHIFT = 47n;
const BARRETT_M = (1n << BARRETT_SHIFT) / BigInt(P);

/** Offset of the per-call u32 arrays: just past the inverse table, 16-byte aligned. */
export const SCRATCH_OFFSET = (2 * P + 15) & ~15;

const OP = {
  block: 0x02, loop: 0x03, end: 0x0b, br: 0x0c, brIf: 0x0d, select: 0x1b,
  i32Eqz: 0x45, i32Eq: 0x46, i32LtS: 0x48, i32LtU: 0x49, i32GtU: 0x4b, i32GeU: 0x4f,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32Shl: 0x74,
  i64Add: 0x7c, i64Sub: 0x7d, i64Mul: 0x7e, i64ShrU: 0x88, i32WrapI64: 0xa7, i64ExtendI32U: 0xad,
  i64Load16U: 0x33, i64Load32U: 0x35, i64Store32: 0x3e,
} as const;

/** Replaces the u32 on the stack (below 2^32) by its residue mod P; `t` is a scratch i32 local. */
function emitReduce(c: Code, t: number): void {
  c.tee(t).get(t).op(OP.i64ExtendI32U).i64(BARRETT_M).op(OP.i64Mul).i64(BARRETT_SHIFT).op(OP.i64ShrU);
  c.op(OP.i32WrapI64).i32(P).op(OP.i32Mul, OP.i32Sub).tee(t);
  // t in [0, 2P): select(t - P, t, t >= P)
  c.i32(P).op(OP.i32Sub).get(t).get(t).i32(P).op(OP.i32GeU, OP.select);
}

/** `if (v < 0) v += P` for the i32 on the stack; `t` is a scratch local. */
function emitAddPIfNegative(c: Code, t: number): void {
  c.tee(t).i32(P).op(OP.i32Add).get(t).get(t).i32(0).op(OP.i32LtS, OP.select);
}

// Lazy reduction for interpolate: values stay in [0, 2P) and every step computes in i64, so no
// conditional subtract is needed; floor(2^46 / P) keeps v * M below 2^64 for v < 4P^2 < 2^34,
// and the estimate is floor(v / P) or one less, so the remainder lands in [0, 2P).
const LAZY_SHIFT = 46n;
const LAZY_M = (1n << LAZY_SHIFT) / BigInt(P);

/** Replaces the i64 on the stack (below 4P^2) by a value in [0, 2P) congruent to it; `t` is an i64 local. */
function emitReduceLazy(c: Code, t: number): void {
  c.tee(t).get(t).i64(LAZY_M).op(OP.i64Mul).i64(LAZY_SHIFT).op(OP.i64ShrU).i64(BigInt(P)).op(OP.i64Mul, OP.i64Sub);
}

/**
 * interpolate(x, dd, out, n): params 0..3 (byte pointers, count); i32 locals 4..9, i64 10..11.
 * Leaves out[] in [0, 2P): the caller finishes the reduction.
 */
function interpolateBody(): number[] {
  const [X, DD, OUT, N, K4, I4, END4, T, DEG4, J4, D, V] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const c = new Code();
  // Divided differences, indices as byte offsets: for k = 1..n-1, for i = n-1 down to k,
  //   dd[i] = (dd[i] - dd[i-1]) * inv[(x[i] - x[i-k]) mod P] mod P.
  c.i32(4).set(K4);
  c.get(N).i32(2).op(OP.i32Shl).set(END4);
  c.op(OP.block, VOID, OP.loop, VOID);
  {
    c.get(K4).get(END4).op(OP.i32GeU, OP.brIf, 1);
    c.get(END4).i32(4).op(OP.i32Sub).set(I4);
    c.op(OP.block, VOID, OP.loop, VOID);
    {
      c.get(I4).get(K4).op(OP.i32LtS, OP.brIf, 1);
      c.get(X).get(I4).op(OP.i32Add).load32(0);
      c.get(X).get(I4).op(OP.i32Add).get(K4).op(OP.i32Sub).load32(0);
      c.op(OP.i32Sub);
      emitAddPIfNegative(c, T);
      c.i32(1).op(OP.i32Shl).op(OP.i64Load16U, 1, 0); // the denominator's inverse, as i64
      // (dd[i] - dd[i-1] + 2P) * inverse: below 4P * P.
      c.get(DD).get(I4).op(OP.i32Add).tee(T).op(OP.i64Load32U, 2, 0);
      c.get(T).i32(4).op(OP.i32Sub).op(OP.i64Load32U, 2, 0);
      c.op(OP.i64Sub).i64(BigInt(2 * P)).op(OP.i64Add, OP.i64Mul);
      emitReduceLazy(c, V);
      c.set(V);
      c.get(T).get(V).op(OP.i64Store32, 2, 0);
      c.get(I4).i32(4).op(OP.i32Sub).set(I4);
      c.op(OP.br, 0);
    }
    c.op(OP.end, OP.end);
    c.get(K4).i32(4).op(OP.i32Add).set(K4);
    c.op(OP.br, 0);
  }
  c.op(OP.end, OP.end);
  // Expansion into the monomial basis, from the highest Newton term down:
  // out <- out * (X - x[i]) + dd[i], starting from out = [dd[n-1]]. Terms stay below 2P(P + 1).
  c.get(OUT).get(DD).get(END4).op(OP.i32Add).i32(4).op(OP.i32Sub).load32(0).store32(0);
  c.i32(0).set(DEG4);
  c.get(END4).i32(8).op(OP.i32Sub).set(I4);
  c.op(OP.block, VOID, OP.loop, VOID);
  {
    c.get(I4).i32(0).op(OP.i32LtS, OP.brIf, 1);
    // D = -x[i] mod P, as i64
    c.i32(P).get(X).get(I4).op(OP.i32Add).load32(0).op(OP.i32Sub).set(T);
    c.i32(0).get(T).get(T).i32(P).op(OP.i32Eq, OP.select).op(OP.i64ExtendI32U).set(D);
    // out[deg + 1] = out[deg]
    c.get(OUT).get(DEG4).op(OP.i32Add).tee(T).get(T).load32(0).store32(4);
    c.get(DEG4).set(J4);
    c.op(OP.block, VOID, OP.loop, VOID);
    {
      c.get(J4).op(OP.i32Eqz, OP.brIf, 1);
      // out[j] = out[j-1] + out[j] * D, reduced lazily.
      c.get(OUT).get(J4).op(OP.i32Add).tee(T).get(T).i32(4).op(OP.i32Sub).op(OP.i64Load32U, 2, 0);
      c.get(T).op(OP.i64Load32U, 2, 0).get(D).op(OP.i64Mul, OP.i64Add);
      emitReduceLazy(c, V);
      c.op(OP.i64Store32, 2, 0);
      c.get(J4).i32(4).op(OP.i32Sub).set(J4);
      c.op(OP.br, 0);
    }
    c.op(OP.end, OP.end);
    // out[0] = out[0] * D + dd[i], reduced lazily.
    c.get(OUT).get(OUT).op(OP.i64Load32U, 2, 0).get(D).op(OP.i64Mul);
    c.get(DD).get(I4).op(OP.i32Add).op(OP.i64Load32U, 2, 0).op(OP.i64Add);
    emitReduceLazy(c, V);
    c.op(OP.i64Store32, 2, 0);
    c.get(DEG4).i32(4).op(OP.i32Add).set(DEG4);
    c.get(I4).i32(4).op(OP.i32Sub).set(I4);
    c.op(OP.br, 0);
  }
  c.op(OP.end, OP.end);
  c.op(OP.end);
  return [...vec([[...uleb(6), I32], [...uleb(2), I64]]), ...c.bytes];
}

const LANES = 4;

/**
 * evaluateMany(c, n, xs, out, count): params 0..4; i32 locals 5.. . Horner's rule is one long
 * dependency chain per point, so LANES points share each pass over the coefficients; the points
 * left over go one at a time.
 */
function evaluateManyBody(): number[] {
  const [C, N, XS, OUT, COUNT] = [0, 1, 2, 3, 4];
  const [P4, END4, TOP4, I4, CI, T] = [5, 6, 7, 8, 9, 10];
  const XL = (l: number) => 11 + l;
  const AL = (l: number) => 11 + LANES + l;
  const c = new Code();
  c.get(COUNT).i32(2).op(OP.i32Shl).set(END4);
  c.get(N).i32(2).op(OP.i32Shl).i32(4).op(OP.i32Sub).set(TOP4);
  c.i32(0).set(P4);
  for (const lanes of [LANES, 1]) {
    c.op(OP.block, VOID, OP.loop, VOID);
    {
      c.get(P4).i32(4 * lanes).op(OP.i32Add).get(END4).op(OP.i32GtU, OP.brIf, 1);
      for (let l = 0; l < lanes; l++) c.get(XS).get(P4).op(OP.i32Add).load32(4 * l).set(XL(l));
      c.get(C).get(TOP4).op(OP.i32Add).load32(0).set(AL(0));
      for (let l = 1; l < lanes; l++) c.get(AL(0)).set(AL(l));
      c.get(TOP4).i32(4).op(OP.i32Sub).set(I4);
      c.op(OP.block, VOID, OP.loop, VOID);
      {
        c.get(I4).i32(0).op(OP.i32LtS, OP.brIf, 1);
        c.get(C).get(I4).op(OP.i32Add).load32(0).set(CI);
        for (let l = 0; l < lanes; l++) {
          c.get(AL(l)).get(XL(l)).op(OP.i32Mul).get(CI).op(OP.i32Add);
          emitReduce(c, T);
          c.set(AL(l));
        }
        c.get(I4).i32(4).op(OP.i32Sub).set(I4);
        c.op(OP.br, 0);
      }
      c.op(OP.end, OP.end);
      for (let l = 0; l < lanes; l++) c.get(OUT).get(P4).op(OP.i32Add).get(AL(l)).store32(4 * l);
      c.get(P4).i32(4 * lanes).op(OP.i32Add).set(P4);
      c.op(OP.br, 0);
    }
    c.op(OP.end, OP.end);
  }
  c.op(OP.end);
  return [...vec([[...uleb(6 + 2 * LANES), I32]]), ...c.bytes];
}

function assemble(): Uint8Array {
  const interpolate = interpolateBody();
  const evaluateMany = evaluateManyBody();
  const type4 = [0x60, ...vec([[I32], [I32], [I32], [I32]]), ...vec([])];
  const type5 = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([])];
  return new Uint8Array([
    ...WASM_HEADER,
    ...section(1, vec([type4, type5])),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, 0x01]])), // memory, min 1 page
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([[...name("interpolate"), 0x00, 0], [...name("evaluateMany"), 0x00, 1]])),
    ...section(10, vec([
      [...uleb(interpolate.length), ...interpolate],
      [...uleb(evaluateMany.length), ...evaluateMany],
    ])),
  ]);
}

/** The kernel with its memory, behind the same signatures as field.ts's JavaScript versions. */
export class WasmField {
  private u32: Uint32Array;

  private constructor(
    private readonly memory: WasmMemory,
    private readonly interpolateRaw: (x: number, dd: number, out: number, n: number) => void,
    private readonly evaluateManyRaw: (c: number, n: number, xs: number, out: number, count: number) => void,
  ) {
    this.u32 = new Uint32Array(memory.buffer);
  }

  private static compiled: WasmModule | undefined;

  /** A kernel over fresh memory holding `inverses` (inverses[a] = a^-1 mod P, entry 0 is 0). */
  static create(inverses: Uint16Array): WasmField | undefined {
    const wasm = webAssembly;
    if (!wasm) return undefined;
    WasmField.compiled ??= new wasm.Module(assemble());
    const memory = new wasm.Memory({ initial: Math.ceil((SCRATCH_OFFSET + 16 * 1024) / WASM_PAGE_BYTES) });
    const { exports } = new wasm.Instance(WasmField.compiled, { env: { memory } });
    new Uint16Array(memory.buffer, 0, P).set(inverses.subarray(0, P));
    return new WasmField(
      memory,
      exports.interpolate as WasmField["interpolateRaw"],
      exports.evaluateMany as WasmField["evaluateManyRaw"],
    );
  }

  /** The u32 view of memory with room for `words` u32s past SCRATCH_OFFSET (grows on demand). */
  private scratch(words: number): Uint32Array {
    const bytes = SCRATCH_OFFSET + 4 * words;
    if (this.memory.buffer.byteLength < bytes) {
      this.memory.grow(Math.ceil((bytes - this.memory.buffer.byteLength) / WASM_PAGE_BYTES));
    }
    if (this.u32.buffer !== this.memory.buffer) this.u32 = new Uint32Array(this.memory.buffer);
    return this.u32;
  }

  /** Same contract as field.ts interpolate: x distinct in [0, P), y integers >= 0. */
  interpolate(x: ArrayLike<number>, y: ArrayLike<number>): Uint16Array {
    const n = x.length;
    const out = new Uint16Array(n);
    if (n === 0) return out;
    const u32 = this.scratch(3 * n);
    const xAt = SCRATCH_OFFSET >>> 2;
    const ddAt = xAt + n;
    const outAt = ddAt + n;
    for (let i = 0; i < n; i++) {
      u32[xAt + i] = x[i]!;
      u32[ddAt + i] = y[i]! % P;
    }
    this.interpolateRaw(4 * xAt, 4 * ddAt, 4 * outAt, n);
    // The kernel leaves each coefficient in [0, 2P); finish the reduction.
    for (let i = 0; i < n; i++) {
      const v = u32[outAt + i]!;
      out[i] = v >= P ? v - P : v;
    }
    return out;
  }

  /** Same contract as field.ts evaluateMany: every xs[p] already in [0, P). */
  evaluateMany(coeffs: Uint16Array, xs: ArrayLike<number>, out: Uint32Array): void {
    const n = coeffs.length;
    const count = xs.length;
    if (n === 0) {
      out.fill(0, 0, count);
      return;
    }
    const u32 = this.scratch(n + 2 * count);
    const cAt = SCRATCH_OFFSET >>> 2;
    const xsAt = cAt + n;
    const outAt = xsAt + count;
    u32.set(coeffs, cAt);
    if (ArrayBuffer.isView(xs)) u32.set(xs as unknown as ArrayLike<number>, xsAt);
    else for (let i = 0; i < count; i++) u32[xsAt + i] = xs[i]!;
    this.evaluateManyRaw(4 * cAt, n, 4 * xsAt, 4 * outAt, count);
    out.set(u32.subarray(outAt, outAt + count));
  }
}
