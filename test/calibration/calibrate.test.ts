/**
 * vb calibrate end to end on the default model, shortened (16 requests, outputs a quarter as
 * long): the profile it writes parses and hash-checks, its honest variants pass, and its
 * detection table says what it caught.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "mocha";
import { calibrate, CalibrationError } from "../../calibration/calibrate.ts";
import { parseProfile, STATISTICS } from "../../protocol/verification/index.ts";
import { runCli } from "../helpers/cli.ts";

describe("calibration: a profile from the model file alone", function () {
  this.timeout(600_000);
  const dir = mkdtempSync(path.join(tmpdir(), "vb-calibrate-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("fits honest bands, judges every cheat, and seals the report into the profile", async () => {
    const phases = new Set<string>();
    const { profile, table } = await calibrate({ requests: 16, lengthScale: 0.25, seed: 3, onProgress: (e) => phases.add(e.phase) });
    assert.deepEqual([...phases], ["load", "honest", "legacy-sampler", "fit", "cheat", "edit", "done"]);
    assert.equal(parseProfile(JSON.parse(JSON.stringify(profile))).contentHash, profile.contentHash);
    assert.equal(profile.model.id, "vb-byte-llama-4l-256h-v1");
    assert.deepEqual(profile.bands.sq_error.map((b) => b.variant), ["fp32-1thread-basic", "bf16", "bf16-1thread-basic"]);
    assert.deepEqual(Object.keys(profile.bands.tokens).sort(), ["greedy", "gumbel", "uniform"]);
    const byName = Object.fromEntries(table.map((r) => [r.variant, r]));
    for (const r of table.filter((r) => r.honest)) assert.equal(r.rejected, 0, `${r.variant} rejected ${JSON.stringify(r.failedBy)}`);
    for (const name of ["fp8", "int4", "other-model", "edit-4"]) assert.equal(byName[name]!.rejected, byName[name]!.requests, name);
    const report = profile.calibration as { detection: Record<string, { rejected: number }>; thresholdsAtReferenceSize: Record<string, Record<string, number>> };
    assert.equal(report.detection["other-model"]!.rejected, 16);
    for (const s of STATISTICS) assert.ok(report.thresholdsAtReferenceSize.greedy![s]! >= 0, s);
  });

  it("vb calibrate writes the profile, prints the table, and refuses to overwrite without --force", async () => {
    const out = path.join(dir, "p.json");
    const first = await runCli(["calibrate", "--out", out, "--requests", "16", "--seed", "4"], {}, 500_000);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /other-model\s+cheat\s+16\/16/);
    assert.match(first.stdout, /thresholds for a request of 3 chunks and 65 tokens/);
    assert.match(first.stderr, /honest bf16\s+16\/16/, "progress per phase");
    assert.equal(parseProfile(JSON.parse(readFileSync(out, "utf8"))).name, "vb-byte-llama-4l-256h-v1/calibrated");
    const again = await runCli(["calibrate", "--out", out, "--requests", "16"]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists; pass --force/);
    const help = await runCli(["calibrate", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--tokenizer <file>/);
    const bad = await runCli(["calibrate", "--requests", "3", "--out", path.join(dir, "q.json")]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--requests.*must be an integer >= 16/);
    await assert.rejects(calibrate({ requests: 8 }), CalibrationError);
  });
});
