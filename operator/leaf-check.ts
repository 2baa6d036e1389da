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
import { parseLeafResponse } from "../protocol/merkle/leaf-response.ts";
import type { Engine } from "../prover/engine/index.ts";

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
  fetchMs: number;
}

// The leaf response's parser is shared with `vb receipt` and the explorer's browser check.
export { LeafFormatError, parseLeafResponse } from "../protocol/merkle/leaf-response.ts";

/** The URL of leaf `index` under a batch's data URI. */
export function leafUrl(dataURI: string, index: number): string {
  return `${dataURI.replace(/\/+$/, "")}/leaves/${index}`;
}

export async function fetchJson(url: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  const text = await response.text();
  if (text.length > 16 << 20) throw new Error(`GET ${url}: response of ${text.length} bytes is too large`);
  return JSON.parse(text);
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
    private readonly fetchTimeoutMs: number,
    private readonly options: LeafCheckerOptions = {},
  ) {}

  async check(batch: OnchainBatch, index: number): Promise<LeafCheck> {
    return this.judge(batch, await this.fetch(batch, index));
  }

  /** Fetches and parses leaf `index` (no verdict yet); never throws. */
  async fetch(batch: OnchainBatch, index: number): Promise<FetchedLeaf> {
    const fetchStart = performance.now();
    try {
      const parsed = parseLeafResponse(await fetchJson(leafUrl(batch.dataURI, index), this.fetchTimeoutMs));
      return { index, parsed, fetchMs: performance.now() - fetchStart };
    } catch (error) {
      return { index, error: `leaf not served: ${(error as Error).message}`, fetchMs: performance.now() - fetchStart };
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
