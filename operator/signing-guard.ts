/**
 * Double-signing protection. An operator must never sign two different verdicts (or two
 * different votes) for the same batch or dispute, even if it is killed between deciding and
 * sending, restarted, and recomputes a different answer. Before a signature is produced, the
 * exact digest it will sign is written to level with sync: true; afterwards, only that digest
 * may be signed for that subject again. A digest is what gets signed, so identical re-sends after
 * a restart stay possible while a conflicting one is refused.
 */
import { Level } from "level";
import type { Hex } from "viem";

export class DoubleSignRefusedError extends Error {
  override name = "DoubleSignRefusedError";
  constructor(
    readonly subject: string,
    readonly signedDigest: Hex,
    readonly refusedDigest: Hex,
  ) {
    super(`refusing to sign ${refusedDigest} for ${subject}: ${signedDigest} was already signed for it`);
  }
}

interface GuardEntry {
  digest: Hex;
  /** Free-form description kept for operators reading the database, e.g. the verdict. */
  note: string;
  at: number;
}

export class SigningGuard {
  private readonly db: Level<string, GuardEntry>;
  // Subjects being decided right now: two concurrent calls for one subject are serialised.
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(path: string) {
    this.db = new Level<string, GuardEntry>(path, { valueEncoding: "json" });
  }

  async open(): Promise<void> {
    await this.db.open();
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /**
   * Records that `digest` is about to be signed for `subject` (e.g. "attest:31337:0xabc…:12"),
   * or confirms it was already; throws DoubleSignRefusedError if another digest was.
   */
  async authorize(subject: string, digest: Hex, note = ""): Promise<void> {
    const previous = this.pending.get(subject) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(() => this.decide(subject, digest, note));
    this.pending.set(subject, current);
    try {
      await current;
    } finally {
      if (this.pending.get(subject) === current) this.pending.delete(subject);
    }
  }

  /** What was signed for a subject, if anything. */
  async signed(subject: string): Promise<GuardEntry | undefined> {
    return (await this.db.get(subject)) ?? undefined;
  }

  private async decide(subject: string, digest: Hex, note: string): Promise<void> {
    const existing = await this.db.get(subject);
    if (existing) {
      if (existing.digest.toLowerCase() !== digest.toLowerCase()) throw new DoubleSignRefusedError(subject, existing.digest, digest);
      return;
    }
    await this.db.put(subject, { digest, note, at: Date.now() }, { sync: true });
  }
}
