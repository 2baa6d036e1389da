import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatasetError, SYNTHETIC_ID, loadDataset, samplePromptIndices, syntheticDataset } from "../../benchmark/dataset.ts";
import { diffEnvelopes, formatDiff, metricDirection } from "../../benchmark/diff.ts";
import { deriveSeed, poissonArrivals, shuffled } from "../../benchmark/rng.ts";
import { SseError, SseParser } from "../../benchmark/sse.ts";
import { bootstrapPercentileCI, coefficientOfVariation, percentileSorted, percentileUnsorted, sortedCopy } from "../../benchmark/stats.ts";
import { hardwareFingerprint, fingerprintHash } from "../../benchmark/hardware.ts";
import { softwareProvenance } from "../../benchmark/provenance.ts";
import { startEnergyMeter } from "../../benchmark/energy.ts";
import { performance } from "node:perf_hooks";
import { formatEta, LiveQuantiles, Progress } from "../../benchmark/progress.ts";
import { sampleEnvelope } from "../helpers/sample-envelope.ts";
import { readFixture } from "../helpers/inferencebench-fixtures.ts";

describe("benchmark: SSE parser", () => {
  const stream = 'data: {"a":1}\n\n: comment\nevent: x\ndata: {"b":\ndata: 2}\r\n\r\ndata:[DONE]\n\n';
  it("yields the same events however the bytes are split", () => {
    const whole: string[] = [];
    const p = new SseParser((d) => whole.push(d));
    p.push(Buffer.from(stream));
    p.end();
    assert.deepEqual(whole, ['{"a":1}', '{"b":\n2}', "[DONE]"]);
    const bytes = Buffer.from('data: {"t":"h\u00e9\u4e2d\u{1F600}"}\n\n' + stream);
    for (let cut = 1; cut < bytes.length; cut++) {
      const got: string[] = [];
      const q = new SseParser((d) => got.push(d));
      q.push(bytes.subarray(0, cut));
      q.push(bytes.subarray(cut));
      q.end();
      assert.deepEqual(got, ['{"t":"h\u00e9\u4e2d\u{1F600}"}', ...whole], `split at ${cut}`);
    }
  });
  it("flushes a final event without a blank line and bounds line length", () => {
    const got: string[] = [];
    const p = new SseParser((d) => got.push(d), 64);
    p.push(Buffer.from("data: last"));
    p.end();
    assert.deepEqual(got, ["last"]);
    const q = new SseParser(() => undefined, 64);
    assert.throws(() => q.push(Buffer.from("data: " + "x".repeat(100))), SseError);
  });
});

describe("benchmark: statistics and seeds", () => {
  it("computes numpy-style percentiles, by sort and by selection alike", () => {
    const s = sortedCopy([5, 1, 4, 2, 3]);
    assert.equal(percentileSorted(s, 0.5), 3);
    assert.equal(percentileSorted(s, 0.9), 4.6);
    assert.equal(percentileSorted(s, 0), 1);
    assert.ok(Number.isNaN(percentileSorted(new Float64Array(0), 0.5)));
    let x = 7;
    const values = Array.from({ length: 1001 }, () => ((x = (x * 48271) % 2147483647) % 1000) / 7);
    for (const q of [0, 0.01, 0.5, 0.9, 0.99, 1]) assert.equal(percentileUnsorted(Float64Array.from(values), q), percentileSorted(sortedCopy(values), q), `q=${q}`);
  });
  it("gives seeded bootstrap CIs that bracket the estimate and repeat exactly", () => {
    const values = Array.from({ length: 200 }, (_, i) => 10 + Math.sin(i * 12.9898) * 3);
    const a = bootstrapPercentileCI(values, 0.5, { resamples: 1000, seed: 1, level: 0.95 })!;
    const b = bootstrapPercentileCI(values, 0.5, { resamples: 1000, seed: 1, level: 0.95 })!;
    const c = bootstrapPercentileCI(values, 0.5, { resamples: 1000, seed: 2, level: 0.95 })!;
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const p50 = percentileSorted(sortedCopy(values), 0.5);
    assert.ok(a[0] <= p50 && p50 <= a[1], `${a} around ${p50}`);
    assert.equal(bootstrapPercentileCI([1], 0.5, { resamples: 10, seed: 1, level: 0.95 }), null);
  });
  it("measures the coefficient of variation", () => {
    assert.equal(coefficientOfVariation([2, 2, 2]), 0);
    assert.ok(Math.abs(coefficientOfVariation([1, 2, 3]) - 0.5) < 1e-12);
    assert.ok(Number.isNaN(coefficientOfVariation([1])));
  });
  it("derives independent, reproducible seeds and Poisson arrivals", () => {
    assert.equal(deriveSeed(42, "dataset"), deriveSeed(42, "dataset"));
    assert.notEqual(deriveSeed(42, "dataset"), deriveSeed(42, "arrivals"));
    assert.deepEqual(shuffled([1, 2, 3, 4, 5], 9), shuffled([1, 2, 3, 4, 5], 9));
    const arr = poissonArrivals(5000, 100, 3);
    assert.deepEqual(arr, poissonArrivals(5000, 100, 3));
    const meanGap = arr[arr.length - 1]! / arr.length;
    assert.ok(Math.abs(meanGap - 10) < 0.6, `mean gap ${meanGap} ms at 100/s`);
  });
});

describe("benchmark: datasets", () => {
  it("builds the same synthetic dataset every time", () => {
    const a = syntheticDataset();
    assert.equal(a.id, SYNTHETIC_ID);
    assert.equal(a.prompts.length, 256);
    assert.equal(syntheticDataset().sha256, a.sha256);
    assert.deepEqual(samplePromptIndices(a, 300, 5), samplePromptIndices(a, 300, 5));
    assert.notDeepEqual(samplePromptIndices(a, 50, 5), samplePromptIndices(a, 50, 6));
  });
  it("reads ShareGPT-style files and rejects malformed ones", () => {
    const dir = mkdtempSync(join(tmpdir(), "vb-ds-"));
    const good = join(dir, "sharegpt.json");
    writeFileSync(good, JSON.stringify([{ conversations: [{ from: "human", value: "hi" }, { from: "gpt", value: "hello" }] }, { conversations: [{ from: "gpt", value: "x" }] }, { prompt: "direct" }]));
    const ds = loadDataset(good);
    assert.deepEqual(ds.prompts, ["hi", "direct"]);
    assert.equal(ds.id, "sharegpt:sharegpt.json");
    for (const [name, body] of [["obj.json", "{}"], ["bad.json", "[1,"], ["empty.json", "[]"], ["noconv.json", '[{"x":1}]']] as const) {
      writeFileSync(join(dir, name), body);
      assert.throws(() => loadDataset(join(dir, name)), DatasetError, name);
    }
    assert.throws(() => loadDataset(join(dir, "missing.json")), DatasetError);
  });
});

describe("benchmark: diff", () => {
  it("classifies metrics by direction", () => {
    assert.equal(metricDirection("ttft_p99_ms"), "lower_is_better");
    assert.equal(metricDirection("joules_per_token"), "lower_is_better");
    assert.equal(metricDirection("output_tok_per_s"), "higher_is_better");
    assert.equal(metricDirection("ok_rate"), "higher_is_better");
    assert.equal(metricDirection("n_samples"), "unknown");
  });
  it("gives direction-aware verdicts with regressions first and context warnings", () => {
    const base = sampleEnvelope() as unknown as Record<string, unknown>;
    const cand = {
      ...base, engine: { name: "vb-prover", version: "0.2.0" }, metrics: { ttft_p50_ms: 20, output_tok_per_s: 1200, ok_rate: 1.01, joules_per_token: null, tiny: 1e-7, extra: 3 },
      confidence_intervals: { ttft_p50_ms: [19, 21] },
    };
    const r = diffEnvelopes(base, cand, 0.02);
    assert.equal(r.metrics[0]!.metric, "ttft_p50_ms");
    assert.equal(r.metrics[0]!.verdict, "regression");
    assert.equal(r.metrics[0]!.abs_delta, 7.5);
    assert.equal(r.metrics[0]!.rel_delta, 0.6);
    assert.equal(r.metrics[0]!.test, "intervals");
    // Beyond the tolerance, but no interval on either side: it cannot be confirmed, and --strict does not count it.
    assert.equal(r.metrics.find((m) => m.metric === "output_tok_per_s")!.verdict, "unconfirmed");
    assert.equal(r.metrics.find((m) => m.metric === "ok_rate")!.verdict, "no_change");
    assert.equal(r.metrics.find((m) => m.metric === "extra")!.verdict, "missing");
    assert.equal(r.regressions, 1);
    assert.deepEqual(r.context.warnings.length, 1);
    assert.match(r.context.warnings[0]!, /engine version differs: vb-prover 0\.1\.0 vs vb-prover 0\.2\.0/);
    assert.match(formatDiff(r), /1 regression\(s\), 0 improvement\(s\)/);
    // Overlapping intervals: beyond the tolerance, but noise.
    const overlapping = diffEnvelopes(base, { ...cand, confidence_intervals: { ttft_p50_ms: [12, 25] } }, 0.02);
    assert.equal(overlapping.metrics.find((m) => m.metric === "ttft_p50_ms")!.verdict, "noise");
    assert.equal(overlapping.regressions, 0);
    assert.equal(diffEnvelopes(base, base).regressions, 0);
    assert.throws(() => diffEnvelopes(base, base, -1), RangeError);
    const nan = diffEnvelopes({ ...base, metrics: { e2e_p50_ms: NaN } }, { ...base, metrics: { e2e_p50_ms: 5 } });
    assert.equal(nan.metrics[0]!.verdict, "missing");
  });
  it("works on InferenceBench envelopes, skipping string metrics", () => {
    const a = JSON.parse(readFixture("2026-06-13-llm-h100__c1-79d354b13545.json"));
    const b = JSON.parse(readFixture("2026-06-13-llm-h100__c16-b91875fdf860.json"));
    const r = diffEnvelopes(a, b, 0.02);
    assert.ok(r.metrics.length > 5);
    assert.ok(r.metrics.every((m) => typeof m.baseline === "number" || m.baseline === null));
    const ttft = r.metrics.find((m) => m.metric === "ttft_p50_ms");
    // InferenceBench envelopes carry no intervals: a change beyond the tolerance is unconfirmed, never a regression.
    if (ttft && ttft.baseline !== null && ttft.candidate !== null) assert.equal(ttft.verdict, Math.abs(ttft.candidate / ttft.baseline - 1) > 0.02 ? "unconfirmed" : "no_change");
    assert.equal(r.regressions, 0);
  });
});

describe("benchmark: fingerprint, provenance, energy", () => {
  it("fingerprints this machine stably and hashes all of it", () => {
    const a = hardwareFingerprint();
    assert.equal(a.sha256, hardwareFingerprint().sha256);
    assert.equal(fingerprintHash(a), a.sha256);
    assert.equal(fingerprintHash({ ...a, kernel: a.kernel + "x" }) === a.sha256, false);
    assert.ok(a.cpu.logical_cores >= 1);
  });
  it("records the tool's git commit and library versions", () => {
    const p = softwareProvenance();
    assert.match(p.git_commit ?? "", /^[0-9a-f]{40}$/);
    assert.match(p.libraries.ajv ?? "", /^\d+\.\d+\.\d+/);
    assert.equal(p.node, process.version);
  });
  it("reads RAPL counters (with wrap-around) and reports null, never a guess, without a source", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vb-rapl-"));
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(dir, "intel-rapl:0"));
    writeFileSync(join(dir, "intel-rapl:0", "energy_uj"), "999000000");
    writeFileSync(join(dir, "intel-rapl:0", "max_energy_range_uj"), "1000000000");
    const meter = startEnergyMeter(dir);
    writeFileSync(join(dir, "intel-rapl:0", "energy_uj"), "2000000"); // wrapped: +3 J
    const r = await meter.stop();
    assert.equal(r.source, "rapl");
    assert.equal(r.joules, 3);
    const none = await startEnergyMeter(join(dir, "absent")).stop();
    if (none.source === null) {
      assert.equal(none.joules, null);
      assert.match(none.warning ?? "", /null/);
    }
  });

  it("reads GPUs and power from nvidia-smi when it is on the PATH", async function () {
    // nvidia-smi cannot run on this machine; this stand-in prints what its CSV queries print.
    const dir = mkdtempSync(join(tmpdir(), "vb-smi-"));
    const script = join(dir, "nvidia-smi");
    writeFileSync(
      script,
      [
        "#!/bin/sh",
        'case "$1" in',
        '  --query-gpu=power.draw) while true; do echo "300.00"; echo "100.00"; sleep 0.05; done ;;',
        '  *) echo "NVIDIA H100 80GB HBM3, GPU-1111, 81559, 96.00.D0.00.02, 550.54.15"; echo "NVIDIA H100 80GB HBM3, GPU-2222, 81559, 96.00.D0.00.02, 550.54.15" ;;',
        "esac",
      ].join("\n") + "\n",
      { mode: 0o755 },
    );
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    try {
      const fp = hardwareFingerprint();
      assert.deepEqual(fp.gpus.map((g) => [g.name, g.uuid, g.memory_mib]), [["NVIDIA H100 80GB HBM3", "GPU-1111", 81559], ["NVIDIA H100 80GB HBM3", "GPU-2222", 81559]]);
      assert.equal(fp.driver, "550.54.15");
      const meter = startEnergyMeter(join(dir, "no-powercap"));
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 800));
      const reading = await meter.stop();
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(reading.source, "nvidia-smi");
      // Two GPUs at 300 W + 100 W: about 400 J per second between the first sample and stop()
      // (the stand-in's start-up is not measured, hence the loose lower bound).
      assert.ok(reading.joules! > 400 * seconds * 0.25 && reading.joules! < 400 * seconds * 1.2, `${reading.joules} J in ${seconds} s`);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe("benchmark: terminal progress", () => {
  it("shows the phase, counts, live TTFT p50/p99 and an ETA, only on a terminal", () => {
    const writes: string[] = [];
    const tty = { isTTY: true, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream;
    const p = new Progress(tty);
    p.begin("convergence gate");
    p.update({ done: 12, detail: "window 12/30" });
    p.begin("measurement");
    for (let i = 1; i <= 10; i++) p.update({ done: i, total: 10, ttftMs: i, failed: i === 10 ? 1 : 0 });
    p.end();
    const text = writes.join("");
    assert.match(text, /convergence gate {2}12 requests {2}window 12\/30/);
    assert.match(text, /measurement {2}10\/10 {2}1 failed {2}TTFT p50 5\.0 ms p99 10\.0 ms {2}ETA 0?s/);
    const pipe: string[] = [];
    const notTty = new Progress({ isTTY: false, write: (s: string) => pipe.push(s) } as unknown as NodeJS.WriteStream);
    notTty.begin("measurement");
    notTty.update({ done: 1, total: 1 });
    notTty.end();
    assert.equal(pipe.length, 0);
  });
  it("keeps live quantiles and formats ETAs", () => {
    const q = new LiveQuantiles();
    for (const x of [5, 1, 4, 2, 3]) q.add(x);
    assert.deepEqual([q.quantile(0.5), q.quantile(0.99), q.count], [3, 5, 5]);
    assert.equal(new LiveQuantiles().quantile(0.5), null);
    assert.deepEqual([formatEta(4.2), formatEta(125), formatEta(NaN)], ["5s", "2m05s", "?"]);
  });
});
