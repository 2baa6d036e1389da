/**
 * A JSON-RPC proxy on 127.0.0.1 in front of a real node that answers 503 to the first
 * `failures` calls of one method, to see a node retry with backoff through RPC failures.
 */
import { createServer, type Server } from "node:http";

export interface FlakyRpc {
  url: string;
  /** Calls of the method that were refused so far. */
  refused(): number;
  close(): Promise<void>;
}

export async function startFlakyRpc(target: string, method: string, failures: number): Promise<FlakyRpc> {
  let refused = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      let calls: { method?: string }[] = [];
      try {
        const parsed = JSON.parse(body.toString("utf8"));
        calls = Array.isArray(parsed) ? parsed : [parsed];
      } catch {
        // Forwarded as is: the node answers malformed requests itself.
      }
      if (refused < failures && calls.some((c) => c.method === method)) {
        refused++;
        res.writeHead(503, { "content-type": "text/plain" }).end("upstream unavailable (test proxy)");
        return;
      }
      try {
        const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
        res.writeHead(upstream.status, { "content-type": "application/json" }).end(Buffer.from(await upstream.arrayBuffer()));
      } catch (error) {
        res.writeHead(502).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    refused: () => refused,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
