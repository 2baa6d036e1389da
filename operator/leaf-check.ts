/**
 * Checking one leaf of a committed batch: fetch it from the prover's data endpoint, re-encode the
 * record into its leaf hash, prove its inclusion against the ON-CHAIN root (never the root the
 * prover serves), then recompute the inference with our own engine and judge the whole request
 * (every chunk's TOPLOC statistics and every token replayed through the sampler) under the
 * profile the batch was submitted with.
 *
 * Outcomes:
 *   valid       the leaf is in the batch and the request is accepted under the batch's profile
 *   fraud       the leaf is in the batch but does not hold up (other model, tokens the model
 *               cannot produce, evidence outside the profile's honest band): disputable on chain
 *   unavailable the prover did not serve a leaf that opens the root (cannot be disputed on
 *               chain, but the batch must not be attested)
 *   unsupported the leaf names a model this operator does not run, or the batch's profile is
 *               not one this operator has (it refuses to judge under another)
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
import type { Engine, RequestVerdict, VerificationProfile } from "../prover/engine/index.ts";
import { checkSamplerVersion } from "../protocol/sampler/index.ts";
import { UntrustedFetchError, type UntrustedFetcher } from "../runtime/untrusted-fetch.ts";

export type LeafOutcome = "valid" | "fraud" | "unavailable" | "unsupported";

export interface OnchainBatch {
  batchId: bigint;
  root: Hex;
  modelId: Hex;
  leafCount: number;
  dataURI: string;
  /** Content hash of the verification profile bound to the model when the batch was submitted. */
  profileHash?: Hex;
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
  /** The request-level statistics, thresholds and the worst token, when the leaf was judged. */
  judgement?: LeafJudgement;
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

/** What an operator records of a request it judged: enough to explain a verdict later. */
export interface LeafJudgement {
  profile: string;
  profileHash: Hex | null;
  accepted: boolean;
  statistics: { name: string; value: number; threshold: number }[];
  failures: string[];
  /** Each output token's margin from the replayed sampler's choice, and their mean (the divergence score). */
  tokenMargins: number[];
  divergence: number;
}

// The leaf response's parser is shared with `vb receipt` and the explorer's browser check.
export { LeafFormatError, parseLeafResponse } from "../protocol/merkle/leaf-response.ts";

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
  /** The profiles this operator judges by, by content hash (a batch names its own). */
  profiles?: ReadonlyMap<string, VerificationProfile>;
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
    return (await this.judgeMany(batch, [fetched]))[0]!;
  }

  /**
   * judge() for several leaves of one batch, their recomputations batched into shared
   * prefills (Engine.verifyBatch: right-padded rows, sized by memory). Each leaf's result is
   * the one judge() gives it alone: a leaf that fails its checks or its recomputation is its
   * own outcome and never holds back the others.
   */
  async judgeMany(batch: OnchainBatch, leaves: readonly FetchedLeaf[]): Promise<LeafCheck[]> {
    const results: LeafCheck[] = new Array(leaves.length);
    const toRecompute: { at: number; prepared: Prepared }[] = [];
    leaves.forEach((fetched, at) => {
      const prepared = this.prepare(batch, fetched);
      if ("outcome" in prepared) results[at] = prepared;
      else toRecompute.push({ at, prepared });
    });
    if (toRecompute.length === 0) return results;
    const recomputeStart = performance.now();
    const verdicts = await this.engine.verifyBatch(
      toRecompute.map(({ prepared }) => {
        const { record, profile } = prepared;
        let sampler;
        try {
          sampler = checkSamplerVersion(record.sampling.sampler ?? 1, "record.sampling.sampler");
        } catch (error) {
          prepared.refused = error as Error;
        }
        return {
          // An unknown sampler version: an empty request the engine refuses on its own, in its place.
          promptTokens: prepared.refused ? [] : (record.promptTokens as number[]),
          outputTokens: record.outputTokens as number[],
          proofs: record.proofs,
          options: {
            ...(profile ? { profile } : {}),
            sampling: { ...(sampler ? { sampler } : {}), temperature: record.sampling.temperature, topP: record.sampling.topP, seed: record.seed },
            toploc: record.proofParams,
          },
        };
      }),
    );
    // One forward served several leaves: each is charged its share of the wall time.
    const recomputeMs = (performance.now() - recomputeStart) / toRecompute.length;
    toRecompute.forEach(({ at, prepared }, i) => {
      const verdict = verdicts[i]!;
      const { base, fraud, fetchMs } = prepared;
      if (prepared.refused || verdict instanceof Error) {
        // The record is committed but our model cannot even run it (tokens outside the vocabulary,
        // too long for the context, malformed proofs, an unknown sampler): the claimed model did not produce it.
        results[at] = fraud(`recomputation refused the record: ${(prepared.refused ?? (verdict as Error)).message}`, recomputeMs);
        return;
      }
      const judgement = summarize(verdict);
      if (!verdict.accepted) {
        results[at] = { ...fraud(`request rejected under profile ${verdict.profile}: ${verdict.failures.join("; ")}`, recomputeMs), judgement };
        return;
      }
      results[at] = { ...base, outcome: "valid", reason: `accepted under profile ${verdict.profile}`, judgement, timings: { fetchMs, recomputeMs } };
    });
    return results;
  }

  /** Everything before recomputation: a final outcome, or what recomputation needs. */
  private prepare(batch: OnchainBatch, fetched: FetchedLeaf): LeafCheck | Prepared {
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
    const profile = this.profileFor(batch);
    if (typeof profile === "string") return { ...base, outcome: "unsupported", reason: profile, timings: { fetchMs, recomputeMs: 0 } };
    return { record, profile, base, fraud, fetchMs };
  }

  /** The profile a batch is judged by, or why this operator will not judge it. */
  private profileFor(batch: OnchainBatch): VerificationProfile | undefined | string {
    if (batch.profileHash === undefined || /^0x0{64}$/.test(batch.profileHash)) return this.engine.profile;
    const profile = this.options.profiles?.get(batch.profileHash.toLowerCase());
    if (!profile) return `batch ${batch.batchId} is bound to profile ${batch.profileHash}, which this operator does not have`;
    if (profile.model.weightsHash !== this.engine.info.weightsHash) {
      return `profile ${batch.profileHash} is for weights ${profile.model.weightsHash}, this operator runs ${this.engine.info.weightsHash}`;
    }
    return profile;
  }
}

/** A leaf that passed every check before recomputation. */
interface Prepared {
  record: InferenceRecord;
  profile: VerificationProfile | undefined;
  base: Pick<LeafCheck, "index" | "leafHash" | "fields" | "merkleProof">;
  fraud: (reason: string, recomputeMs?: number) => LeafCheck;
  fetchMs: number;
  /** Set when the record cannot even be put to the engine (an unknown sampler version). */
  refused?: Error;
}

function summarize(verdict: RequestVerdict): LeafJudgement {
  return {
    profile: verdict.profile,
    profileHash: verdict.profileHash,
    accepted: verdict.accepted,
    statistics: verdict.statistics.map(({ name, value, threshold }) => ({ name, value, threshold })),
    failures: verdict.failures,
    tokenMargins: Array.from(verdict.evidence.tokens.margins),
    divergence: verdict.summary.token_divergence,
  };
}
