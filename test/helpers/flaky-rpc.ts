/**
 * A JSON-RPC proxy on 127.0.0.1 in front of a real node that answers 503 whenever its policy
 * says so, to see nodes retry (and report) through RPC failures. Tests refuse one method a few
 * times (startFlakyRpc); the chaos run refuses bursts and hides a fake API key in the URL.
 */
import { createServer, type Server } from "node:http";

export interface RpcProxy {
  /** The URL the nodes are given. */
  url: string;
  /** Requests refused so far. */
  refused(): number;
  close(): Promise<void>;
}

/** One forwarded HTTP body: its bytes and the JSON-RPC calls in it (none if unparseable). */
export interface RpcRequest {
  body: Buffer;
  methods: string[];
}

export interface RpcProxyOptions {
  /** The node's URL. */
  target: string;
  /** True: answer 503 instead of forwarding. */
  refuse(request: RpcRequest): boolean;
  /** Path and query of the proxy's URL (as hosted endpoints carry keys there); default none. */
  urlPath?: string;
}

function methodsOf(body: Buffer): string[] {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as unknown;
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    return calls.flatMap((c) => (typeof c === "object" && c !== null && typeof (c as { method?: unknown }).method === "string" ? [(c as { method: string }).method] : []));
  } catch {
    return []; // forwarded as is: the node answers malformed requests itself
  }
}

export async function startRpcProxy(options: RpcProxyOptions): Promise<RpcProxy> {
  let refused = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      if (options.refuse({ body, methods: methodsOf(body) })) {
        refused++;
        res.writeHead(503, { "content-type": "text/plain" }).end("upstream unavailable (test proxy)");
        return;
      }
      try {
        const upstream = await fetch(options.target, { method: "POST", headers: { "content-type": "application/json" }, body });
        res.writeHead(upstream.status, { "content-type": "application/json" }).end(Buffer.from(await upstream.arrayBuffer()));
      } catch (error) {
        res.writeHead(502).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${options.urlPath ?? ""}`,
    refused: () => refused,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type FlakyRpc = RpcProxy;

/** Refuses the first `failures` requests that call `method`. */
export function startFlakyRpc(target: string, method: string, failures: number): Promise<FlakyRpc> {
  let left = failures;
  return startRpcProxy({
    target,
    refuse: ({ methods }) => {
      if (left <= 0 || !methods.includes(method)) return false;
      left--;
      return true;
    },
  });
}
