/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Reports people read: `vb report` of a run and of a rate sweep, and `vb diff --html`, each one
 * self-contained HTML file, opened in headless Debian Chromium (playwright-core): every chart is
 * drawn (a uPlot canvas with ink on it), the page asks the network for nothing, throws no error,
 * and holds the tables; screenshots are kept in test-artifacts/screenshots/ (gitignored). Plus
 * the CSV export of traces, metrics and the sweep.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startLoopbackServer, type LoopbackServer } from "../../benchmark/loopback-server.ts";
import { csv } from "../../benchmark/report/csv.ts";
import { generateEd25519, writeKeyFile } from "../../protocol/envelope/index.ts";
import { launchBrowser, type Browser } from "../helpers/browser.ts";
import { runMain } from "../helpers/cli.ts";

const FAST = ["--num-requests", "40", "--concurrency", "4", "--warmup-runs", "1", "--convergence-timeout", "0", "--max-tokens", "6", "--resamples", "100", "--no-progress"];

describe("vb report and vb diff --html in headless Chromium", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "vb-report-"));
  const keyFile = join(dir, "dev.key");
  let fast: LoopbackServer;
  let slow: LoopbackServer;
  let browser: Browser;

  before(async () => {
    writeKeyFile(keyFile, generateEd25519(), "test");
    fast = await startLoopbackServer({ tokens: 6, firstTokenDelayMs: 4, interTokenDelayMs: 1, tokenJitter: 2 });
    slow = await startLoopbackServer({ tokens: 6, firstTokenDelayMs: 25, interTokenDelayMs: 1, tokenJitter: 2 });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await fast?.close();
    await slow?.close();
  });

  const run = (url: string, out: string, ...extra: string[]) => runMain(["run", "report-smoke", "--model", "m", "--engine", "loopback@1", "--base-url", url, "--output", out, "--key", keyFile, ...FAST, ...extra]);

  /** Opens a report, waits for its charts, checks them, keeps a screenshot; returns the page's text. */
  async function open(file: string, name: string, charts: number): Promise<string> {
    const page = browser.page;
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
    page.on("request", (r) => void (r.url().startsWith("file:") || requests.push(r.url())));
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction((n) => document.body.dataset.charts === String(n), charts, { timeout: 20_000 });
    const inked = await page.evaluate(() =>
      [...document.querySelectorAll(".uplot canvas")].map((c) => {
        const canvas = c as HTMLCanvasElement;
        const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
        let ink = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) ink++;
        return ink;
      }),
    );
    assert.equal(inked.length, charts, `${name}: ${inked.length} chart canvases`);
    assert.ok(inked.every((n) => n > 200), `${name}: every chart has ink (${inked.join(", ")} pixels)`);
    const titles = await page.evaluate(() => [...document.querySelectorAll(".u-title")].map((t) => t.textContent));
    assert.equal(titles.length, charts);
    await browser.screenshot(`report-${name}`);
    page.removeAllListeners();
    assert.deepEqual(errors, [], `${name}: page errors`);
    assert.deepEqual(requests, [], `${name}: the report fetched nothing`);
    return page.evaluate(() => document.body.innerText);
  }

  it("reports a run: metrics, warnings, TTFT/ITL/e2e distributions and throughput over time; CSV of traces and metrics", async () => {
    const out = join(dir, "run");
    assert.equal((await run(fast.url, out)).code, 0);
    const r = await runMain(["report", out, "--csv"]);
    assert.equal(r.code, 0, r.stderr);
    const text = await open(join(out, "report.html"), "run", 4);
    assert.match(text, /TTFT distribution/);
    assert.match(text, /ttft_p50_ms/);
    assert.match(text, /Throughput over time/);
    const traces = readFileSync(join(out, "traces.csv"), "utf8").trim().split("\r\n");
    assert.equal(traces.length, 41);
    assert.match(traces[0]!, /^seq,launch,prompt_index,ok,status,error,scheduled_ms,queue_ms,ttft_ms,e2e_ms/);
    assert.match(readFileSync(join(out, "metrics.csv"), "utf8"), /^metric,value,ci95_low,ci95_high\r\n[\s\S]*\r\nttft_p50_ms,[0-9.]+,[0-9.]+,[0-9.]+\r\n/);
    // A second report into the same files is refused without --force.
    const again = await runMain(["report", out, "--csv"]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /report\.html exists; pass --force/);
    assert.equal((await runMain(["report", join(out, "envelope.json"), "--csv", "--force"])).code, 0);
  });

  it("reports a rate sweep: one envelope per point, the throughput-vs-latency curve, sweep.csv", async () => {
    const out = join(dir, "sweep");
    const r = await run(fast.url, out, "--rate", "40,80,160", "--num-requests", "30");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /rate-40 +open/);
    const index = JSON.parse(readFileSync(join(out, "sweep.json"), "utf8"));
    assert.equal(index.points.length, 3);
    for (const p of index.points) {
      const env = JSON.parse(readFileSync(join(out, p.dir, "envelope.json"), "utf8"));
      assert.equal(env.sweep.id, index.sweep_id);
      assert.equal(env.driver_options.rate, p.rate);
      assert.equal(env.signature.content_hash, p.content_hash);
      assert.equal((await runMain(["verify", join(out, p.dir, "envelope.json")])).code, 3, "each point is a signed envelope (self-signed here: unverified)");
    }
    assert.equal(readFileSync(join(out, "sweep.csv"), "utf8").trim().split("\r\n").length, 4);
    const text = await open(join(out, "report.html"), "sweep", 6);
    assert.match(text, /Latency against achieved throughput/);
    // vb report of the folder rebuilds the same report.
    assert.equal((await runMain(["report", out, "--output", join(out, "again.html")])).code, 0);
    assert.ok(existsSync(join(out, "again.html")));
  });

  it("--sweep: a synchronous point, a throughput point, then rates between them", async () => {
    const out = join(dir, "auto");
    const r = await run(fast.url, out, "--sweep", "1", "--num-requests", "24");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const index = JSON.parse(readFileSync(join(out, "sweep.json"), "utf8"));
    assert.deepEqual(index.points.map((p: { label: string }) => p.label.replace(/[\d.]+$/, "N")), ["synchronous", "throughput-cN", "rate-N"]);
    const [sync, max, mid] = index.points as { rate: number | null; mode: string; metrics: { req_per_s: number } }[];
    assert.deepEqual([sync!.mode, max!.mode, mid!.mode], ["closed", "closed", "open"]);
    const [lo, hi] = [Math.min(sync!.metrics.req_per_s, max!.metrics.req_per_s), Math.max(sync!.metrics.req_per_s, max!.metrics.req_per_s)];
    assert.ok(mid!.rate! > lo && mid!.rate! < hi, `rate ${mid!.rate} between ${lo} and ${hi}`);
    assert.ok(existsSync(join(out, "report.html")));
  });

  it("writes the diff as HTML: verdicts with intervals and both runs' distributions", async () => {
    const base = join(dir, "base");
    const cand = join(dir, "cand");
    assert.equal((await run(fast.url, base)).code, 0);
    assert.equal((await run(slow.url, cand)).code, 0);
    const html = join(dir, "diff.html");
    const d = await runMain(["diff", join(base, "envelope.json"), join(cand, "envelope.json"), "--html", html, "--strict"]);
    assert.equal(d.code, 1, d.stdout + d.stderr);
    const text = await open(html, "diff", 4);
    assert.match(text, /regression\(s\)/);
    const rows = await browser.page.evaluate(() => [...document.querySelectorAll("tr.regression td:first-child")].map((td) => td.textContent));
    assert.ok(rows.includes("ttft_p50_ms"), `regression rows: ${rows}`);
    assert.match(text, /\[\+\d+\.\d%, \+\d+\.\d%\]/, "the delta's interval is shown");
  });

  it("escapes CSV fields, and defuses spreadsheet formulas from server error text", () => {
    assert.equal(csv([["a,b", 'say "hi"', "=cmd()", 1.5, null]]), '"a,b","say ""hi""",\'=cmd(),1.5,\r\n');
  });
});
