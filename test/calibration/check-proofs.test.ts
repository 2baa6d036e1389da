/**
 * vb check-proofs on proofs made elsewhere: the reference TOPLOC library's H100 proofs of
 * llama_tiny (../shared/fixtures), and torch-on-CPU provers of llama_tiny, a Qwen2 and a GPT-2
 * (scripts/fixtures/make_cases.py), each judged with its model's calibrated profile.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "mocha";
import { runCli } from "../helpers/cli.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;
const HONEST = new Set(["gpu_bf16", "gpu_fp32", "cpu_fp32", "cpu_bf16"]);

async function checkProofs(model: string, cases: string, profile = `${MODELS}${model}.profile.json`) {
  const result = await runCli(["check-proofs", "--model", `${MODELS}${model}.onnx`, "--profile", profile, "--cases", cases, "--json"], {}, 180_000);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as { variants: Record<string, { accepted: number; total: number }> };
}

describe("vb check-proofs: proofs made elsewhere, judged per request with the model's profile", function () {
  this.timeout(300_000);
  const dir = mkdtempSync(path.join(tmpdir(), "vb-check-proofs-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the reference library's H100 proofs of llama_tiny: bf16 and fp32 accepted, another model rejected", async () => {
    const { variants } = await checkProofs("llama_tiny", `${MODELS}llama_tiny_cases.json`);
    assert.deepEqual(variants, {
      gpu_bf16: { accepted: 6, total: 6 },
      gpu_fp32: { accepted: 6, total: 6 },
      cpu_fp32: { accepted: 6, total: 6 },
      gpu_bf16_other_model: { accepted: 0, total: 6 },
    });
  });

  for (const [model, cases] of [["llama_tiny", "llama_tiny_torch_cases.json"], ["qwen2_tiny", "qwen2_tiny_cases.json"], ["gpt2_tiny", "gpt2_tiny_cases.json"]] as const) {
    it(`torch provers of ${model}: honest fp32 and bf16 accepted, int8 / fp8 / int4 weights, another model and edited tokens rejected`, async () => {
      const { variants } = await checkProofs(model, `${MODELS}${cases}`);
      assert.deepEqual(Object.keys(variants).sort(), ["cpu_bf16", "cpu_fp32", "edit1", "edit2", "edit4", "edit_last", "fp8", "int4", "int8", "other_model"]);
      for (const [name, { accepted, total }] of Object.entries(variants)) {
        assert.equal(total, 8, name);
        assert.equal(accepted, HONEST.has(name) ? total : 0, `${name}: ${accepted}/${total} accepted`);
      }
    });
  }

  it("prints per variant accepted / total and the worst statistics against their thresholds", async () => {
    const result = await runCli(["check-proofs", "--model", `${MODELS}llama_tiny.onnx`, "--profile", `${MODELS}llama_tiny.profile.json`, "--cases", `${MODELS}llama_tiny_cases.json`], {}, 120_000);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /gpu_bf16\s+accepted\s+6\/6/);
    assert.match(result.stdout, /worst: garbage_rate [0-9.]+ \(threshold [0-9.]+\), sq_error/);
    assert.match(result.stdout, /gpu_bf16_other_model\s+accepted\s+0\/6\n.*\n\s+rejected by: garbage_rate 6/);
  });

  it("the reference TOPLOC limits by name, for comparison", async () => {
    const { variants } = await checkProofs("llama_tiny", `${MODELS}llama_tiny_torch_cases.json`, "reference-bf16-k128");
    assert.ok(variants.int8!.accepted > 0, "the reference limits let int8 weights through");
  });

  it("refuses bad input with a clear error: missing flags, a tampered profile, another model's profile, a malformed cases file", async () => {
    const missing = await runCli(["check-proofs", "--model", `${MODELS}llama_tiny.onnx`, "--cases", `${MODELS}llama_tiny_cases.json`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--profile/);
    const profile = JSON.parse(readFileSync(`${MODELS}llama_tiny.profile.json`, "utf8"));
    profile.bands.sq_error[0].mu = 99;
    writeFileSync(path.join(dir, "tampered.json"), JSON.stringify(profile));
    const tampered = await runCli(["check-proofs", "--model", `${MODELS}llama_tiny.onnx`, "--profile", path.join(dir, "tampered.json"), "--cases", `${MODELS}llama_tiny_cases.json`]);
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, /InvalidProfileError: profile contentHash is 0x[0-9a-f]+, but the content hashes to 0x/);
    const other = await runCli(["check-proofs", "--model", `${MODELS}llama_tiny.onnx`, "--profile", `${MODELS}gpt2_tiny.profile.json`, "--cases", `${MODELS}llama_tiny_cases.json`], {}, 120_000);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /ProfileMismatchError: profile gpt2_tiny\/calibrated was calibrated on weights [0-9a-f]+; this engine runs [0-9a-f]+/);
    writeFileSync(path.join(dir, "cases.json"), JSON.stringify({ prompts: [[1, 2]], variants: { v: [{ generated: [1], proofs_base64: "AAAA" }] } }));
    const malformed = await runCli(["check-proofs", "--model", `${MODELS}llama_tiny.onnx`, "--profile", `${MODELS}llama_tiny.profile.json`, "--cases", path.join(dir, "cases.json")]);
    assert.equal(malformed.code, 1);
    assert.match(malformed.stderr, /CasesFileError: variants\.v\[0\]\.proofs_base64 must be an array of base64 strings/);
  });
});
