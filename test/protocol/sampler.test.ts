import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  chooseGumbel,
  chooseUniform,
  gumbelNoise,
  judgeTokens,
  SamplerError,
  TokenSampler,
  Xoshiro256,
  type SamplingSettings,
} from "../../protocol/sampler/index.ts";
import { hashSampling } from "../../protocol/merkle/index.ts";

/** The engine's sampler before versions existed, kept here verbatim as the reference for version 1. */
function legacySample(logits: Float32Array, temperature: number, topP: number, rng: Xoshiro256): number {
  const argmax = () => logits.reduce((best, v, i) => (v > logits[best]! ? i : best), 0);
  if (temperature === 0) return argmax();
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  const weights = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    weights[i] = Math.exp((logits[i]! - max) / temperature);
    total += weights[i]!;
  }
  const u = rng.nextDouble();
  if (topP >= 1) {
    let target = u * total;
    for (let i = 0; i < n; i++) {
      target -= weights[i]!;
      if (target < 0) return i;
    }
    return argmax();
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
  const limit = topP * total;
  let kept = 0;
  let mass = 0;
  while (kept < n && (kept === 0 || mass < limit)) mass += weights[order[kept++]!]!;
  let target = u * mass;
  for (let j = 0; j < kept; j++) {
    target -= weights[order[j]!]!;
    if (target < 0) return order[j]!;
  }
  return order[kept - 1]!;
}

function randomLogits(seed: number, n: number, scale = 3): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: n }, () => (next() - 0.5) * 2 * scale);
}

describe("protocol/sampler", () => {
  it("version 1 draws exactly what the engine drew before versions existed", () => {
    for (const [temperature, topP] of [[0.7, 0.95], [1, 1], [1.3, 0.5], [0, 1]] as const) {
      const seed = 1234567n;
      const ours = new TokenSampler({ sampler: 1, temperature, topP, seed });
      const rng = new Xoshiro256(seed);
      for (let t = 0; t < 200; t++) {
        const logits = randomLogits(t + 17, 64);
        assert.equal(ours.next(logits), legacySample(logits, temperature, topP, rng), `T=${temperature} p=${topP} step ${t}`);
      }
    }
  });

  it("version 2 replays any position from (seed, position) alone", () => {
    const a = gumbelNoise(42n, 7, 32);
    assert.deepEqual(gumbelNoise(42n, 7, 32), a);
    assert.notDeepEqual(gumbelNoise(42n, 8, 32), a);
    assert.notDeepEqual(gumbelNoise(43n, 7, 32), a);
    // The first entries do not depend on the vocabulary size: one stream per position.
    assert.deepEqual(Array.from(gumbelNoise(42n, 7, 64).subarray(0, 32)), Array.from(a));
    const sampler = new TokenSampler({ sampler: 2, temperature: 0.8, topP: 0.9, seed: 99n });
    const logits = Array.from({ length: 20 }, (_, t) => randomLogits(t, 50));
    const sequential = logits.map((l) => sampler.next(l));
    logits.forEach((l, t) => assert.equal(chooseGumbel(l, 0.8, 0.9, 99n, t), sequential[t]));
  });

  it("version 2's noise is standard Gumbel and its choices follow the softmax", () => {
    const noise = gumbelNoise(5n, 0, 200_000);
    const mean = noise.reduce((a, b) => a + b, 0) / noise.length;
    assert.ok(Math.abs(mean - 0.5772) < 0.01, `mean ${mean}`); // Euler-Mascheroni
    const logits = Float32Array.from([2, 1, 0, -1]);
    const counts = [0, 0, 0, 0];
    const draws = 20_000;
    for (let position = 0; position < draws; position++) counts[chooseGumbel(logits, 1, 1, 3n, position)]!++;
    const z = Math.exp(2) + Math.exp(1) + 1 + Math.exp(-1);
    counts.forEach((c, i) => {
      const p = Math.exp(logits[i]!) / z;
      const sd = Math.sqrt((draws * p * (1 - p)));
      assert.ok(Math.abs(c - draws * p) < 5 * sd, `token ${i}: ${c} vs ${draws * p}`);
    });
  });

  it("judges every output token, the last included: 0 for the sampler's own choice, the gap otherwise", () => {
    const V = 40;
    for (const settings of [
      { sampler: 2, temperature: 0, topP: 1, seed: 0n },
      { sampler: 2, temperature: 0.7, topP: 0.9, seed: 11n },
      { sampler: 1, temperature: 1, topP: 1, seed: 12n },
    ] as SamplingSettings[]) {
      const rows = Array.from({ length: 12 }, (_, t) => randomLogits(t + 100, V));
      const sampler = new TokenSampler(settings);
      const tokens = rows.map((r) => sampler.next(r));
      const logits = new Float32Array(rows.length * V);
      rows.forEach((r, t) => logits.set(r, t * V));
      const honest = judgeTokens(settings, logits, V, tokens);
      assert.deepEqual(Array.from(honest.chosen), tokens);
      assert.ok(honest.margins.every((m) => m === 0), `${honest.mode}: ${honest.margins}`);
      const edited = tokens.slice();
      const last = rows[11]!;
      // The least likely token is never the sampler's choice here.
      edited[11] = last.indexOf(Math.min(...last));
      const judged = judgeTokens(settings, logits, V, edited);
      assert.ok(judged.margins[11]! > 0, `${judged.mode}: the edited last token has a margin`);
      assert.ok(judged.margins.slice(0, 11).every((m) => m === 0));
    }
    const greedy = judgeTokens({ sampler: 2, temperature: 0, topP: 1, seed: 0n }, Float32Array.from([1, 3, 2]), 3, [2]);
    assert.equal(greedy.margins[0], 1, "greedy margin is the logit gap to the argmax");
  });

  it("a token just outside the nucleus costs about the logit noise that moved it, one far outside much more", () => {
    // Three ids of weight 0.5, 0.3, 0.2: at top_p 0.8 the nucleus is {0, 1} exactly at its boundary.
    const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2), Math.log(0.001)]);
    const settings = { sampler: 2 as const, temperature: 1, topP: 0.8, seed: 1n };
    const near = judgeTokens(settings, logits, 4, [2]).margins[0]!;
    const far = judgeTokens(settings, logits, 4, [3]).margins[0]!;
    assert.ok(near > 0 && far > near);
    assert.ok(far >= Math.log(0.999 / (0.8 * 1.001)) - 1e-9);
  });

  it("refuses bad settings and shapes with SamplerError", () => {
    assert.throws(() => new TokenSampler({ sampler: 3 as never, temperature: 1, topP: 1, seed: 0n }), (e: unknown) => e instanceof SamplerError && e.field === "sampler");
    assert.throws(() => new TokenSampler({ sampler: 2, temperature: -1, topP: 1, seed: 0n }), SamplerError);
    assert.throws(() => new TokenSampler({ sampler: 2, temperature: 1, topP: 0, seed: 0n }), SamplerError);
    assert.throws(() => new TokenSampler({ sampler: 2, temperature: 1, topP: 1, seed: 1n << 64n }), SamplerError);
    assert.throws(() => judgeTokens({ sampler: 2, temperature: 0, topP: 1, seed: 0n }, new Float32Array(5), 3, [1]), (e: unknown) => e instanceof SamplerError && e.field === "outputLogits");
    assert.throws(() => judgeTokens({ sampler: 2, temperature: 0, topP: 1, seed: 0n }, new Float32Array(3), 3, [3]), (e: unknown) => e instanceof SamplerError && e.field === "claimed[0]");
  });

  it("commits the sampler version in the leaf: version 1 hashes as before, version 2 differently", () => {
    const base = { temperature: 0.7, topP: 0.95, maxTokens: 64 };
    assert.equal(hashSampling({ ...base, sampler: 1 }), hashSampling(base));
    assert.notEqual(hashSampling({ ...base, sampler: 2 }), hashSampling(base));
    assert.equal(chooseUniform(Float32Array.from([0, 0]), 1, 1, 0.75), 1);
  });
});
