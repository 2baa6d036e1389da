/**
 * A JSON-RPC proxy on 127.0.0.1 in front of the chain for the chaos run: out of every `period`
 * requests, a burst of `burst` in a row is answered 503 (more than viem's own retries absorb), so
 * that every node meets RPC errors and prints them, URL included, through viem. The nodes reach it through a URL carrying a fake API key in its path and query,
 * as hosted RPC endpoints do; the run then looks for that key in every log line and API answer.
 */
import { createServer, type Server } from "node:http";

export interface FlakyRpc {
  /** The URL the nodes are given: the proxy, with the fake key in path and query. */
  url: string;
  /** The secrets that must never be shown. */
  secrets: string[];
  refused(): number;
  /** Starts the failures (nodes register and start against a working endpoint). */
  arm(): void;
  close(): Promise<void>;
}

export async function startFlakyRpc(target: string, period: number, burst: number): Promise<FlakyRpc> {
  let count = 0;
  let sends = 0;
  let refused = 0;
  let armed = false;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      // eth_chainId is what a node asks at start: a node that cannot reach its RPC then stops (exit 2), by design.
      const startProbe = body.includes('"eth_chainId"');
      if (!startProbe) count++;
      // Transactions: three refusals in a row (more than viem retries) for every other one sent,
      // so that the error reaches the node: the prover's commitment, the aggregator's attest().
      const isSend = body.includes('"eth_sendRawTransaction"');
      if (isSend) sends++;
      if (armed && ((isSend && sends % 8 >= 1 && sends % 8 <= 3) || (!startProbe && period > 0 && count % period >= period - burst))) {
        refused++;
        res.writeHead(503, { "content-type": "text/plain" }).end("upstream unavailable (chaos proxy)");
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
  const pathKey = `sk_chaos_${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
  const queryKey = `ck-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  return {
    url: `http://127.0.0.1:${port}/v3/${pathKey}?apikey=${queryKey}`,
    secrets: [pathKey, queryKey],
    refused: () => refused,
    arm: () => {
      armed = true;
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
