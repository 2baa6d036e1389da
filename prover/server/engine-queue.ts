/**
 * A bounded queue in front of the engine: `concurrency` generations run at once (one by
 * default: an onnxruntime session already uses every core), at most `maxWaiting` more wait, and
 * anything beyond is refused at once so a burst cannot pile up unbounded memory and latency.
 */
export class QueueFullError extends Error {
  override name = "QueueFullError";
  constructor(readonly waiting: number) {
    super(`the engine queue is full (${waiting} waiting)`);
  }
}

export class QueueAbortedError extends Error {
  override name = "QueueAbortedError";
  constructor() {
    super("the request was cancelled while waiting for the engine");
  }
}

interface Waiter {
  start: () => void;
  cancel: () => void;
}

export class EngineQueue {
  private running = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  get waiting(): number {
    return this.waiters.length;
  }

  get active(): number {
    return this.running;
  }

  /** Runs `task` when a slot frees; throws QueueFullError now if the queue is full. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++;
    } else {
      if (this.waiters.length >= this.maxWaiting) throw new QueueFullError(this.waiters.length);
      await this.wait(signal); // the finishing task hands its slot over: `running` is unchanged
    }
    try {
      return await task();
    } finally {
      const next = this.waiters.shift();
      if (next !== undefined) next.start();
      else this.running--;
    }
  }

  private wait(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new QueueAbortedError());
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        cancel: () => reject(new QueueAbortedError()),
      };
      const onAbort = (): void => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        waiter.cancel();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }
}
