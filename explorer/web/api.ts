/** The explorer's JSON API, typed from the server's own view builders (explorer/views.ts). */
import type { batchDetail, batchSummary, dispute, member, slash } from "../views.ts";
import type { BatchStats } from "../stats.ts";

export type BatchSummary = ReturnType<typeof batchSummary>;
export type BatchDetail = ReturnType<typeof batchDetail>;
export type Dispute = ReturnType<typeof dispute>;
export type Member = ReturnType<typeof member>;
export type Slash = ReturnType<typeof slash>;
export type Stats = BatchStats;

export interface Overview {
  chainId: number;
  mode: string;
  rpcUrl: string;
  contracts: { batchManager: string; registry: string; stakeToken: string };
  head: { number: string; timestamp: string };
  config: { attestThresholdBps: number; voteThresholdBps: number; responseWindow: number; challengeWindow: number; votingWindow: number; proverSlashBps: number; operatorSlashBps: number; disputeBond: string; minOperatorStake: string; minProverStake: string };
  counts: Record<"batches" | "attested" | "finalized" | "pending" | "disputed" | "slashed" | "expired" | "disputes" | "operators" | "provers" | "slashings", number>;
  /** The data endpoints the explorer knows, with the prover account that serves each (when its batches say). */
  provers: { url: string; account: string | null }[];
  labels: Record<string, string>;
  statsLeaves: number;
}

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string): Promise<T> {
  const response = await fetch(`/api${path}`, { headers: { accept: "application/json" } });
  const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!response.ok) throw new ApiError(response.status, body.error?.message ?? `HTTP ${response.status}`);
  return body as T;
}
