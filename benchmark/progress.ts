/** A one-line progress bar, drawn only when stdout is a terminal (never into logs or pipes). */
export class ProgressBar {
  private last = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    stream: NodeJS.WriteStream = process.stdout,
  ) {
    this.stream = stream;
    this.enabled = Boolean(stream.isTTY) && total > 0;
  }
  private readonly stream: NodeJS.WriteStream;

  update(done: number, extra = ""): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < this.total && now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const filled = Math.round((Math.min(done, this.total) / this.total) * width);
    this.stream.write(`\r${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${this.total} ${extra}`.padEnd(100));
  }

  finish(): void {
    if (this.enabled) this.stream.write("\n");
  }
}
