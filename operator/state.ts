/**
 * The operator's durable state in level (dataDir/state): the chain cursor, what it decided per
 * batch (and the exact message it sent, to resend after a restart), the leaf hash -> index map
 * of checked batches (to find a disputed leaf), the disputes it has yet to vote on, and the
 * votes it cast. Every write is synced:
 * a SIGKILL right after a write loses nothing.
 */
import { Level } from "level";
import type { Hex } from "viem";
import type { InferenceLeafFields } from "../protocol/merkle/index.ts";
import type { LeafJudgement } from "./leaf-check.ts";

export interface BatchRecord {
  batchId: string;
  root: Hex;
  modelId: Hex;
  leafCount: number;
  dataURI: string;
  /** The verification profile bound to the model at submission (BatchSubmitted.profileHash). */
  profileHash?: Hex;
  submittedBlock: string;
  /** Unix seconds after which the batch can no longer be attested (BatchSubmitted.responseDeadline). */
  responseDeadline?: string;
  /**
   * seen: to be checked; unavailable: a leaf was not served, checked again (attempts, nextAttemptAt)
   * until the response window closes; skipped: an on-chain value this operator cannot handle (reason).
   */
  status: "seen" | "valid" | "fraud" | "unavailable" | "unsupported" | "skipped";
  reason?: string;
  attempts?: number;
  nextAttemptAt?: number;
  leavesChecked?: number;
  /** The encoded gossip message that was signed (valid batches), resent until the batch leaves Submitted. */
  message?: string;
  /** First failing leaf of a fraudulent batch: what a dispute needs. */
  fraud?: { index: number; leafHash: Hex; fields: Omit<InferenceLeafFields, "seed"> & { seed: string }; merkleProof: Hex[]; evidence: Hex; reason: string };
  disputeTx?: Hex;
  /** Set once nothing more is to be done for the batch (quorum reached, expired, disputed). */
  done?: boolean;
}

/** One judged leaf of a batch: its outcome and the request-level statistics behind it. */
export interface StoredJudgement extends LeafJudgement {
  index: number;
  outcome: string;
}

/** A dispute seen on chain that this operator has not voted on yet (retried until its voting deadline). */
export interface PendingVote {
  disputeId: string;
  batchId: string;
  leafHash: Hex;
  votingDeadline: string;
  attempts?: number;
  nextAttemptAt?: number;
  done?: boolean;
  reason?: string;
}

export interface VoteRecord {
  disputeId: string;
  batchId: string;
  leafHash: Hex;
  fraud: boolean;
  message: string;
  done?: boolean;
}

// classic-level honours sync (fsync); the abstract-level typings do not declare it.
const SYNC = { sync: true } as never;

export class OperatorState {
  private readonly db: Level<string, unknown>;
  private readonly meta;
  private readonly batches;
  private readonly leaves;
  private readonly votes;
  private readonly judgements;
  private readonly pendingVotes;

  constructor(path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: "json" });
    this.meta = this.db.sublevel<string, string>("meta", { valueEncoding: "json" });
    this.batches = this.db.sublevel<string, BatchRecord>("batches", { valueEncoding: "json" });
    this.leaves = this.db.sublevel<string, number>("leaves", { valueEncoding: "json" });
    this.votes = this.db.sublevel<string, VoteRecord>("votes", { valueEncoding: "json" });
    this.judgements = this.db.sublevel<string, StoredJudgement>("judgements", { valueEncoding: "json" });
    this.pendingVotes = this.db.sublevel<string, PendingVote>("pending-votes", { valueEncoding: "json" });
  }

  async open(): Promise<void> {
    await this.db.open();
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async cursor(): Promise<bigint | undefined> {
    const value = await this.meta.get("cursor");
    return value === undefined ? undefined : BigInt(value);
  }

  async setCursor(block: bigint): Promise<void> {
    await this.meta.put("cursor", block.toString(), SYNC);
  }

  async batch(batchId: bigint): Promise<BatchRecord | undefined> {
    return (await this.batches.get(key(batchId))) ?? undefined;
  }

  async putBatch(record: BatchRecord): Promise<void> {
    await this.batches.put(key(BigInt(record.batchId)), record, SYNC);
  }

  async openBatches(): Promise<BatchRecord[]> {
    const out: BatchRecord[] = [];
    for await (const value of this.batches.values()) if (!value.done) out.push(value);
    return out;
  }

  async putLeafIndexes(batchId: bigint, entries: { leafHash: Hex; index: number }[]): Promise<void> {
    await this.leaves.batch(entries.map((e) => ({ type: "put" as const, key: `${key(batchId)}:${e.leafHash.toLowerCase()}`, value: e.index })), SYNC);
  }

  async leafIndex(batchId: bigint, leafHash: Hex): Promise<number | undefined> {
    return (await this.leaves.get(`${key(batchId)}:${leafHash.toLowerCase()}`)) ?? undefined;
  }

  /** Each checked leaf's statistics and token margins (what an explorer plots against the thresholds). */
  async putJudgements(batchId: bigint, entries: readonly StoredJudgement[]): Promise<void> {
    await this.judgements.batch(entries.map((e) => ({ type: "put" as const, key: `${key(batchId)}:${key(BigInt(e.index))}`, value: e })), SYNC);
  }

  async judgementsOf(batchId: bigint): Promise<StoredJudgement[]> {
    const out: StoredJudgement[] = [];
    for await (const value of this.judgements.values({ gte: `${key(batchId)}:`, lt: `${key(batchId)};` })) out.push(value);
    return out;
  }

  async vote(disputeId: bigint): Promise<VoteRecord | undefined> {
    return (await this.votes.get(key(disputeId))) ?? undefined;
  }

  async putVote(record: VoteRecord): Promise<void> {
    await this.votes.put(key(BigInt(record.disputeId)), record, SYNC);
  }

  async pendingVote(disputeId: bigint): Promise<PendingVote | undefined> {
    return (await this.pendingVotes.get(key(disputeId))) ?? undefined;
  }

  async putPendingVote(record: PendingVote): Promise<void> {
    await this.pendingVotes.put(key(BigInt(record.disputeId)), record, SYNC);
  }

  async openPendingVotes(): Promise<PendingVote[]> {
    const out: PendingVote[] = [];
    for await (const value of this.pendingVotes.values()) if (!value.done) out.push(value);
    return out;
  }

  async openVotes(): Promise<VoteRecord[]> {
    const out: VoteRecord[] = [];
    for await (const value of this.votes.values()) if (!value.done) out.push(value);
    return out;
  }
}

/** Fixed-width keys so that level's order is numeric order. */
function key(id: bigint): string {
  return id.toString().padStart(20, "0");
}
