/**
 * The hot loop of the fast tree builder, as a tiny WebAssembly module assembled here at load
 * time (no build step, no binary blob in the repo). Why: a root over 10^6 leaves is ~10^6
 * keccak256 calls on 64 bytes. JavaScript has no 64-bit integers, so keccak-f[1600] runs on
 * pairs of 32-bit halves (noble: ~6 us a call on the reference machine, 8 s a million-leaf
 * tree through merkletreejs); wasm has i64 locals and i64.rotl, and runs it in ~0.75 us.
 *
 * Exports, over the caller's memory (imported as env.memory):
 *   pair(left, right, out)  out[0..32) = keccak256(mem[left..left+32) ++ mem[right..right+32))
 *   layer(src, count, dst)  writes the next layer of `count` nodes at src into dst: node j is
 *                           pair(min, max) of nodes 2j, 2j+1 (bytes compared as big-endian
 *                           unsigned, as OpenZeppelin's commutative hash and merkletreejs's
 *                           sortPairs do); an odd last node is copied up unchanged.
 * `layer` may run in place (dst == src): node j is written only after nodes 2j and 2j+1 are
 * read, and pair() loads all 64 input bytes before it stores.
 *
 * Keccak lanes are little-endian 64-bit words, as is wasm memory, so lanes load directly.
 */

import {
  Code, I32, I64, VOID, WASM_HEADER, WASM_PAGE_BYTES, name, section, uleb, vec, webAssembly,
  type WasmMemory, type WasmModule,
} from "../wasm/assembler.ts";

export { WASM_PAGE_BYTES };

// Rotation offsets r[x][y] of the rho step (FIPS 202, table 2).
const RHO: readonly (readonly number[])[] = [
  [0, 36, 3, 41, 18],
  [1, 44, 10, 45, 2],
  [62, 6, 43, 15, 61],
  [28, 55, 25, 21, 56],
  [27, 20, 39, 8, 14],
];

/** The 24 iota round constants, from the degree-8 LFSR of FIPS 202 (rc(t) = bit 0 after t steps). */
function roundConstants(): bigint[] {
  const out: bigint[] = [];
  let r = 1;
  for (let round = 0; round < 24; round++) {
    let rc = 0n;
    for (let j = 0; j < 7; j++) {
      if (r & 1) rc |= 1n << BigInt((1 << j) - 1);
      r = r & 0x80 ? ((r << 1) ^ 0x71) & 0xff : (r << 1) & 0xff;
    }
    out.push(rc);
  }
  return out;
}

// Opcodes used beyond the emitter's own (WebAssembly core spec 1.0, section 5.4).
const OP = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, call: 0x10,
  i32Ne: 0x47, i32LtU: 0x49, i32GtU: 0x4b, i32GeU: 0x4f, i32Add: 0x6a, i32Shl: 0x74,
  i64And: 0x83, i64Xor: 0x85, i64Rotl: 0x89,
} as const;
/** pair(left, right, out): params 0..2; i64 locals A (state), C (column parity), D, B (rho/pi). */
function pairBody(): number[] {
  const A = (i: number) => 3 + i;
  const C = (x: number) => 28 + x;
  const D = (x: number) => 33 + x;
  const B = (i: number) => 38 + i;
  const c = new Code();
  // Absorb the 64-byte message into lanes 0..7; lanes start at zero. Keccak padding (not
  // SHA-3's): 0x01 after the message (lane 8, low byte), 0x80 in the last rate byte (byte 135,
  // the top byte of lane 16).
  for (let i = 0; i < 4; i++) c.get(0).load64(8 * i).set(A(i));
  for (let i = 0; i < 4; i++) c.get(1).load64(8 * i).set(A(4 + i));
  c.i64(1n).set(A(8)).i64(0x8000_0000_0000_0000n).set(A(16));
  // keccak-f[1600], 24 rounds fully unrolled (~17 KB of code, no loop-carried round index).
  for (const rc of roundConstants()) {
    // theta: C[x] = xor of column x; D[x] = C[x-1] ^ rotl(C[x+1], 1), folded into rho below.
    for (let x = 0; x < 5; x++) {
      c.get(A(x));
      for (let y = 1; y < 5; y++) c.get(A(x + 5 * y)).op(OP.i64Xor);
      c.set(C(x));
    }
    for (let x = 0; x < 5; x++) {
      c.get(C((x + 4) % 5)).get(C((x + 1) % 5)).i64(1n).op(OP.i64Rotl, OP.i64Xor).set(D(x));
    }
    // rho and pi: B[y, 2x + 3y] = rotl(A[x, y] ^ D[x], r[x][y]).
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        c.get(A(x + 5 * y)).get(D(x)).op(OP.i64Xor);
        const r = RHO[x]![y]!;
        if (r !== 0) c.i64(BigInt(r)).op(OP.i64Rotl);
        c.set(B(y + 5 * ((2 * x + 3 * y) % 5)));
      }
    }
    // chi: A[x, y] = B[x, y] ^ (~B[x+1, y] & B[x+2, y]); iota on lane 0.
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 5; x++) {
        c.get(B(x + 5 * y)).get(B(((x + 1) % 5) + 5 * y)).i64(-1n).op(OP.i64Xor);
        c.get(B(((x + 2) % 5) + 5 * y)).op(OP.i64And, OP.i64Xor);
        if (x === 0 && y === 0) c.i64(rc).op(OP.i64Xor);
        c.set(A(x + 5 * y));
      }
    }
  }
  for (let i = 0; i < 4; i++) c.get(2).get(A(i)).store64(8 * i);
  c.op(OP.end);
  return [...vec([[...uleb(60), I64]]), ...c.bytes];
}

/** layer(src, count, dst): params 0..2; i32 locals 3 = left node, 4 = end, 5 = k, 6/7 = bytes; i64 8..11. */
function layerBody(pairIndex: number): number[] {
  const [SRC, COUNT, DST, NODE, END, K, X, Y] = [0, 1, 2, 3, 4, 5, 6, 7];
  const c = new Code();
  c.get(SRC).get(COUNT).i32(5).op(OP.i32Shl, OP.i32Add).set(END);
  c.get(SRC).set(NODE);
  c.op(OP.block, VOID, OP.loop, VOID);
  {
    // Stop when no right sibling is left (node + 32 >= end).
    c.get(NODE).i32(32).op(OP.i32Add).get(END).op(OP.i32GeU, OP.brIf, 1);
    // Find the first differing byte of the two siblings (X, Y); equal siblings leave X == Y.
    c.i32(0).set(K).i32(0).set(X).i32(0).set(Y);
    c.op(OP.block, VOID, OP.loop, VOID);
    c.get(NODE).get(K).op(OP.i32Add).load8(0).set(X);
    c.get(NODE).get(K).op(OP.i32Add).load8(32).set(Y);
    c.get(X).get(Y).op(OP.i32Ne, OP.brIf, 1);
    c.get(K).i32(1).op(OP.i32Add).tee(K).i32(32).op(OP.i32LtU, OP.brIf, 0);
    c.op(OP.end, OP.end);
    // Hash the smaller node first.
    c.get(X).get(Y).op(OP.i32GtU, OP.if, VOID);
    c.get(NODE).i32(32).op(OP.i32Add).get(NODE).get(DST).op(OP.call, pairIndex);
    c.op(OP.else);
    c.get(NODE).get(NODE).i32(32).op(OP.i32Add).get(DST).op(OP.call, pairIndex);
    c.op(OP.end);
    c.get(NODE).i32(64).op(OP.i32Add).set(NODE);
    c.get(DST).i32(32).op(OP.i32Add).set(DST);
    c.op(OP.br, 0);
  }
  c.op(OP.end, OP.end);
  // An odd last node moves up unchanged (all four words loaded before any is stored).
  c.get(NODE).get(END).op(OP.i32LtU, OP.if, VOID);
  for (let i = 0; i < 4; i++) c.get(NODE).load64(8 * i).set(8 + i);
  for (let i = 0; i < 4; i++) c.get(DST).get(8 + i).store64(8 * i);
  c.op(OP.end, OP.end);
  return [...vec([[...uleb(5), I32], [...uleb(4), I64]]), ...c.bytes];
}

function assemble(): Uint8Array {
  const pair = pairBody();
  const layer = layerBody(0);
  const fnType = [0x60, ...vec([[I32], [I32], [I32]]), ...vec([])];
  return new Uint8Array([
    ...WASM_HEADER,
    ...section(1, vec([fnType])), // one type: (i32, i32, i32) -> ()
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, 0x01]])), // memory, min 1 page
    ...section(3, vec([[0], [0]])), // pair, layer: both of type 0
    ...section(7, vec([[...name("pair"), 0x00, 0], [...name("layer"), 0x00, 1]])),
    ...section(10, vec([[...uleb(pair.length), ...pair], [...uleb(layer.length), ...layer]])),
  ]);
}

// The tree builder needs WebAssembly (Node has it); fail loudly at first use if absent.
const wasm = webAssembly!;

export interface LayerKernel {
  /** The kernel's memory; view it through `new Uint8Array(memory.buffer)`. */
  readonly memory: WasmMemory;
  pair(left: number, right: number, out: number): void;
  layer(src: number, count: number, dst: number): void;
}

let compiled: WasmModule | undefined;

/** A kernel instance over fresh zeroed memory of at least `bytes` bytes (module compiled once). */
export function createLayerKernel(bytes: number): LayerKernel {
  compiled ??= new wasm.Module(assemble());
  const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES)) });
  const { exports } = new wasm.Instance(compiled, { env: { memory } });
  return {
    memory,
    pair: exports.pair as LayerKernel["pair"],
    layer: exports.layer as LayerKernel["layer"],
  };
}
