/**
 * What a BatchSubmitted event may hold for this operator to act on it. The contract bounds what
 * it can (leaf count <= 2^25, data URI 1..2048 bytes, non-zero model id, windows <= 30 days), but
 * an operator may follow an older deployment, and its own limits are tighter (maxBatchLeaves):
 * anything outside is skipped with a reason and a metric label, never thrown on, so that the
 * follower moves on to the next event.
 */
import { hashModelId, MAX_BATCH_LEAVES } from "../protocol/merkle/index.ts";
import { isIP } from "node:net";
import { addressRefusal, cidrList } from "../runtime/untrusted-fetch.ts";

/** BatchManager.MAX_DATA_URI_BYTES. */
export const MAX_DATA_URI_BYTES = 2048;
/** Deadlines are uint40 on chain; anything beyond is not a timestamp this node can plan with. */
const MAX_TIMESTAMP = 2n ** 40n;

export interface SubmittedBatchArgs {
  batchId: bigint;
  modelId: string;
  root: string;
  leafCount: bigint;
  dataURI: string;
  responseDeadline: bigint;
}

export interface BatchLimits {
  maxBatchLeaves: number;
  /** The model this operator runs (its id string). */
  modelId: string;
  /** CIDR blocks the fetch policy allows although not public. */
  allowPrivateNetworks: readonly string[];
}

export interface Skip {
  /** Metric label: a short fixed word. */
  label: "leaf-count" | "data-uri" | "deadline" | "model";
  reason: string;
  /** "unsupported" for a model this operator does not run, "skipped" otherwise. */
  status: "skipped" | "unsupported";
}

/** Why this operator will not check the batch, or undefined when it will. */
export function batchSkip(args: SubmittedBatchArgs, limits: BatchLimits): Skip | undefined {
  const limit = Math.min(MAX_BATCH_LEAVES, limits.maxBatchLeaves);
  if (typeof args.leafCount !== "bigint" || args.leafCount < 1n || args.leafCount > BigInt(limit)) {
    return { label: "leaf-count", status: "skipped", reason: `leafCount ${String(args.leafCount)} is outside 1..${limit} (the tree bound ${MAX_BATCH_LEAVES} and maxBatchLeaves)` };
  }
  const uriProblem = dataUriProblem(args.dataURI, limits.allowPrivateNetworks);
  if (uriProblem) return { label: "data-uri", status: "skipped", reason: uriProblem };
  if (typeof args.responseDeadline !== "bigint" || args.responseDeadline <= 0n || args.responseDeadline >= MAX_TIMESTAMP) {
    return { label: "deadline", status: "skipped", reason: `responseDeadline ${String(args.responseDeadline)} is not a plausible timestamp` };
  }
  if (typeof args.modelId !== "string" || args.modelId.toLowerCase() !== hashModelId(limits.modelId).toLowerCase()) {
    return { label: "model", status: "unsupported", reason: `model id ${args.modelId} is not the model this operator runs (${limits.modelId})` };
  }
  return undefined;
}

/** Checks what can be checked before any fetch: length, URL syntax, scheme, an IP-literal host. */
export function dataUriProblem(dataURI: unknown, allowPrivateNetworks: readonly string[]): string | undefined {
  if (typeof dataURI !== "string" || dataURI.length === 0) return "dataURI is empty";
  const bytes = Buffer.byteLength(dataURI, "utf8");
  if (bytes > MAX_DATA_URI_BYTES) return `dataURI is ${bytes} bytes; the limit is ${MAX_DATA_URI_BYTES}`;
  let url: URL;
  try {
    url = new URL(dataURI);
  } catch {
    return "dataURI is not a URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `dataURI scheme ${url.protocol} is not allowed (http and https only)`;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    const refusal = addressRefusal(host, cidrList(allowPrivateNetworks));
    if (refusal) return `dataURI host ${refusal}`;
  }
  return undefined;
}
