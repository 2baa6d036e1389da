/**
 * What the cheating prover of `npm start` serves under the honest model's id. One option, one
 * place: each kind of cheat is a way to build the weights file it serves.
 *
 *   other-model   the same architecture, vocabulary and tokenizer with other weights (a model
 *                 swap every output token of which is a valid token of the advertised model, so
 *                 only the TOPLOC comparison exposes it)
 *
 * Issue 10 adds quantized-weights variants of the default model and calibrated profiles that
 * reject them; then the cheater serves fp8 weights: add `fp8: (dir) => ...` below and make it
 * CHEATER_WEIGHTS.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildDefaultModel } from "../../prover/model/default-model.ts";

export const CHEATS = {
  "other-model": (dir: string): string => {
    const file = path.join(dir, "cheater-other-model.onnx");
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, buildDefaultModel({ seed: 4242 }));
    return file;
  },
} as const satisfies Record<string, (dir: string) => string>;

export type CheaterWeights = keyof typeof CHEATS;

/** The cheat `npm start` runs unless told otherwise (--cheater). */
export const CHEATER_WEIGHTS: CheaterWeights = "other-model";

/** Writes the cheater's weights into `dir` and returns the file (deterministic: same bytes each time). */
export function cheaterModel(kind: CheaterWeights, dir: string): string {
  return CHEATS[kind](dir);
}
