/**
 * vb diff's statistics against a real loopback server (in its own process): 20 pairs of runs of
 * the same server show no regression under --strict in at least 19 (the bootstrap test on the
 * traces against the tolerance, Holm over the table), and a deliberately slowed server is
 * flagged. Plus the pieces: the weighted bootstrap quantiles equal the plain ones, Holm's
 * adjustment, and a small-tail percentile left unconfirmed.
 */
import assert from "node:assert/strict";
import { measureDiffNoise } from "../../scripts/bench/diff-noise.ts";
import { holm, testChange } from "../../benchmark/significance.ts";
import { percentileSorted, sortedCopy } from "../../benchmark/stats.ts";
import type { TraceLine } from "../../protocol/envelope/traces.ts";
import { rng } from "../../benchmark/rng.ts";

function traces(n: number, ttft: (i: number) => number): TraceLine[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i, launch: 0, prompt_index: i, ok: true, status: 200, error: null, scheduled_ms: i * 10, queue_ms: 0, ttft_ms: ttft(i), e2e_ms: ttft(i) + 20, tpot_ms: 2,
    itl_ms: [2, 2, 2], output_tokens: 4, prompt_tokens: 8, token_source: "server_usage", slo_met: true, max_tokens: 4, proof: null,
  }));
}

describe("vb diff statistics", function () {
  this.timeout(120_000);

  it("computes the observed statistic exactly as the envelope does, and tests against the tolerance", () => {
    const next = rng(3);
    const a = traces(200, () => 20 + next() * 4);
    const b = traces(200, () => 20 + next() * 4);
    const t = testChange("ttft_p50_ms", { traces: a, durationS: 2 }, { traces: b, durationS: 2 }, 1000, 1, 0.05)!;
    assert.equal(t.baseline, percentileSorted(sortedCopy(a.map((x) => x.ttft_ms!)), 0.5));
    assert.ok(t.p > 0.5, `same distribution, p ${t.p}`);
    const slow = traces(200, () => 30 + next() * 4);
    const s = testChange("ttft_p50_ms", { traces: a, durationS: 2 }, { traces: slow, durationS: 2 }, 1000, 1, 0.05)!;
    assert.ok(s.p < 0.01 && s.relCi[0] > 0.3, JSON.stringify(s));
    // p99 of 200 requests has 2 samples beyond it: not tested.
    assert.equal(testChange("ttft_p99_ms", { traces: a, durationS: 2 }, { traces: slow, durationS: 2 }, 200, 1), null);
    assert.deepEqual(holm([0.01, 0.04, 0.03]).map((p) => Number(p.toFixed(2))), [0.03, 0.06, 0.06]);
  });

  it("finds no regression in at least 19 of 20 pairs of runs of the same server, and flags a slowed one", async () => {
    const r = await measureDiffNoise({
      pairs: 20, slowedPairs: 3, requests: 32, tolerance: 0.05, alpha: 0.05, slowdown: 1, firstTokenDelayMs: 40, interTokenDelayMs: 10, tokens: 5, concurrency: 8,
    });
    assert.ok(r.falseAlarmPairs <= 1, `false alarms in ${r.falseAlarmPairs} of 20 pairs: ${JSON.stringify(r.falseAlarmMetrics)}`);
    assert.equal(r.detections, 3, "a server twice as slow to its first token is flagged every time");
  });
});
