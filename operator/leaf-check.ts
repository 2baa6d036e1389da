/**
 * Checking one leaf of a committed batch: fetch it from the prover's data endpoint, re-encode the
 * record into its leaf hash, prove its inclusion against the ON-CHAIN root (never the root the
 * prover serves), then recompute the inference with our own engine and compare TOPLOC proofs.
 *
 * Outcomes:
 *   valid       the leaf is in the batch and the proofs match our recomputation
 *   fraud       the leaf is in the batch but does not hold up (other model, tokens the model
 *               cannot produce, proofs that do not match): disputable on chain
 *   unavailable the prover did not serve a leaf that opens the root (cannot be disputed on
 *               chain, but the batch must not be attested)
 *   unsupported the leaf names a model this operator does not run
 */
import { keccak256, toHex, type Hex } from "viem";
import {
  hashInferenceLeaf,
  hashModelId,
  inferenceLeafFields,
  verifyMerkleProof,
  type InferenceLeafFields,
  type InferenceRecord,
} from "../protocol/merkle/index.ts";
import type { Engine } from "../prover/engine/index.ts";
import { FieldError } from "../protocol/errors.ts";
import { UntrustedFetchError, type UntrustedFetcher } from "../runtime/untrusted-fetch.ts";

export type LeafOutcome = "valid" | "fraud" | "unavailable" | "unsupported";

export interface OnchainBatch {
  batchId: bigint;
  root: Hex;
  modelId: Hex;
  leafCount: number;
  dataURI: string;
}

export interface LeafCheck {
  index: number;
  outcome: LeafOutcome;
  reason: string;
  leafHash?: Hex;
  fields?: InferenceLeafFields;
  merkleProof?: Hex[];
  /** keccak256 of the recomputation summary: openDispute's evidence. */
  evidence?: Hex;
  timings: { fetchMs: number; recomputeMs: number };
}

export interface FetchedLeaf {
  index: number;
  parsed?: { record: InferenceRecord; merkleProof: Hex[] };
  error?: string;
  /** The fetch policy refused the URL itself (scheme, address, cross-host redirect): trying again cannot help. */
  refusedByPolicy?: boolean;
  fetchMs: number;
}

export class LeafFormatError extends FieldError {
  override name = "LeafFormatError";
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/;

/** Parses the data endpoint's leaf response; throws LeafFormatError naming the bad field. */
export function parseLeafResponse(json: unknown): { record: InferenceRecord; merkleProof: Hex[] } {
  const body = object(json, "leaf");
  const proof = body.merkle_proof;
  if (!Array.isArray(proof) || proof.some((p) => typeof p !== "string" || !HEX32.test(p))) fail("merkle_proof", "must be an array of bytes32 hex");
  const r = object(body.record, "record");
  if (typeof r.model !== "string" || r.model === "") fail("record.model", "must be a non-empty string");
  const tokens = (value: unknown, field: string): number[] => {
    if (!Array.isArray(value) || value.some((t) => !Number.isInteger(t) || t < 0 || t > 0xffffffff)) fail(field, "must be an array of uint32");
    return value as number[];
  };
  const sampling = object(r.sampling, "record.sampling");
  const toploc = object(r.toploc, "record.toploc");
  if (typeof r.seed !== "string" || !/^[0-9]{1,20}$/.test(r.seed)) fail("record.seed", "must be a decimal string");
  const proofs = toploc.proofs;
  if (!Array.isArray(proofs) || proofs.length === 0 || proofs.some((p) => typeof p !== "string")) fail("record.toploc.proofs", "must be a non-empty array of base64 strings");
  const num = (value: unknown, field: string): number => {
    if (typeof value !== "number" || !Number.isFinite(value)) fail(field, "must be a number");
    return value as number;
  };
  return {
    merkleProof: proof as Hex[],
    record: {
      model: r.model as string,
      promptTokens: tokens(r.prompt_tokens, "record.prompt_tokens"),
      outputTokens: tokens(r.output_tokens, "record.output_tokens"),
      sampling: {
        temperature: num(sampling.temperature, "record.sampling.temperature"),
        topP: num(sampling.top_p, "record.sampling.top_p"),
        maxTokens: num(sampling.max_tokens, "record.sampling.max_tokens"),
      },
      seed: BigInt(r.seed as string),
      proofs: (proofs as string[]).map((p) => new Uint8Array(Buffer.from(p, "base64"))),
      proofParams: { topk: num(toploc.topk, "record.toploc.topk"), decodeBatchSize: num(toploc.decode_batch_size, "record.toploc.decode_batch_size") },
    },
  };
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(field, "must be an object");
  return value as Record<string, unknown>;
}
function fail(field: string, problem: string): never {
  throw new LeafFormatError(`${field} ${problem}`, field);
}

/** The URL of leaf `index` under a batch's data URI. */
export function leafUrl(dataURI: string, index: number): string {
  return `${dataURI.replace(/\/+$/, "")}/leaves/${index}`;
}

/**
 * GET a leaf (or any JSON) under the batch's data URI: the URI comes from the prover, so the
 * fetch runs under the operator's URL policy (runtime/untrusted-fetch.ts: public addresses
 * unless configured, same-host redirects, streamed size limit, one deadline).
 */
export async function fetchJson(url: string, fetcher: UntrustedFetcher): Promise<unknown> {
  return fetcher.getJson(url, { field: "dataURI" });
}

export interface LeafCheckerOptions {
  /**
   * TOPLOC proofs cover the hidden states of every fed token, so changing any output token but
   * the last changes what is recomputed. The last token is never fed back; "greedy" also checks
   * that, for temperature-0 leaves, it is the model's argmax after the rest (one more prefill).
   * Off by default: an argmax near-tie on different hardware would read as fraud.
   */
  finalTokenCheck?: "off" | "greedy";
}

export class LeafChecker {
  constructor(
    private readonly engine: Engine,
    private readonly fetcher: UntrustedFetcher,
    private readonly options: LeafCheckerOptions = {},
  ) {}

  async check(batch: OnchainBatch, index: number): Promise<LeafCheck> {
    return this.judge(batch, await this.fetch(batch, index));
  }

  /** Fetches and parses leaf `index` (no verdict yet); never throws. */
  async fetch(batch: OnchainBatch, index: number): Promise<FetchedLeaf> {
    const fetchStart = performance.now();
    try {
      const parsed = parseLeafResponse(await fetchJson(leafUrl(batch.dataURI, index), this.fetcher));
      return { index, parsed, fetchMs: performance.now() - fetchStart };
    } catch (error) {
      const refusedByPolicy = error instanceof UntrustedFetchError && ["url", "scheme", "address", "redirect"].includes(error.kind);
      return { index, error: `leaf not served: ${(error as Error).message}`, refusedByPolicy, fetchMs: performance.now() - fetchStart };
    }
  }

  /** Inclusion against the on-chain root, then recomputation with our engine. */
  async judge(batch: OnchainBatch, fetched: FetchedLeaf): Promise<LeafCheck> {
    const { index, fetchMs } = fetched;
    if (!fetched.parsed) return { index, outcome: "unavailable", reason: fetched.error ?? "leaf not served", timings: { fetchMs, recomputeMs: 0 } };
    const { record, merkleProof } = fetched.parsed;
    let leafHash: Hex;
    let fields: InferenceLeafFields;
    try {
      leafHash = hashInferenceLeaf(record);
      fields = inferenceLeafFields(record);
    } catch (error) {
      return { index, outcome: "unavailable", reason: `record does not encode to a leaf: ${(error as Error).message}`, timings: { fetchMs, recomputeMs: 0 } };
    }
    if (!verifyMerkleProof(merkleProof, batch.root, leafHash)) {
      return { index, outcome: "unavailable", reason: `leaf ${leafHash} does not open the on-chain root ${batch.root}`, timings: { fetchMs, recomputeMs: 0 } };
    }
    const base = { index, leafHash, fields, merkleProof };
    const fraud = (reason: string, recomputeMs = 0): LeafCheck => ({
      ...base,
      outcome: "fraud",
      reason,
      evidence: keccak256(toHex(JSON.stringify({ batchId: batch.batchId.toString(), index, leafHash, reason }))),
      timings: { fetchMs, recomputeMs },
    });
    if (hashModelId(record.model) !== batch.modelId.toLowerCase()) return fraud(`leaf names model ${record.model}, not the batch's model id ${batch.modelId}`);
    if (record.model !== this.engine.info.modelId) {
      return { ...base, outcome: "unsupported", reason: `this operator runs ${this.engine.info.modelId}, the leaf names ${record.model}`, timings: { fetchMs, recomputeMs: 0 } };
    }
    const recomputeStart = performance.now();
    try {
      const verdict = await this.engine.verify(record.promptTokens as number[], record.outputTokens as number[], record.proofs);
      if (!verdict.accepted) {
        const recomputeMs = performance.now() - recomputeStart;
        const failed = verdict.chunks.map((c, i) => (c.accepted ? undefined : `chunk ${i}: exp mismatches ${c.expMismatches}, mantissa mean ${c.mantErrMean}, median ${c.mantErrMedian}`)).filter(Boolean);
        return fraud(`TOPLOC proofs do not match the recomputation (${failed.join("; ") || "proof count"})`, recomputeMs);
      }
      const finalToken = await this.checkFinalToken(record);
      if (finalToken) return fraud(finalToken, performance.now() - recomputeStart);
      return { ...base, outcome: "valid", reason: "proofs match", timings: { fetchMs, recomputeMs: performance.now() - recomputeStart } };
    } catch (error) {
      // The record is committed but our model cannot even run it (tokens outside the vocabulary,
      // too long for the context, malformed proofs): the claimed model did not produce it.
      return fraud(`recomputation refused the record: ${(error as Error).message}`, performance.now() - recomputeStart);
    }
  }

  /** A reason when the final token is not the greedy choice (greedy leaves, check enabled). */
  private async checkFinalToken(record: InferenceRecord): Promise<string | undefined> {
    if (this.options.finalTokenCheck !== "greedy" || record.sampling.temperature !== 0) return undefined;
    const output = record.outputTokens as number[];
    const claimed = output[output.length - 1]!;
    let chosen: number | undefined;
    try {
      const next = await this.engine.generate({
        promptTokens: [...(record.promptTokens as number[]), ...output.slice(0, -1)],
        temperature: 0, topP: 1, maxTokens: 1, seed: record.seed, prove: false,
      });
      chosen = next.outputTokens[0];
    } catch {
      return undefined; // e.g. no room left in the context for one more step: nothing to compare
    }
    return chosen === claimed ? undefined : `final output token ${claimed} is not the model's greedy choice ${chosen} after the others`;
  }
}
