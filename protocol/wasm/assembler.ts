/**
 * A few helpers to assemble tiny WebAssembly modules from opcodes at load time (no build step,
 * no binary blob in the repo): LEB128 integers, vectors, names, sections, an instruction
 * emitter, and the slice of the WebAssembly JS API the kernels use.
 */

export const WASM_HEADER: readonly number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", v1
export const VOID = 0x40;
export const I32 = 0x7f;
export const I64 = 0x7e;

/** Unsigned LEB128 of a non-negative 32-bit integer. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 64-bit integer (also right for i32 constants). */
export function sleb(value: bigint): number[] {
  let v = BigInt.asIntN(64, value);
  const out: number[] = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Instruction emitter: each method appends one instruction's bytes. */
export class Code {
  readonly bytes: number[] = [];
  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  get(local: number): this {
    return this.op(0x20, ...uleb(local));
  }
  set(local: number): this {
    return this.op(0x21, ...uleb(local));
  }
  tee(local: number): this {
    return this.op(0x22, ...uleb(local));
  }
  i32(v: number): this {
    return this.op(0x41, ...sleb(BigInt(v)));
  }
  i64(v: bigint): this {
    return this.op(0x42, ...sleb(v));
  }
  // Memory accesses: memarg is log2 alignment, then byte offset.
  load64(offset: number): this {
    return this.op(0x29, 3, ...uleb(offset));
  }
  store64(offset: number): this {
    return this.op(0x37, 3, ...uleb(offset));
  }
  load32(offset: number): this {
    return this.op(0x28, 2, ...uleb(offset));
  }
  store32(offset: number): this {
    return this.op(0x36, 2, ...uleb(offset));
  }
  load16u(offset: number): this {
    return this.op(0x2f, 1, ...uleb(offset));
  }
  load8(offset: number): this {
    return this.op(0x2d, 0, ...uleb(offset));
  }
}

// TypeScript's ES libs carry no WebAssembly types (they ship with lib.dom, which this project
// leaves out), so declare the little used here rather than widen the whole project's lib.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export type WasmModule = object;
export interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: Record<string, unknown> };
}

/** The host's WebAssembly API, or undefined where there is none. */
export const webAssembly: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export const WASM_PAGE_BYTES = 65536;
