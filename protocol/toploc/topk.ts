import { ChunkTooShortError, NonFiniteActivationError } from "./errors.ts";

// Local copies of the bf16 masks: module imports compile to live-binding getters under tsx,
// which costs a call per access inside these loops.
const BF16_MAGNITUDE_MASK = 0x7fff;
const BF16_NON_FINITE = 0x7f80;

/** The k largest-magnitude entries of a bf16 chunk: flat indices and their bf16 bit patterns. */
export interface TopK {
  indices: Uint32Array;
  values: Uint16Array;
}

/**
 * Selects the k entries of largest |value| from bf16 bit patterns, choosing among equal
 * magnitudes exactly as the reference does.
 *
 * Which of several tied entries a proof covers changes the proof, so "top-k" alone does not pin
 * the bytes. The reference calls torch.topk on the CPU, which (ATen TopKImpl.h) runs libstdc++'s
 * std::partial_sort when k * 64 <= n and std::nth_element otherwise, over (|value|, index) pairs
 * compared by value only. Both are emulated step for step below. Magnitude order of bf16 equals
 * integer order of its 15 magnitude bits, so keys are those bits.
 *
 * @param chunk bf16 bit patterns, flattened
 * @param k how many to take (1 <= k <= chunk.length)
 * @param field name used in errors
 */
export function topKByMagnitude(chunk: Uint16Array, k: number, field = "chunk"): TopK {
  const n = chunk.length;
  if (n < k) {
    throw new ChunkTooShortError(`${field} has ${n} values, fewer than k = ${k}`, field);
  }
  const selected = k * 64 <= n ? heapSelect(chunk, k, field) : introSelect(chunk, k, field);
  const values = new Uint16Array(k);
  for (let i = 0; i < k; i++) values[i] = chunk[selected[i]!]!;
  return { indices: selected, values };
}

function nonFinite(chunk: Uint16Array, i: number, field: string): NonFiniteActivationError {
  const kind = (chunk[i]! & 0x7f) === 0 ? "Inf" : "NaN";
  return new NonFiniteActivationError(
    `${field}[${i}] is ${kind} (bf16 0x${chunk[i]!.toString(16)}); activations must be finite`,
    field,
  );
}

// The heap below orders by torch's comparator comp(x, y) = |x| > |y|: its top is the smallest
// magnitude kept so far. keys[] and idx[] move together as the (value, index) pairs of ATen.

/** libstdc++ __adjust_heap followed by __push_heap, on parallel key/index arrays. */
function adjustHeap(keys: Uint16Array, idx: Uint32Array, hole: number, len: number, key: number, index: number): void {
  const top = hole;
  let child = hole;
  while (child < (len - 1) >> 1) {
    child = 2 * (child + 1);
    if (keys[child]! > keys[child - 1]!) child--;
    keys[hole] = keys[child]!;
    idx[hole] = idx[child]!;
    hole = child;
  }
  if ((len & 1) === 0 && child === (len - 2) >> 1) {
    child = 2 * (child + 1);
    keys[hole] = keys[child - 1]!;
    idx[hole] = idx[child - 1]!;
    hole = child - 1;
  }
  let parent = (hole - 1) >> 1;
  while (hole > top && keys[parent]! > key) {
    keys[hole] = keys[parent]!;
    idx[hole] = idx[parent]!;
    hole = parent;
    parent = (hole - 1) >> 1;
  }
  keys[hole] = key;
  idx[hole] = index;
}

/** libstdc++ __make_heap. */
function makeHeap(keys: Uint16Array, idx: Uint32Array, len: number): void {
  if (len < 2) return;
  for (let parent = (len - 2) >> 1; ; parent--) {
    adjustHeap(keys, idx, parent, len, keys[parent]!, idx[parent]!);
    if (parent === 0) return;
  }
}

/**
 * libstdc++ __heap_select over the whole chunk (the selection half of std::partial_sort): heap
 * the first k, then every later entry strictly larger than the heap's smallest replaces it.
 * Non-finite values are larger than any finite one, so checking only the entries that would
 * enter the heap finds every NaN and Inf without a separate pass.
 */
function heapSelect(chunk: Uint16Array, k: number, field: string): Uint32Array {
  const keys = new Uint16Array(k);
  const idx = new Uint32Array(k);
  for (let i = 0; i < k; i++) {
    const key = chunk[i]! & BF16_MAGNITUDE_MASK;
    if (key >= BF16_NON_FINITE) throw nonFinite(chunk, i, field);
    keys[i] = key;
    idx[i] = i;
  }
  makeHeap(keys, idx, k);
  let floor = keys[0]!;
  let i = k;
  // Most entries are rejected: test two bf16 lanes per 32-bit word at once. Adding
  // (0x7fff - floor) to each 15-bit magnitude sets that lane's bit 15 exactly when it exceeds
  // floor, and cannot carry into the other lane. Lanes are little-endian: low half first.
  if ((chunk.byteOffset & 3) === 0) {
    if (i & 1) floor = offer(chunk, i++, keys, idx, floor, field);
    const words = new Uint32Array(chunk.buffer, chunk.byteOffset + 2 * i, (chunk.length - i) >>> 1);
    let bias = (0x7fff - floor) * 0x10001;
    const pairs = words.length & ~1;
    // Two words (four entries) per test: one well-predicted branch for most of the chunk.
    for (let w = 0; w < pairs; w += 2) {
      if (((((words[w]! & 0x7fff7fff) + bias) | ((words[w + 1]! & 0x7fff7fff) + bias)) & 0x80008000) !== 0) {
        const at = i + 2 * w;
        floor = offer(chunk, at, keys, idx, floor, field);
        floor = offer(chunk, at + 1, keys, idx, floor, field);
        floor = offer(chunk, at + 2, keys, idx, floor, field);
        floor = offer(chunk, at + 3, keys, idx, floor, field);
        bias = (0x7fff - floor) * 0x10001;
      }
    }
    i += 2 * pairs;
  }
  for (; i < chunk.length; i++) floor = offer(chunk, i, keys, idx, floor, field);
  return idx;
}

/** One step of __heap_select: entry i replaces the heap top if strictly larger. Returns the new top. */
function offer(chunk: Uint16Array, i: number, keys: Uint16Array, idx: Uint32Array, floor: number, field: string): number {
  const key = chunk[i]! & BF16_MAGNITUDE_MASK;
  if (key <= floor) return floor;
  if (key >= BF16_NON_FINITE) throw nonFinite(chunk, i, field);
  replaceTop(keys, idx, key, i);
  return keys[0]!;
}

/**
 * adjustHeap(keys, idx, 0, keys.length, key, index) specialised for the root, the only case the
 * scan needs: same moves, fewer bounds computations in the loop.
 */
function replaceTop(keys: Uint16Array, idx: Uint32Array, key: number, index: number): void {
  const len = keys.length;
  const limit = (len - 1) >> 1;
  let hole = 0;
  let child = 0;
  while (child < limit) {
    child = 2 * child + 2;
    const right = keys[child]!;
    const left = keys[child - 1]!;
    const pick = right > left ? child - 1 : child;
    keys[hole] = right > left ? left : right;
    idx[hole] = idx[pick]!;
    hole = child = pick;
  }
  if ((len & 1) === 0 && child === (len - 2) >> 1) {
    child = 2 * child + 1;
    keys[hole] = keys[child]!;
    idx[hole] = idx[child]!;
    hole = child;
  }
  let parent = (hole - 1) >> 1;
  while (hole > 0 && keys[parent]! > key) {
    keys[hole] = keys[parent]!;
    idx[hole] = idx[parent]!;
    hole = parent;
    parent = (hole - 1) >> 1;
  }
  keys[hole] = key;
  idx[hole] = index;
}

/** std::nth_element(first, first + k - 1, last, comp) as libstdc++'s __introselect; returns the first k. */
function introSelect(chunk: Uint16Array, k: number, field: string): Uint32Array {
  const n = chunk.length;
  const keys = new Uint16Array(n);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const key = chunk[i]! & BF16_MAGNITUDE_MASK;
    if (key >= BF16_NON_FINITE) throw nonFinite(chunk, i, field);
    keys[i] = key;
    idx[i] = i;
  }
  const swap = (a: number, b: number): void => {
    const tk = keys[a]!;
    keys[a] = keys[b]!;
    keys[b] = tk;
    const ti = idx[a]!;
    idx[a] = idx[b]!;
    idx[b] = ti;
  };
  const nth = k - 1;
  let first = 0;
  let last = n;
  let depthLimit = 2 * Math.floor(Math.log2(n));
  while (last - first > 3) {
    if (depthLimit === 0) {
      // __heap_select(first, nth + 1, last) then iter_swap(first, nth).
      const len = nth + 1 - first;
      const hk = keys.subarray(first, nth + 1);
      const hi = idx.subarray(first, nth + 1);
      makeHeap(hk, hi, len);
      for (let i = nth + 1; i < last; i++) {
        if (keys[i]! > hk[0]!) {
          const key = keys[i]!;
          const index = idx[i]!;
          keys[i] = hk[0]!;
          idx[i] = hi[0]!;
          adjustHeap(hk, hi, 0, len, key, index);
        }
      }
      swap(first, nth);
      break;
    }
    depthLimit--;
    // __unguarded_partition_pivot: median of (first+1, mid, last-1) moved to first, then partition.
    const mid = first + ((last - first) >> 1);
    const a = first + 1;
    const c = last - 1;
    if (keys[a]! > keys[mid]!) {
      if (keys[mid]! > keys[c]!) swap(first, mid);
      else if (keys[a]! > keys[c]!) swap(first, c);
      else swap(first, a);
    } else if (keys[a]! > keys[c]!) swap(first, a);
    else if (keys[mid]! > keys[c]!) swap(first, c);
    else swap(first, mid);
    const pivot = keys[first]!;
    let lo = first + 1;
    let hi = last;
    for (;;) {
      while (keys[lo]! > pivot) lo++;
      hi--;
      while (pivot > keys[hi]!) hi--;
      if (!(lo < hi)) break;
      swap(lo, hi);
      lo++;
    }
    if (lo <= nth) first = lo;
    else last = lo;
  }
  if (last - first <= 3) insertionSort(keys, idx, first, last);
  return idx.slice(0, k);
}

/** libstdc++ __insertion_sort with comp = greater. */
function insertionSort(keys: Uint16Array, idx: Uint32Array, first: number, last: number): void {
  for (let i = first + 1; i < last; i++) {
    const key = keys[i]!;
    const index = idx[i]!;
    if (key > keys[first]!) {
      keys.copyWithin(first + 1, first, i);
      idx.copyWithin(first + 1, first, i);
      keys[first] = key;
      idx[first] = index;
    } else {
      let j = i;
      while (key > keys[j - 1]!) {
        keys[j] = keys[j - 1]!;
        idx[j] = idx[j - 1]!;
        j--;
      }
      keys[j] = key;
      idx[j] = index;
    }
  }
}
