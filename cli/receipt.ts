/**
 * `vb receipt` and `vb root`: a user's checks against the chain, from the command line.
 *
 *   vb receipt RECORD_ID|RESPONSE.json --prover URL --rpc-url URL [--deployment FILE] [--json]
 *       Is this response a leaf of an attested batch? The record and its Merkle proof come from
 *       the prover, the root and the batch's state from the chain (protocol/receipt.ts).
 *   vb root ROOT --rpc-url URL [--deployment FILE] [--json]
 *       Which on-chain batch committed this Merkle root, and where is it now?
 *
 * Exit codes (both): 0 valid (Attested, Cleared or Finalized), 3 pending (not attested yet, or not
 * on chain yet), 4 disputed, 5 slashed, 6 expired, 7 not included (no such record, no batch
 * with that root, or a leaf that does not open the on-chain root), 1 error (unreachable
 * endpoints), 2 usage.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createPublicClient, http, type Hex, type PublicClient } from "viem";
import { batchManagerAbi } from "../protocol/contracts/abis.ts";
import { loadDeployment, type Deployment } from "../protocol/contracts/deployments.ts";
import { batchStanding, batchStateName } from "../protocol/contracts/states.ts";
import { checkReceipt, ProverHttpError, RECEIPT_EXIT_CODES, ReceiptInputError, type Receipt, type ReceiptStatus } from "../protocol/receipt.ts";
import { ChainHistory, type BatchView } from "../runtime/chain-history.ts";
import { readDeploymentFile } from "../runtime/chain.ts";
import { FieldError } from "../protocol/errors.ts";

export const RECEIPT_USAGE = `  receipt RECORD_ID|RESPONSE.json --prover URL --rpc-url URL [--deployment FILE] [--json]
            is this response a leaf of an attested on-chain batch? (exit 0 yes; 3 pending, 4 disputed,
            5 slashed, 6 expired, 7 not included)
  root ROOT --rpc-url URL [--deployment FILE] [--json]   the on-chain batch that committed a Merkle root`;

class ReceiptUsageError extends FieldError {
  override name = "ReceiptUsageError";
}

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const MAX_BODY_BYTES = 16 << 20;

function options(args: string[], spec: Record<string, { type: "string" | "boolean" }>, command: string) {
  try {
    const parsed = parseArgs({ args, options: { ...spec, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    if (parsed.values.help) return { help: true as const };
    if (parsed.positionals.length !== 1) throw new ReceiptUsageError(`${command} takes one argument, got ${parsed.positionals.length}`, "argv");
    return { help: false as const, values: parsed.values as Record<string, string | boolean | undefined>, subject: parsed.positionals[0]! };
  } catch (error) {
    if (error instanceof ReceiptUsageError) throw error;
    throw new ReceiptUsageError((error as Error).message, "argv");
  }
}

function url(value: unknown, flag: string): string {
  if (typeof value !== "string" || !/^https?:\/\/\S+$/.test(value)) throw new ReceiptUsageError(`--${flag} must be an http(s) URL${value === undefined ? " (required)" : `, got ${JSON.stringify(value)}`}`, flag);
  return value.replace(/\/+$/, "");
}

/** The chain the deployment names (--deployment, else deployments/<chainId>.json for the endpoint's chain). */
async function connect(rpcUrl: string, deploymentFile: string | undefined): Promise<{ client: PublicClient; deployment: Deployment }> {
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

/** `vb receipt`. */
export async function cmdReceipt(args: string[]): Promise<number> {
  try {
    const parsed = options(args, { prover: { type: "string" }, "rpc-url": { type: "string" }, deployment: { type: "string" }, json: { type: "boolean" } }, "receipt");
    if (parsed.help) {
      console.log(`usage: vb\n${RECEIPT_USAGE}`);
      return 0;
    }
    const { values, subject } = parsed;
    const prover = url(values.prover, "prover");
    const rpcUrl = url(values["rpc-url"], "rpc-url");
    // A record id, or a file holding the response JSON.
    let response: string | Record<string, unknown> = subject;
    if (!subject.startsWith("rec_") && existsSync(subject)) {
      try {
        response = JSON.parse(readFileSync(subject, "utf8")) as Record<string, unknown>;
      } catch (error) {
        throw new ReceiptUsageError(`${subject} is not a JSON response: ${(error as Error).message}`, "response");
      }
    }
    const { client, deployment } = await connect(rpcUrl, values.deployment as string | undefined);
    const batchManager = deployment.contracts.batchManager.address;
    const receipt = await checkReceipt(
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
    if (values.json) console.log(JSON.stringify(receipt));
    else printReceipt(receipt);
    return RECEIPT_EXIT_CODES[receipt.status];
  } catch (error) {
    return failed(error, "receipt");
  }
}

const STATUS_OF: Record<ReturnType<typeof batchStanding>, ReceiptStatus> = {
  attested: "valid", finalized: "valid", pending: "pending", disputed: "disputed", slashed: "slashed", expired: "expired", unknown: "not-included",
};
/** The best news first: a root committed twice is valid if either batch is. */
const RANK: ReceiptStatus[] = ["valid", "pending", "disputed", "slashed", "expired", "not-included"];

function rootJson(b: BatchView) {
  return {
    batchId: b.id.toString(),
    state: b.state,
    prover: b.prover,
    modelId: b.modelId,
    leafCount: b.leafCount,
    dataURI: b.dataURI,
    submitted: b.history[0] ? { block: b.history[0].block.toString(), tx: b.history[0].tx } : null,
    attestation: b.attestation ? { signers: b.attestation.signers.length, attestedWeight: b.attestation.attestedWeight.toString(), totalWeight: b.attestation.totalWeight.toString() } : null,
    disputes: b.disputeIds.map(String),
  };
}

/** `vb root`. */
export async function cmdRoot(args: string[]): Promise<number> {
  try {
    const parsed = options(args, { "rpc-url": { type: "string" }, deployment: { type: "string" }, json: { type: "boolean" } }, "root");
    if (parsed.help) {
      console.log(`usage: vb\n${RECEIPT_USAGE}`);
      return 0;
    }
    const { values, subject } = parsed;
    if (!/^0x[0-9a-fA-F]{64}$/.test(subject)) throw new ReceiptUsageError(`ROOT must be 0x followed by 64 hex digits, got ${JSON.stringify(subject.slice(0, 80))}`, "root");
    const { client, deployment } = await connect(url(values["rpc-url"], "rpc-url"), values.deployment as string | undefined);
    const history = new ChainHistory(client, deployment);
    await history.refresh();
    const found = history.batchesWithRoot(subject as Hex);
    const status = found.length === 0 ? "not-included" : RANK.find((s) => found.some((b) => STATUS_OF[b.standing] === s))!;
    if (values.json) console.log(JSON.stringify({ root: subject.toLowerCase(), status, batches: found.map(rootJson) }));
    else if (found.length === 0) console.log(`NOT-INCLUDED  no batch of ${deployment.contracts.batchManager.address} on chain ${deployment.chainId} committed ${subject}`);
    else {
      for (const b of found) {
        const attested = b.attestation ? `, attested by ${b.attestation.signers.length} signers (${formatShare(b.attestation.attestedWeight, b.attestation.totalWeight)} of the stake)` : "";
        console.log(`batch ${b.id}  ${b.state}  prover ${b.prover}  ${b.leafCount} leaves${attested}${b.disputeIds.length ? `, disputes ${b.disputeIds.join(", ")}` : ""}`);
        console.log(`  data ${b.dataURI}`);
        if (b.history[0]) console.log(`  submitted in block ${b.history[0].block} (tx ${b.history[0].tx})`);
      }
    }
    return RECEIPT_EXIT_CODES[status];
  } catch (error) {
    return failed(error, "root");
  }
}

function formatShare(part: bigint, whole: bigint): string {
  return whole === 0n ? "0%" : `${(Number((part * 10_000n) / whole) / 100).toFixed(1)}%`;
}

function failed(error: unknown, command: string): number {
  if (error instanceof ReceiptUsageError || error instanceof ReceiptInputError) {
    console.error(`error: ${error.message}\n\nusage: vb\n${RECEIPT_USAGE}`);
    return EXIT_USAGE;
  }
  const e = error as Error;
  console.error(`error: vb ${command}: ${e.name === "Error" ? "" : `${e.name}: `}${e.message}`);
  return EXIT_FAILURE;
}

