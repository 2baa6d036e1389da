/**
 * The aggregator's durable state in level (dataDir/state): the chain cursor, every admitted
 * message (re-admitted on restart, so a crash loses no signature), attested batches waiting to
 * be finalized, open disputes, equivocation evidence until it is on chain, and the transactions
 * it sent. Writes are synced.
 */
import { Level } from "level";
import type { Address, Hex } from "viem";

export interface SubmissionRecord {
  kind: "attest" | "castVotes" | "resolveDispute" | "finalize" | "expire" | "slashEquivocation";
  subject: string;
  txHash: Hex;
  at: number;
  signers?: Address[];
  /** attest only: ECDSA signatures or a BLS certificate. */
  scheme?: "ecdsa" | "bls";
}

export interface AttestedRecord {
  batchId: string;
  challengeDeadline: string;
  signers: Address[];
  done?: boolean;
}

/** A submitted batch whose response window is running (expired if no quorum arrives). */
export interface AwaitingRecord {
  batchId: string;
  responseDeadline: string;
  done?: boolean;
}

export interface DisputeRecord {
  disputeId: string;
  batchId: string;
  leafHash: Hex;
  votingDeadline: string;
  outcome?: string;
}

/** Two messages one signing key signed both ways (gossip-encoded hex), until slashed on chain. */
export interface EquivocationRecord {
  key: string;
  kind: "attestations" | "votes";
  messages: [string, string];
  done?: boolean;
}

// classic-level honours sync (fsync); the abstract-level typings do not declare it.
const SYNC = { sync: true } as never;

export class AggregatorState {
  private readonly db: Level<string, unknown>;
  private readonly meta;
  private readonly messages;
  private readonly attested;
  private readonly disputes;
  private readonly submissions;
  private readonly awaiting;
  private readonly equivocations;

  constructor(path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: "json" });
    this.meta = this.db.sublevel<string, string>("meta", { valueEncoding: "json" });
    this.messages = this.db.sublevel<string, string>("messages", { valueEncoding: "json" });
    this.attested = this.db.sublevel<string, AttestedRecord>("attested", { valueEncoding: "json" });
    this.disputes = this.db.sublevel<string, DisputeRecord>("disputes", { valueEncoding: "json" });
    this.submissions = this.db.sublevel<string, SubmissionRecord>("submissions", { valueEncoding: "json" });
    this.awaiting = this.db.sublevel<string, AwaitingRecord>("awaiting", { valueEncoding: "json" });
    this.equivocations = this.db.sublevel<string, EquivocationRecord>("equivocations", { valueEncoding: "json" });
  }

  open(): Promise<void> {
    return this.db.open();
  }
  close(): Promise<void> {
    return this.db.close();
  }

  async cursor(): Promise<bigint | undefined> {
    const v = await this.meta.get("cursor");
    return v === undefined ? undefined : BigInt(v);
  }
  async setCursor(block: bigint): Promise<void> {
    await this.meta.put("cursor", block.toString(), SYNC);
  }

  /** Keyed by kind:subject:signer so a resent message overwrites itself. */
  async putMessage(key: string, hex: string): Promise<void> {
    await this.messages.put(key, hex, SYNC);
  }
  async deleteMessage(key: string): Promise<void> {
    await this.messages.del(key, SYNC);
  }
  async deleteMessagesOf(prefix: string): Promise<void> {
    const keys: string[] = [];
    for await (const k of this.messages.keys({ gte: prefix, lt: `${prefix}\xff` })) keys.push(k);
    await this.messages.batch(keys.map((key) => ({ type: "del" as const, key })), SYNC);
  }
  async allMessages(): Promise<[string, string][]> {
    const out: [string, string][] = [];
    for await (const entry of this.messages.iterator()) out.push(entry as [string, string]);
    return out;
  }

  async putAttested(record: AttestedRecord): Promise<void> {
    await this.attested.put(pad(record.batchId), record, SYNC);
  }
  async attestedBatch(batchId: bigint): Promise<AttestedRecord | undefined> {
    return (await this.attested.get(pad(batchId.toString()))) ?? undefined;
  }
  async openAttested(): Promise<AttestedRecord[]> {
    const out: AttestedRecord[] = [];
    for await (const v of this.attested.values()) if (!v.done) out.push(v);
    return out;
  }

  async putAwaiting(record: AwaitingRecord): Promise<void> {
    await this.awaiting.put(pad(record.batchId), record, SYNC);
  }
  async awaitingBatch(batchId: bigint): Promise<AwaitingRecord | undefined> {
    return (await this.awaiting.get(pad(batchId.toString()))) ?? undefined;
  }
  async openAwaiting(): Promise<AwaitingRecord[]> {
    const out: AwaitingRecord[] = [];
    for await (const v of this.awaiting.values()) if (!v.done) out.push(v);
    return out;
  }

  async putDispute(record: DisputeRecord): Promise<void> {
    await this.disputes.put(pad(record.disputeId), record, SYNC);
  }
  async dispute(disputeId: bigint): Promise<DisputeRecord | undefined> {
    return (await this.disputes.get(pad(disputeId.toString()))) ?? undefined;
  }
  async allDisputes(): Promise<DisputeRecord[]> {
    const out: DisputeRecord[] = [];
    for await (const v of this.disputes.values()) out.push(v);
    return out;
  }

  async putEquivocation(record: EquivocationRecord): Promise<void> {
    await this.equivocations.put(record.key, record, SYNC);
  }
  async equivocation(key: string): Promise<EquivocationRecord | undefined> {
    return this.equivocations.get(key);
  }
  async openEquivocations(): Promise<EquivocationRecord[]> {
    const out: EquivocationRecord[] = [];
    for await (const v of this.equivocations.values()) if (!v.done) out.push(v);
    return out;
  }

  async putSubmission(record: SubmissionRecord): Promise<void> {
    await this.submissions.put(`${record.kind}:${record.subject}:${record.at}`, record, SYNC);
  }
  async allSubmissions(): Promise<SubmissionRecord[]> {
    const out: SubmissionRecord[] = [];
    for await (const v of this.submissions.values()) out.push(v);
    return out;
  }
}

function pad(id: string): string {
  return id.padStart(20, "0");
}
