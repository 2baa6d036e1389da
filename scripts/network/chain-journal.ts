/**
 * A journal of a local Hardhat chain, so that `npm start` can stop and later resume the same
 * chain: a Hardhat node keeps its state in memory only. The journal is an append-only JSON-lines
 * file of every block: its timestamp and hash, and the signed bytes of its transactions (empty
 * blocks are kept as runs). Replaying it into a fresh node started with the same genesis time
 * (hardhat.config.ts's "replayable" network: FIFO mempool, VB_CHAIN_GENESIS_TIME) mines the same
 * blocks again, block for block, and each replayed block's hash is checked against the one
 * recorded: the same hash means the same header, state root and transactions.
 *
 * Every change of state must therefore be a transaction (no hardhat_setBalance and the like);
 * scripts/network/launch.ts funds accounts by transfer for that reason.
 *
 *   {"journal":"vb.chain-journal/1","chainId":31337,"genesis":{"timestamp":1796153965,"hash":"0x.."}}
 *   {"n":1,"t":1796153966,"h":"0x..","txs":["0x02f8.."]}          a block with transactions
 *   {"n":2,"t":1796153967,"h":"0x..","count":40,"step":1}         40 empty blocks, 1 s apart (h: the last)
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { keccak256, serializeTransaction, type Hex, type PublicClient, type Transaction } from "viem";
import { FieldError } from "../../protocol/errors.ts";

export const JOURNAL_FORMAT = "vb.chain-journal/1";

export class ChainJournalError extends FieldError {
  override name = "ChainJournalError";
}

interface Header {
  journal: typeof JOURNAL_FORMAT;
  chainId: number;
  genesis: { timestamp: number; hash: Hex };
}

/** One block with transactions, or a run of `count` empty blocks `step` seconds apart. */
interface BlockEntry {
  n: number;
  t: number;
  h: Hex;
  txs?: Hex[];
  count?: number;
  step?: number;
}

export interface JournalContents {
  header: Header;
  entries: BlockEntry[];
  /** The last block the journal holds (0: only the genesis). */
  head: number;
  transactions: number;
}

/** Reads and checks a journal file; a torn last line (a crash mid-write) is dropped. */
export function readJournal(file: string): JournalContents {
  const lines = readFileSync(file, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  let header: Header | undefined;
  const entries: BlockEntry[] = [];
  let next = 1;
  let transactions = 0;
  for (const [i, line] of lines.entries()) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (i === lines.length - 1) break;
      throw new ChainJournalError(`${file}:${i + 1} is not JSON`, "journal");
    }
    if (i === 0) {
      header = parseHeader(value, file);
      continue;
    }
    const entry = parseEntry(value, `${file}:${i + 1}`);
    if (entry.n !== next) throw new ChainJournalError(`${file}:${i + 1} holds block ${entry.n}, expected block ${next}`, "journal");
    next = entry.n + (entry.count ?? 1);
    transactions += entry.txs?.length ?? 0;
    entries.push(entry);
  }
  if (!header) throw new ChainJournalError(`${file} is empty`, "journal");
  return { header, entries, head: next - 1, transactions };
}

function parseHeader(value: unknown, file: string): Header {
  const h = value as Partial<Header> | null;
  if (h?.journal !== JOURNAL_FORMAT) throw new ChainJournalError(`${file} is not a ${JOURNAL_FORMAT} file`, "journal");
  if (!Number.isSafeInteger(h.chainId) || !Number.isSafeInteger(h.genesis?.timestamp) || !/^0x[0-9a-f]{64}$/.test(String(h.genesis?.hash))) {
    throw new ChainJournalError(`${file}: malformed header`, "journal");
  }
  return h as Header;
}

function parseEntry(value: unknown, where: string): BlockEntry {
  const e = value as Partial<BlockEntry> | null;
  const ok =
    e !== null && typeof e === "object" && Number.isSafeInteger(e.n) && e.n! > 0 && Number.isSafeInteger(e.t) && /^0x[0-9a-f]{64}$/.test(String(e.h)) &&
    (e.txs === undefined ? Number.isSafeInteger(e.count) && e.count! > 0 && Number.isSafeInteger(e.step) && e.step! >= 0 : Array.isArray(e.txs) && e.txs.length > 0 && e.txs.every((t) => /^0x[0-9a-f]+$/.test(t)));
  if (!ok) throw new ChainJournalError(`${where}: malformed block entry`, "journal");
  return e as BlockEntry;
}

/** The signed bytes of a mined transaction, checked against its hash. */
export function rawTransaction(tx: Transaction): Hex {
  // A mined transaction names its calldata `input`; the serializer takes it as `data`.
  const raw = serializeTransaction({ ...tx, data: tx.input } as never, { r: tx.r, s: tx.s, v: tx.v, yParity: tx.yParity } as never);
  if (keccak256(raw) !== tx.hash) throw new ChainJournalError(`transaction ${tx.hash} (type ${tx.type}) does not re-serialize to its own hash; it cannot be journaled`, "transaction");
  return raw;
}

const rpc = (client: PublicClient, method: string, params: unknown[] = []) => client.request({ method: method as never, params: params as never });
const hex = (n: number) => `0x${n.toString(16)}`;

export interface ReplayProgress {
  block: number;
  head: number;
}

/**
 * Mines the journal's blocks into `client`'s node, which must be fresh (only its genesis) and
 * started with the journal's genesis time. Throws ChainJournalError at the first block whose
 * hash differs from the recorded one. Leaves automine on, as a fresh node has it.
 */
export async function replayJournal(file: string, client: PublicClient, onProgress?: (p: ReplayProgress) => void): Promise<JournalContents> {
  const journal = readJournal(file);
  const chainId = await client.getChainId();
  if (chainId !== journal.header.chainId) throw new ChainJournalError(`the journal is of chain ${journal.header.chainId}, the node is chain ${chainId}`, "chainId");
  const head = await client.getBlockNumber();
  if (head !== 0n) throw new ChainJournalError(`replaying needs a fresh node, but this one is at block ${head}`, "node");
  const genesis = await client.getBlock({ blockNumber: 0n });
  if (genesis.hash !== journal.header.genesis.hash) {
    throw new ChainJournalError(
      `the node's genesis block ${genesis.hash} (timestamp ${genesis.timestamp}) is not the journal's ${journal.header.genesis.hash} (timestamp ${journal.header.genesis.timestamp}); was it started with VB_CHAIN_GENESIS_TIME=${journal.header.genesis.timestamp} on the "replayable" network?`,
      "genesis",
    );
  }
  await rpc(client, "evm_setAutomine", [false]);
  try {
    for (const entry of journal.entries) {
      await rpc(client, "evm_setNextBlockTimestamp", [hex(entry.t)]);
      for (const raw of entry.txs ?? []) await rpc(client, "eth_sendRawTransaction", [raw]);
      await rpc(client, "evm_mine");
      if ((entry.count ?? 1) > 1) await rpc(client, "hardhat_mine", [hex(entry.count! - 1), hex(entry.step!)]);
      const last = entry.n + (entry.count ?? 1) - 1;
      const mined = await client.getBlock({ blockNumber: BigInt(last) });
      if (mined.hash !== entry.h) {
        throw new ChainJournalError(`replayed block ${last} has hash ${mined.hash}, the journal recorded ${entry.h}: the replay diverged (start over with --fresh)`, "journal");
      }
      onProgress?.({ block: last, head: journal.head });
    }
  } finally {
    await rpc(client, "evm_setAutomine", [true]);
  }
  return journal;
}

/** Records new blocks of a live chain into the journal file (appending; creating it if absent). */
export class ChainRecorder {
  private next = 1;
  private run: BlockEntry | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private lastFlush = Date.now();
  private failure: Error | undefined;

  private constructor(
    readonly file: string,
    private readonly client: PublicClient,
  ) {}

  /** Opens `file` for appending after the blocks it holds, or starts it at the chain's genesis. */
  static async open(file: string, client: PublicClient): Promise<ChainRecorder> {
    const recorder = new ChainRecorder(file, client);
    if (existsSync(file)) {
      recorder.next = readJournal(file).head + 1;
    } else {
      const genesis = await client.getBlock({ blockNumber: 0n });
      const header: Header = { journal: JOURNAL_FORMAT, chainId: await client.getChainId(), genesis: { timestamp: Number(genesis.timestamp), hash: genesis.hash } };
      appendFileSync(file, `${JSON.stringify(header)}\n`, { mode: 0o600 });
    }
    return recorder;
  }

  /** The first block not recorded yet. */
  get nextBlock(): number {
    return this.next;
  }

  /** A recording failure stops the recorder; the caller decides what to do (e.g. stop the network). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Records in the background every `intervalMs`. */
  start(intervalMs = 250): void {
    const tick = () => {
      this.polling = this.catchUp().then(
        () => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, intervalMs);
        },
        (error: unknown) => {
          this.failure = error as Error;
          this.timer = undefined;
        },
      );
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  /** Records every block up to the current head. */
  async catchUp(): Promise<void> {
    const head = Number(await this.client.getBlockNumber());
    for (; this.next <= head; this.next++) {
      const block = await this.client.getBlock({ blockNumber: BigInt(this.next), includeTransactions: true });
      this.add(Number(block.timestamp), block.hash, (block.transactions as Transaction[]).map(rawTransaction));
    }
    // A run of empty blocks is written at least every few seconds, so a crash loses little.
    if (Date.now() - this.lastFlush > 5_000) this.flushRun();
  }

  /** Stops polling, records up to the head and writes what is held back. */
  async stop(): Promise<void> {
    const timer = this.timer;
    this.timer = undefined;
    clearTimeout(timer);
    await this.polling;
    if (!this.failure) await this.catchUp();
    this.flushRun();
  }

  private add(t: number, h: Hex, txs: Hex[]): void {
    const n = this.next;
    if (txs.length > 0) {
      this.flushRun();
      this.write({ n, t, h, txs });
      return;
    }
    const run = this.run;
    if (run && run.count === 1) {
      run.step = t - run.t;
      run.count = 2;
      run.h = h;
      return;
    }
    if (run && run.t + run.step! * run.count! === t) {
      run.count! += 1;
      run.h = h;
      return;
    }
    this.flushRun();
    this.run = { n, t, h, count: 1, step: 1 };
  }

  private flushRun(): void {
    if (this.run) this.write(this.run);
    this.run = undefined;
    this.lastFlush = Date.now();
  }

  private write(entry: BlockEntry): void {
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }
}
