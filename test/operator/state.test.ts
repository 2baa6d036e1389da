/**
 * The nodes' level state survives a close and reopen (what a restart sees): cursors, decisions
 * with the signed message to resend, leaf indexes, votes, admitted messages and submissions.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { AggregatorState } from "../../aggregator/state.ts";
import { OperatorState, type BatchRecord } from "../../operator/state.ts";

const H = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}`;

describe("operator and aggregator state in level (reopen = restart)", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vb-node-state-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("operator: cursor, batch decisions, leaf indexes and votes come back; done batches drop out of the open list", async () => {
    const path = join(dir, "operator");
    const batch = (id: number, extra: Partial<BatchRecord> = {}): BatchRecord => ({
      batchId: String(id), root: H(id), modelId: H(99), leafCount: 4, dataURI: `http://127.0.0.1:1/v1/batches/${id}`, submittedBlock: "10", status: "valid", message: "7b7d", ...extra,
    });
    let state = new OperatorState(path);
    await state.open();
    assert.equal(await state.cursor(), undefined);
    await state.setCursor(12345678901234n);
    await state.putBatch(batch(2));
    await state.putBatch(batch(10, { status: "fraud" }));
    await state.putBatch(batch(3, { done: true }));
    await state.putLeafIndexes(2n, [{ leafHash: H(7), index: 3 }]);
    await state.putVote({ disputeId: "1", batchId: "10", leafHash: H(7), fraud: true, message: "00" });
    await state.close();

    state = new OperatorState(path);
    await state.open();
    assert.equal(await state.cursor(), 12345678901234n);
    assert.deepEqual((await state.openBatches()).map((b) => b.batchId), ["2", "10"], "numeric order, done ones left out");
    assert.equal((await state.batch(2n))?.message, "7b7d");
    assert.equal(await state.leafIndex(2n, H(7).toUpperCase().replace("0X", "0x") as Hex), 3, "leaf hashes compare case-insensitively");
    assert.equal(await state.leafIndex(3n, H(7)), undefined);
    assert.equal((await state.vote(1n))?.fraud, true);
    await state.putVote({ ...(await state.vote(1n))!, done: true });
    assert.deepEqual(await state.openVotes(), []);
    await state.close();
  });

  it("aggregator: admitted messages, attested batches, disputes, equivocation evidence and submissions come back", async () => {
    const path = join(dir, "aggregator");
    let state = new AggregatorState(path);
    await state.open();
    await state.setCursor(77n);
    await state.putMessage("attestation:5:0xaa", "01");
    await state.putMessage("attestation:5:0xbb", "02");
    await state.putMessage("attestation:50:0xaa", "03");
    await state.putAttested({ batchId: "5", challengeDeadline: "100", signers: [] });
    await state.putDispute({ disputeId: "2", batchId: "5", leafHash: H(1), votingDeadline: "200" });
    await state.putSubmission({ kind: "attest", subject: "5", txHash: H(3), at: 1 });
    await state.putEquivocation({ key: "votes:2:0xaa", kind: "votes", messages: ["0a", "0b"] });
    await state.putEquivocation({ key: "votes:3:0xaa", kind: "votes", messages: ["0c", "0d"], done: true });
    await state.close();

    state = new AggregatorState(path);
    await state.open();
    assert.equal(await state.cursor(), 77n);
    assert.equal((await state.allMessages()).length, 3);
    await state.deleteMessagesOf("attestation:5:");
    assert.deepEqual(await state.allMessages(), [["attestation:50:0xaa", "03"]], "only batch 5's messages go");
    assert.equal((await state.attestedBatch(5n))?.challengeDeadline, "100");
    assert.equal((await state.dispute(2n))?.votingDeadline, "200");
    assert.equal((await state.allSubmissions())[0]?.txHash, H(3));
    assert.deepEqual((await state.openEquivocations()).map((e) => e.key), ["votes:2:0xaa"], "evidence not yet on chain comes back");
    assert.deepEqual((await state.equivocation("votes:3:0xaa"))?.messages, ["0c", "0d"]);
    await state.close();
  });
});
