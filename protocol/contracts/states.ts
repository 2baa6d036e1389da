/**
 * BatchManager's BatchState and DisputeState enums by name, and what a batch's state means to
 * someone holding one of its responses. Pure data: the explorer's browser code imports it too.
 */

/** BatchManager.BatchState, in enum order. */
export const BATCH_STATES = ["None", "Submitted", "Attested", "Disputed", "Cleared", "Slashed", "Finalized", "Expired"] as const;
export type BatchStateName = (typeof BATCH_STATES)[number];

/** BatchManager.DisputeState, in enum order. */
export const DISPUTE_STATES = ["None", "Open", "Upheld", "Rejected", "Moot"] as const;
export type DisputeStateName = (typeof DISPUTE_STATES)[number];

export function batchStateName(value: number): BatchStateName {
  const name = BATCH_STATES[value];
  if (name === undefined) throw new RangeError(`unknown BatchState ${value}`);
  return name;
}

export function disputeStateName(value: number): DisputeStateName {
  const name = DISPUTE_STATES[value];
  if (name === undefined) throw new RangeError(`unknown DisputeState ${value}`);
  return name;
}

/**
 * What a batch's state says about a response in it:
 *   attested     a stake-weighted quorum checked it (Attested, or Cleared: every dispute rejected)
 *   finalized    attested, and its challenge window passed without fraud upheld
 *   pending      nobody has attested it yet (Submitted)
 *   disputed     a dispute over one of its leaves is open
 *   slashed      fraud upheld: the prover (and its attesters) were slashed
 *   expired      no quorum attested it within its response window
 *   unknown      no such batch on chain
 */
export type BatchStanding = "attested" | "finalized" | "pending" | "disputed" | "slashed" | "expired" | "unknown";

export function batchStanding(state: BatchStateName): BatchStanding {
  switch (state) {
    case "Attested":
    case "Cleared":
      return "attested";
    case "Finalized":
      return "finalized";
    case "Submitted":
      return "pending";
    case "Disputed":
      return "disputed";
    case "Slashed":
      return "slashed";
    case "Expired":
      return "expired";
    case "None":
      return "unknown";
  }
}
