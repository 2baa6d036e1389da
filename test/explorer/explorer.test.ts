/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The explorer in a real browser: headless Debian Chromium (playwright-core) on the explorer
 * served over a real Hardhat node with a batch in every state (test/helpers/chain-scenario.ts),
 * real provers and the explorer's own recomputation for the statistics. Checks the rendered
 * pages' elements, runs the in-browser response check for every outcome (and watches that it
 * reads the prover and the RPC endpoint directly, not the explorer), and keeps screenshots in
 * test-artifacts/screenshots/. Also the JSON API's refusals.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { Page } from "playwright-core";
import { loadExplorerConfig } from "../../explorer/config.ts";
import { ExplorerServer } from "../../explorer/server.ts";
import { launchBrowser, type Browser } from "../helpers/browser.ts";
import { buildChainScenario, tamperingProxy, type ChainScenario } from "../helpers/chain-scenario.ts";

describe("explorer (real browser, real chain, real provers)", function () {
  this.timeout(180_000);
  let scenario: ChainScenario;
  let explorer: ExplorerServer;
  let browser: Browser;
  let page: Page;
  let proxy: { url: string; server: Server };

  before(async () => {
    scenario = await buildChainScenario();
    proxy = await tamperingProxy(scenario.honest.url);
    const { honest, impostor } = scenario;
    explorer = await ExplorerServer.start(
      loadExplorerConfig({
        argv: ["--rpc-url", scenario.setup.rpcUrl, "--deployment", scenario.setup.deploymentFile, "--port", "0", "--provers", `${honest.url},${impostor.url}`, "--labels", `${honest.account}=honest,${impostor.account}=impostor`, "--log-level", "warn"],
        env: {},
      }),
    );
    browser = await launchBrowser();
    page = browser.page;
    page.on("pageerror", (error) => assert.fail(`page error: ${error.message}`));
  });

  after(async () => {
    await browser?.close();
    await explorer?.stop();
    await new Promise((resolve) => proxy?.server.close(resolve));
    await scenario?.stop();
  });

  /** Loads the page afresh at `hash` and waits until that route has drawn `ready`. */
  const open = async (hash: string, ready: string) => {
    await page.goto("about:blank");
    await page.goto(`${explorer.url}/#${hash}`);
    await page.waitForSelector(`body[data-ready="${hash.split("?")[0]}"] ${ready}`, { timeout: 60_000 });
  };
  const texts = (selector: string) => page.$$eval(selector, (els) => els.map((e) => (e.textContent ?? "").trim()));

  it("lists every batch with its state, prover, leaves, attesting stake and disputes, live", async () => {
    await open("/", "#batches-table tbody tr td a");
    const rows = await page.$$eval("#batches-table tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim())));
    const byId = new Map(rows.map((r) => [r[0]!.replace("#", ""), r]));
    const { batches } = scenario;
    const expect = (id: bigint, state: string, prover: string) => {
      const row = byId.get(id.toString());
      assert.ok(row, `batch ${id} listed`);
      assert.equal(row[3], state);
      assert.match(row[1]!, new RegExp(`^${prover} `));
      assert.equal(row[2], "4");
    };
    expect(batches.finalized.batchId, "Finalized", "honest");
    expect(batches.attested.batchId, "Attested", "honest");
    expect(batches.expired.batchId, "Expired", "honest");
    expect(batches.slashed.batchId, "Slashed", "impostor");
    expect(batches.disputed.batchId, "Disputed", "honest");
    expect(batches.pending.batchId, "Submitted", "honest");
    assert.match(byId.get(batches.attested.batchId.toString())![4]!, /^100\.0% \(3 signers\)$/);
    assert.equal(byId.get(batches.slashed.batchId.toString())![5], "1");
    assert.equal(await page.textContent('[data-count="slashed"] b'), "1");
    await browser.screenshot("explorer-batches");
    // Live: a new batch appears without reloading the page.
    const before = rows.length;
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${scenario.honest.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "vb-byte-llama-4l-256h-v1", prompt: `live ${i}`, max_tokens: 4, temperature: 0 }) });
      assert.equal(r.status, 200);
    }
    await page.waitForFunction((n) => document.querySelectorAll("#batches-table tbody tr").length > n, before, { timeout: 30_000 });
  });

  it("shows a finalized batch's state history, its signers with their stake, and its statistics within the thresholds", async () => {
    await open(`/batch/${scenario.batches.finalized.batchId}`, '#stats-status[data-status="ok"]');
    assert.deepEqual((await texts("#history-table tbody tr td:first-child")), ["Submitted", "Attested", "Finalized"]);
    const signers = await page.$$eval("#signers-table tbody tr", (trs) => trs.map((tr) => (tr.lastElementChild?.textContent ?? "").trim()));
    assert.deepEqual(signers, ["100", "100", "100"]);
    assert.equal(await page.locator(".chart canvas").count(), 4, "one chart per request statistic");
    assert.deepEqual(await page.$$eval(".chart", (figs) => figs.map((f) => (f as HTMLElement).dataset.metric)), ["garbage_rate", "sq_error", "token_max_margin", "token_divergence"]);
    assert.match((await page.textContent('.chart[data-metric="sq_error"] figcaption'))!, /threshold [0-9.]+/);
    assert.match((await page.textContent("#stats-status"))!, /profile vb-byte-llama-4l-256h-v1\/calibrated \(0x[0-9a-f]{8}/);
    assert.deepEqual(await texts("#stats-leaves tbody tr td:nth-child(2)"), ["accepted", "accepted", "accepted", "accepted"]);
    await browser.screenshot("explorer-batch-finalized");
  });

  it("shows the impostor's batch disputed and slashed, its recomputed chunks outside the thresholds, and the dispute's votes", async () => {
    await open(`/batch/${scenario.batches.slashed.batchId}`, '#stats-status[data-status="ok"]');
    assert.deepEqual(await texts("#history-table tbody tr td:first-child"), ["Submitted", "Disputed", "Slashed"]);
    assert.deepEqual(await texts("#stats-leaves tbody tr td:nth-child(2)"), ["rejected", "rejected", "rejected", "rejected"]);
    assert.match((await page.textContent("#disputes-table tbody"))!, /Upheld/);
    await browser.screenshot("explorer-batch-slashed");
    await open(`/dispute/${scenario.disputes.slashed}`, "#votes-table tbody tr");
    const votes = await page.$$eval("#votes-table tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim())));
    assert.equal(votes.length, 2);
    for (const v of votes) assert.deepEqual(v.slice(2), ["fraud", "100"]);
    assert.match((await page.textContent("h1"))!, /Upheld/);
    await open("/slashing", "#slashing-table tbody tr td a");
    const slashes = await page.$$eval("#slashing-table tbody tr", (trs) => trs.map((tr) => (tr.textContent ?? "").trim()));
    assert.equal(slashes.length, 1);
    assert.match(slashes[0]!, /^impostor .*50 tokens/);
  });

  it("shows operators with their stake and recent verdicts, and provers with theirs", async () => {
    await open("/operators", "#operators-table tbody tr td a");
    const rows = await page.$$eval("#operators-table tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim())));
    assert.equal(rows.length, 3);
    for (const r of rows) {
      assert.equal(r[2], "100");
      assert.match(r[4]!, /attested #2/);
    }
    await browser.screenshot("explorer-operators");
    await open("/provers", "#provers-table tbody tr td a");
    const provers = await page.$$eval("#provers-table tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim())));
    const impostor = provers.find((p) => p[0]!.startsWith("impostor"))!;
    assert.equal(impostor[2], "50", "half its stake slashed");
    assert.match(impostor[5]!, /^1×, 50 tokens$/);
  });

  async function check(prover: string, input: string): Promise<{ status: string; steps: string[] }> {
    await open("/check", "#check-form");
    const known = await page.$$eval("#check-prover option", (os) => os.map((o) => (o as HTMLOptionElement).value));
    if (known.includes(prover)) await page.selectOption("#check-prover", prover);
    else {
      await page.selectOption("#check-prover", "");
      await page.fill("#check-prover-url", prover);
    }
    await page.fill("#check-input", input);
    await page.click("#check-run");
    const receipt = await page.waitForSelector(".receipt[data-status]", { timeout: 30_000 });
    return { status: (await receipt.getAttribute("data-status"))!, steps: await texts(".steps li") };
  }

  it("checks a response in the browser: the leaf hash and Merkle proof against the root read from the chain, then the batch's state", async () => {
    const { batches, honest, impostor } = scenario;
    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    const valid = await check(honest.url, JSON.stringify(batches.finalized.response));
    assert.equal(valid.status, "valid");
    assert.equal(valid.steps.length, 5);
    assert.ok(valid.steps.every((s) => s.startsWith("✓")), valid.steps.join("\n"));
    await browser.screenshot("explorer-check-valid");
    // The check's own reads went to the prover and the RPC endpoint, never to the explorer's server.
    const checkReads = requested.filter((u) => !u.startsWith(explorer.url));
    assert.ok(checkReads.some((u) => u.startsWith(`${honest.url}/v1/batches/`) && u.includes("/leaves/")), "leaf fetched by the browser");
    assert.ok(checkReads.some((u) => u.startsWith(scenario.setup.rpcUrl)), "chain read by the browser");
    assert.ok(!requested.some((u) => u.startsWith(`${explorer.url}/api/`) && /leaves|records|roots/.test(u)));

    assert.equal((await check(honest.url, batches.attested.recordIds[2]!)).status, "valid");
    assert.equal((await check(honest.url, batches.pending.recordIds[0]!)).status, "pending");
    assert.equal((await check(honest.url, scenario.unbatchedRecord)).status, "pending");
    assert.equal((await check(honest.url, batches.disputed.recordIds[1]!)).status, "disputed");
    assert.equal((await check(honest.url, batches.expired.recordIds[0]!)).status, "expired");
    const slashed = await check(impostor.url, batches.slashed.recordIds[0]!);
    assert.equal(slashed.status, "slashed");
    await browser.screenshot("explorer-check-slashed");
    assert.equal((await check(honest.url, `rec_${"0".repeat(32)}`)).status, "not-included");
    const tampered = await check(proxy.url, batches.finalized.recordIds[0]!);
    assert.equal(tampered.status, "not-included");
    assert.match(tampered.steps.find((s) => s.includes("on-chain root"))!, /^✗ on-chain root the Merkle proof leads to 0x[0-9a-f]{64}, the chain's root/);
    // A response whose proofs are not the committed record's is not this record's receipt.
    const altered = structuredClone(batches.finalized.response) as { proof: { toploc: { proofs: string[] } } };
    altered.proof.toploc.proofs[0] = Buffer.from(new Uint8Array(258)).toString("base64");
    assert.equal((await check(honest.url, JSON.stringify(altered))).status, "not-included");
    // Bad input is refused with a message, not a verdict.
    assert.equal((await check(honest.url, "not a record id")).status, "error");
    assert.match((await page.textContent(".receipt .reason"))!, /record id must look like rec_/);
  });

  it("prefills and runs the check from a batch page's link", async () => {
    await open(`/batch/${scenario.batches.attested.batchId}`, "#stats-leaves tbody tr td a");
    await page.click("#stats-leaves tbody tr:first-child td a");
    const receipt = await page.waitForSelector(".receipt[data-status]", { timeout: 30_000 });
    assert.equal(await receipt.getAttribute("data-status"), "valid");
  });

  it("its JSON API refuses malformed parameters and unknown ids, naming the field, and serves the ops endpoints", async () => {
    const get = async (path: string) => {
      const r = await fetch(`${explorer.url}${path}`);
      return { status: r.status, body: (await r.json().catch(() => null)) as { error?: { field: string; message: string } } | null, headers: r.headers };
    };
    assert.equal((await get("/api/batches/abc")).status, 400);
    assert.equal((await get("/api/batches?limit=0")).status, 400);
    assert.equal((await get("/api/batches?extra=1")).status, 400);
    assert.equal((await get("/api/members/0x123")).status, 400);
    assert.equal((await get("/api/roots/0x1234")).status, 400);
    const missing = await get("/api/batches/999");
    assert.equal(missing.status, 404);
    assert.equal(missing.body?.error?.field, "id");
    assert.equal((await get("/api/disputes/999")).status, 404);
    assert.equal((await get(`/api/members/0x${"12".repeat(20)}`)).status, 404);
    assert.equal((await get("/nope")).status, 404);
    const root = (await get(`/api/batches/${scenario.batches.attested.batchId}`)).body as unknown as { root: string };
    const byRoot = (await get(`/api/roots/${root.root}`)).body as unknown as { data: { id: string }[] };
    assert.deepEqual(byRoot.data.map((b) => b.id), [scenario.batches.attested.batchId.toString()]);
    const index = await fetch(`${explorer.url}/`);
    assert.match(index.headers.get("content-security-policy") ?? "", /script-src|default-src 'self'/);
    assert.equal((await fetch(`${explorer.url}/readyz`)).status, 200);
    assert.match(await (await fetch(`${explorer.url}/metrics`)).text(), /vb_explorer_batches\{role="explorer"\} 7/);
  });

  it("does not fetch leaves from a data URI outside its provers", async () => {
    const narrow = await ExplorerServer.start(
      loadExplorerConfig({ argv: ["--rpc-url", scenario.setup.rpcUrl, "--deployment", scenario.setup.deploymentFile, "--port", "0", "--provers", scenario.honest.url, "--log-level", "warn"], env: {} }),
    );
    try {
      const stats = (await (await fetch(`${narrow.url}/api/batches/${scenario.batches.slashed.batchId}/stats`)).json()) as { status: string; reason: string; leaves: unknown[] };
      assert.equal(stats.status, "unavailable");
      assert.match(stats.reason, /not one of the explorer's provers/);
      assert.deepEqual(stats.leaves, []);
    } finally {
      await narrow.stop();
    }
  });
});
