/**
 * Process plumbing shared by the node entry points (`npm run prover`, operator, aggregator).
 */

/**
 * Stops the node once on SIGINT or SIGTERM, then exits 0 (or 1 if stopping failed), saying so on
 * stdout/stderr as `<role>: ...`.
 */
export function stopOnSignals(role: string, stop: () => Promise<unknown>): void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    process.stdout.write(`${role}: ${signal}, shutting down\n`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${role}: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}
