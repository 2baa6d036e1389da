/**
 * The detection table, on fresh requests (not the calibration's), for every honest and cheating
 * variant: honest requests are never rejected, and each cheat is rejected at least at the rate
 * the model's committed profile claims for it (all of them where it claims all).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { detectionRow } from "../../calibration/detection.ts";
import { VariantRunner, type Observed } from "../../calibration/runner.ts";
import { CHEATING_VARIANTS, EDIT_VARIANTS, HONEST_VARIANTS } from "../../calibration/variants.ts";
import { calibrationWorkload } from "../../calibration/workload.ts";
import { loadProfile, type VerificationProfile } from "../../protocol/verification/index.ts";
import { defaultModelProfile } from "../../prover/model/profile.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;

/**
 * Fewest rejections out of n consistent with what calibration measured (`rejected` of
 * `requests`): its 99% lower confidence bound on the rate (Clopper-Pearson; (0.01)^(1/N) when
 * it caught all N), then 3 standard deviations of an n-request sample below that.
 */
function floor(claim: { rejected: number; requests: number }, n: number): number {
  const { rejected, requests } = claim;
  if (rejected === 0) return 0;
  const rate = rejected === requests ? 0.01 ** (1 / requests) : Math.max(0, rejected / requests - 2.33 * Math.sqrt((rejected * (requests - rejected)) / requests ** 3));
  return Math.max(0, Math.ceil(n * rate - 3 * Math.sqrt(n * rate * (1 - rate))));
}

for (const [name, modelPath, requests] of [["default model", undefined, 12], ["llama_tiny", `${MODELS}llama_tiny.onnx`, 8]] as const) {
  describe(`detection table on ${name}`, function () {
    this.timeout(600_000);
    let runner: VariantRunner;
    let profile: VerificationProfile;
    let workload: ReturnType<typeof calibrationWorkload>;
    let bf16: Observed[] = [];
    before(async () => {
      const loaded = modelPath ? await loadProfile(`${MODELS}llama_tiny.profile.json`) : defaultModelProfile();
      assert.ok(loaded && "schema" in loaded);
      profile = loaded;
      runner = await VariantRunner.open(modelPath ? { modelPath } : {});
      const info = runner.verifier.info;
      workload = calibrationWorkload({
        requests,
        seed: 77,
        vocabSize: info.vocabSize,
        maxContext: info.maxContext,
        ...(info.bosTokenId !== undefined ? { encode: (t: string) => runner.verifier.tokenizer.encode(t), bosTokenId: info.bosTokenId } : {}),
      });
    });
    after(() => runner?.close());

    const claimed = (variant: string) => (profile.calibration as { detection: Record<string, { requests: number; rejected: number }> }).detection[variant]!;

    for (const variant of HONEST_VARIANTS) {
      it(`${variant.name}: no request rejected`, async () => {
        const observed = await runner.run(variant, workload);
        if (variant.name === "bf16") bf16 = observed;
        const row = detectionRow(variant.name, true, variant.description, observed.map((o) => o.evidence), profile);
        assert.equal(row.rejected, 0, JSON.stringify(row));
      });
    }
    for (const variant of CHEATING_VARIANTS) {
      it(`${variant.name}: rejected at the profile's rate (${variant.description})`, async () => {
        const row = detectionRow(variant.name, false, variant.description, (await runner.run(variant, workload)).map((o) => o.evidence), profile);
        const claim = claimed(variant.name);
        assert.ok(row.rejected >= floor(claim, row.requests), `${row.rejected}/${row.requests}; calibration rejected ${claim.rejected}/${claim.requests}`);
      });
    }
    for (const variant of EDIT_VARIANTS) {
      it(`${variant.name}: rejected at the profile's rate`, async () => {
        assert.ok(bf16.length > 0, "the bf16 run comes first");
        const row = detectionRow(variant.name, false, variant.description, await runner.edited(variant, bf16, 77), profile);
        const claim = claimed(variant.name);
        assert.ok(row.rejected >= floor(claim, row.requests), `${row.rejected}/${row.requests}; calibration rejected ${claim.rejected}/${claim.requests}`);
      });
    }
  });
}
