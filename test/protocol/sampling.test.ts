import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { SamplingError, sampleLeaves } from "../../protocol/sampling.ts";

const base = {
  blockHash: `0x${"ab".repeat(32)}` as const,
  batchId: 7n,
  operator: "0x1111111111111111111111111111111111111111" as const,
  leafCount: 1000,
  fraction: 0.05,
};

describe("protocol/sampling", () => {
  it("draws ceil(p * n) distinct in-range leaves, ascending, the same every time", () => {
    const a = sampleLeaves(base);
    assert.equal(a.length, 50);
    assert.equal(new Set(a).size, 50);
    assert.ok(a.every((i, n) => i >= 0 && i < 1000 && (n === 0 || a[n - 1]! < i)));
    assert.deepEqual(sampleLeaves(base), a);
  });

  it("checks every leaf at fraction 1 and at least one leaf otherwise", () => {
    assert.deepEqual(sampleLeaves({ ...base, leafCount: 5, fraction: 1 }), [0, 1, 2, 3, 4]);
    assert.equal(sampleLeaves({ ...base, leafCount: 5, fraction: 0.01 }).length, 1);
  });

  it("gives different operators and different block hashes different samples", () => {
    const a = sampleLeaves(base);
    const b = sampleLeaves({ ...base, operator: "0x2222222222222222222222222222222222222222" });
    const c = sampleLeaves({ ...base, blockHash: `0x${"cd".repeat(32)}` });
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it("covers leaves roughly uniformly", () => {
    const hits = new Array(20).fill(0);
    for (let b = 0; b < 200; b++) for (const i of sampleLeaves({ ...base, batchId: BigInt(b), leafCount: 20, fraction: 0.25 })) hits[i]++;
    // 200 draws x 5 leaves over 20 positions: 50 expected each.
    assert.ok(hits.every((h) => h > 20 && h < 90), JSON.stringify(hits));
  });

  it("rejects bad input naming the field", () => {
    for (const [field, patch] of [
      ["blockHash", { blockHash: "0x12" }],
      ["batchId", { batchId: -1n }],
      ["operator", { operator: "0xnope" }],
      ["leafCount", { leafCount: 0 }],
      ["leafCount", { leafCount: 2 ** 25 + 1 }],
      ["fraction", { fraction: 0 }],
      ["fraction", { fraction: 1.5 }],
      ["fraction", { fraction: Number.NaN }],
    ] as const) {
      assert.throws(() => sampleLeaves({ ...base, ...(patch as object) }), (e: unknown) => e instanceof SamplingError && e.field === field, field);
    }
  });
});
