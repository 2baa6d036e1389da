import assert from "node:assert/strict";
import type { Address, Hex } from "viem";
import { VotePool, VotePoolError, type CheckedVote } from "../../aggregator/votes.ts";

const LEAF: Hex = `0x${"12".repeat(32)}`;
const addr = (n: number): Address => `0x${n.toString(16).padStart(40, "0")}` as Address;
const vote = (signer: number, fraud: boolean, weight: bigint, disputeId = 1n): CheckedVote => ({
  message: { disputeId, batchId: 5n, leafHash: LEAF, fraud },
  signer: addr(signer),
  signature: `0x${"aa".repeat(32)}${"22".repeat(32)}1b`,
  weight,
});

describe("aggregator vote pool (stake-weighted dispute tally)", () => {
  it("refuses a high-s vote signature (one bad vote would hold up castVotes for every vote)", () => {
    const pool = new VotePool(6000);
    pool.open(1n, 300n);
    const highS = { ...vote(1, true, 100n), signature: `0x${"aa".repeat(32)}${"ee".repeat(32)}1c` as Hex };
    assert.throws(() => pool.add(highS), (e: unknown) => e instanceof VotePoolError && e.field === "signature");
    assert.equal(pool.add(vote(1, true, 100n)), "accepted");
  });

  it("upholds once fraud weight reaches the threshold, exactly as resolveDispute does", () => {
    const pool = new VotePool(6000);
    pool.open(1n, 300n);
    assert.equal(pool.add(vote(3, true, 100n)), "accepted");
    assert.equal(pool.decision(1n), undefined);
    assert.equal(pool.add(vote(1, true, 80n)), "accepted");
    assert.equal(pool.decision(1n), "upheld", "180 / 300 = 60% >= 60%");
    assert.deepEqual(pool.pending(1n).map((v) => v.signer), [addr(1), addr(3)], "ascending by signer");
  });

  it("rejects once the clean side makes the threshold unreachable", () => {
    const pool = new VotePool(6000);
    pool.open(1n, 300n);
    pool.add(vote(1, false, 100n));
    assert.equal(pool.decision(1n), undefined, "100 / 300 clean is not more than 40%");
    pool.add(vote(2, false, 21n));
    assert.equal(pool.decision(1n), "rejected");
  });

  it("counts a signer once: duplicates, flips and votes already on chain", () => {
    const pool = new VotePool(5000);
    pool.open(1n, 100n);
    assert.equal(pool.add(vote(1, true, 10n)), "accepted");
    assert.equal(pool.add(vote(1, true, 10n)), "duplicate");
    assert.equal(pool.add(vote(1, false, 10n)), "conflict");
    assert.deepEqual(pool.weights(1n), { fraud: 10n, clean: 0n, total: 100n });
    // Both votes are kept as slashing evidence, fraud first, whichever came first.
    assert.deepEqual(pool.evidence(1n, addr(1))!.map((v) => v.message.fraud), [true, false]);
    pool.open(2n, 100n);
    assert.equal(pool.add(vote(2, false, 10n, 2n)), "accepted");
    assert.equal(pool.add(vote(2, true, 10n, 2n)), "conflict");
    assert.deepEqual(pool.evidence(2n, addr(2))!.map((v) => v.message.fraud), [true, false]);
    // Settled disputes still catch a signer that flips afterwards.
    pool.add(vote(3, true, 10n, 2n));
    pool.close(2n);
    assert.equal(pool.add(vote(3, false, 10n, 2n)), "conflict");
    assert.ok(pool.evidence(2n, addr(3)));
    pool.markOnChain(1n, [addr(1)]);
    assert.deepEqual(pool.pending(1n), []);
    pool.close(1n);
    assert.equal(pool.add(vote(2, true, 10n)), "closed");
    assert.deepEqual(pool.openDisputes(), []);
  });

  it("refuses bad thresholds, empty totals and unopened disputes", () => {
    assert.throws(() => new VotePool(0), VotePoolError);
    assert.throws(() => new VotePool(10_001), VotePoolError);
    const pool = new VotePool(5000);
    assert.throws(() => pool.open(1n, 0n), (e: unknown) => e instanceof VotePoolError && e.field === "totalWeight");
    assert.throws(() => pool.add(vote(1, true, 1n, 9n)), (e: unknown) => e instanceof VotePoolError && e.field === "disputeId");
  });
});
