/**
 * The explorer API's JSON: the chain history's views (runtime/chain-history.ts) with every
 * bigint as a decimal string (JSON numbers cannot hold 256 bits), and the JSON schema of each
 * shape, which the routes declare as their response schemas.
 */
import type { AttestationView, BatchView, DisputeView, EventPoint, MemberView, SlashView, StateChange, VerdictView } from "../runtime/chain-history.ts";

const str = { type: "string" } as const;
const nullableStr = { type: ["string", "null"] } as const;
const int = { type: "integer" } as const;
const bool = { type: "boolean" } as const;
const address = { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" } as const;
const nullableAddress = { type: ["string", "null"] } as const;
const hex32 = { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } as const;
const dec = { type: "string", pattern: "^[0-9]+$" } as const;
const nullableDec = { type: ["string", "null"] } as const;

function object(properties: Record<string, unknown>, optional: string[] = []) {
  return { type: "object", additionalProperties: false, required: Object.keys(properties).filter((k) => !optional.includes(k)), properties } as const;
}
function list(items: unknown) {
  return { type: "array", items } as const;
}

const pointSchema = { block: dec, timestamp: dec, tx: hex32 };
const point = (p: EventPoint) => ({ block: p.block.toString(), timestamp: p.timestamp.toString(), tx: p.tx });

export const stateChangeSchema = object({ state: str, ...pointSchema, note: nullableStr });
const stateChange = (c: StateChange) => ({ state: c.state, ...point(c), note: c.note ?? null });

export const batchSummarySchema = object({
  id: dec,
  prover: address,
  modelId: hex32,
  root: hex32,
  leafCount: int,
  dataURI: str,
  state: str,
  standing: str,
  deadline: dec,
  submittedAt: dec,
  updatedAt: dec,
  attestedWeight: nullableDec,
  totalWeight: nullableDec,
  signers: int,
  disputes: int,
});

export function batchSummary(b: BatchView) {
  return {
    id: b.id.toString(),
    prover: b.prover,
    modelId: b.modelId,
    root: b.root,
    leafCount: b.leafCount,
    dataURI: b.dataURI,
    state: b.state,
    standing: b.standing,
    deadline: b.deadline.toString(),
    submittedAt: (b.history[0]?.timestamp ?? 0n).toString(),
    updatedAt: (b.history.at(-1)?.timestamp ?? 0n).toString(),
    attestedWeight: b.attestation?.attestedWeight.toString() ?? null,
    totalWeight: b.attestation?.totalWeight.toString() ?? null,
    signers: b.attestation?.signers.length ?? 0,
    disputes: b.disputeIds.length,
  };
}

export const attestationSchema = object({
  ...pointSchema,
  scheme: { enum: ["ecdsa", "bls"] },
  leavesChecked: int,
  attestedWeight: dec,
  totalWeight: dec,
  challengeDeadline: dec,
  signers: list(object({ signingKey: address, operator: nullableAddress, weight: dec })),
});

function attestation(a: AttestationView) {
  return {
    ...point(a),
    scheme: a.scheme,
    leavesChecked: a.leavesChecked,
    attestedWeight: a.attestedWeight.toString(),
    totalWeight: a.totalWeight.toString(),
    challengeDeadline: a.challengeDeadline.toString(),
    signers: a.signers.map((s) => ({ signingKey: s.signingKey, operator: s.operator ?? null, weight: s.weight.toString() })),
  };
}

export const disputeSchema = object({
  id: dec,
  batchId: dec,
  challenger: address,
  leafHash: hex32,
  evidence: hex32,
  votingDeadline: dec,
  opened: object(pointSchema),
  state: str,
  fraudWeight: dec,
  cleanWeight: dec,
  votesKnown: bool,
  votes: list(object({ signingKey: address, operator: nullableAddress, fraud: bool, weight: dec, tx: hex32 })),
  resolved: { anyOf: [{ type: "null" }, object({ ...pointSchema, outcome: str, paidToChallenger: dec })] },
});

export function dispute(d: DisputeView) {
  return {
    id: d.id.toString(),
    batchId: d.batchId.toString(),
    challenger: d.challenger,
    leafHash: d.leafHash,
    evidence: d.evidence,
    votingDeadline: d.votingDeadline.toString(),
    opened: point(d.opened),
    state: d.state,
    fraudWeight: d.fraudWeight.toString(),
    cleanWeight: d.cleanWeight.toString(),
    votesKnown: d.votesKnown,
    votes: d.votes.map((v) => ({ signingKey: v.signingKey, operator: v.operator ?? null, fraud: v.fraud, weight: v.weight.toString(), tx: v.tx })),
    resolved: d.resolved ? { ...point(d.resolved), outcome: d.resolved.outcome, paidToChallenger: d.resolved.paidToChallenger.toString() } : null,
  };
}

export const batchDetailSchema = object({
  ...batchSummarySchema.properties,
  envelopeHash: hex32,
  profileHash: hex32,
  refBlock: dec,
  seized: nullableDec,
  history: list(stateChangeSchema),
  attestation: { anyOf: [{ type: "null" }, attestationSchema] },
  disputeList: list(disputeSchema),
});

export function batchDetail(b: BatchView, disputes: DisputeView[]) {
  return {
    ...batchSummary(b),
    envelopeHash: b.envelopeHash,
    profileHash: b.profileHash,
    refBlock: b.refBlock.toString(),
    seized: b.seized?.toString() ?? null,
    history: b.history.map(stateChange),
    attestation: b.attestation ? attestation(b.attestation) : null,
    disputeList: disputes.map(dispute),
  };
}

export const slashSchema = object({
  kind: str,
  account: address,
  amount: dec,
  batchId: nullableDec,
  disputeId: nullableDec,
  signingKey: nullableAddress,
  ...pointSchema,
});

export function slash(s: SlashView) {
  return {
    kind: s.kind,
    account: s.account,
    amount: s.amount.toString(),
    batchId: s.batchId?.toString() ?? null,
    disputeId: s.disputeId?.toString() ?? null,
    signingKey: s.signingKey ?? null,
    ...point(s),
  };
}

export const verdictSchema = object({ kind: str, batchId: dec, disputeId: nullableDec, ...pointSchema });
const verdict = (v: VerdictView) => ({ kind: v.kind, batchId: v.batchId.toString(), disputeId: v.disputeId?.toString() ?? null, ...point(v) });

export const memberSchema = object({
  account: address,
  role: str,
  signingKey: address,
  registeredBlock: dec,
  stake: object({ active: dec, unbonding: dec, releaseAt: dec }),
  batchesSubmitted: int,
  verdictCount: int,
  verdicts: list(verdictSchema),
  slashes: list(slashSchema),
});

/** `verdicts`: how many of the newest verdicts to include. */
export function member(m: MemberView, verdicts: number) {
  return {
    account: m.account,
    role: m.role,
    signingKey: m.signingKey,
    registeredBlock: m.registered.block.toString(),
    stake: { active: m.stake.active.toString(), unbonding: m.stake.unbonding.toString(), releaseAt: m.stake.releaseAt.toString() },
    batchesSubmitted: m.batchesSubmitted,
    verdictCount: m.verdicts.length,
    verdicts: m.verdicts.slice(0, verdicts).map(verdict),
    slashes: m.slashes.map(slash),
  };
}

const chunkSchema = object({ expMismatches: int, mantErrMean: { type: "number" }, mantErrMedian: { type: "number" }, garbage: int });
const statisticSchema = object({ name: str, value: { type: ["number", "null"] }, threshold: { type: "number" }, passed: bool });

export const statsSchema = object({
  batchId: dec,
  status: str,
  reason: str,
  model: nullableStr,
  profile: object({ name: str, contentHash: nullableStr, falseRejectionBudget: { type: ["number", "null"] } }),
  leaves: list(object({ index: int, recordId: nullableStr, outcome: str, reason: str, statistics: list(statisticSchema), chunks: list(chunkSchema) })),
  computedAt: str,
});

export const overviewSchema = object({
  chainId: int,
  mode: str,
  rpcUrl: str,
  contracts: object({ batchManager: address, registry: address, stakeToken: address }),
  head: object({ number: dec, timestamp: dec }),
  config: object({
    attestThresholdBps: int, voteThresholdBps: int, responseWindow: int, challengeWindow: int, votingWindow: int,
    proverSlashBps: int, operatorSlashBps: int, disputeBond: dec, minOperatorStake: dec, minProverStake: dec,
  }),
  counts: object({ batches: int, attested: int, finalized: int, pending: int, disputed: int, slashed: int, expired: int, disputes: int, operators: int, provers: int, slashings: int }),
  provers: list(object({ url: str, account: nullableAddress })),
  labels: { type: "object", additionalProperties: str },
  statsLeaves: int,
});

export const errorSchema = object({ error: object({ message: str, field: str }) });
