/**
 * Stake-weighted quorum over operators' attestations to one batch. The contract accepts one
 * transaction whose signatures all sign the same Attestation struct, so attestations are grouped
 * by their full content (root, verdict, leaves checked); a group is ready once its signers'
 * stake at the batch's reference block reaches the threshold, and is submitted after a short
 * grace period that lets late signatures join (more stake on record, same gas per signer).
 *
 * Every attestation carries an ECDSA signature; those of operators with a BLS key in force at
 * the reference block carry a BLS signature too. ready() says which submissions the group
 * allows: ECDSA with every signer, and a BLS certificate when the BLS signers alone hold quorum.
 *
 * Signature and stake checks happen before add(): the pool trusts the weight it is given and
 * only guards the rules that span attestations (one signer, one content per batch).
 */
import type { Address, Hex } from "viem";
import type { BlsG1Point, BlsG2Point } from "../protocol/bls/index.ts";
import { signatureProblem, type AttestationMessage } from "../protocol/eip712/index.ts";
import { FieldError } from "../protocol/errors.ts";

/** A BLS signature, checked against the registry's key of the signer's operator. */
export interface BlsPart {
  keyHash: Hex;
  pubkeyG1: BlsG1Point;
  pubkeyG2: BlsG2Point;
  signature: BlsG1Point;
}

export interface CheckedAttestation {
  message: AttestationMessage;
  /** The recovered signing key. */
  signer: Address;
  signature: Hex;
  /** The signer's operator stake at the batch's reference block. */
  weight: bigint;
  /** The BLS signature, when the operator's key was in force at the reference block. */
  bls?: BlsPart;
}

export type AddOutcome = "accepted" | "duplicate" | "conflict" | "closed";

export interface QuorumReady {
  message: AttestationMessage;
  /** Ascending by signer address, as the contract requires. */
  attestations: CheckedAttestation[];
  weight: bigint;
  totalStake: bigint;
  /** The attestations with a BLS signature, when they alone hold quorum: a certificate's signers. */
  bls?: { attestations: CheckedAttestation[]; weight: bigint };
}

interface Group {
  message: AttestationMessage;
  bySigner: Map<string, CheckedAttestation>;
  weight: bigint;
  /** When the group first reached the threshold. */
  reachedAt?: number;
}

interface BatchState {
  totalStake: bigint;
  groups: Map<string, Group>;
  /** signer -> group key it signed, to detect equivocation. */
  signerGroup: Map<string, string>;
  /** Signers seen signing two different contents for this batch. */
  equivocators: Set<string>;
  /** Per equivocator, the first two different attestations it signed: slashing evidence. */
  evidence: Map<string, [CheckedAttestation, CheckedAttestation]>;
  closed: boolean;
}

export interface QuorumOptions {
  /** Share of total stake needed, in basis points (6667 = two thirds). */
  thresholdBps: number;
  /** How long to keep collecting after the threshold is first reached. */
  graceMs: number;
  now?: () => number;
}

export class QuorumError extends FieldError {
  override name = "QuorumError";
}

function contentKey(message: AttestationMessage): string {
  return `${message.root.toLowerCase()}:${message.verdict}:${message.leavesChecked}`;
}

export class AttestationPool {
  private readonly batches = new Map<bigint, BatchState>();
  private readonly now: () => number;

  constructor(private readonly options: QuorumOptions) {
    if (!Number.isInteger(options.thresholdBps) || options.thresholdBps < 1 || options.thresholdBps > 10_000) {
      throw new QuorumError(`thresholdBps must be an integer in 1..10000, got ${options.thresholdBps}`, "thresholdBps");
    }
    if (!(options.graceMs >= 0)) throw new QuorumError(`graceMs must be >= 0, got ${options.graceMs}`, "graceMs");
    this.now = options.now ?? Date.now;
  }

  /** Starts collecting for a batch; totalStake is the operator stake at its reference block. */
  open(batchId: bigint, totalStake: bigint): void {
    if (totalStake <= 0n) throw new QuorumError(`totalStake of batch ${batchId} must be positive`, "totalStake");
    if (!this.batches.has(batchId)) {
      this.batches.set(batchId, { totalStake, groups: new Map(), signerGroup: new Map(), equivocators: new Set(), evidence: new Map(), closed: false });
    }
  }

  isOpen(batchId: bigint): boolean {
    const state = this.batches.get(batchId);
    return state !== undefined && !state.closed;
  }

  add(attestation: CheckedAttestation): AddOutcome {
    const state = this.batches.get(attestation.message.batchId);
    if (!state) throw new QuorumError(`batch ${attestation.message.batchId} is not open`, "batchId");
    // The doors check this already; a pool that would build an unsubmittable call checks it again.
    const problem = signatureProblem(attestation.signature);
    if (problem) throw new QuorumError(`signature of ${attestation.signer} is not canonical: ${problem}`, "signature");
    const signer = attestation.signer.toLowerCase();
    const key = contentKey(attestation.message);
    const signedBefore = state.signerGroup.get(signer);
    if (signedBefore !== undefined && signedBefore !== key) {
      // Equivocation: the signer's stake no longer counts towards either content.
      state.equivocators.add(signer);
      const group = state.groups.get(signedBefore);
      const earlier = group?.bySigner.get(signer);
      if (earlier) state.evidence.set(signer, [earlier, attestation]);
      if (group?.bySigner.delete(signer)) group.weight -= attestation.weight;
      return "conflict";
    }
    if (state.equivocators.has(signer)) return "conflict";
    // After the equivocation check: signing both ways is slashable after submission too.
    if (state.closed) return "closed";
    let group = state.groups.get(key);
    if (!group) {
      group = { message: attestation.message, bySigner: new Map(), weight: 0n };
      state.groups.set(key, group);
    }
    const held = group.bySigner.get(signer);
    if (held) {
      // The same content again, now with a BLS signature: keep the richer copy.
      if (held.bls || !attestation.bls) return "duplicate";
      group.bySigner.set(signer, attestation);
      return "accepted";
    }
    group.bySigner.set(signer, attestation);
    group.weight += attestation.weight;
    state.signerGroup.set(signer, key);
    if (group.reachedAt === undefined && this.reached(group.weight, state.totalStake)) group.reachedAt = this.now();
    return "accepted";
  }

  /** The group to submit for a batch, once it holds quorum and its grace period is over. */
  ready(batchId: bigint): QuorumReady | undefined {
    const state = this.batches.get(batchId);
    if (!state || state.closed) return undefined;
    let best: Group | undefined;
    for (const group of state.groups.values()) {
      if (!this.reached(group.weight, state.totalStake)) continue;
      if (!best || group.weight > best.weight) best = group;
    }
    if (!best || best.reachedAt === undefined || this.now() - best.reachedAt < this.options.graceMs) return undefined;
    const attestations = [...best.bySigner.values()].sort((a, b) => compareAddresses(a.signer, b.signer));
    const withBls = attestations.filter((a) => a.bls !== undefined);
    const blsWeight = withBls.reduce((sum, a) => sum + a.weight, 0n);
    return {
      message: best.message, attestations, weight: best.weight, totalStake: state.totalStake,
      ...(withBls.length > 0 && this.reached(blsWeight, state.totalStake) ? { bls: { attestations: withBls, weight: blsWeight } } : {}),
    };
  }

  /** Stops collecting for a batch (submitted, or attested by someone else). */
  close(batchId: bigint): void {
    const state = this.batches.get(batchId);
    if (state) state.closed = true;
  }

  /** Two different attestations `signer` signed for the batch, once add() returned "conflict". */
  evidence(batchId: bigint, signer: Address): [CheckedAttestation, CheckedAttestation] | undefined {
    return this.batches.get(batchId)?.evidence.get(signer.toLowerCase());
  }

  equivocators(batchId: bigint): Address[] {
    return [...(this.batches.get(batchId)?.equivocators ?? [])] as Address[];
  }

  private reached(weight: bigint, total: bigint): boolean {
    return weight * 10_000n >= total * BigInt(this.options.thresholdBps);
  }
}

function compareAddresses(a: Address, b: Address): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
