import { Engine } from "./prover/engine/index.ts";
const e = await Engine.load({ batching: false });
const gens = [];
for (let i = 0; i < 32; i++) {
  const p = e.tokenizer.chatPrompt([{ role: "user", content: "Verify me " + i + " please".repeat(i % 5) }]);
  gens.push(await e.generate({ promptTokens: p, temperature: 0.7, topP: 0.95, maxTokens: 40 + (i % 3) * 20, seed: BigInt(i) }));
}
const reqs = gens.map((g) => ({ promptTokens: g.promptTokens, outputTokens: g.outputTokens, proofs: g.proofs, options: { sampling: g.sampling } }));
for (let round = 0; round < 2; round++) {
let t0 = performance.now();
const one = [];
for (const r of reqs) one.push(await e.verify(r.promptTokens, r.outputTokens, r.proofs, r.options));
const oneMs = performance.now() - t0;
t0 = performance.now();
const many = await e.verifyBatch(reqs, { maxTokensPerForward: Number(process.env.BUDGET) });
const manyMs = performance.now() - t0;
let equal = 0, maxd = 0;
many.forEach((v, i) => {
  if (v instanceof Error) throw v;
  const a = JSON.stringify(v.statistics), b = JSON.stringify(one[i]!.statistics);
  if (a === b) equal++;
  v.statistics.forEach((s, j) => (maxd = Math.max(maxd, Math.abs(s.value - one[i]!.statistics[j]!.value))));
});
console.log("one", (reqs.length * 1000 / oneMs).toFixed(1), "leaves/s; batched", (reqs.length * 1000 / manyMs).toFixed(1), "equal", equal, "/", reqs.length, "maxdiff", maxd, many.every((v) => !(v instanceof Error) && v.accepted));
}
await e.close();
