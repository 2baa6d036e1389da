/**
 * The chaos run's RPC proxy in front of the chain: out of every `period` requests, a burst of
 * `burst` in a row is answered 503 (more than viem's own retries absorb), and three of every
 * eight transactions, so that every node meets RPC errors and prints them, URL included,
 * through viem. The nodes reach it through a URL carrying a fake API key in its path and query,
 * as hosted RPC endpoints do; the run then looks for that key in every log line and API answer.
 */
import { startRpcProxy, type RpcProxy } from "../../test/helpers/flaky-rpc.ts";

export interface FlakyRpc extends RpcProxy {
  /** The secrets that must never be shown. */
  secrets: string[];
  /** Starts the failures (nodes register and start against a working endpoint). */
  arm(): void;
}

export async function startFlakyRpc(target: string, period: number, burst: number): Promise<FlakyRpc> {
  let count = 0;
  let sends = 0;
  let armed = false;
  const pathKey = `sk_chaos_${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
  const queryKey = `ck-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const proxy = await startRpcProxy({
    target,
    urlPath: `/v3/${pathKey}?apikey=${queryKey}`,
    refuse: ({ body }) => {
      // eth_chainId is what a node asks at start: a node that cannot reach its RPC then stops (exit 2), by design.
      const startProbe = body.includes('"eth_chainId"');
      if (!startProbe) count++;
      const isSend = body.includes('"eth_sendRawTransaction"');
      if (isSend) sends++;
      return armed && ((isSend && sends % 8 >= 1 && sends % 8 <= 3) || (!startProbe && period > 0 && count % period >= period - burst));
    },
  });
  return {
    ...proxy,
    secrets: [pathKey, queryKey],
    arm: () => {
      armed = true;
    },
  };
}
