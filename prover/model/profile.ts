/**
 * The default model's verification profile: calibrated once with `npm run vb -- calibrate`
 * (no --model: the default model) and committed beside its manifest, so that every prover,
 * operator and deployment of the default model agrees on it by content hash.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseProfile, type VerificationProfile } from "../../protocol/verification/index.ts";
import { DEFAULT_MODEL_MANIFEST } from "./manifest.ts";

export const DEFAULT_PROFILE_PATH = new URL(`./${DEFAULT_MODEL_MANIFEST.modelId}.profile.json`, import.meta.url).pathname;

let cached: VerificationProfile | undefined;

/** Parsed and hash-checked; the same object on every call; undefined before the first calibration. */
export function defaultModelProfile(): VerificationProfile | undefined {
  if (!cached && existsSync(DEFAULT_PROFILE_PATH)) cached = parseProfile(JSON.parse(readFileSync(DEFAULT_PROFILE_PATH, "utf8")));
  return cached;
}
