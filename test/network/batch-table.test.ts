/**
 * npm start's live batch table: redrawn in place on a terminal (cursor up, clear, then the
 * rows), one line per change anywhere else.
 */
import assert from "node:assert/strict";
import type { ChainHistory, BatchView } from "../../runtime/chain-history.ts";
import { BatchTable } from "../../scripts/network/batch-table.ts";

const HONEST = "0x1111111111111111111111111111111111111111";
const CHEATER = "0x2222222222222222222222222222222222222222";

function batch(id: number, prover: string, state: BatchView["state"], extra: Partial<BatchView> = {}): BatchView {
  return {
    id: BigInt(id), prover: prover as BatchView["prover"], modelId: `0x${"00".repeat(32)}`, envelopeHash: `0x${"00".repeat(32)}`, root: `0x${"00".repeat(32)}`,
    leafCount: 8, dataURI: "http://127.0.0.1:1/v1/batches/1", profileHash: `0x${"00".repeat(32)}`, refBlock: 1n, deadline: 0n, state, standing: "pending", history: [], disputeIds: [], ...extra,
  };
}

function sink(tty: boolean) {
  const chunks: string[] = [];
  return { chunks, out: { isTTY: tty, write: (s: string) => chunks.push(s) } as unknown as NodeJS.WriteStream };
}

describe("npm start's batch table", () => {
  const names = new Map([[HONEST, "honest"], [CHEATER, "cheater"]]);
  let batches: BatchView[] = [];
  const history = { batches: () => batches, dispute: () => ({ state: "Upheld" }) } as unknown as ChainHistory;
  const attestation = { block: 1n, timestamp: 1n, tx: `0x${"00".repeat(32)}` as const, scheme: "ecdsa" as const, leavesChecked: 8, attestedWeight: 300n * 10n ** 18n, totalWeight: 300n * 10n ** 18n, challengeDeadline: 0n, signers: [] };

  it("prints one line per batch state change when not on a terminal", () => {
    const { chunks, out } = sink(false);
    const table = new BatchTable(history, { names, header: ["h"], footer: () => ["f"], out });
    batches = [batch(1, HONEST, "Submitted")];
    table.render();
    table.render();
    batches = [batch(2, CHEATER, "Slashed", { disputeIds: [1n] }), batch(1, HONEST, "Attested", { attestation })];
    table.render();
    assert.deepEqual(chunks, [
      "batch 1  honest  8 leaves  Submitted  attesting stake –  disputes –\n",
      "batch 1  honest  8 leaves  Attested  attesting stake 300/300 (100%)  disputes –\n",
      "batch 2  cheater  8 leaves  Slashed  attesting stake –  disputes #1 Upheld\n",
    ]);
  });

  it("redraws in place on a terminal, with the header, the newest batches first and the footer", () => {
    const { chunks, out } = sink(true);
    const table = new BatchTable(history, { names, header: ["network"], footer: () => ["Ctrl-C stops everything"], out });
    batches = [];
    table.render();
    assert.match(chunks[0]!, /no batch on chain yet/);
    batches = [batch(2, CHEATER, "Disputed", { disputeIds: [1n] }), batch(1, HONEST, "Finalized", { attestation })];
    table.render();
    const second = chunks[1]!;
    const lines = chunks[0]!.split("\n").length - 1;
    assert.ok(second.startsWith(`\x1b[${lines}A\x1b[J`), "moves up over the previous drawing and clears it");
    const text = second.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    assert.match(text, /batch +prover +leaves +state +attesting stake +disputes/);
    assert.ok(text.indexOf("cheater") < text.indexOf("honest"), "newest first");
    assert.match(text, /2 +cheater +8 +Disputed +– +#1 Upheld/);
    assert.match(text, /1 +honest +8 +Finalized +300\/300 \(100%\)/);
    assert.match(text, /Ctrl-C stops everything\n$/);
  });
});
