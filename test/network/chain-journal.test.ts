/**
 * The chain journal of `npm start`: a real Hardhat node (the "replayable" network) with the
 * contracts deployed, members funded and registered and interval mining on is recorded, stopped,
 * and replayed into a fresh node, which must end on the same blocks (same hashes) and state.
 */
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, http, type PublicClient } from "viem";
import { stakeRegistryAbi } from "../../protocol/contracts/abis.ts";
import { ChainJournalError, ChainRecorder, readJournal, replayJournal } from "../../scripts/network/chain-journal.ts";
import { setupNetwork, startHardhatNode, type NodeProcess } from "../../scripts/network/launch.ts";

describe("chain journal (npm start's chain across restarts)", function () {
  this.timeout(120_000);
  let dir: string;
  const nodes: NodeProcess[] = [];
  const client = (rpcUrl: string) => createPublicClient({ transport: http(rpcUrl), pollingInterval: 100 }) as PublicClient;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "vb-journal-"));
  });
  after(async () => {
    for (const n of nodes) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("replays a recorded chain into a fresh node block for block, and refuses a diverging or foreign one", async () => {
    const first = await startHardhatNode(dir, undefined, { network: "replayable" });
    nodes.push(first.node);
    const live = client(first.rpcUrl);
    const journalFile = path.join(dir, "chain.jsonl");
    const recorder = await ChainRecorder.open(journalFile, live);
    recorder.start(100);
    const setup = await setupNetwork(first.rpcUrl, dir, { operators: 2, provers: 1, blockIntervalMs: 300 });
    await new Promise((r) => setTimeout(r, 2_000)); // some empty interval-mined blocks
    await live.request({ method: "evm_setIntervalMining" as never, params: [0] as never });
    await recorder.stop();
    assert.equal(recorder.error, undefined);
    const head = await live.getBlock();
    const journal = readJournal(journalFile);
    assert.equal(journal.head, Number(head.number));
    assert.ok(journal.transactions >= 10, `deployment and setup are transactions (${journal.transactions})`);
    assert.ok(journal.entries.some((e) => (e.count ?? 1) > 1), "empty interval blocks are kept as runs");
    const stakeOf = async (c: PublicClient) =>
      c.readContract({ address: setup.deployment.contracts.registry.address, abi: stakeRegistryAbi, functionName: "stakeOf", args: [setup.operators[0]!.account.address] });
    const stakeBefore = await stakeOf(live);
    await first.node.stop();

    // A node with another genesis time is refused before anything is mined.
    const wrong = await startHardhatNode(dir, undefined, { network: "replayable" });
    nodes.push(wrong.node);
    await assert.rejects(replayJournal(journalFile, client(wrong.rpcUrl)), (e: unknown) => e instanceof ChainJournalError && e.field === "genesis");
    await wrong.node.stop();

    const second = await startHardhatNode(dir, undefined, { network: "replayable", env: { VB_CHAIN_GENESIS_TIME: String(journal.header.genesis.timestamp) } });
    nodes.push(second.node);
    const replayed = client(second.rpcUrl);
    let progress = 0;
    await replayJournal(journalFile, replayed, (p) => (progress = p.block));
    assert.equal(progress, journal.head);
    const replayedHead = await replayed.getBlock();
    assert.equal(replayedHead.number, head.number);
    assert.equal(replayedHead.hash, head.hash, "same head hash: same headers, state and transactions");
    assert.deepEqual(await stakeOf(replayed), stakeBefore);
    // The chain goes on from there, and recording resumes after the replayed blocks.
    const resumed = await ChainRecorder.open(journalFile, replayed);
    assert.equal(resumed.nextBlock, journal.head + 1);
    await second.node.stop();

    // A journal whose recorded hash differs from what the node mines is a divergence.
    const tampered = path.join(dir, "tampered.jsonl");
    const lines = readFileSync(journalFile, "utf8").trim().split("\n");
    const last = JSON.parse(lines.at(-1)!);
    last.h = `0x${"ab".repeat(32)}`;
    writeFileSync(tampered, [...lines.slice(0, -1), JSON.stringify(last)].join("\n") + "\n");
    const third = await startHardhatNode(dir, undefined, { network: "replayable", env: { VB_CHAIN_GENESIS_TIME: String(journal.header.genesis.timestamp) } });
    nodes.push(third.node);
    await assert.rejects(replayJournal(tampered, client(third.rpcUrl)), /the replay diverged/);
  });

  it("reads a journal whose last line was torn by a crash, and refuses gaps and foreign files", () => {
    const file = path.join(dir, "torn.jsonl");
    const header = { journal: "vb.chain-journal/1", chainId: 31337, genesis: { timestamp: 1, hash: `0x${"00".repeat(32)}` } };
    writeFileSync(file, `${JSON.stringify(header)}\n${JSON.stringify({ n: 1, t: 2, h: `0x${"11".repeat(32)}`, count: 3, step: 1 })}\n{"n":4,"t`);
    assert.equal(readJournal(file).head, 3);
    appendFileSync(file, `\n${JSON.stringify({ n: 9, t: 9, h: `0x${"11".repeat(32)}`, count: 1, step: 1 })}\n`);
    assert.throws(() => readJournal(file), /not JSON/);
    const gap = path.join(dir, "gap.jsonl");
    writeFileSync(gap, `${JSON.stringify(header)}\n${JSON.stringify({ n: 2, t: 2, h: `0x${"11".repeat(32)}`, count: 1, step: 1 })}\n`);
    assert.throws(() => readJournal(gap), /expected block 1/);
    const foreign = path.join(dir, "foreign.jsonl");
    writeFileSync(foreign, `{"hello":"world"}\n`);
    assert.throws(() => readJournal(foreign), /not a vb.chain-journal\/1 file/);
  });
});
