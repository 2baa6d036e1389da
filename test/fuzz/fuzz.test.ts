/**
 * The fuzz suite, small and with a fixed seed (npm run fuzz runs 10,000 inputs per interface):
 * every external interface gets generated hostile input and must answer each with a result or a
 * typed error, never a crash, a hang, a 5xx or an untyped error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fuzzTable, runFuzz } from "../../scripts/fuzz.ts";
import { met } from "../../scripts/fuzz/figures.ts";
import { tempDir } from "../helpers/prover-server.ts";

describe("fuzz (fixed seed, small): prover HTTP, aggregator HTTP and gossip, leaf parser, TOPLOC decoder, envelope verifier", function () {
  this.timeout(240_000);
  const cache = tempDir("fuzz-models");
  after(() => cache.cleanup());

  it("answers every generated input with a result or a typed error", async () => {
    const runs = 250;
    const figures = await runFuzz({ runs, seed: 20261201, cacheDir: join(cache.dir, "models") });
    const table = fuzzTable(figures, runs).map((row) => row.join(" | ")).join("\n");
    assert.equal(figures.length, 6, table);
    for (const f of figures) assert.ok(met(f, runs), `${f.name} missed its targets:\n${table}\n${f.examples.join("\n")}`);
  });
});
