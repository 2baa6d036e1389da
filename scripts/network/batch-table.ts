/**
 * The live terminal table of `npm start`: the newest batches with their prover, leaf count,
 * state, attesting stake and disputes, redrawn in place every second on a terminal; elsewhere
 * (a pipe, a log file) one line per batch each time its state changes.
 */
import { formatUnits, type Address } from "viem";
import type { BatchView, ChainHistory } from "../../runtime/chain-history.ts";

const COLORS: Record<string, string> = {
  Submitted: "\x1b[33m",
  Attested: "\x1b[32m",
  Cleared: "\x1b[32m",
  Finalized: "\x1b[36m",
  Disputed: "\x1b[35m",
  Slashed: "\x1b[31m",
  Expired: "\x1b[90m",
};
const RESET = "\x1b[0m";
const ROWS = 12;

export interface TableOptions {
  /** Names of known addresses (provers). */
  names: ReadonlyMap<string, string>;
  /** Lines under the table (traffic, hints), asked at each redraw. */
  footer: () => string[];
  header: string[];
  out?: NodeJS.WriteStream;
}

function tokens(wei: bigint): string {
  const [whole, fraction = ""] = formatUnits(wei, 18).split(".");
  return fraction ? `${whole}.${fraction.slice(0, 1)}` : whole!;
}

export function batchRow(b: BatchView, names: ReadonlyMap<string, string>, history: ChainHistory): string[] {
  const a = b.attestation;
  const stake = a ? `${tokens(a.attestedWeight)}/${tokens(a.totalWeight)} (${a.totalWeight === 0n ? 0 : Number((a.attestedWeight * 1000n) / a.totalWeight) / 10}%)` : "–";
  const disputes = b.disputeIds.map((id) => `#${id} ${history.dispute(id)?.state ?? "?"}`).join(", ") || "–";
  return [String(b.id), names.get(b.prover.toLowerCase()) ?? short(b.prover), String(b.leafCount), b.state, stake, disputes];
}

function short(address: Address): string {
  return `${address.slice(0, 8)}…`;
}

const HEAD = ["batch", "prover", "leaves", "state", "attesting stake", "disputes"];
const WIDTHS = [6, 10, 7, 10, 22, 24];

export class BatchTable {
  private drawn = 0;
  private readonly seen = new Map<string, string>();
  private readonly out: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(
    private readonly history: ChainHistory,
    private readonly options: TableOptions,
  ) {
    this.out = options.out ?? process.stdout;
    this.tty = Boolean(this.out.isTTY) && process.env.TERM !== "dumb";
  }

  /** Redraws (terminal) or prints what changed (anything else). */
  render(): void {
    const batches = this.history.batches();
    if (!this.tty) {
      for (const b of [...batches].reverse()) {
        const row = batchRow(b, this.options.names, this.history);
        const key = `${row[3]}|${row[4]}|${row[5]}`;
        if (this.seen.get(row[0]!) === key) continue;
        this.seen.set(row[0]!, key);
        this.out.write(`batch ${row[0]}  ${row[1]}  ${row[2]} leaves  ${row[3]}  attesting stake ${row[4]}  disputes ${row[5]}\n`);
      }
      return;
    }
    const pad = (cells: string[], color?: string) =>
      cells.map((c, i) => (i === 3 && color ? `${color}${c.padEnd(WIDTHS[i]!)}${RESET}` : c.padEnd(WIDTHS[i]!))).join(" ");
    const lines = [
      ...this.options.header,
      "",
      `\x1b[1m${pad(HEAD)}\x1b[0m`,
      ...batches.slice(0, ROWS).map((b) => {
        const row = batchRow(b, this.options.names, this.history);
        return pad(row, COLORS[row[3]!]);
      }),
      ...(batches.length === 0 ? ["(no batch on chain yet: the first closes after a few requests)"] : []),
      ...(batches.length > ROWS ? [`… and ${batches.length - ROWS} older`] : []),
      "",
      ...this.options.footer(),
    ];
    const clear = this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[J` : "";
    this.out.write(`${clear}${lines.map((l) => `\x1b[2K${l}`).join("\n")}\n`);
    this.drawn = lines.length;
  }
}
