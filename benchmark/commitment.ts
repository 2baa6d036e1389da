/**
 * An envelope's commitment to on-chain batches, checked against the chain itself for `vb verify
 * --rpc-url`: the endpoint must be that chain, the contract must exist and answer as a
 * BatchManager, each batch's committed root must be the envelope's root, and the batch's state
 * says what the network concluded about it. Attested, Cleared and Finalized pass; Submitted and
 * Disputed are not decided yet ("unverified"); Slashed (fraud upheld) and Expired (no quorum ever
 * attested it) fail.
 *
 * That a batch is attested says nothing about the benchmark unless the measured responses are
 * in it: for vb.envelope/2, chain-link.ts checks that too (checkCommitmentV2). A vb.envelope/1
 * commitment names a batch but its traces carry no proof records, so it is at most "unverified".
 */
import { createPublicClient, http, type Address, type Hex, type PublicClient } from "viem";
import { batchManagerAbi } from "../protocol/contracts/abis.ts";
import type { CheckResult } from "../protocol/envelope/verify.ts";
import { VerificationError } from "../protocol/envelope/errors.ts";
import type { Commitment } from "../protocol/envelope/schema.ts";

export const BATCH_STATES = ["None", "Submitted", "Attested", "Disputed", "Cleared", "Slashed", "Finalized", "Expired"] as const;

export interface ChainBatch {
  batchId: bigint;
  root: Hex;
  state: (typeof BATCH_STATES)[number] | string;
  /** "batch N of 0x.. on chain C", for messages. */
  where: string;
}

export interface ChainHandle {
  client: PublicClient;
  chainId: number;
  label: string;
}

/** `chain`: an RPC URL, or a client already connected (tests). Checks it is chain `expected`. */
export async function connectChain(chain: string | PublicClient, expected: number): Promise<ChainHandle> {
  const label = typeof chain === "string" ? chain : "the endpoint";
  const client = typeof chain === "string" ? createPublicClient({ transport: http(chain, { retryCount: 1, timeout: 15_000 }) }) : chain;
  let chainId: number;
  try {
    chainId = await client.getChainId();
  } catch (error) {
    throw new VerificationError("commitment", `cannot reach ${label}: ${(error as Error).message.split("\n")[0]}`);
  }
  if (chainId !== expected) {
    throw new VerificationError("commitment", `the envelope commits to chain ${expected}, but ${label} is chain ${chainId}`, String(expected), String(chainId));
  }
  return { client, chainId, label };
}

/** The contract must have code. */
export async function assertContract(h: ChainHandle, contract: Address): Promise<void> {
  const code = await h.client.getCode({ address: contract });
  if (!code || code === "0x") throw new VerificationError("commitment", `no contract at ${contract} on chain ${h.chainId}`);
}

/**
 * Reads one batch and checks its root; throws for a missing batch, another root, Slashed or
 * Expired. Submitted and Disputed come back (the caller decides: "unverified").
 */
export async function readBatch(h: ChainHandle, contract: Address, batchId: bigint, root: string): Promise<ChainBatch> {
  let onChainRoot: Hex;
  let state: number;
  try {
    onChainRoot = (await h.client.readContract({ address: contract, abi: batchManagerAbi, functionName: "batchRoot", args: [batchId] })) as Hex;
    state = ((await h.client.readContract({ address: contract, abi: batchManagerAbi, functionName: "getBatch", args: [batchId] })) as { state: number }).state;
  } catch (error) {
    throw new VerificationError("commitment", `${contract} does not answer as a BatchManager: ${(error as Error).message.split("\n")[0]}`);
  }
  const name = BATCH_STATES[state] ?? `state ${state}`;
  const where = `batch ${batchId} of ${contract} on chain ${h.chainId}`;
  if (state === 0) throw new VerificationError("commitment", `${where} does not exist`);
  if (onChainRoot.toLowerCase() !== root.toLowerCase()) throw new VerificationError("commitment", `${where} committed another root`, root, onChainRoot);
  if (name === "Slashed") throw new VerificationError("commitment", `${where} was slashed: a dispute over it was upheld`);
  if (name === "Expired") throw new VerificationError("commitment", `${where} expired: no quorum of operators ever attested it`);
  return { batchId, root: onChainRoot, state: name, where };
}

export const isDecided = (state: string) => state === "Attested" || state === "Cleared" || state === "Finalized";

/**
 * vb.envelope/1's single-batch commitment: the batch is checked as before, but the result is
 * never more than "unverified", since nothing in a v1 envelope shows its responses are in it.
 */
export async function checkCommitment(commitment: Commitment, chain: string | PublicClient): Promise<CheckResult> {
  const h = await connectChain(chain, commitment.chain_id);
  const contract = commitment.contract as Address;
  await assertContract(h, contract);
  const b = await readBatch(h, contract, BigInt(commitment.batch_id), commitment.root);
  const state = isDecided(b.state) ? b.state : `${b.state} (not attested yet)`;
  return {
    check: "commitment",
    result: "unverified",
    detail: `${b.where}: root matches, ${state}; but this vb.envelope/1 records no proof-record ids in its traces, so nothing shows that its responses are leaves of that batch`,
  };
}
