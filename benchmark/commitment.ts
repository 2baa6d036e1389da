/**
 * Checks an envelope's commitment to an on-chain batch (chain id, BatchManager, batch id, root)
 * against the chain itself, for `vb verify --rpc-url`: the endpoint must be that chain, the
 * contract must exist, the batch's committed root must be the envelope's root, and the batch's
 * state says what the network concluded about it. Attested, Cleared and Finalized pass;
 * Submitted and Disputed are not decided yet ("unverified"); Slashed (fraud upheld) and Expired
 * (no quorum ever attested it) fail.
 */
import { createPublicClient, http, type Address, type Hex, type PublicClient } from "viem";
import { batchManagerAbi } from "../protocol/contracts/abis.ts";
import type { CheckResult } from "../protocol/envelope/verify.ts";
import { VerificationError } from "../protocol/envelope/errors.ts";
import type { Commitment } from "../protocol/envelope/schema.ts";

const STATES = ["None", "Submitted", "Attested", "Disputed", "Cleared", "Slashed", "Finalized", "Expired"] as const;

/** `chain`: an RPC URL, or a client already connected (tests). */
export async function checkCommitment(commitment: Commitment, chain: string | PublicClient): Promise<CheckResult> {
  const rpcUrl = typeof chain === "string" ? chain : "the endpoint";
  const client = typeof chain === "string" ? createPublicClient({ transport: http(chain, { retryCount: 1, timeout: 15_000 }) }) : chain;
  let chainId: number;
  try {
    chainId = await client.getChainId();
  } catch (error) {
    throw new VerificationError("commitment", `cannot reach ${rpcUrl}: ${(error as Error).message.split("\n")[0]}`);
  }
  if (chainId !== commitment.chain_id) {
    throw new VerificationError("commitment", `the envelope commits to chain ${commitment.chain_id}, but ${rpcUrl} is chain ${chainId}`, String(commitment.chain_id), String(chainId));
  }
  const contract = commitment.contract as Address;
  const code = await client.getCode({ address: contract });
  if (!code || code === "0x") throw new VerificationError("commitment", `no contract at ${contract} on chain ${chainId}`);
  const batchId = BigInt(commitment.batch_id);
  let root: Hex;
  let state: number;
  try {
    root = (await client.readContract({ address: contract, abi: batchManagerAbi, functionName: "batchRoot", args: [batchId] })) as Hex;
    state = ((await client.readContract({ address: contract, abi: batchManagerAbi, functionName: "getBatch", args: [batchId] })) as { state: number }).state;
  } catch (error) {
    throw new VerificationError("commitment", `${contract} does not answer as a BatchManager: ${(error as Error).message.split("\n")[0]}`);
  }
  const name = STATES[state] ?? `state ${state}`;
  const where = `batch ${batchId} of ${contract} on chain ${chainId}`;
  if (state === 0) throw new VerificationError("commitment", `${where} does not exist`);
  if (root.toLowerCase() !== commitment.root.toLowerCase()) {
    throw new VerificationError("commitment", `${where} committed another root`, commitment.root, root);
  }
  if (name === "Slashed") throw new VerificationError("commitment", `${where} was slashed: a dispute over it was upheld`);
  if (name === "Expired") throw new VerificationError("commitment", `${where} expired: no quorum of operators ever attested it`);
  if (name === "Submitted" || name === "Disputed") return { check: "commitment", result: "unverified", detail: `${where}: root matches, but the batch is ${name} (not attested yet)` };
  return { check: "commitment", result: "pass", detail: `${where}: root matches, ${name}` };
}
