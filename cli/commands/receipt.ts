/**
 * `vb receipt RECORD_ID|RESPONSE.json --prover URL --rpc-url URL [--deployment FILE] [--json]`:
 * is this response a leaf of a batch the network attested? The record and its Merkle proof come
 * from the prover, the root and the batch's state from the chain (protocol/receipt.ts, the same
 * checks the explorer runs in the browser).
 *
 * Exit codes: 0 valid (Attested, Cleared or Finalized), 3 pending (not attested yet, or not on
 * chain yet), 4 disputed, 5 slashed, 6 expired, 7 not included (no such record, or a leaf that
 * does not open the on-chain root), 1 error (unreachable endpoints), 2 usage. `vb root` uses the
 * same codes.
 */
import { existsSync, readFileSync } from "node:fs";
import { createPublicClient, http, type Hex, type PublicClient } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { loadDeployment, type Deployment } from "../../protocol/contracts/deployments.ts";
import { batchStateName } from "../../protocol/contracts/states.ts";
import { FieldError } from "../../protocol/errors.ts";
import { checkReceipt, ProverHttpError, RECEIPT_EXIT_CODES, ReceiptInputError, type Receipt } from "../../protocol/receipt.ts";
import { readDeploymentFile } from "../../runtime/chain.ts";
import { command, parse, UsageError } from "../common.ts";

const MAX_BODY_BYTES = 16 << 20;

export function httpUrl(value: unknown, flag: string): string {
  if (typeof value !== "string" || !/^https?:\/\/\S+$/.test(value)) throw new UsageError(`--${flag} must be an http(s) URL, got ${JSON.stringify(value)}`);
  return value.replace(/\/+$/, "");
}

/** The endpoint's chain and the deployment on it (--deployment, else deployments/<chainId>.json). */
export async function connectDeployment(rpcUrl: string, deploymentFile: string | undefined): Promise<{ client: PublicClient; deployment: Deployment }> {
  const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 1, timeout: 15_000 }) }) as PublicClient;
  let chainId: number;
  try {
    chainId = await client.getChainId();
  } catch (error) {
    throw new FieldError(`cannot reach ${rpcUrl}: ${(error as Error).message.split("\n")[0]}`, "rpc-url");
  }
  const deployment = deploymentFile ? readDeploymentFile(deploymentFile, "deployment") : loadDeployment(chainId);
  if (deployment.chainId !== chainId) throw new FieldError(`${rpcUrl} is chain ${chainId}, the deployment is for chain ${deployment.chainId}`, "rpc-url");
  return { client, deployment };
}

async function getJson(target: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(target, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(15_000), redirect: "error" });
  } catch (error) {
    throw new FieldError(`cannot reach ${target}: ${(error as Error).message}`, "prover");
  }
  if (!response.ok) throw new ProverHttpError(target, response.status);
  const text = await response.text();
  if (text.length > MAX_BODY_BYTES) throw new FieldError(`${target} answered ${text.length} bytes, more than ${MAX_BODY_BYTES}`, "prover");
  try {
    return JSON.parse(text);
  } catch {
    throw new FieldError(`${target} did not answer JSON`, "prover");
  }
}

const MARK = { true: "✓", false: "✗", null: "…" } as const;

function printReceipt(receipt: Receipt): void {
  console.log(`${receipt.status.toUpperCase()}  ${receipt.recordId}: ${receipt.reason}`);
  for (const step of receipt.steps) console.log(`  ${MARK[String(step.ok) as keyof typeof MARK]} ${step.check.padEnd(14)} ${step.detail}`);
}

export async function receiptMain(args: string[]): Promise<number> {
  const cmd = command("receipt", "is this response a leaf of an attested on-chain batch? (exit 0 yes; 3 pending, 4 disputed, 5 slashed, 6 expired, 7 not included)")
    .argument("<record>", "a proof record id (the x-proof-record header), or a file holding the response JSON")
    .requiredOption("--prover <url>", "the prover that served it (its data endpoint)")
    .requiredOption("--rpc-url <url>", "the chain, read directly: the root and the batch's state come from here")
    .option("--deployment <file>", "deployments/<chainId>.json (default: the one for the endpoint's chain in deployments/)")
    .option("--json", "print the receipt as JSON");
  const { opts: v, args: [subject] } = parse(cmd, args);
  const prover = httpUrl(v.prover, "prover");
  const rpcUrl = httpUrl(v.rpcUrl, "rpc-url");
  // A record id, or a file holding the response JSON.
  let response: string | Record<string, unknown> = subject!;
  if (!subject!.startsWith("rec_") && existsSync(subject!)) {
    try {
      response = JSON.parse(readFileSync(subject!, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`${subject} is not a JSON response: ${(error as Error).message}`, "receipt");
    }
  }
  const { client, deployment } = await connectDeployment(rpcUrl, v.deployment as string | undefined);
  const batchManager = deployment.contracts.batchManager.address;
  let receipt: Receipt;
  try {
    receipt = await checkReceipt(
      { proverUrl: prover, response },
      {
        chainId: deployment.chainId,
        batchManager,
        getJson,
        async readBatch(batchId) {
          const [root, batch] = await Promise.all([
            client.readContract({ address: batchManager, abi: batchManagerAbi, functionName: "batchRoot", args: [batchId] }) as Promise<Hex>,
            client.readContract({ address: batchManager, abi: batchManagerAbi, functionName: "getBatch", args: [batchId] }) as Promise<{ state: number }>,
          ]);
          return { root, state: batchStateName(batch.state) };
        },
      },
    );
  } catch (error) {
    if (error instanceof ReceiptInputError) throw new UsageError(error.message, "receipt");
    throw error;
  }
  if (v.json) console.log(JSON.stringify(receipt));
  else printReceipt(receipt);
  return RECEIPT_EXIT_CODES[receipt.status];
}
