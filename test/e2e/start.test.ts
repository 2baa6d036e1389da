/// <reference lib="dom" />
/**
 * END-TO-END `npm start` (scripts/start.ts as a process, as `npm start` runs it after building
 * the contracts; ~3-4 minutes): the whole network comes up in a fresh data folder and prints one
 * URL; an honest batch is attested and the cheating prover's batch is disputed and slashed; the
 * explorer shows both in a real browser (the screenshot is kept in test-artifacts/); a response
 * of the honest prover passes `vb receipt`; SIGINT stops everything cleanly (exit 0, every port
 * free again); a second start on the same folder replays the chain and goes on with the same
 * batches; and the guards: a folder in use, --fresh on a folder that holds something else.
 *
 * Part of `npm test`; VB_E2E=0 skips it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { LocalNetwork, LocalNetworkError } from "../../scripts/network/local-network.ts";
import { NodeProcess, ROOT } from "../../scripts/network/launch.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { runMain } from "../helpers/cli.ts";

const ENABLED = process.env.VB_E2E !== "0";

interface BatchRow {
  id: string;
  prover: string;
  state: string;
  root: string;
}

function startNetwork(dir: string, extra: string[] = []): NodeProcess {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/start.ts"), "--dir", dir, "--port", "0", ...extra], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  return new NodeProcess("npm-start", child, path.join(dir, "..", `${path.basename(dir)}-supervisor.log`));
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

(ENABLED ? describe : describe.skip)("e2e: npm start (the whole network, its explorer, stop and resume)", function () {
  this.timeout(420_000);
  let base: string;
  let dir: string;
  let supervisor: NodeProcess | undefined;

  before(() => {
    base = mkdtempSync(path.join(tmpdir(), "vb-start-"));
    dir = path.join(base, "network");
  });
  after(async () => {
    await supervisor?.stop("SIGINT", 60_000);
    if (!process.env.VB_E2E_KEEP) rmSync(base, { recursive: true, force: true });
  });

  const batches = async (explorer: string) => ((await (await fetch(`${explorer}/api/batches?limit=200`)).json()) as { data: BatchRow[] }).data;

  it("brings the network up, prints one URL, and shows honest batches attested and the cheating prover slashed", async () => {
    supervisor = startNetwork(dir);
    const explorer = (await supervisor.waitFor(/^explorer: (http:\/\/127\.0\.0\.1:\d+)$/m, 240_000))[1]!;
    assert.equal((supervisor.log.match(/https?:\/\//g) ?? []).length, 1, `one URL printed:\n${supervisor.log}`);
    const manifest = JSON.parse(readFileSync(path.join(dir, "network.json"), "utf8")) as { ports: Record<string, number>; endpoints: Record<string, string>; provers: { name: string }[] };
    const cheater = (await (await fetch(`${explorer}/api/provers`)).json()) as { data: { account: string }[] };
    assert.equal(cheater.data.length, 2);
    const seen = await until("an honest batch attested and the cheater's batch slashed", 200_000, async () => {
      const list = await batches(explorer);
      const attested = list.find((b) => b.state === "Attested" || b.state === "Finalized");
      const slashed = list.find((b) => b.state === "Slashed");
      return attested && slashed ? { attested, slashed } : undefined;
    });
    assert.notEqual(seen.attested.prover, seen.slashed.prover);
    // The table (a pipe here: one line per change) followed them.
    await supervisor.waitFor(new RegExp(`^batch ${seen.slashed.id}  cheater  \\d+ leaves  Slashed  attesting stake –  disputes #\\d+ Upheld$`, "m"), 10_000);
    await supervisor.waitFor(new RegExp(`^batch ${seen.attested.id}  honest  \\d+ leaves  (Attested|Finalized)  attesting stake 300/300 \\(100%\\)`, "m"), 10_000);

    // The explorer, in a browser: the screenshot the README shows comes from this run.
    const browser = await launchBrowser();
    try {
      await browser.page.goto(`${explorer}/#/`);
      await browser.page.waitForSelector('body[data-ready="/"] #batches-table tbody tr td a');
      const states = await browser.page.$$eval("#batches-table tbody tr td:nth-child(4)", (tds) => tds.map((td) => (td.textContent ?? "").trim()));
      assert.ok(states.includes("Slashed") && states.some((s) => s === "Attested" || s === "Finalized"), states.join(","));
      assert.match((await browser.page.textContent("#batches-table"))!, /cheating-prover/);
      await browser.screenshot("npm-start-explorer");
      await browser.page.goto("about:blank");
      await browser.page.goto(`${explorer}/#/batch/${seen.slashed.id}`);
      await browser.page.waitForSelector('body[data-ready^="/batch/"] #stats-status[data-status="ok"]', { timeout: 60_000 });
      await browser.screenshot("npm-start-slashed-batch");
    } finally {
      await browser.close();
    }

    // A user's check of one of the honest prover's responses, from the command line.
    const honest = manifest.endpoints.honestProver!;
    const local = ((await (await fetch(`${honest}/v1/batches?limit=100`)).json()) as { data: { id: number; onchain: { batch_id: string; state: string } | null }[] }).data;
    const onchain = local.find((b) => b.onchain?.batch_id === seen.attested.id)!;
    assert.ok(onchain, "the prover's batch list names the on-chain batch");
    const leaf = (await (await fetch(`${honest}/v1/batches/${onchain.id}/leaves/0`)).json()) as { record: { id: string } };
    const receipt = await runMain(["receipt", leaf.record.id, "--prover", honest, "--rpc-url", manifest.endpoints.chain!, "--deployment", path.join(dir, "31337.json")]);
    assert.equal(receipt.code, 0, receipt.stdout + receipt.stderr);

    // Ctrl-C: everything stops, cleanly, and every port is free again.
    supervisor.child.kill("SIGINT");
    assert.equal(await supervisor.exited, 0, supervisor.log.slice(-3000));
    assert.match(supervisor.log, /stopped\. Everything is kept in/);
    for (const [what, port] of Object.entries(manifest.ports)) assert.ok(await portFree(port), `${what} port ${port} free after stopping`);
    supervisor = undefined;
    writeFileSync(path.join(base, "before-restart.json"), JSON.stringify(seen));
  });

  it("a second start on the same folder replays the chain and goes on with the same batches", async () => {
    const seen = JSON.parse(readFileSync(path.join(base, "before-restart.json"), "utf8")) as { attested: BatchRow; slashed: BatchRow };
    supervisor = startNetwork(dir);
    await supervisor.waitFor(/^resuming the network in .*: replaying \d+ blocks \(\d+ transactions\) into a fresh chain/m, 60_000);
    const explorer = (await supervisor.waitFor(/^explorer: (http:\/\/127\.0\.0\.1:\d+)$/m, 240_000))[1]!;
    const list = await batches(explorer);
    const byId = new Map(list.map((b) => [b.id, b]));
    assert.equal(byId.get(seen.slashed.id)?.state, "Slashed");
    assert.equal(byId.get(seen.slashed.id)?.root, seen.slashed.root);
    assert.equal(byId.get(seen.attested.id)?.root, seen.attested.root);
    const newest = BigInt(list[0]!.id);
    await until("a batch submitted after the restart", 120_000, async () => ((await batches(explorer)).some((b) => BigInt(b.id) > newest) ? true : undefined));
    // The batch attested before the restart finalizes once its challenge window is over.
    await until(`batch ${seen.attested.id} finalized`, 120_000, async () => ((await batches(explorer)).find((b) => b.id === seen.attested.id)?.state === "Finalized" ? true : undefined));
    const browser = await launchBrowser();
    try {
      await browser.page.goto(`${explorer}/#/`);
      await browser.page.waitForSelector('body[data-ready="/"] #batches-table tbody tr td a');
      const states = await browser.page.$$eval("#batches-table tbody tr td:nth-child(4)", (tds) => tds.map((td) => (td.textContent ?? "").trim()));
      assert.ok(["Finalized", "Attested", "Slashed"].every((s) => states.includes(s)), states.join(","));
      await browser.screenshot("npm-start-explorer-resumed");
    } finally {
      await browser.close();
    }
    supervisor.child.kill("SIGTERM");
    assert.equal(await supervisor.exited, 0, supervisor.log.slice(-3000));
    supervisor = undefined;
  });

  it("refuses a folder another npm start is using, and --fresh on a folder that holds something else", async () => {
    const busy = path.join(base, "busy");
    mkdirSync(busy);
    writeFileSync(path.join(busy, "npm-start.lock"), String(process.ppid));
    const options = { fresh: false, explorerPort: 0, traffic: false, cheater: "other-model" as const, log: () => undefined };
    await assert.rejects(LocalNetwork.start({ ...options, dir: busy }), (e: unknown) => e instanceof LocalNetworkError && /another npm start \(pid \d+\) is using/.test((e as Error).message));
    const other = path.join(base, "other");
    mkdirSync(other);
    writeFileSync(path.join(other, "thesis.txt"), "precious");
    await assert.rejects(LocalNetwork.start({ ...options, dir: other, fresh: true }), /holds no network .*refusing to delete it/);
    assert.equal(readFileSync(path.join(other, "thesis.txt"), "utf8"), "precious");
  });
});
