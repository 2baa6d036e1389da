/**
 * `vb verify --rpc-url` for either envelope version: vb.envelope/2 through the chain link
 * (the sampled responses must be proven leaves of the named, attested batches), vb.envelope/1
 * through its single batch (which can be at most "unverified": nothing links its responses).
 */
import type { PublicClient } from "viem";
import { VerificationError } from "../protocol/envelope/errors.ts";
import type { Commitment, CommitmentV2 } from "../protocol/envelope/schema.ts";
import type { TraceLine } from "../protocol/envelope/traces.ts";
import type { CheckResult } from "../protocol/envelope/verify.ts";
import { checkCommitmentV2, type ChainLinkOptions } from "./chain-link.ts";
import { checkCommitment } from "./commitment.ts";

export async function checkChainLinkOfEnvelope(
  plain: Record<string, unknown>,
  traces: readonly TraceLine[] | null,
  chain: string | PublicClient,
  contentHash: string,
  o: ChainLinkOptions,
): Promise<CheckResult> {
  if (plain.envelope_version === "vb.envelope/1") return checkCommitment(plain.commitment as Commitment, chain);
  if (traces === null) throw new VerificationError("commitment", "the commitment is checked through the traced responses, but the envelope's traces file is not next to it");
  return checkCommitmentV2(plain.commitment as CommitmentV2, traces, chain, contentHash, o);
}
