/**
 * The loopback streaming server in a child process (scripts/bench/client-server.ts), for checks
 * that must not share the measured client's event loop, or that kill the server mid-run
 * (SIGKILL: no goodbye, connections reset, as when a real server dies).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface LoopbackProcessOptions {
  tokens?: number;
  jitter?: number;
  firstTokenDelayMs?: number;
  interTokenDelayMs?: number;
  models?: string[];
}

export interface LoopbackProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** Ask it to stop (closing its stdin), SIGKILL after 5 s. */
  stop(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL("../scripts/bench/client-server.ts", import.meta.url));

export async function startLoopbackProcess(o: LoopbackProcessOptions = {}): Promise<LoopbackProcess> {
  const args = [
    "--tokens", String(o.tokens ?? 16), "--jitter", String(o.jitter ?? 0),
    "--first-ms", String(o.firstTokenDelayMs ?? 0), "--gap-ms", String(o.interTokenDelayMs ?? 0),
    ...(o.models ? ["--models", o.models.join(",")] : []),
  ];
  const execArgv = process.execArgv.some((a) => a.includes("tsx")) ? process.execArgv : ["--import", "tsx"];
  const child = spawn(process.execPath, [...execArgv, ENTRY, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const line: string = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("loopback server process did not start in 30 s")), 30_000);
    createInterface({ input: child.stdout! }).once("line", (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once("exit", (c) => reject(new Error(`loopback server process exited with ${c}`)));
  });
  const port = (JSON.parse(line) as { port: number }).port;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
