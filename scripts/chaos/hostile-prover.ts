/**
 * The chaos run's hostile prover, as a process: a registered prover that commits batches no
 * operator can or should check, and serves them badly.
 *   - leafCount 2^25 + 1 (the contract must refuse it), then 2^25 (operators must skip it);
 *   - a data URI on an internal service of the operators' machine (127.0.0.2, outside the
 *     fetch policy's 127.0.0.1/32): it must never be fetched;
 *   - leaves that do not open the committed root;
 *   - a data endpoint that drips one byte a second, and one that streams without end.
 * Prints one JSON line with what it did: `hostile-prover: {...}`.
 *
 * Environment: CHAOS_RPC_URL, CHAOS_DEPLOYMENT, CHAOS_KEY_FILE (the prover's staking account),
 * CHAOS_INTERNAL_URL (the internal service), CHAOS_MODEL_ID.
 */
import { createServer, type ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { createWalletClient, http, keccak256, toHex, type Hex } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { hashModelId } from "../../protocol/merkle/index.ts";
import { connectChain, loadKey, readDeploymentFile } from "../../runtime/chain.ts";

function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const deployment = readDeploymentFile(need("CHAOS_DEPLOYMENT"));
  const account = await loadKey({ keyFile: need("CHAOS_KEY_FILE") }, "account", process.env);
  const conn = await connectChain(need("CHAOS_RPC_URL"), deployment, account);
  const bm = deployment.contracts.batchManager.address;
  const modelId = hashModelId(need("CHAOS_MODEL_ID"));
  const hits = { bad: 0, slow: 0, huge: 0 };

  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    if (url.startsWith("/bad/")) {
      hits.bad++;
      // A well-formed leaf whose hash is in no tree with the committed root.
      const record = {
        model: need("CHAOS_MODEL_ID"), prompt_tokens: [256, 104, 105], output_tokens: [33, 10],
        sampling: { temperature: 0, top_p: 1, max_tokens: 4 }, seed: "1",
        toploc: { topk: 128, decode_batch_size: 32, skip_prefill: false, proofs: [Buffer.alloc(258, 1).toString("base64")] },
      };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "batch.leaf", merkle_proof: [keccak256(toHex(url))], record }));
      return;
    }
    if (url.startsWith("/slow/")) {
      hits.slow++;
      res.writeHead(200, { "content-type": "application/json" });
      drip(res, () => res.write(" "), 1_000);
      return;
    }
    if (url.startsWith("/huge/")) {
      hits.huge++;
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      drip(res, () => res.write(chunk), 1);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const wallet = createWalletClient({ transport: http(need("CHAOS_RPC_URL")), account, chain: conn.chain });
  const submit = async (label: string, leafCount: bigint, dataURI: string): Promise<{ label: string; batchId?: string; refused?: string }> => {
    const root = keccak256(toHex(`hostile ${label}`)) as Hex;
    try {
      const { request, result } = await conn.publicClient.simulateContract({ address: bm, abi: batchManagerAbi, functionName: "submitBatch", args: [modelId, keccak256(toHex("envelope")), root, leafCount, dataURI], account });
      await conn.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract(request) });
      return { label, batchId: String(result) };
    } catch (error) {
      return { label, refused: /LeafCountTooLarge|InvalidDataURI/.exec(String((error as Error).message))?.[0] ?? String((error as Error).message).split("\n")[0]! };
    }
  };
  const batches = [
    await submit("leafCount 2^25 + 1", 2n ** 25n + 1n, `${base}/bad/v1/batches/1`),
    await submit("leafCount 2^25", 2n ** 25n, `${base}/bad/v1/batches/2`),
    await submit("internal data URI", 4n, `${need("CHAOS_INTERNAL_URL")}/v1/batches/3`),
    await submit("leaves that do not open the root", 4n, `${base}/bad/v1/batches/4`),
    await submit("slow data endpoint", 4n, `${base}/slow/v1/batches/5`),
    await submit("endless data endpoint", 4n, `${base}/huge/v1/batches/6`),
  ];
  const report = () => process.stdout.write(`hostile-prover: ${JSON.stringify({ batches, hits })}\n`);
  report();
  setInterval(report, 2_000).unref();
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/** Calls `write` every `ms` until the connection closes. */
function drip(res: ServerResponse, write: () => void, ms: number): void {
  const timer = setInterval(() => {
    if (res.destroyed || res.writableEnded) clearInterval(timer);
    else if (!res.writableNeedDrain) write();
  }, ms);
  res.on("close", () => clearInterval(timer));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    process.stderr.write(`hostile-prover: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
