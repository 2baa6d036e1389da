/**
 * Seeded randomness. Every stochastic step of a run draws from its own stream, derived from the
 * recorded master seed and a label, so that changing one step (say, the number of bootstrap
 * resamples) never shifts another (the dataset order).
 */
import { createHash } from "node:crypto";

/** A 32-bit seed derived from the master seed and a label (first 4 bytes of sha256). */
export function deriveSeed(master: number, label: string): number {
  return createHash("sha256").update(`vb-seed:${master}:${label}`).digest().readUInt32BE(0);
}

/** mulberry32: small, fast, good enough for sampling and bootstrap; uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of a copy. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  const next = rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Poisson arrival offsets in ms (exponential gaps at `ratePerS`), starting at the first gap. */
export function poissonArrivals(count: number, ratePerS: number, seed: number): Float64Array {
  const next = rng(seed);
  const out = new Float64Array(count);
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += (-Math.log(1 - next()) / ratePerS) * 1000;
    out[i] = t;
  }
  return out;
}
