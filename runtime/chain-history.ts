/**
 * What happened on chain, indexed from BatchManager's and the registry's events: every batch
 * with its state history, its attestation (signers with their stake at the batch's reference
 * block) and its disputes; every dispute with its votes (recovered from the castVotes calldata)
 * and outcome; every member with its stake and verdicts; every slashing. Read-only and
 * incremental: refresh() reads the logs since the last call. The explorer, `npm start`'s batch
 * table, `vb root` and `npm run operator -- status` read the chain through it.
 *
 * States are derived from the events alone (each transition emits one), so a refresh costs one
 * eth_getLogs per contract and block range, one eth_getBlockByNumber per block with events, and a
 * call or two per attestation, vote transaction and stake change.
 */
import { decodeFunctionData, type Address, type Hex, type Log, type PublicClient } from "viem";
import { batchManagerAbi, eigenServiceManagerAbi, stakeRegistryAbi } from "../protocol/contracts/abis.ts";
import type { Deployment } from "../protocol/contracts/deployments.ts";
import { batchStanding, disputeStateName, type BatchStanding, type BatchStateName, type DisputeStateName } from "../protocol/contracts/states.ts";
import { protocolDomain, recoverDisputeVoteSigner, Role, type ProtocolDomain } from "../protocol/eip712/index.ts";
import { certificateSigners } from "./bls-key-directory.ts";

/** Where an event happened. */
export interface EventPoint {
  block: bigint;
  timestamp: bigint;
  tx: Hex;
}

export interface StateChange extends EventPoint {
  state: BatchStateName;
  /** e.g. "dispute 3 opened", "dispute 3 upheld". */
  note?: string;
}

export interface SignerStake {
  signingKey: Address;
  /** The staking account bound to the key (undefined if the key is not a member's). */
  operator?: Address;
  /** Stake of the key at the batch's reference block. */
  weight: bigint;
}

export interface AttestationView extends EventPoint {
  /** ECDSA signatures (attest) or one BLS certificate (attestBLS). */
  scheme: "ecdsa" | "bls";
  leavesChecked: number;
  attestedWeight: bigint;
  totalWeight: bigint;
  challengeDeadline: bigint;
  signers: SignerStake[];
}

export interface BatchView {
  id: bigint;
  prover: Address;
  modelId: Hex;
  envelopeHash: Hex;
  root: Hex;
  leafCount: number;
  dataURI: string;
  /** The verification profile bound to the model at submission: what the batch is judged by. */
  profileHash: Hex;
  refBlock: bigint;
  /** Response deadline while Submitted, challenge deadline after (unix seconds). */
  deadline: bigint;
  state: BatchStateName;
  standing: BatchStanding;
  history: StateChange[];
  attestation?: AttestationView;
  disputeIds: bigint[];
  /** Stake seized when the batch was slashed. */
  seized?: bigint;
}

export interface VoteView {
  signingKey: Address;
  operator?: Address;
  fraud: boolean;
  weight: bigint;
  tx: Hex;
}

export interface DisputeView {
  id: bigint;
  batchId: bigint;
  challenger: Address;
  leafHash: Hex;
  evidence: Hex;
  votingDeadline: bigint;
  opened: EventPoint;
  state: DisputeStateName;
  fraudWeight: bigint;
  cleanWeight: bigint;
  /** Every vote, when each castVotes call could be decoded (false: the counts only). */
  votesKnown: boolean;
  votes: VoteView[];
  resolved?: EventPoint & { outcome: DisputeStateName; paidToChallenger: bigint };
}

export interface StakeView {
  active: bigint;
  unbonding: bigint;
  /** When `unbonding` can be withdrawn (unix seconds; 0 when nothing unbonds). */
  releaseAt: bigint;
}

/** One verdict an operator gave, as the chain shows it. */
export interface VerdictView extends EventPoint {
  kind: "attested" | "vote-fraud" | "vote-clean" | "disputed";
  batchId: bigint;
  disputeId?: bigint;
}

export interface SlashView extends EventPoint {
  kind: "fraud" | "equivocation";
  account: Address;
  amount: bigint;
  batchId?: bigint;
  disputeId?: bigint;
  signingKey?: Address;
}

export interface MemberView {
  account: Address;
  role: "operator" | "prover";
  signingKey: Address;
  registered: EventPoint;
  stake: StakeView;
  /** Newest first. */
  verdicts: VerdictView[];
  slashes: SlashView[];
  batchesSubmitted: number;
}

export interface ChainHistoryOptions {
  /** Largest eth_getLogs block range (default 2000). */
  logRange?: bigint;
  /** First block to read (default the deployment block). */
  fromBlock?: bigint;
}

type DecodedLog = Log<bigint, number, false> & { eventName: string; args: Record<string, unknown> };

export class ChainHistory {
  private cursor: bigint;
  private readonly logRange: bigint;
  private readonly timestamps = new Map<bigint, bigint>();
  private readonly batchMap = new Map<bigint, BatchView>();
  private readonly disputeMap = new Map<bigint, DisputeView>();
  private readonly memberMap = new Map<string, MemberView>();
  private readonly keyToAccount = new Map<string, Address>();
  /** BLS keys in registration order (registry BLSKeyRegistered). */
  private readonly blsKeys: { keyHash: string; account: Address; block: bigint }[] = [];
  /** Non-signers of a certificate, from BatchAttestedBLS to the BatchAttested after it. */
  private readonly certificates = new Map<bigint, string[]>();
  private readonly slashList: SlashView[] = [];
  private readonly staleStakes = new Set<string>();
  private readonly domain: ProtocolDomain;
  private refreshing: Promise<void> | undefined;
  private headPoint = { number: 0n, timestamp: 0n };

  constructor(
    readonly client: PublicClient,
    readonly deployment: Deployment,
    options: ChainHistoryOptions = {},
  ) {
    this.cursor = options.fromBlock ?? BigInt(deployment.blockNumber);
    this.logRange = options.logRange ?? 2_000n;
    this.domain = protocolDomain(deployment.chainId, deployment.contracts.batchManager.address);
  }

  /** The newest block read. */
  get head(): { number: bigint; timestamp: bigint } {
    return this.headPoint;
  }

  /** Reads what happened since the last refresh; concurrent callers share one read. */
  refresh(): Promise<void> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Newest first. */
  batches(): BatchView[] {
    return [...this.batchMap.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  batch(id: bigint): BatchView | undefined {
    return this.batchMap.get(id);
  }

  /** Batches that committed `root` (a root can be committed more than once). */
  batchesWithRoot(root: Hex): BatchView[] {
    return this.batches().filter((b) => b.root.toLowerCase() === root.toLowerCase());
  }

  disputes(): DisputeView[] {
    return [...this.disputeMap.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  dispute(id: bigint): DisputeView | undefined {
    return this.disputeMap.get(id);
  }

  members(role?: MemberView["role"]): MemberView[] {
    return [...this.memberMap.values()].filter((m) => role === undefined || m.role === role);
  }

  member(account: Address): MemberView | undefined {
    return this.memberMap.get(account.toLowerCase());
  }

  /** The member a signing key belongs to. */
  memberOfKey(signingKey: Address): MemberView | undefined {
    const account = this.keyToAccount.get(signingKey.toLowerCase());
    return account ? this.member(account) : undefined;
  }

  /** Newest first. */
  slashings(): SlashView[] {
    return [...this.slashList].reverse();
  }

  // ------------------------------------------------------------------ reading

  private async read(): Promise<void> {
    const head = await this.client.getBlock();
    const bm = this.deployment.contracts.batchManager.address;
    const registry = this.deployment.contracts.registry.address;
    const registryAbi = this.deployment.mode === "eigenlayer" ? eigenServiceManagerAbi : stakeRegistryAbi;
    while (this.cursor <= head.number) {
      const to = this.cursor + this.logRange - 1n < head.number ? this.cursor + this.logRange - 1n : head.number;
      const [batchLogs, registryLogs] = await Promise.all([
        this.client.getContractEvents({ address: bm, abi: batchManagerAbi, fromBlock: this.cursor, toBlock: to }),
        this.client.getContractEvents({ address: registry, abi: registryAbi, fromBlock: this.cursor, toBlock: to }),
      ]);
      const logs = ([...batchLogs, ...registryLogs] as unknown as DecodedLog[]).sort((a, b) =>
        a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1,
      );
      await this.loadTimestamps(logs);
      for (const log of logs) await this.apply(log, log.address.toLowerCase() === bm.toLowerCase());
      this.cursor = to + 1n;
    }
    await this.refreshStakes();
    this.headPoint = { number: head.number, timestamp: head.timestamp };
  }

  private async loadTimestamps(logs: DecodedLog[]): Promise<void> {
    const missing = [...new Set(logs.map((l) => l.blockNumber))].filter((n) => !this.timestamps.has(n));
    for (const number of missing) this.timestamps.set(number, (await this.client.getBlock({ blockNumber: number })).timestamp);
  }

  private point(log: DecodedLog): EventPoint {
    return { block: log.blockNumber, timestamp: this.timestamps.get(log.blockNumber) ?? 0n, tx: log.transactionHash };
  }

  private async apply(log: DecodedLog, fromBatchManager: boolean): Promise<void> {
    const a = log.args;
    if (!fromBatchManager) return this.applyRegistry(log);
    switch (log.eventName) {
      case "BatchSubmitted": {
        const batch: BatchView = {
          id: a.batchId as bigint, prover: a.prover as Address, modelId: a.modelId as Hex, envelopeHash: a.envelopeHash as Hex, root: a.root as Hex,
          leafCount: Number(a.leafCount), dataURI: a.dataURI as string, profileHash: a.profileHash as Hex, refBlock: a.refBlock as bigint, deadline: a.responseDeadline as bigint,
          state: "Submitted", standing: "pending", history: [], disputeIds: [],
        };
        this.batchMap.set(batch.id, batch);
        this.transition(batch, "Submitted", log);
        const prover = this.member(batch.prover);
        if (prover) prover.batchesSubmitted += 1;
        return;
      }
      case "BatchAttestedBLS": {
        // Just before BatchAttested in the same transaction, which lists no signer for a certificate.
        this.certificates.set(a.batchId as bigint, (a.nonSignerKeyHashes as Hex[]).map((h) => h.toLowerCase()));
        return;
      }
      case "BatchAttested": {
        const batch = this.batchMap.get(a.batchId as bigint);
        if (!batch) return;
        const nonSigners = this.certificates.get(batch.id);
        this.certificates.delete(batch.id);
        // A certificate's signers: every BLS key in force at the reference block but the non-signers.
        const signers = nonSigners
          ? certificateSigners(this.blsKeys, batch.refBlock, nonSigners).map((k) => this.member(k.account)?.signingKey).filter((k): k is Address => k !== undefined)
          : (a.signers as Address[]);
        const weights = signers.length
          ? ((await this.client.readContract({ address: this.deployment.contracts.registry.address, abi: stakeRegistryAbi, functionName: "signerWeightsAt", args: [signers, batch.refBlock] })) as readonly bigint[])
          : [];
        batch.attestation = {
          ...this.point(log), scheme: nonSigners ? "bls" : "ecdsa", leavesChecked: Number(a.leavesChecked), attestedWeight: a.attestedWeight as bigint, totalWeight: a.totalWeight as bigint,
          challengeDeadline: a.challengeDeadline as bigint,
          signers: signers.map((signingKey, i) => ({ signingKey, operator: this.keyToAccount.get(signingKey.toLowerCase()), weight: weights[i] ?? 0n })),
        };
        batch.deadline = a.challengeDeadline as bigint;
        this.transition(batch, "Attested", log);
        for (const s of batch.attestation.signers) this.verdict(s.operator, { ...this.point(log), kind: "attested", batchId: batch.id });
        return;
      }
      case "BatchExpired":
        return this.transitionById(a.batchId as bigint, "Expired", log);
      case "BatchDisputed":
        return this.transitionById(a.batchId as bigint, "Disputed", log, `dispute ${a.disputeId} opened`);
      case "BatchCleared":
        return this.transitionById(a.batchId as bigint, "Cleared", log, "every dispute rejected");
      case "BatchReopened": {
        const batch = this.batchMap.get(a.batchId as bigint);
        if (!batch) return;
        batch.deadline = a.responseDeadline as bigint;
        return this.transition(batch, "Submitted", log, "reopened: every dispute rejected");
      }
      case "BatchSlashed": {
        const batch = this.batchMap.get(a.batchId as bigint);
        if (!batch) return;
        batch.seized = a.seized as bigint;
        return this.transition(batch, "Slashed", log, `dispute ${a.disputeId} upheld`);
      }
      case "BatchFinalized":
        return this.transitionById(a.batchId as bigint, "Finalized", log);
      case "DisputeOpened": {
        const dispute: DisputeView = {
          id: a.disputeId as bigint, batchId: a.batchId as bigint, challenger: a.challenger as Address, leafHash: a.leafHash as Hex, evidence: a.evidence as Hex,
          votingDeadline: a.votingDeadline as bigint, opened: this.point(log), state: "Open", fraudWeight: 0n, cleanWeight: 0n, votesKnown: true, votes: [],
        };
        this.disputeMap.set(dispute.id, dispute);
        this.batchMap.get(dispute.batchId)?.disputeIds.push(dispute.id);
        this.verdict(dispute.challenger, { ...this.point(log), kind: "disputed", batchId: dispute.batchId, disputeId: dispute.id });
        return;
      }
      case "VotesCast": {
        const dispute = this.disputeMap.get(a.disputeId as bigint);
        if (!dispute) return;
        dispute.fraudWeight = a.fraudWeight as bigint;
        dispute.cleanWeight = a.cleanWeight as bigint;
        await this.decodeVotes(dispute, log);
        return;
      }
      case "DisputeResolved": {
        const dispute = this.disputeMap.get(a.disputeId as bigint);
        if (!dispute) return;
        const outcome = disputeStateName(Number(a.outcome));
        dispute.state = outcome;
        dispute.resolved = { ...this.point(log), outcome, paidToChallenger: a.paidToChallenger as bigint };
        return;
      }
      case "EquivocationSlashed": {
        this.slashList.push({ ...this.point(log), kind: "equivocation", account: a.operator as Address, amount: a.seized as bigint, signingKey: a.signingKey as Address });
        this.member(a.operator as Address)?.slashes.push(this.slashList.at(-1)!);
        return;
      }
    }
  }

  private applyRegistry(log: DecodedLog): void {
    const a = log.args;
    switch (log.eventName) {
      case "BLSKeyRegistered": {
        this.blsKeys.push({ keyHash: (a.keyHash as Hex).toLowerCase(), account: a.account as Address, block: log.blockNumber });
        return;
      }
      case "MemberRegistered": {
        const role = Number(a.role) === Role.Prover ? "prover" : "operator";
        const account = a.account as Address;
        this.memberMap.set(account.toLowerCase(), {
          account, role, signingKey: a.signingKey as Address, registered: this.point(log), stake: { active: 0n, unbonding: 0n, releaseAt: 0n },
          verdicts: [], slashes: [], batchesSubmitted: 0,
        });
        this.keyToAccount.set((a.signingKey as string).toLowerCase(), account);
        this.staleStakes.add(account.toLowerCase());
        return;
      }
      case "Slashed": {
        // The registry's record of a fraud slash (reason = the dispute id); equivocations are
        // listed from BatchManager's EquivocationSlashed, which names the signing key.
        const account = a.account as Address;
        this.staleStakes.add(account.toLowerCase());
        const disputeId = BigInt(a.reason as Hex);
        const dispute = this.disputeMap.get(disputeId);
        if (!dispute) return;
        const slash: SlashView = { ...this.point(log), kind: "fraud", account, amount: a.amount as bigint, batchId: dispute.batchId, disputeId };
        this.slashList.push(slash);
        this.member(account)?.slashes.push(slash);
        return;
      }
      case "StakeAdded":
      case "UnbondRequested":
      case "Withdrawn":
      case "StakeUpdated":
      case "WeightChanged":
        this.staleStakes.add((a.account as string).toLowerCase());
        return;
    }
  }

  private transitionById(id: bigint, state: BatchStateName, log: DecodedLog, note?: string): void {
    const batch = this.batchMap.get(id);
    if (batch) this.transition(batch, state, log, note);
  }

  private transition(batch: BatchView, state: BatchStateName, log: DecodedLog, note?: string): void {
    batch.state = state;
    batch.standing = batchStanding(state);
    batch.history.push({ ...this.point(log), state, ...(note ? { note } : {}) });
  }

  private verdict(account: Address | undefined, verdict: VerdictView): void {
    const member = account ? this.member(account) : undefined;
    if (member) member.verdicts.unshift(verdict);
  }

  /** Each vote of a castVotes call, with its signer recovered from the signed digest. */
  private async decodeVotes(dispute: DisputeView, log: DecodedLog): Promise<void> {
    let votes: readonly { fraud: boolean; r: Hex; vs: Hex }[];
    try {
      const tx = await this.client.getTransaction({ hash: log.transactionHash });
      const call = decodeFunctionData({ abi: batchManagerAbi, data: tx.input });
      if (call.functionName !== "castVotes" || call.args[0] !== dispute.id) throw new Error("not a direct castVotes call");
      votes = call.args[1] as readonly { fraud: boolean; r: Hex; vs: Hex }[];
    } catch {
      dispute.votesKnown = false; // cast through another contract: only the counts are known
      return;
    }
    const batch = this.batchMap.get(dispute.batchId);
    const signers: Address[] = [];
    for (const v of votes) {
      signers.push(await recoverDisputeVoteSigner(this.domain, { disputeId: dispute.id, batchId: dispute.batchId, leafHash: dispute.leafHash, fraud: v.fraud }, { r: v.r, vs: v.vs }));
    }
    const weights = batch && signers.length
      ? ((await this.client.readContract({ address: this.deployment.contracts.registry.address, abi: stakeRegistryAbi, functionName: "signerWeightsAt", args: [signers, batch.refBlock] })) as readonly bigint[])
      : [];
    signers.forEach((signingKey, i) => {
      const operator = this.keyToAccount.get(signingKey.toLowerCase());
      const fraud = votes[i]!.fraud;
      dispute.votes.push({ signingKey, operator, fraud, weight: weights[i] ?? 0n, tx: log.transactionHash });
      this.verdict(operator, { ...this.point(log), kind: fraud ? "vote-fraud" : "vote-clean", batchId: dispute.batchId, disputeId: dispute.id });
    });
  }

  private async refreshStakes(): Promise<void> {
    const registry = this.deployment.contracts.registry.address;
    for (const key of [...this.staleStakes]) {
      const member = this.memberMap.get(key);
      this.staleStakes.delete(key);
      if (!member) continue;
      if (this.deployment.mode === "eigenlayer") {
        const active = (await this.client.readContract({ address: registry, abi: eigenServiceManagerAbi, functionName: "stakeOf", args: [member.account] })) as bigint;
        member.stake = { active, unbonding: 0n, releaseAt: 0n };
      } else {
        const [active, unbonding, releaseAt] = (await this.client.readContract({ address: registry, abi: stakeRegistryAbi, functionName: "stakeOf", args: [member.account] })) as readonly [bigint, bigint, bigint];
        member.stake = { active, unbonding, releaseAt };
      }
    }
  }
}
