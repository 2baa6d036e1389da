/**
 * Following one contract's events from a persisted cursor, for the operator and the aggregator.
 * Every event is handled on its own: a handler that fails is retried on the next poll (the
 * cursor stays on its block; the blocks before it are done), and one that keeps failing (at
 * least `maxAttempts` times over at least `giveUpAfterMs`, so that an RPC outage is waited out)
 * is skipped with a logged reason and a metric. A follower therefore never
 * stops advancing, whatever a single event holds: handlers must be idempotent, because the
 * rest of a partly handled block is handled again.
 */
import type { Logger } from "pino";
import type { Counter } from "prom-client";
import type { Abi, Address, Log, PublicClient } from "viem";

export interface ContractEvent {
  eventName: string;
  args: Record<string, unknown>;
  blockNumber: bigint;
  logIndex: number;
  transactionHash: string;
}

export interface FollowerOptions {
  publicClient: PublicClient;
  address: Address;
  abi: Abi | readonly unknown[];
  /** Largest eth_getLogs block range. */
  logRange: number;
  /** Where the cursor (next block to read) is kept. */
  load(): Promise<bigint | undefined>;
  save(cursor: bigint): Promise<void>;
  /** First block when no cursor is stored. */
  startBlock: bigint;
  handle(event: ContractEvent): Promise<void>;
  log: Logger;
  /** Counts events given up on, by event name. */
  skipped?: Counter<"reason">;
  /** Attempts per event before it may be skipped (default 5)... */
  maxAttempts?: number;
  /** ...and how long after its first failure (default 60 s). */
  giveUpAfterMs?: number;
  now?: () => number;
  signal?: AbortSignal;
}

export class ChainFollower {
  private next = 0n;
  private readonly failures = new Map<string, { attempts: number; since: number }>();
  private readonly maxAttempts: number;
  private readonly giveUpAfterMs: number;
  private readonly now: () => number;

  constructor(private readonly options: FollowerOptions) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.giveUpAfterMs = options.giveUpAfterMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The next block to read. */
  get cursor(): bigint {
    return this.next;
  }

  async open(): Promise<void> {
    this.next = (await this.options.load()) ?? this.options.startBlock;
  }

  /**
   * Reads from the cursor to the head and hands each event over. Throws (after saving the
   * progress made) when an event's handler failed and will be tried again.
   */
  async poll(): Promise<void> {
    const { publicClient, address, abi, logRange, signal } = this.options;
    const head = await publicClient.getBlockNumber();
    while (this.next <= head && !signal?.aborted) {
      const to = this.next + BigInt(logRange) - 1n < head ? this.next + BigInt(logRange) - 1n : head;
      const logs = (await publicClient.getContractEvents({ address, abi: abi as Abi, fromBlock: this.next, toBlock: to })) as unknown as (Log & ContractEvent)[];
      for (const event of logs) {
        if (signal?.aborted) return;
        const failure = await this.deliver(event);
        if (failure) {
          // Blocks before this event's are done; this one (and the rest of its block) comes again.
          await this.advance(event.blockNumber);
          throw failure;
        }
      }
      if (signal?.aborted) return;
      await this.advance(to + 1n);
    }
  }

  private async advance(block: bigint): Promise<void> {
    if (block <= this.next) return;
    this.next = block;
    await this.options.save(block);
  }

  /** Runs the handler; returns the error when the event is to be tried again. */
  private async deliver(event: ContractEvent): Promise<Error | undefined> {
    const key = `${event.blockNumber}:${event.logIndex}`;
    try {
      await this.options.handle(event);
      this.failures.delete(key);
      return undefined;
    } catch (error) {
      const failure = this.failures.get(key) ?? { attempts: 0, since: this.now() };
      failure.attempts += 1;
      const reason = (error as Error)?.message?.split("\n")[0] ?? String(error);
      if (failure.attempts < this.maxAttempts || this.now() - failure.since < this.giveUpAfterMs) {
        this.failures.set(key, failure);
        return error instanceof Error ? error : new Error(String(error));
      }
      this.failures.delete(key);
      this.options.skipped?.inc({ reason: `${event.eventName}-handler-failed` });
      this.options.log.error({ event: event.eventName, block: event.blockNumber.toString(), logIndex: event.logIndex, tx: event.transactionHash, attempts: failure.attempts, reason }, "event skipped: its handler kept failing");
      return undefined;
    }
  }
}
