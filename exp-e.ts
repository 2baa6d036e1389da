import { Engine } from "./prover/engine/index.ts";
const batched = await Engine.load();
const alone = await Engine.load({ batching: false });
const prompts = Array.from({ length: 16 }, (_, i) => batched.tokenizer.chatPrompt([{ role: "user", content: "Tell me about number " + i + " ".repeat(i % 5) }]));
const reqs = prompts.map((p, i) => ({ promptTokens: p, temperature: i % 2 ? 0.7 : 0, topP: 0.95, maxTokens: 96, seed: BigInt(1000 + i) }));
let t0 = performance.now();
const ref = [];
for (const r of reqs) ref.push(await alone.generate(r));
const aloneMs = performance.now() - t0;
t0 = performance.now();
const got = await Promise.all(reqs.map((r) => batched.generate(r)));
const batchMs = performance.now() - t0;
let same = 0, tok = 0;
for (let i = 0; i < reqs.length; i++) {
  const a = ref[i]!.outputTokens, b = got[i]!.outputTokens;
  tok += b.length;
  const eq = a.length === b.length && a.every((t, j) => t === b[j]);
  if (eq) same++;
  else console.log(i, "diverge at", a.findIndex((t, j) => t !== b[j]), a.length, b.length);
}
console.log("identical", same, "/", reqs.length, "alone", (tok * 1000 / aloneMs).toFixed(0), "tok/s batched", (tok * 1000 / batchMs).toFixed(0), batched.batchStats());
let ok = 0;
for (const g of got) { const v = await alone.verify(g.promptTokens, g.outputTokens, g.proofs, { sampling: g.sampling }); if (v.accepted) ok++; else console.log(v.failures); }
console.log("verified", ok);
await batched.close(); await alone.close();
