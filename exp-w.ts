import { Engine } from "./prover/engine/index.ts";
const e = await Engine.load({ batching: false });
const runner = (e as any).runner;
const L = 130;
const tokens = Array.from({ length: L }, (_, i) => 65 + (i % 20));
for (let round = 0; round < 3; round++) {
  let t0 = performance.now();
  for (let i = 0; i < 10; i++) await runner.forward(tokens);
  const a = (performance.now() - t0) / 10;
  const feed = { rows: 1, cols: L, inputIds: BigInt64Array.from(tokens.map(BigInt)), positionIds: new BigInt64Array(L).map((_, i) => BigInt(i)), attentionMask: new BigInt64Array(L).fill(1n) };
  t0 = performance.now();
  for (let i = 0; i < 10; i++) await runner.forwardBatch(feed);
  const b = (performance.now() - t0) / 10;
  const feed4 = { rows: 4, cols: L, inputIds: new BigInt64Array(4 * L).fill(66n), positionIds: new BigInt64Array(4 * L).map((_, i) => BigInt(i % L)), attentionMask: new BigInt64Array(4 * L).fill(1n) };
  t0 = performance.now();
  for (let i = 0; i < 10; i++) await runner.forwardBatch(feed4);
  const c = (performance.now() - t0) / 10;
  console.log("forward", a.toFixed(1), "forwardBatch1", b.toFixed(1), "forwardBatch4", c.toFixed(1));
}
