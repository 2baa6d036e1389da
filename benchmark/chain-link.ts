/**
 * The link from an envelope's measured responses to what the network attested.
 *
 * At run time (`vb run --link-batches`): every traced response carries the proof-record id and
 * leaf hash its endpoint returned (the project's prover: x-proof-record and the stream's proof
 * extension). The run asks the prover's data endpoint where each record went (GET
 * /v1/records/:id: its batch and leaf index, once the batch closed) and which on-chain batch that
 * is (GET /v1/batches/:id: the commitment receipt), waiting up to --link-timeout for batches to
 * close and be committed; the envelope's commitment then names every on-chain batch and root,
 * and each trace line its batch id and leaf index. Nothing the prover says here is trusted: it
 * only tells verify where to look.
 *
 * At verify time (`vb verify --rpc-url`): each named batch is read on chain (root, state), its
 * data URI comes from its BatchSubmitted event (what operators fetched), and a seeded sample of
 * the traced responses (all of them with --all) must each be a proven leaf of one of them: the
 * leaf the data endpoint serves at the traced index re-encodes to the traced leaf hash, names
 * the traced record, has the traced output-token count, and its Merkle proof opens the ON-CHAIN
 * root. The first response (by seq) that fails is named. A data URI from the chain is the
 * prover's choice: it is fetched under the untrusted-URL policy (runtime/untrusted-fetch.ts:
 * public addresses only unless --allow-private-network names a CIDR block, no redirects, the
 * body streamed and cut at 8 MiB, one deadline).
 */
import { parseLeafResponse } from "../protocol/merkle/leaf-response.ts";
import type { Address, Hex, PublicClient } from "viem";
import { batchManagerAbi } from "../protocol/contracts/abis.ts";
import { VerificationError } from "../protocol/envelope/errors.ts";
import type { CommitmentV2, CommittedBatch } from "../protocol/envelope/schema.ts";
import type { TraceLine } from "../protocol/envelope/traces.ts";
import type { CheckResult } from "../protocol/envelope/verify.ts";
import { hashInferenceLeaf, verifyMerkleProof, type InferenceRecord } from "../protocol/merkle/index.ts";
import { assertContract, connectChain, isDecided, readBatch, type ChainBatch, type ChainHandle } from "./commitment.ts";
import { RunFailedError } from "./errors.ts";
import { shuffled } from "./rng.ts";
import { UntrustedFetcher, UntrustedFetchError } from "../runtime/untrusted-fetch.ts";

const FETCH_TIMEOUT_MS = 10_000;
const MAX_BODY = 8 << 20;
const PARALLEL = 8;
const POLL_MS = 250;

class DataEndpointError extends Error {
  override name = "DataEndpointError";
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: "application/json" }, redirect: "error" });
  } catch (e) {
    throw new DataEndpointError(`GET ${url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (text.length > MAX_BODY) throw new DataEndpointError(`GET ${url}: a body of ${text.length} bytes is larger than ${MAX_BODY}`);
  if (!res.ok) throw new DataEndpointError(`GET ${url}: HTTP ${res.status}`);
  try {
    const doc = JSON.parse(text) as unknown;
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new Error("not an object");
    return doc as Record<string, unknown>;
  } catch (e) {
    throw new DataEndpointError(`GET ${url}: not a JSON object (${(e as Error).message})`);
  }
}

/** getJson for a URL someone else chose (an on-chain data URI), under the fetch policy. */
async function getUntrustedJson(url: string, fetcher: UntrustedFetcher): Promise<Record<string, unknown>> {
  let doc: unknown;
  try {
    doc = await fetcher.getJson(url, { field: "dataURI" });
  } catch (e) {
    if (e instanceof UntrustedFetchError) throw new DataEndpointError(e.message);
    throw e;
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new DataEndpointError(`GET ${url}: not a JSON object`);
  return doc as Record<string, unknown>;
}

/** Runs `fn` over `items`, at most PARALLEL at a time, in order of results. */
async function mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

const HEX32 = /^0x[0-9a-f]{64}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;

interface LocalBatch {
  chainId: number;
  contract: string;
  batchId: string;
  root: string;
}

export interface LinkOptions {
  /** The prover's API root (its data endpoint lives beside the completions: /records, /batches). */
  dataUrl: string;
  timeoutMs: number;
  onProgress?: (linked: number, total: number) => void;
}

/**
 * Fills each traced response's proof.batch_id and leaf_index, and returns the commitment that
 * names the on-chain batches they went into. Throws RunFailedError when a response has no proof
 * record, or when not every record is in a committed batch before the timeout.
 */
export async function linkResponses(requests: TraceLine[], o: LinkOptions): Promise<CommitmentV2> {
  const base = o.dataUrl.replace(/\/+$/, "");
  const fail = (message: string) => new RunFailedError(message, "--link-batches", "linking");
  const ok = requests.filter((r) => r.ok);
  const missing = ok.find((r) => r.proof === null || r.proof.leaf_hash === null);
  if (missing) throw fail(`response seq ${missing.seq} carries no proof record and leaf hash, so it cannot be linked to a batch`);
  const pending = new Set(ok);
  const local = new Map<number, LocalBatch | string>(); // local batch id -> resolved, or why not yet
  const located = new Map<TraceLine, { batch: number; index: number }>();
  const deadline = Date.now() + o.timeoutMs;
  let lastReason = "";
  for (;;) {
    await mapLimited([...pending].filter((r) => !located.has(r)), async (r) => {
      const rec = await getJson(`${base}/records/${encodeURIComponent(r.proof!.record_id)}`).catch((e: Error) => ({ error: e.message }));
      if ("error" in rec) return void (lastReason = String(rec.error));
      if (rec.leaf_hash !== r.proof!.leaf_hash) throw fail(`the prover's record ${r.proof!.record_id} has leaf hash ${String(rec.leaf_hash)}, but response seq ${r.seq} carried ${r.proof!.leaf_hash}`);
      const at = rec.batch as { id?: unknown; index?: unknown } | null | undefined;
      if (at && Number.isInteger(at.id) && Number.isInteger(at.index)) located.set(r, { batch: at.id as number, index: at.index as number });
      else lastReason = `record ${r.proof!.record_id} is not in a closed batch yet`;
    });
    const wanted = [...new Set([...located.values()].map((l) => l.batch))].filter((id) => typeof local.get(id) !== "object");
    await mapLimited(wanted, async (id) => {
      const b = await getJson(`${base}/batches/${id}`).catch((e: Error) => ({ error: e.message }));
      if ("error" in b) return void local.set(id, String(b.error));
      const receipt = (b.commitment as { receipt?: Record<string, unknown> | null } | undefined)?.receipt;
      if (b.status !== "committed" || !receipt || receipt.status !== "committed") {
        return void local.set(id, `the prover's batch ${id} is ${String(b.status)}${(b.commitment as { last_error?: unknown })?.last_error ? ` (${String((b.commitment as { last_error?: unknown }).last_error)})` : ""}`);
      }
      const { chainId, contract, onchainBatchId } = receipt as { chainId?: unknown; contract?: unknown; onchainBatchId?: unknown };
      if (!Number.isInteger(chainId) || typeof contract !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(contract) || typeof onchainBatchId !== "string" || !DECIMAL.test(onchainBatchId) || typeof b.root !== "string" || !HEX32.test(b.root)) {
        throw fail(`the prover's batch ${id} has a malformed commitment receipt`);
      }
      local.set(id, { chainId: chainId as number, contract: contract.toLowerCase(), batchId: onchainBatchId, root: b.root });
    });
    for (const r of [...pending]) {
      const at = located.get(r);
      const batch = at === undefined ? undefined : local.get(at.batch);
      if (at && typeof batch === "object") {
        r.proof!.batch_id = batch.batchId;
        r.proof!.leaf_index = at.index;
        pending.delete(r);
      } else if (typeof batch === "string") lastReason = batch;
    }
    o.onProgress?.(ok.length - pending.size, ok.length);
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      const first = [...pending].sort((a, b) => a.seq - b.seq)[0]!;
      throw fail(
        `${pending.size} of ${ok.length} responses were not in a batch committed on chain after ${o.timeoutMs / 1000} s ` +
          `(first: response seq ${first.seq}, record ${first.proof!.record_id}; last seen: ${lastReason}); the prover closes batches by count or age ` +
          `(batch.maxRecords, batch.maxAgeMs) and commits them when it has a chain (--rpc-url); raise --link-timeout to wait longer`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const resolved = [...new Set([...located.values()].map((l) => l.batch))].map((id) => local.get(id) as LocalBatch);
  const chains = new Set(resolved.map((b) => `${b.chainId}:${b.contract}`));
  if (chains.size > 1) throw fail(`the responses went into batches on more than one chain or contract (${[...chains].join(", ")}); an envelope commits to one`);
  const counts = new Map<string, CommittedBatch>();
  for (const r of ok) {
    const b = resolved.find((x) => x.batchId === r.proof!.batch_id)!;
    const entry = counts.get(b.batchId) ?? { batch_id: b.batchId, root: b.root, responses: 0 };
    entry.responses++;
    counts.set(b.batchId, entry);
  }
  return {
    chain_id: resolved[0]!.chainId,
    contract: resolved[0]!.contract,
    batches: [...counts.values()].sort((a, b) => (BigInt(a.batch_id) < BigInt(b.batch_id) ? -1 : 1)),
  };
}

// ------------------------------------------------------------------------------------- verify

export interface ChainLinkOptions {
  /** How many traced responses to check (default 16); ignored with `all`. */
  sample?: number;
  all?: boolean;
  /** Seed of the sample (default: from the envelope's content hash, so a rerun checks the same ones). */
  seed?: number;
  /** Replaces the scheme, host and port of the batches' on-chain data URIs (a prover that moved). */
  dataUrl?: string;
  /** CIDR blocks of non-public addresses an on-chain data URI may point at (default none). */
  allowPrivateNetworks?: readonly string[];
}

/** Parses the data endpoint's leaf record into what hashInferenceLeaf encodes (the parser operators use); throws naming the field. */
function leafRecord(doc: Record<string, unknown>): { record: InferenceRecord; id: unknown; outputCount: number } {
  let parsed;
  try {
    parsed = parseLeafResponse(doc);
  } catch (error) {
    throw new DataEndpointError(`the leaf is malformed: ${(error as Error).message}`);
  }
  return { id: (doc.record as Record<string, unknown>).id, outputCount: parsed.record.outputTokens.length, record: parsed.record };
}

/** The batch's data URI from its BatchSubmitted event. */
async function dataUriOf(h: ChainHandle, contract: Address, batchId: bigint): Promise<string> {
  const logs = await h.client.getContractEvents({ address: contract, abi: batchManagerAbi, eventName: "BatchSubmitted", args: { batchId }, fromBlock: 0n, toBlock: "latest" });
  const uri = (logs[0]?.args as { dataURI?: string } | undefined)?.dataURI;
  if (!uri) throw new VerificationError("commitment", `no BatchSubmitted event names batch ${batchId} on chain ${h.chainId}: its data URI is unknown`);
  // The prover chose this URI: fetch it only over http(s), never file:, data: or anything else.
  let scheme: string;
  try {
    scheme = new URL(uri).protocol;
  } catch {
    scheme = "";
  }
  if (scheme !== "http:" && scheme !== "https:") throw new VerificationError("commitment", `batch ${batchId}'s on-chain data URI is not an http(s) URL: ${JSON.stringify(uri.slice(0, 200))}`);
  return uri;
}

function withOrigin(uri: string, origin: string | undefined): string {
  if (!origin) return uri;
  const u = new URL(uri);
  const o = new URL(origin);
  u.protocol = o.protocol;
  u.host = o.host;
  return u.toString().replace(/\/+$/, "");
}

/** Picks the traced responses to check: a seeded sample of the successful ones, in seq order. */
export function sampleResponses(traces: readonly TraceLine[], o: ChainLinkOptions, defaultSeed: number): TraceLine[] {
  const ok = traces.filter((t) => t.ok);
  const chosen = o.all ? ok : shuffled(ok, o.seed ?? defaultSeed).slice(0, o.sample ?? 16);
  return chosen.sort((a, b) => a.seq - b.seq);
}

/**
 * Checks a vb.envelope/2 commitment: every named batch on chain, then the sampled responses as
 * proven leaves. Returns "pass" when all batches are attested and every sampled response is in
 * one; "unverified" when a batch is not attested yet; throws VerificationError("commitment")
 * naming the first response that is not a proven leaf of the named batches.
 */
export async function checkCommitmentV2(commitment: CommitmentV2, traces: readonly TraceLine[], chain: string | PublicClient, contentHash: string, o: ChainLinkOptions = {}): Promise<CheckResult> {
  const h = await connectChain(chain, commitment.chain_id);
  const contract = commitment.contract as Address;
  await assertContract(h, contract);
  const batches = new Map<string, ChainBatch & { dataUri: string }>();
  for (const b of commitment.batches) {
    const onChain = await readBatch(h, contract, BigInt(b.batch_id), b.root);
    batches.set(b.batch_id, { ...onChain, dataUri: withOrigin(await dataUriOf(h, contract, onChain.batchId), o.dataUrl) });
  }
  const seed = o.seed ?? Number.parseInt(contentHash.slice(0, 8), 16);
  const sample = sampleResponses(traces, o, seed);
  if (sample.length === 0) throw new VerificationError("commitment", "the traces hold no successful response to check against the named batches");
  const named = [...batches.keys()].join(", ");
  const fetcher = new UntrustedFetcher({ allowPrivateNetworks: o.allowPrivateNetworks ?? [], maxBytes: MAX_BODY, timeoutMs: FETCH_TIMEOUT_MS, maxRedirects: 0 });
  const results = await mapLimited(sample, async (t): Promise<string | null> => {
    const who = `response seq ${t.seq}${t.proof ? ` (record ${t.proof.record_id})` : ""}`;
    if (!t.proof || t.proof.leaf_hash === null) return `${who} carries no proof record and leaf hash`;
    if (t.proof.batch_id === null || t.proof.leaf_index === null) return `${who} was never linked to a batch`;
    const b = batches.get(t.proof.batch_id);
    if (!b) return `${who} went into batch ${t.proof.batch_id}, which the commitment does not name (it names ${named})`;
    try {
      // An origin the verifier named (--data-url) is its own choice; an on-chain one is the prover's.
      const url = `${b.dataUri}/leaves/${t.proof.leaf_index}`;
      const leaf = o.dataUrl ? await getJson(url) : await getUntrustedJson(url, fetcher);
      const { record, id, outputCount } = leafRecord(leaf);
      const hash = hashInferenceLeaf(record);
      if (hash !== t.proof.leaf_hash) return `${who}: leaf ${t.proof.leaf_index} of batch ${b.batchId} encodes to ${hash}, not the traced leaf hash ${t.proof.leaf_hash}`;
      if (id !== t.proof.record_id) return `${who}: leaf ${t.proof.leaf_index} of batch ${b.batchId} is record ${String(id)}`;
      if (t.token_source === "server_usage" && outputCount !== t.output_tokens) return `${who}: the leaf holds ${outputCount} output tokens, the response reported ${t.output_tokens}`;
      const proof = leaf.merkle_proof;
      if (!Array.isArray(proof) || !proof.every((p) => typeof p === "string" && HEX32.test(p.toLowerCase()))) return `${who}: leaf ${t.proof.leaf_index} of batch ${b.batchId} has a malformed Merkle proof`;
      if (!verifyMerkleProof(proof as Hex[], b.root, hash)) return `${who}: leaf ${hash} does not open the on-chain root ${b.root} of batch ${b.batchId}`;
      return null;
    } catch (e) {
      return `${who}: ${(e as Error).message}`;
    }
  });
  const firstBad = results.findIndex((r) => r !== null);
  if (firstBad >= 0) throw new VerificationError("commitment", `${results[firstBad]}: not a proven leaf of the named batches`);
  const how = o.all ? `all ${sample.length}` : `${sample.length} (seeded sample, seed ${seed})`;
  const pendingBatch = [...batches.values()].find((b) => !isDecided(b.state));
  const where = `${commitment.batches.length} batch(es) ${named} of ${contract} on chain ${h.chainId}`;
  if (pendingBatch) {
    return { check: "commitment", result: "unverified", detail: `${how} of ${traces.filter((t) => t.ok).length} traced responses are proven leaves of ${where}, but batch ${pendingBatch.batchId} is ${pendingBatch.state} (not attested yet)` };
  }
  return { check: "commitment", result: "pass", detail: `${how} of ${traces.filter((t) => t.ok).length} traced responses are proven leaves of ${where}: ${[...batches.values()].map((b) => `${b.batchId} ${b.state}`).join(", ")}` };
}
