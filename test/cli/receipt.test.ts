/**
 * `vb receipt` and `vb root` on a real Hardhat node with a batch in every state and real provers
 * (test/helpers/chain-scenario.ts): one exit code per outcome, the JSON output, and the refusals
 * (usage, unreachable endpoints). Most cases run the CLI's main() in this process; one runs it
 * as `npm run vb` does, as a process.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";
import { createPublicClient, http, type Hex } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { freePort } from "../../scripts/network/launch.ts";
import { buildChainScenario, tamperingProxy, type ChainScenario } from "../helpers/chain-scenario.ts";
import { runCli, runMain } from "../helpers/cli.ts";

describe("vb receipt and vb root (real chain, real provers)", function () {
  this.timeout(180_000);
  let s: ChainScenario;
  let proxy: { url: string; server: Server };
  let chain: string[];

  before(async () => {
    s = await buildChainScenario();
    proxy = await tamperingProxy(s.honest.url);
    chain = ["--rpc-url", s.setup.rpcUrl, "--deployment", s.setup.deploymentFile];
  });
  after(async () => {
    await new Promise((resolve) => proxy?.server.close(resolve));
    await s?.stop();
  });

  const receipt = (subject: string, prover = s.honest.url, extra: string[] = []) => runMain(["receipt", subject, "--prover", prover, ...chain, ...extra]);

  it("exits 0 for a response in an attested or finalized batch, naming the on-chain batch", async () => {
    const finalized = await receipt(s.batches.finalized.recordIds[0]!);
    assert.equal(finalized.code, 0, finalized.stdout + finalized.stderr);
    assert.match(finalized.stdout, new RegExp(`^VALID  rec_[0-9a-f]{32}: the response is leaf 0 of on-chain batch ${s.batches.finalized.batchId}, which is Finalized`));
    assert.equal((finalized.stdout.match(/^ {2}✓ /gm) ?? []).length, 5);
    // The whole response body, from a file, checked against its own proofs too.
    const file = path.join(s.dir, "response.json");
    writeFileSync(file, JSON.stringify(s.batches.attested.response));
    const attested = await receipt(file, s.honest.url, ["--json"]);
    assert.equal(attested.code, 0, attested.stderr);
    const json = JSON.parse(attested.stdout) as { status: string; onchain: { batchId: string; state: string; root: Hex }; leafHash: Hex };
    assert.equal(json.status, "valid");
    assert.equal(json.onchain.batchId, s.batches.attested.batchId.toString());
    assert.equal(json.onchain.state, "Attested");
    const client = createPublicClient({ transport: http(s.setup.rpcUrl) });
    const root = await client.readContract({ address: s.setup.deployment.contracts.batchManager.address, abi: batchManagerAbi, functionName: "batchRoot", args: [s.batches.attested.batchId] });
    assert.equal(json.onchain.root, root, "the root is the chain's");
    assert.equal(json.leafHash, (s.batches.attested.response.proof as { leaf_hash: string }).leaf_hash);
  });

  it("has a distinct exit code for pending, disputed, slashed, expired and not included", async () => {
    const cases: [string, string, number, RegExp][] = [
      [s.batches.pending.recordIds[1]!, s.honest.url, 3, /^PENDING .*no quorum has attested yet/],
      [s.unbatchedRecord, s.honest.url, 3, /^PENDING .*its batch has not closed yet/],
      [s.batches.disputed.recordIds[0]!, s.honest.url, 4, /^DISPUTED .*which is disputed/],
      [s.batches.slashed.recordIds[3]!, s.impostor.url, 5, /^SLASHED .*a dispute found fraud/],
      [s.batches.expired.recordIds[2]!, s.honest.url, 6, /^EXPIRED .*expired without a quorum/],
      [`rec_${"a".repeat(32)}`, s.honest.url, 7, /^NOT-INCLUDED .*has no record/],
      [s.batches.finalized.recordIds[1]!, proxy.url, 7, /^NOT-INCLUDED .*is not in on-chain batch/],
      // The impostor's prover has no record of the honest prover's response.
      [s.batches.finalized.recordIds[0]!, s.impostor.url, 7, /^NOT-INCLUDED /],
    ];
    for (const [record, prover, code, output] of cases) {
      const r = await receipt(record, prover);
      assert.equal(r.code, code, `${record} at ${prover}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, output);
    }
    // A response whose proofs differ from the committed record's is not this record's receipt.
    const altered = structuredClone(s.batches.finalized.response) as { proof: { toploc: { proofs: string[] } } };
    altered.proof.toploc.proofs[0] = Buffer.alloc(258).toString("base64");
    const file = path.join(s.dir, "altered.json");
    writeFileSync(file, JSON.stringify(altered));
    const r = await receipt(file);
    assert.equal(r.code, 7);
    assert.match(r.stdout, /other proofs than this response/);
  });

  it("refuses bad input (exit 2) and reports unreachable endpoints (exit 1)", async () => {
    const usage: [string[], RegExp][] = [
      [["receipt", s.batches.finalized.recordIds[0]!, ...chain], /required option '--prover <url>' not specified/],
      [["receipt", "rec_short", "--prover", s.honest.url, ...chain], /record id must look like rec_/],
      [["receipt", s.batches.finalized.recordIds[0]!, "--prover", "ftp://x", ...chain], /--prover must be an http\(s\) URL/],
      [["receipt", "a", "b", "--prover", s.honest.url, ...chain], /too many arguments/],
      [["receipt", s.batches.finalized.recordIds[0]!, "--prover", s.honest.url, "--rpc-url", s.setup.rpcUrl, "--nope"], /unknown option '--nope'/],
      [["root", "0x1234", ...chain], /ROOT must be 0x followed by 64 hex digits/],
    ];
    for (const [args, message] of usage) {
      const r = await runMain(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const closed = `http://127.0.0.1:${await freePort()}`;
    const noProver = await receipt(s.batches.finalized.recordIds[0]!, closed);
    assert.equal(noProver.code, 1);
    assert.match(noProver.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/records/);
    const noChain = await runMain(["receipt", s.batches.finalized.recordIds[0]!, "--prover", s.honest.url, "--rpc-url", closed, "--deployment", s.setup.deploymentFile]);
    assert.equal(noChain.code, 1);
    assert.match(noChain.stderr, /cannot reach/);
    const badDeployment = await runMain(["receipt", s.batches.finalized.recordIds[0]!, "--prover", s.honest.url, "--rpc-url", s.setup.rpcUrl, "--deployment", path.join(s.dir, "missing.json")]);
    assert.equal(badDeployment.code, 1);
    assert.match(badDeployment.stderr, /cannot read deployment/);
  });

  it("vb root finds the batch that committed a root, with its state (and exits by it)", async () => {
    const client = createPublicClient({ transport: http(s.setup.rpcUrl) });
    const rootOf = (id: bigint) => client.readContract({ address: s.setup.deployment.contracts.batchManager.address, abi: batchManagerAbi, functionName: "batchRoot", args: [id] }) as Promise<Hex>;
    const attestedRoot = await rootOf(s.batches.attested.batchId);
    const found = await runMain(["root", attestedRoot, ...chain]);
    assert.equal(found.code, 0, found.stderr);
    assert.match(found.stdout, new RegExp(`^batch ${s.batches.attested.batchId}  Attested  prover ${s.honest.account}  4 leaves, attested by 3 signers \\(100\\.0% of the stake\\)`));
    const json = JSON.parse((await runMain(["root", await rootOf(s.batches.slashed.batchId), ...chain, "--json"])).stdout) as { status: string; batches: { batchId: string; state: string; disputes: string[] }[] };
    assert.equal(json.status, "slashed");
    assert.deepEqual(json.batches.map((b) => [b.batchId, b.state, b.disputes]), [[s.batches.slashed.batchId.toString(), "Slashed", [s.disputes.slashed.toString()]]]);
    assert.equal((await runMain(["root", await rootOf(s.batches.pending.batchId), ...chain])).code, 3);
    const missing = await runMain(["root", `0x${"77".repeat(32)}`, ...chain]);
    assert.equal(missing.code, 7);
    assert.match(missing.stdout, /^NOT-INCLUDED  no batch of 0x[0-9a-fA-F]{40} on chain 31337 committed/);
  });

  it("the prover's batch list shows each batch's on-chain state; its data endpoint is readable cross-origin; its /metrics count requests and commitments", async () => {
    const list = await fetch(`${s.honest.url}/v1/batches?limit=100`);
    assert.equal(list.headers.get("access-control-allow-origin"), "*");
    const { data } = (await list.json()) as { data: { id: number; status: string; onchain: { batch_id: string; state: string } | null }[] };
    const states = new Map(data.map((b) => [b.onchain?.batch_id, b.onchain?.state]));
    assert.equal(states.get(s.batches.finalized.batchId.toString()), "Finalized");
    assert.equal(states.get(s.batches.attested.batchId.toString()), "Attested");
    assert.equal(states.get(s.batches.expired.batchId.toString()), "Expired");
    assert.equal(states.get(s.batches.disputed.batchId.toString()), "Disputed");
    assert.equal(states.get(s.batches.pending.batchId.toString()), "Submitted");
    const one = (await (await fetch(`${s.honest.url}/v1/batches/${data[0]!.id}`)).json()) as { onchain: { state: string } };
    assert.ok(one.onchain.state);
    const impostor = (await (await fetch(`${s.impostor.url}/v1/batches`)).json()) as { data: { onchain: { state: string } }[] };
    assert.deepEqual(impostor.data.map((b) => b.onchain.state), ["Slashed"]);
    const metrics = await (await fetch(`${s.honest.url}/metrics`)).text();
    assert.match(metrics, /vb_prover_requests_total\{route="\/v1\/completions",method="POST",status="200",role="prover"\} (\d+)/);
    assert.match(metrics, /vb_prover_batch_commits_total\{result="committed",role="prover"\} [1-9]/);
    assert.match(metrics, /vb_prover_generated_tokens_total\{role="prover"\} [1-9]/);
    assert.match(metrics, /vb_prover_pending_records\{role="prover"\} 1/);
    assert.equal((await fetch(`${s.honest.url}/readyz`)).status, 200);
  });

  it("runs as a process with the same exit codes (npm run vb -- receipt ...)", async () => {
    const r = await runCli(["receipt", s.batches.slashed.recordIds[0]!, "--prover", s.impostor.url, ...chain]);
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stdout, /^SLASHED /);
  });
});
