/**
 * npm run bench:verify [-- --record] [-- --requests 32] [-- --seed 2026] [-- --skip-llama-tiny]
 *                      [-- --model M.onnx --profile P.json [--cases C.json]]
 *
 * The verifier's power, per model, against the model's own calibrated profile:
 *   - the detection table: requests rejected per prover variant, on a fresh request set (not the
 *     calibration's), with the targets of issue 10: 0 honest requests rejected; all fp8-weight,
 *     other-model and edited-token requests rejected; at least 95 % of int8-weight requests;
 *   - proofs made elsewhere (a cases file, e.g. the reference library's H100 proofs of llama_tiny):
 *     accepted / total per variant;
 *   - what the token check costs on top of TOPLOC verification (target: within 10 %), split
 *     into the verification forward, the TOPLOC comparison and the token replay.
 */
import { parseArgs } from "node:util";
import { checkProofs } from "../../calibration/check-proofs.ts";
import { readCasesFile } from "../../calibration/cases.ts";
import { detectionRow, formatDetectionTable, type DetectionRow } from "../../calibration/detection.ts";
import { VariantRunner, type Observed } from "../../calibration/runner.ts";
import { CHEATING_VARIANTS, EDIT_VARIANTS, HONEST_VARIANTS } from "../../calibration/variants.ts";
import { calibrationWorkload } from "../../calibration/workload.ts";
import { judgeTokens } from "../../protocol/sampler/index.ts";
import { chunkEvidence, loadProfile, type VerificationProfile } from "../../protocol/verification/index.ts";
import { chunkActivations, resolveParams, ToplocProof } from "../../protocol/toploc/index.ts";
import { Engine } from "../../prover/engine/index.ts";
import { defaultModelProfile } from "../../prover/model/profile.ts";
import { machineLine, printTable, recordSection } from "./harness.ts";

const { values: args } = parseArgs({
  options: {
    record: { type: "boolean", default: false },
    requests: { type: "string", default: "32" },
    seed: { type: "string", default: "2026" },
    "skip-llama-tiny": { type: "boolean", default: false },
    model: { type: "string" },
    profile: { type: "string" },
    cases: { type: "string" },
    tokenizer: { type: "string" },
  },
});
const requests = Number(args.requests);
const seed = Number(args.seed);
if (!Number.isInteger(requests) || requests < 4 || !Number.isInteger(seed) || seed < 0) {
  console.error("--requests must be an integer >= 4, --seed a non-negative integer");
  process.exit(2);
}
if (Boolean(args.model) !== Boolean(args.profile)) {
  console.error("--model and --profile go together");
  process.exit(2);
}

const FIXTURES = new URL("../../test/fixtures/models/", import.meta.url).pathname;
const TOKEN_COST_TARGET = 0.1;

interface Target {
  variants: string[];
  minRate: number;
  maxRate: number;
  label: string;
}
const TARGETS: Target[] = [
  { variants: HONEST_VARIANTS.map((v) => v.name), minRate: 0, maxRate: 0, label: "honest rejected" },
  { variants: ["fp8", "other-model"], minRate: 1, maxRate: 1, label: "fp8 / other model rejected" },
  { variants: ["int8"], minRate: 0.95, maxRate: 1, label: "int8 rejected" },
  { variants: EDIT_VARIANTS.map((v) => v.name), minRate: 1, maxRate: 1, label: "edited tokens rejected" },
];

interface ModelCase {
  name: string;
  modelPath?: string;
  tokenizerPath?: string;
  profile: VerificationProfile;
  cases?: string;
}

async function models(): Promise<ModelCase[]> {
  const out: ModelCase[] = [];
  const own = defaultModelProfile();
  if (!own) throw new Error("the default model has no profile yet: npm run vb -- calibrate --out prover/model/<id>.profile.json");
  out.push({ name: "default model", profile: own });
  if (!args["skip-llama-tiny"]) {
    const profile = await loadProfile(`${FIXTURES}llama_tiny.profile.json`);
    if (!("schema" in profile)) throw new Error("llama_tiny.profile.json is not a calibrated profile");
    out.push({ name: "llama_tiny", modelPath: `${FIXTURES}llama_tiny.onnx`, profile, cases: `${FIXTURES}llama_tiny_cases.json` });
  }
  if (args.model && args.profile) {
    const profile = await loadProfile(args.profile);
    if (!("schema" in profile)) throw new Error("--profile must be a calibrated profile file");
    out.push({ name: args.model, modelPath: args.model, ...(args.tokenizer ? { tokenizerPath: args.tokenizer } : {}), profile, ...(args.cases ? { cases: args.cases } : {}) });
  }
  return out;
}

/** Per request: the verification forward, the TOPLOC comparison, the token replay (ms). */
async function tokenCheckCost(engine: Engine, honest: readonly Observed[]): Promise<{ forward: number; toploc: number; tokens: number }> {
  const forward: number[] = [];
  const toploc: number[] = [];
  const tokens: number[] = [];
  for (const o of honest) {
    const { promptTokens, outputTokens, proofs } = o.generation;
    const t0 = performance.now();
    const rec = await engine.recomputation(promptTokens, outputTokens);
    const t1 = performance.now();
    const params = resolveParams(engine.info.toploc);
    chunkActivations(rec.activations, params).forEach((chunk, i) => {
      const values = new Float32Array(chunk.bits.length);
      let offset = 0;
      for (let a = chunk.first; a <= chunk.last; a++) {
        values.set(rec.activations[a]!, offset);
        offset += rec.activations[a]!.length;
      }
      chunkEvidence(chunk.bits, values, ToplocProof.fromBytes(proofs[i]!, params.topk), params.topk, 8, chunk.first, chunk.last);
    });
    const t2 = performance.now();
    judgeTokens({ sampler: o.request.sampler, temperature: o.request.temperature, topP: o.request.topP, seed: o.request.seed }, rec.outputLogits, rec.vocabSize, outputTokens);
    const t3 = performance.now();
    forward.push(t1 - t0);
    toploc.push(t2 - t1);
    tokens.push(t3 - t2);
  }
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  return { forward: sum(forward) / honest.length, toploc: sum(toploc) / honest.length, tokens: sum(tokens) / honest.length };
}

const sections: string[] = [`Machine: ${machineLine().replace(", single thread", "")}. ${requests} requests per variant, seed ${seed} (calibration used seed 1).`, ""];
let missed = 0;
for (const m of await models()) {
  console.log(`\n== ${m.name}: profile ${m.profile.name} ${m.profile.contentHash}`);
  const runner = await VariantRunner.open({
    ...(m.modelPath ? { modelPath: m.modelPath } : {}),
    ...(m.tokenizerPath ? { tokenizerPath: m.tokenizerPath } : {}),
    onRequest: (variant, done, total) => {
      if (done === total) process.stderr.write(`  ${variant}: ${total} requests\n`);
    },
  });
  try {
    const info = runner.verifier.info;
    const workload = calibrationWorkload({
      requests,
      seed,
      vocabSize: info.vocabSize,
      maxContext: info.maxContext,
      ...(info.bosTokenId !== undefined ? { encode: (t: string) => runner.verifier.tokenizer.encode(t), bosTokenId: info.bosTokenId } : {}),
    });
    const rows: DetectionRow[] = [];
    let bf16: Observed[] = [];
    for (const variant of [...HONEST_VARIANTS, ...CHEATING_VARIANTS]) {
      const observed = await runner.run(variant, workload);
      if (variant.name === "bf16") bf16 = observed;
      rows.push(detectionRow(variant.name, variant.honest, variant.description, observed.map((o) => o.evidence), m.profile));
    }
    for (const variant of EDIT_VARIANTS) rows.push(detectionRow(variant.name, false, variant.description, await runner.edited(variant, bf16, seed), m.profile));
    const table = formatDetectionTable(rows);
    console.log(table);

    const targetRows = [["target", "measured", "wanted", "result"]];
    for (const t of TARGETS) {
      const selected = rows.filter((r) => t.variants.includes(r.variant));
      const rejected = selected.reduce((a, r) => a + r.rejected, 0);
      const total = selected.reduce((a, r) => a + r.requests, 0);
      const rate = total === 0 ? 0 : rejected / total;
      const met = rate >= t.minRate && rate <= t.maxRate;
      if (!met) missed++;
      const wanted = t.maxRate === 0 ? "0" : t.minRate === 1 ? "all" : `>= ${(t.minRate * 100).toFixed(0)} %`;
      targetRows.push([t.label, `${rejected}/${total}`, wanted, met ? "met" : "MISSED"]);
    }
    const targets = printTable(targetRows);

    const cost = await tokenCheckCost(runner.verifier, bf16);
    const share = cost.tokens / (cost.forward + cost.toploc);
    if (share > TOKEN_COST_TARGET) missed++;
    const costTable = printTable([
      ["per request (bf16 prover, mean)", "ms"],
      ["verification forward (prompt + output[:-1])", cost.forward.toFixed(2)],
      ["TOPLOC comparison, every chunk", cost.toploc.toFixed(2)],
      ["token check, every output token", cost.tokens.toFixed(3)],
      [`token check / TOPLOC verification (target <= ${TOKEN_COST_TARGET * 100} %)`, `${(share * 100).toFixed(2)} % ${share <= TOKEN_COST_TARGET ? "met" : "MISSED"}`],
    ]);

    let fixture = "";
    if (m.cases) {
      const cases = await readCasesFile(m.cases);
      const results = await checkProofs(runner.verifier, m.profile, cases);
      const fixtureRows = [["proofs made elsewhere (" + m.cases.split("/").pop() + ")", "accepted / total"]];
      for (const [name, r] of results) fixtureRows.push([name, `${r.accepted}/${r.total}`]);
      fixture = printTable(fixtureRows);
    }
    sections.push(`### ${m.name} (profile ${m.profile.contentHash.slice(0, 18)}…)`, "", "```", table, "```", "", "```", targets, "```", "", "```", costTable, "```", "");
    if (fixture) sections.push("```", fixture, "```", "");
  } finally {
    await runner.close();
  }
}
console.log(missed === 0 ? "\nall targets met" : `\n${missed} target(s) MISSED`);
if (args.record) recordSection("verify", sections.join("\n"));
