/**
 * `vb root ROOT --rpc-url URL [--deployment FILE] [--json]`: which on-chain batch committed this
 * Merkle root, and where is it now? Read from BatchManager's events (runtime/chain-history.ts).
 * Exit codes as `vb receipt`'s, for the best-placed batch with that root (7: none).
 */
import type { Hex } from "viem";
import { batchStanding } from "../../protocol/contracts/states.ts";
import { RECEIPT_EXIT_CODES, type ReceiptStatus } from "../../protocol/receipt.ts";
import { ChainHistory, type BatchView } from "../../runtime/chain-history.ts";
import { command, parse, UsageError } from "../common.ts";
import { connectDeployment, httpUrl } from "./receipt.ts";

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

function share(part: bigint, whole: bigint): string {
  return whole === 0n ? "0%" : `${(Number((part * 10_000n) / whole) / 100).toFixed(1)}%`;
}

export async function rootMain(args: string[]): Promise<number> {
  const cmd = command("root", "the on-chain batch that committed a Merkle root, and its state")
    .argument("<root>", "0x followed by 64 hex digits")
    .requiredOption("--rpc-url <url>", "the chain")
    .option("--deployment <file>", "deployments/<chainId>.json (default: the one for the endpoint's chain in deployments/)")
    .option("--json", "print the batches as JSON");
  const { opts: v, args: [root] } = parse(cmd, args);
  if (!/^0x[0-9a-fA-F]{64}$/.test(root!)) throw new UsageError(`ROOT must be 0x followed by 64 hex digits, got ${JSON.stringify(root!.slice(0, 80))}`, "root");
  const { client, deployment } = await connectDeployment(httpUrl(v.rpcUrl, "rpc-url"), v.deployment as string | undefined);
  const history = new ChainHistory(client, deployment);
  await history.refresh();
  const found = history.batchesWithRoot(root as Hex);
  const status = found.length === 0 ? "not-included" : RANK.find((s) => found.some((b) => STATUS_OF[b.standing] === s))!;
  if (v.json) console.log(JSON.stringify({ root: root!.toLowerCase(), status, batches: found.map(rootJson) }));
  else if (found.length === 0) console.log(`NOT-INCLUDED  no batch of ${deployment.contracts.batchManager.address} on chain ${deployment.chainId} committed ${root}`);
  else {
    for (const b of found) {
      const attested = b.attestation ? `, attested by ${b.attestation.signers.length} signers (${share(b.attestation.attestedWeight, b.attestation.totalWeight)} of the stake)` : "";
      console.log(`batch ${b.id}  ${b.state}  prover ${b.prover}  ${b.leafCount} leaves${attested}${b.disputeIds.length ? `, disputes ${b.disputeIds.join(", ")}` : ""}`);
      console.log(`  data ${b.dataURI}`);
      if (b.history[0]) console.log(`  submitted in block ${b.history[0].block} (tx ${b.history[0].tx})`);
    }
  }
  return RECEIPT_EXIT_CODES[status];
}
