/**
 * Stake-weighted tally of signed dispute votes. A dispute is decided once the fraud side reaches
 * voteThresholdBps of total weight (upheld) or the clean side makes that impossible (rejected),
 * the same arithmetic BatchManager.resolveDispute applies. Votes already counted on chain are
 * remembered, because castVotes refuses a signer twice.
 *
 * As with the attestation pool, signatures and weights are checked before add().
 */
import type { Address, Hex } from "viem";
import { signatureProblem, type DisputeVoteMessage } from "../protocol/eip712/index.ts";
import { FieldError } from "../protocol/errors.ts";

export interface CheckedVote {
  message: DisputeVoteMessage;
  signer: Address;
  signature: Hex;
  weight: bigint;
}

export type VoteOutcome = "accepted" | "duplicate" | "conflict" | "closed";

interface Tally {
  totalWeight: bigint;
  votes: Map<string, CheckedVote>;
  onChain: Set<string>;
  /** Per signer that voted both ways: [fraud vote, clean vote], slashing evidence. */
  evidence: Map<string, [CheckedVote, CheckedVote]>;
  closed: boolean;
}

export class VotePoolError extends FieldError {
  override name = "VotePoolError";
}

export class VotePool {
  private readonly disputes = new Map<bigint, Tally>();

  constructor(private readonly thresholdBps: number) {
    if (!Number.isInteger(thresholdBps) || thresholdBps < 1 || thresholdBps > 10_000) {
      throw new VotePoolError(`thresholdBps must be an integer in 1..10000, got ${thresholdBps}`, "thresholdBps");
    }
  }

  open(disputeId: bigint, totalWeight: bigint): void {
    if (totalWeight <= 0n) throw new VotePoolError(`totalWeight of dispute ${disputeId} must be positive`, "totalWeight");
    if (!this.disputes.has(disputeId)) this.disputes.set(disputeId, { totalWeight, votes: new Map(), onChain: new Set(), evidence: new Map(), closed: false });
  }

  isOpen(disputeId: bigint): boolean {
    const t = this.disputes.get(disputeId);
    return t !== undefined && !t.closed;
  }

  openDisputes(): bigint[] {
    return [...this.disputes.entries()].filter(([, t]) => !t.closed).map(([id]) => id);
  }

  add(vote: CheckedVote): VoteOutcome {
    const tally = this.disputes.get(vote.message.disputeId);
    if (!tally) throw new VotePoolError(`dispute ${vote.message.disputeId} is not open`, "disputeId");
    // As in the attestation pool: one unsubmittable vote would hold up castVotes for all.
    const problem = signatureProblem(vote.signature);
    if (problem) throw new VotePoolError(`signature of ${vote.signer} is not canonical: ${problem}`, "signature");
    const signer = vote.signer.toLowerCase();
    const previous = tally.votes.get(signer);
    // Checked before "closed": an equivocation is slashable after the dispute is settled too.
    if (previous && previous.message.fraud !== vote.message.fraud) {
      if (!tally.evidence.has(signer)) tally.evidence.set(signer, previous.message.fraud ? [previous, vote] : [vote, previous]);
      return "conflict";
    }
    if (tally.closed) return "closed";
    if (previous) return "duplicate";
    tally.votes.set(signer, vote);
    return "accepted";
  }

  /** [fraud vote, clean vote] of a signer that voted both ways, once add() returned "conflict". */
  evidence(disputeId: bigint, signer: Address): [CheckedVote, CheckedVote] | undefined {
    return this.disputes.get(disputeId)?.evidence.get(signer.toLowerCase());
  }

  /** Weights by side, over every accepted vote. */
  weights(disputeId: bigint): { fraud: bigint; clean: bigint; total: bigint } {
    const tally = this.disputes.get(disputeId);
    if (!tally) return { fraud: 0n, clean: 0n, total: 0n };
    let fraud = 0n;
    let clean = 0n;
    for (const v of tally.votes.values()) {
      if (v.message.fraud) fraud += v.weight;
      else clean += v.weight;
    }
    return { fraud, clean, total: tally.totalWeight };
  }

  /** "upheld" / "rejected" once the votes collected decide it, else undefined. */
  decision(disputeId: bigint): "upheld" | "rejected" | undefined {
    const { fraud, clean, total } = this.weights(disputeId);
    if (total === 0n) return undefined;
    const bps = BigInt(this.thresholdBps);
    if (fraud * 10_000n >= total * bps) return "upheld";
    if (clean * 10_000n > total * (10_000n - bps)) return "rejected";
    return undefined;
  }

  /** Votes not yet counted on chain, ascending by signer (as castVotes requires). */
  pending(disputeId: bigint): CheckedVote[] {
    const tally = this.disputes.get(disputeId);
    if (!tally) return [];
    return [...tally.votes.entries()]
      .filter(([signer]) => !tally.onChain.has(signer))
      .map(([, v]) => v)
      .sort((a, b) => (BigInt(a.signer) < BigInt(b.signer) ? -1 : BigInt(a.signer) > BigInt(b.signer) ? 1 : 0));
  }

  markOnChain(disputeId: bigint, signers: readonly Address[]): void {
    const tally = this.disputes.get(disputeId);
    for (const s of signers) tally?.onChain.add(s.toLowerCase());
  }

  close(disputeId: bigint): void {
    const tally = this.disputes.get(disputeId);
    if (tally) tally.closed = true;
  }
}
