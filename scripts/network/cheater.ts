/**
 * What the cheating prover of `npm start` serves under the honest model's id. One option, one
 * place: each kind of cheat is a way to build the weights file it serves.
 *
 *   fp8           the default model's linear weights cast to float8 e4m3 (per-tensor scale),
 *                 run in bf16: the cheap-weights provider the verification profile is calibrated
 *                 to catch (calibration/variants); the default
 *   int8          the same with per-channel int8 weights (caught on some requests only: the
 *                 default model's int8 error is close to bf16 noise; see its profile)
 *   other-model   the same architecture, vocabulary and tokenizer with other weights (a model
 *                 swap every output token of which is a valid token of the advertised model, so
 *                 only the TOPLOC comparison exposes it)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildVariantModel, type WeightFormat } from "../../calibration/variants/index.ts";
import { buildDefaultModel } from "../../prover/model/default-model.ts";

function quantized(weights: WeightFormat) {
  return (dir: string): string => {
    const file = path.join(dir, `cheater-${weights}.onnx`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, buildVariantModel(buildDefaultModel(), { weights, activations: "bf16" }));
    return file;
  };
}

export const CHEATS = {
  fp8: quantized("fp8"),
  int8: quantized("int8"),
  "other-model": (dir: string): string => {
    const file = path.join(dir, "cheater-other-model.onnx");
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, buildDefaultModel({ seed: 4242 }));
    return file;
  },
} as const satisfies Record<string, (dir: string) => string>;

export type CheaterWeights = keyof typeof CHEATS;

/** The cheat `npm start` runs unless told otherwise (--cheater). */
export const CHEATER_WEIGHTS: CheaterWeights = "fp8";

/** Writes the cheater's weights into `dir` and returns the file (deterministic: same bytes each time). */
export function cheaterModel(kind: CheaterWeights, dir: string): string {
  return CHEATS[kind](dir);
}
