import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../prover/config.ts";
import { loadOperatorConfig } from "../../operator/config.ts";

describe("model folder configuration (prover and operator)", () => {
  it("the prover takes --model-dir, --model-file, --device, --weights-hash and their environment variables", () => {
    const config = loadConfig({ argv: ["--model-dir", "/models/tiny", "--model-file", "onnx/model_fp16.onnx", "--device", "cuda", "--weights-hash", "ab".repeat(32)], env: {} });
    assert.deepEqual(config.model, { dir: "/models/tiny", file: "onnx/model_fp16.onnx", device: "cuda", weightsHash: "ab".repeat(32) });
    assert.deepEqual(loadConfig({ env: { PROVER_MODEL_DIR: "/m", PROVER_DEVICE: "cpu" } }).model, { dir: "/m", device: "cpu" });
  });

  it("the prover refuses a folder together with a model file or tokenizer, a file without a folder, an unknown device, a bad hash", () => {
    const refuse = (argv: string[], field: string) =>
      assert.throws(() => loadConfig({ argv, env: {} }), (error: unknown) => error instanceof ConfigError && error.field === field);
    refuse(["--model-dir", "/m", "--model", "/m/model.onnx"], "model.dir");
    refuse(["--model-dir", "/m", "--tokenizer", "/m/tokenizer.json"], "model.dir");
    refuse(["--model-file", "model.onnx"], "model.file");
    refuse(["--device", "tpu"], "model.device");
    refuse(["--weights-hash", "xyz"], "model.weightsHash");
  });

  it("the operator takes --model-dir, --model-file, --model-id and --device", () => {
    const base = ["--rpc-url", "http://127.0.0.1:8545", "--deployment", "deployments/31337.json"];
    const env = { OPERATOR_ACCOUNT_KEY_FILE: "a.key", OPERATOR_SIGNER_KEY_FILE: "s.key" };
    const config = loadOperatorConfig({ argv: [...base, "--model-dir", "/m", "--model-file", "onnx/model.onnx", "--model-id", "tiny", "--device", "cuda"], env });
    assert.deepEqual(config.model, { dir: "/m", file: "onnx/model.onnx", id: "tiny", device: "cuda" });
    assert.throws(() => loadOperatorConfig({ argv: [...base, "--model-dir", "/m"], env: { ...env, OPERATOR_MODEL_PATH: "/x.onnx" } }), (error: unknown) => (error as ConfigError).field === "model.dir");
    assert.throws(() => loadOperatorConfig({ argv: [...base, "--device", "gpu"], env }), (error: unknown) => (error as ConfigError).field === "model.device");
  });
});
