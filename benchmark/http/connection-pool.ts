/**
 * Keep-alive pool of raw TCP (or TLS) connections to one origin, for the load generator.
 * At most `maxSockets` connections; a request that finds none free waits in FIFO order. Each
 * socket has one set of listeners for its whole life, which forward to whichever exchange holds
 * it, so a request adds no listeners and no stream objects of its own. Plain TCP sockets read
 * through `onread` into one buffer shared by the pool: no per-read allocation and no readable
 * stream machinery (TLS sockets do not support it and use 'data'). Idle sockets are unref'd
 * (they do not keep the process alive) and leave the pool when the server closes them.
 */
import net from "node:net";
import { performance } from "node:perf_hooks";
import tls from "node:tls";

/** Why requests fail after `close()`: the client itself closed their connections. */
export class ClientClosedError extends Error {
  override name = "ClientClosedError";
  constructor() {
    super("client closed");
  }
}

/** What a connection reports to the exchange that holds it. */
export interface ConnectionOwner {
  /**
   * Bytes `start` to `end` of `buffer` arrived at `now` (performance.now(), read as soon as the
   * socket delivered them). The buffer is reused once the call returns: copy what you keep.
   */
  onData(buffer: Buffer, start: number, end: number, now: number): void;
  /** The peer closed the connection (cleanly, or with `error`). */
  onClose(error: Error | null, now: number): void;
}

/** Where plain TCP reads land; every read is handed on (and copied, if kept) before the next. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class Connection {
  readonly socket: net.Socket;
  owner: ConnectionOwner | null = null;
  /** Requests this connection has carried to completion. */
  served = 0;
  closed = false;

  constructor(options: PoolOptions, private readonly pool: ConnectionPool) {
    const { host, port } = options;
    if (options.tls) {
      this.socket = tls.connect({ host, port, ALPNProtocols: ["http/1.1"], ...options.tls });
      this.socket.on("data", (chunk: Buffer) => this.deliver(chunk, chunk.length));
    } else {
      this.socket = net.connect({ host, port, onread: { buffer: READ_BUFFER, callback: (n, buf) => this.deliver(buf as Buffer, n) } });
    }
    this.socket.setNoDelay(true);
    this.socket.on("error", (e) => this.close(e));
    this.socket.on("end", () => this.close(null));
    this.socket.on("close", () => this.close(null));
  }

  /** Hands a read to the owner; the return value is onread's "keep reading". */
  private deliver(buffer: Buffer, length: number): true {
    const now = performance.now();
    if (this.owner) this.owner.onData(buffer, 0, length, now);
    else this.socket.destroy(); // bytes nobody asked for: the connection is no longer in a known state
    return true;
  }

  private close(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const owner = this.owner;
    this.owner = null;
    this.pool.forget(this);
    owner?.onClose(error, performance.now());
  }

  write(data: string): void {
    this.socket.write(data);
  }

  /** Calls `onTimeout` once if no byte moves for `ms` while the current exchange holds the connection. */
  setIdleTimeout(ms: number, onTimeout: () => void): void {
    this.clearIdleTimeout();
    this.socket.setTimeout(ms);
    this.socket.once("timeout", onTimeout);
  }

  clearIdleTimeout(): void {
    this.socket.setTimeout(0);
    this.socket.removeAllListeners("timeout");
  }

  destroy(error: Error | null = null): void {
    this.close(error);
  }
}

export interface PoolOptions {
  host: string;
  port: number;
  /** TLS options (servername, ca, ...) for https; absent for plain TCP. */
  tls?: tls.ConnectionOptions;
  maxSockets: number;
  /** A connection that is not up after this many ms fails (an unroutable host would otherwise hang for minutes). */
  connectTimeoutMs?: number;
}

type Waiter = (error: Error | null, connection: Connection | null) => void;

export class ConnectionPool {
  private readonly free: Connection[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly all = new Set<Connection>();
  private destroyed = false;

  constructor(private readonly options: PoolOptions) {}

  /** Calls back with a connected, idle connection: a free one, a new one, or the next one released. */
  acquire(cb: Waiter): void {
    if (this.destroyed) return cb(new ClientClosedError(), null);
    const c = this.free.shift();
    if (c) {
      c.socket.ref();
      return cb(null, c);
    }
    if (this.all.size < this.options.maxSockets) return this.connect(cb);
    this.waiters.push(cb);
  }

  /** Hands a connection back after a complete exchange; `reusable` false closes it. */
  release(c: Connection, reusable: boolean): void {
    c.owner = null;
    if (!reusable || c.closed || this.destroyed) {
      c.destroy();
      return;
    }
    c.served++;
    c.clearIdleTimeout();
    const next = this.waiters.shift();
    if (next) return next(null, c);
    c.socket.unref();
    this.free.push(c);
  }

  /** Called by a connection as it closes. */
  forget(c: Connection): void {
    const i = this.free.indexOf(c);
    if (i >= 0) this.free.splice(i, 1);
    this.all.delete(c);
    // A slot opened: a waiting request gets a fresh connection.
    const next = this.waiters.shift();
    if (next) this.acquire(next);
  }

  private connect(cb: Waiter): void {
    const c = new Connection(this.options, this);
    const socket = c.socket;
    this.all.add(c);
    // Until connected, the connection's owner is this callback's adapter.
    let settled = false;
    c.owner = {
      onData: () => undefined,
      onClose: (error) => {
        if (settled) return;
        settled = true;
        cb(error ?? new Error("connection closed while connecting"), null);
      },
    };
    const limit = this.options.connectTimeoutMs;
    const timer = limit ? setTimeout(() => c.destroy(new Error(`connect timeout after ${limit} ms`)), limit) : undefined;
    socket.once(this.options.tls ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      c.owner = null;
      cb(null, c);
    });
    socket.once("close", () => clearTimeout(timer));
  }

  destroy(): void {
    this.destroyed = true;
    for (const w of this.waiters.splice(0)) w(new ClientClosedError(), null);
    for (const c of [...this.all]) c.destroy(new ClientClosedError());
  }
}
