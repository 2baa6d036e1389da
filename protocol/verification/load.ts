import { readFile } from "node:fs/promises";
import { thresholdProfile, THRESHOLD_PROFILES, type ThresholdProfile } from "../toploc/index.ts";
import { InvalidProfileError } from "./errors.ts";
import { parseProfile, type VerificationProfile } from "./profile.ts";

/** A profile file, checked against its content hash; or a reference profile by name. */
export async function loadProfile(pathOrName: string): Promise<VerificationProfile | ThresholdProfile> {
  if (pathOrName in THRESHOLD_PROFILES) return thresholdProfile(pathOrName);
  let text: string;
  try {
    text = await readFile(pathOrName, "utf8");
  } catch (error) {
    throw new InvalidProfileError(
      `cannot read profile ${pathOrName} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); reference profiles by name: ${Object.keys(THRESHOLD_PROFILES).join(", ")}`,
      "profile",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidProfileError(`${pathOrName} is not JSON: ${(error as Error).message}`, "profile");
  }
  return parseProfile(json);
}
