/**
 * A response's receipt: the checks anyone holding one response (or just its proof record id) runs
 * to learn whether it is a leaf of a batch the network attested. `vb receipt` runs them from the
 * command line and the explorer's "check a response" view runs them in the browser; each brings
 * its own I/O (HTTP to the prover, reads of the chain), the logic is this one.
 *
 *   1. the prover's record: GET /v1/records/:id names its batch and leaf index (or none yet);
 *   2. the prover's batch: GET /v1/batches/:id says which on-chain batch it was committed as;
 *   3. the leaf: GET /v1/batches/:id/leaves/:index gives the record and its Merkle proof;
 *   4. the leaf hash is recomputed from the record (protocol/merkle), and must be the one the
 *      response and the prover name;
 *   5. the proof must lead from that leaf to the root the CHAIN holds for the batch (the root the
 *      prover serves is never used);
 *   6. the batch's on-chain state decides: Attested/Cleared or Finalized is valid, the rest say
 *      why not (pending, disputed, slashed, expired).
 *
 * Only what the chain says is trusted: a prover that lies about batch ids, roots or proofs ends
 * in "not-included", never in "valid".
 */
import type { Hex } from "viem";
import { batchStanding, type BatchStateName } from "./contracts/states.ts";
import { hashInferenceLeaf } from "./merkle/leaf.ts";
import { parseLeafResponse, RECORD_ID_PATTERN } from "./merkle/leaf-response.ts";
import { processMerkleProof } from "./merkle/tree.ts";
import { FieldError } from "./errors.ts";

export type ReceiptStatus = "valid" | "pending" | "disputed" | "slashed" | "expired" | "not-included";

/** Exit codes of `vb receipt` and `vb root`, one per status. */
export const RECEIPT_EXIT_CODES: Readonly<Record<ReceiptStatus, number>> = Object.freeze({
  valid: 0,
  pending: 3,
  disputed: 4,
  slashed: 5,
  expired: 6,
  "not-included": 7,
});

export interface ReceiptStep {
  check: string;
  /** true passed, false failed, null not decided yet (e.g. the batch is not on chain yet). */
  ok: boolean | null;
  detail: string;
}

export interface Receipt {
  status: ReceiptStatus;
  /** One sentence: why this status. */
  reason: string;
  recordId: string;
  steps: ReceiptStep[];
  leafHash?: Hex;
  /** The prover's own batch id and the leaf's index in it. */
  proverBatch?: { id: number; index: number; leafCount?: number };
  /** The on-chain batch, as read from the chain. */
  onchain?: { batchId: string; root: Hex; state: BatchStateName };
}

/** A bad record id or response: the input, not the network. */
export class ReceiptInputError extends FieldError {
  override name = "ReceiptInputError";
}

/** An HTTP answer other than 2xx from the prover (status 404 means "not there"). */
export class ProverHttpError extends Error {
  override name = "ProverHttpError";
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`GET ${url}: HTTP ${status}`);
  }
}

export interface ReceiptIO {
  /** GET a JSON document from the prover; throws ProverHttpError for a non-2xx answer. */
  getJson(url: string): Promise<unknown>;
  /** The chain's record of batch `batchId` (state "None" when it does not exist). */
  readBatch(batchId: bigint): Promise<{ root: Hex; state: BatchStateName }>;
  /** The chain and BatchManager the reads go to, to match the prover's commitment receipt. */
  chainId: number;
  batchManager: Hex;
}

export interface ReceiptRequest {
  /** The prover's base URL (its data endpoint), e.g. http://127.0.0.1:8000. */
  proverUrl: string;
  /** A proof record id, or the response JSON (OpenAI body with the `proof` extension). */
  response: string | Record<string, unknown>;
}

/** The record id and, from a full response, what it claims about its leaf. */
export function receiptSubject(response: ReceiptRequest["response"]): { recordId: string; leafHash?: string; proofs?: string[] } {
  if (typeof response === "string") {
    const id = response.trim();
    if (!RECORD_ID_PATTERN.test(id)) throw new ReceiptInputError(`record id must look like rec_ followed by 32 hex digits, got ${JSON.stringify(id.slice(0, 80))}`, "recordId");
    return { recordId: id };
  }
  const proof = response.proof as Record<string, unknown> | undefined;
  if (typeof proof !== "object" || proof === null) throw new ReceiptInputError("the response has no `proof` field (is it a response of a proving server?)", "proof");
  const recordId = proof.record_id;
  if (typeof recordId !== "string" || !RECORD_ID_PATTERN.test(recordId)) throw new ReceiptInputError("proof.record_id must look like rec_ followed by 32 hex digits", "proof.record_id");
  const toploc = proof.toploc as Record<string, unknown> | undefined;
  const proofs = Array.isArray(toploc?.proofs) && toploc.proofs.every((p) => typeof p === "string") ? (toploc.proofs as string[]) : undefined;
  return { recordId, ...(typeof proof.leaf_hash === "string" ? { leafHash: proof.leaf_hash } : {}), ...(proofs ? { proofs } : {}) };
}

/** Parses text a user pasted: a record id, or a response JSON document. */
export function parseReceiptInput(text: string): ReceiptRequest["response"] {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) return trimmed;
  try {
    return JSON.parse(trimmed) as Record<string, unknown>;
  } catch (error) {
    throw new ReceiptInputError(`the pasted response is not valid JSON: ${(error as Error).message}`, "response");
  }
}

const STATUS_OF_STANDING = {
  attested: "valid",
  finalized: "valid",
  pending: "pending",
  disputed: "disputed",
  slashed: "slashed",
  expired: "expired",
  unknown: "not-included",
} as const satisfies Record<string, ReceiptStatus>;

export async function checkReceipt(request: ReceiptRequest, io: ReceiptIO): Promise<Receipt> {
  const subject = receiptSubject(request.response);
  const base = request.proverUrl.replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/]+/.test(base)) throw new ReceiptInputError(`prover URL must be http(s)://host[:port], got ${JSON.stringify(request.proverUrl)}`, "proverUrl");
  const steps: ReceiptStep[] = [];
  const receipt = (status: ReceiptStatus, reason: string, extra: Partial<Receipt> = {}): Receipt => ({ status, reason, recordId: subject.recordId, steps, ...extra });
  const notFound = async <T>(url: string): Promise<T | undefined> => {
    try {
      return (await io.getJson(url)) as T;
    } catch (error) {
      if (error instanceof ProverHttpError && error.status === 404) return undefined;
      throw error;
    }
  };

  // 1. The record and where the prover says it is.
  const record = await notFound<Record<string, unknown>>(`${base}/v1/records/${subject.recordId}`);
  if (!record) {
    steps.push({ check: "record", ok: false, detail: `the prover has no record ${subject.recordId}` });
    return receipt("not-included", `the prover at ${base} has no record ${subject.recordId}`);
  }
  if (subject.leafHash !== undefined && record.leaf_hash !== subject.leafHash) {
    steps.push({ check: "record", ok: false, detail: `the response names leaf ${subject.leafHash}, the prover's record ${String(record.leaf_hash)}` });
    return receipt("not-included", "the prover's record is not the one this response names");
  }
  const location = record.batch as { id?: unknown; index?: unknown } | null | undefined;
  if (!location || typeof location.id !== "number" || typeof location.index !== "number") {
    steps.push({ check: "record", ok: null, detail: "served, waiting for its batch to close" });
    return receipt("pending", "the response is recorded but its batch has not closed yet");
  }
  const proverBatch = { id: location.id, index: location.index };
  steps.push({ check: "record", ok: true, detail: `leaf ${proverBatch.index} of the prover's batch ${proverBatch.id}` });

  // 2. Which on-chain batch the prover committed it as.
  const batch = (await io.getJson(`${base}/v1/batches/${proverBatch.id}`)) as Record<string, unknown>;
  const commitment = (batch.commitment as Record<string, unknown> | undefined)?.receipt as Record<string, unknown> | null | undefined;
  if (batch.status !== "committed" || !commitment || typeof commitment.onchainBatchId !== "string" || !/^[0-9]{1,20}$/.test(commitment.onchainBatchId)) {
    steps.push({ check: "commitment", ok: null, detail: `the prover's batch ${proverBatch.id} is ${String(batch.status)}, not on chain yet` });
    return receipt("pending", `the batch is closed but not committed on chain yet (${String(batch.status)})`, { proverBatch });
  }
  if (Number(commitment.chainId) !== io.chainId || String(commitment.contract).toLowerCase() !== io.batchManager.toLowerCase()) {
    steps.push({ check: "commitment", ok: false, detail: `committed to chain ${String(commitment.chainId)} contract ${String(commitment.contract)}, not chain ${io.chainId} contract ${io.batchManager}` });
    return receipt("not-included", "the prover committed this batch to another chain or contract than the one checked", { proverBatch });
  }
  const onchainId = BigInt(commitment.onchainBatchId);
  steps.push({ check: "commitment", ok: true, detail: `the prover says: on-chain batch ${onchainId}` });

  // 3-4. The leaf, re-encoded here.
  const leafJson = await notFound<unknown>(`${base}/v1/batches/${proverBatch.id}/leaves/${proverBatch.index}`);
  if (leafJson === undefined) {
    steps.push({ check: "leaf", ok: false, detail: "the prover does not serve the leaf" });
    return receipt("not-included", "the prover does not serve the leaf it named", { proverBatch });
  }
  let leaf: ReturnType<typeof parseLeafResponse>;
  let leafHash: Hex;
  try {
    leaf = parseLeafResponse(leafJson);
    leafHash = hashInferenceLeaf(leaf.record);
  } catch (error) {
    steps.push({ check: "leaf", ok: false, detail: `the prover served a malformed leaf: ${(error as Error).message}` });
    return receipt("not-included", "the prover's leaf does not even encode to a leaf", { proverBatch });
  }
  if (leafHash !== String(record.leaf_hash).toLowerCase()) {
    steps.push({ check: "leaf hash", ok: false, detail: `the served record encodes to ${leafHash}, the prover names ${String(record.leaf_hash)}` });
    return receipt("not-included", "the served leaf is not the record's", { proverBatch, leafHash });
  }
  if (subject.proofs && (subject.proofs.length !== leaf.record.proofs.length || subject.proofs.some((p, i) => !sameBytes(base64Bytes(p, `proof.toploc.proofs[${i}]`), leaf.record.proofs[i]!)))) {
    steps.push({ check: "leaf hash", ok: false, detail: "the response's TOPLOC proofs differ from the committed record's" });
    return receipt("not-included", "the committed record carries other proofs than this response", { proverBatch, leafHash });
  }
  steps.push({ check: "leaf hash", ok: true, detail: `recomputed ${leafHash}` });

  // 5. The proof against the chain's root.
  const onchain = await io.readBatch(onchainId);
  if (onchain.state === "None") {
    steps.push({ check: "on-chain root", ok: false, detail: `no batch ${onchainId} on chain ${io.chainId}` });
    return receipt("not-included", `there is no batch ${onchainId} on chain`, { proverBatch, leafHash });
  }
  const reached = processMerkleProof(leaf.merkleProof, leafHash);
  const onchainView = { batchId: onchainId.toString(), root: onchain.root, state: onchain.state };
  if (reached.toLowerCase() !== onchain.root.toLowerCase()) {
    steps.push({ check: "on-chain root", ok: false, detail: `the Merkle proof leads to ${reached}, the chain's root of batch ${onchainId} is ${onchain.root}` });
    return receipt("not-included", `the leaf is not in on-chain batch ${onchainId}`, { proverBatch, leafHash, onchain: onchainView });
  }
  steps.push({ check: "on-chain root", ok: true, detail: `the Merkle proof (${leaf.merkleProof.length} hashes) opens batch ${onchainId}'s root ${onchain.root}` });

  // 6. What the network concluded about the batch.
  const status = STATUS_OF_STANDING[batchStanding(onchain.state)];
  const reasons: Record<ReceiptStatus, string> = {
    valid: `the response is leaf ${proverBatch.index} of on-chain batch ${onchainId}, which is ${onchain.state}`,
    pending: `the response is in on-chain batch ${onchainId}, which no quorum has attested yet (Submitted)`,
    disputed: `the response is in on-chain batch ${onchainId}, which is disputed`,
    slashed: `the response is in on-chain batch ${onchainId}, which was slashed: a dispute found fraud`,
    expired: `the response is in on-chain batch ${onchainId}, which expired without a quorum attesting it`,
    "not-included": `on-chain batch ${onchainId} is in an unknown state`,
  };
  steps.push({ check: "batch state", ok: status === "valid" ? true : status === "pending" || status === "disputed" ? null : false, detail: onchain.state });
  return receipt(status, reasons[status], { proverBatch, leafHash, onchain: onchainView });
}

function base64Bytes(text: string, field: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new ReceiptInputError(`${field} is not base64`, field);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
