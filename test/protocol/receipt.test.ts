/**
 * protocol/receipt.ts's decisions on inputs the integration tests (test/cli/receipt.test.ts,
 * test/explorer/explorer.test.ts, on a real chain and real provers) cannot easily produce: a
 * user's malformed input, and a hostile prover's answers (another chain, a malformed leaf, a batch
 * id the chain does not have). The I/O here is a table of canned answers.
 */
import assert from "node:assert/strict";
import type { Hex } from "viem";
import { checkReceipt, parseReceiptInput, ProverHttpError, ReceiptInputError, receiptSubject, type ReceiptIO } from "../../protocol/receipt.ts";

const ID = `rec_${"ab".repeat(16)}`;
const BM: Hex = "0x00000000000000000000000000000000000000bb";
const P = "http://127.0.0.1:9";

function io(answers: Record<string, unknown>, state: "None" | "Attested" = "Attested"): ReceiptIO {
  return {
    chainId: 31337,
    batchManager: BM,
    async getJson(url) {
      const path = url.slice(P.length);
      if (!(path in answers)) throw new ProverHttpError(url, 404);
      return answers[path];
    },
    async readBatch() {
      return { root: `0x${"11".repeat(32)}`, state };
    },
  };
}

const committed = (receipt: Record<string, unknown>) => ({ status: "committed", commitment: { receipt } });

describe("receipt logic", () => {
  it("takes a record id or a response, and refuses anything else, naming the field", () => {
    assert.deepEqual(receiptSubject(` ${ID}\n`), { recordId: ID });
    assert.deepEqual(receiptSubject({ proof: { record_id: ID, leaf_hash: "0x12", toploc: { proofs: ["AA=="] } } }), { recordId: ID, leafHash: "0x12", proofs: ["AA=="] });
    const bad: [unknown, string][] = [
      ["rec_12", "recordId"],
      [{ choices: [] }, "proof"],
      [{ proof: { record_id: 5 } }, "proof.record_id"],
    ];
    for (const [input, field] of bad) assert.throws(() => receiptSubject(input as never), (e: unknown) => e instanceof ReceiptInputError && e.field === field);
    assert.throws(() => parseReceiptInput("{ not json"), (e: unknown) => e instanceof ReceiptInputError && e.field === "response");
    assert.equal(parseReceiptInput(ID), ID);
  });

  it("never calls a response valid on a hostile prover's word", async () => {
    const record = { leaf_hash: `0x${"22".repeat(32)}`, batch: { id: 1, index: 0 } };
    // Committed, it says, but to another chain.
    const elsewhere = await checkReceipt({ proverUrl: P, response: ID }, io({ [`/v1/records/${ID}`]: record, "/v1/batches/1": committed({ onchainBatchId: "1", chainId: 1, contract: BM }) }));
    assert.equal(elsewhere.status, "not-included");
    assert.match(elsewhere.reason, /another chain or contract/);
    // A leaf that does not even parse.
    const malformed = await checkReceipt(
      { proverUrl: P, response: ID },
      io({ [`/v1/records/${ID}`]: record, "/v1/batches/1": committed({ onchainBatchId: "1", chainId: 31337, contract: BM }), "/v1/batches/1/leaves/0": { merkle_proof: "x" } }),
    );
    assert.equal(malformed.status, "not-included");
    assert.match(malformed.steps.at(-1)!.detail, /malformed leaf: merkle_proof/);
    // A record the response does not name.
    const other = await checkReceipt({ proverUrl: P, response: { proof: { record_id: ID, leaf_hash: `0x${"33".repeat(32)}` } } }, io({ [`/v1/records/${ID}`]: record }));
    assert.equal(other.status, "not-included");
    // Not committed: pending, not valid.
    const closed = await checkReceipt({ proverUrl: P, response: ID }, io({ [`/v1/records/${ID}`]: record, "/v1/batches/1": { status: "closed", commitment: { receipt: null } } }));
    assert.equal(closed.status, "pending");
    await assert.rejects(checkReceipt({ proverUrl: "file:///etc", response: ID }, io({})), (e: unknown) => e instanceof ReceiptInputError && e.field === "proverUrl");
  });
});
