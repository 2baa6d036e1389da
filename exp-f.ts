import { Engine } from "./prover/engine/index.ts";
import { Cohort } from "./prover/engine/batching/cohort.ts";
const batched = await Engine.load();
const runner = (batched as any).runner;
const orig = runner.forwardBatch.bind(runner);
let fwd = 0;
runner.forwardBatch = async (f: any) => { const t = performance.now(); const r = await orig(f); fwd += performance.now() - t; return r; };
const origStep = Cohort.prototype.step;
let stepT = 0;
Cohort.prototype.step = async function () { const t = performance.now(); await origStep.call(this); stepT += performance.now() - t; };
const prompts = Array.from({ length: 16 }, (_, i) => batched.tokenizer.chatPrompt([{ role: "user", content: "Tell me about number " + i + " ".repeat(i % 5) }]));
for (const prove of [true, false]) {
fwd = 0; stepT = 0;
const reqs = prompts.map((p, i) => ({ promptTokens: p, temperature: i % 2 ? 0.7 : 0, topP: 0.95, maxTokens: 96, seed: BigInt(1000 + i), prove }));
const t0 = performance.now();
const got = await Promise.all(reqs.map((r) => batched.generate(r)));
console.log(prove, "total", (performance.now() - t0).toFixed(0), "fwd", fwd.toFixed(0), "step", stepT.toFixed(0));
}
await batched.close();
