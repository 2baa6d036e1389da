/**
 * The operator node: registers if needed, follows BatchManager events from a persisted cursor,
 * checks a sample of each new batch's leaves (operator/leaf-check.ts), signs an attestation for a
 * batch that holds up (guarded against double signing) and sends it over gossipsub with HTTP as
 * fallback, opens a dispute with evidence on a batch it found fraudulent (Submitted or attested), and votes
 * on every dispute by recomputing the disputed leaf.
 *
 * Work is queued, not done in the follower: a BatchSubmitted event becomes a batch record (or a
 * skip with a reason, for on-chain values this operator cannot handle: operator/batch-bounds.ts),
 * a DisputeOpened event a pending vote, both written (synced) to level before the cursor moves.
 * The follower therefore always advances. Each queued batch and vote is then its own unit of
 * work: one that fails is retried with backoff, alone, until its window closes (a batch whose
 * leaves are not served, e.g. while its prover restarts, is checked again until its response
 * deadline, and only then given up), and never holds up another.
 *
 * Crash safety: a node killed mid-batch finds the record still "seen" (or "unavailable") on
 * restart and checks it again; the SigningGuard lets it sign only the digest it signed before.
 */
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { batchManagerAbi, devStakeTokenAbi, stakeRegistryAbi } from "../protocol/contracts/abis.ts";
import {
  fromCompactSignature,
  hashAttestation,
  hashDisputeVote,
  protocolDomain,
  signAttestation,
  signDisputeVote,
  Verdict,
  type ProtocolDomain,
} from "../protocol/eip712/index.ts";
import { decodeGossipMessage, encodeGossipMessage, gossipTopic, loadOrCreatePeerKey, MeshNode } from "../protocol/gossip/index.ts";
import { sampleLeaves } from "../protocol/sampling.ts";
import { loadProfile } from "../protocol/verification/load.ts";
import type { VerificationProfile } from "../protocol/verification/index.ts";
import { Engine, WeightsHashMismatchError } from "../prover/engine/index.ts";
import { registeredWeightsHash } from "../runtime/model-registry.ts";
import { connectChain, loadBlsKey, loadKey, readDeploymentFile, sleep, type ChainConnection } from "../runtime/chain.ts";
import { ChainFollower, type ContractEvent } from "../runtime/follower.ts";
import { ensurePrivateDir, restrictNewFiles } from "../runtime/private-files.ts";
import { UntrustedFetcher, UntrustedFetchError } from "../runtime/untrusted-fetch.ts";
import { batchSkip } from "./batch-bounds.ts";
import { FIELD_ERROR_SERVER_OPTIONS, installFieldErrorShape } from "../runtime/http-errors.ts";
import { createLogger, createMetricsRegistry, opsRoutes } from "../runtime/observability.ts";
import type { OperatorConfig } from "./config.ts";
import { LeafChecker, fetchJson, leafUrl, parseLeafResponse, type FetchedLeaf, type LeafCheck, type OnchainBatch } from "./leaf-check.ts";
import { ensureBlsKey, ensureRegistered, RegistrationError } from "./registration.ts";
import { blsSign, g1ToHex, g2ToHex, hashG1, type BlsKeyPair } from "../protocol/bls/index.ts";
import { chainService, eigenNodeApi, EigenMetrics, meshService, type EigenService } from "../runtime/eigen-node-api.ts";
import { SigningGuard } from "./signing-guard.ts";
import { OperatorState, type BatchRecord, type PendingVote, type StoredJudgement } from "./state.ts";
import { hashInferenceLeaf } from "../protocol/merkle/index.ts";
import { FieldError } from "../protocol/errors.ts";

/** BatchManager.BatchState / DisputeState as numbers. */
const BatchState = { None: 0, Submitted: 1, Attested: 2, Disputed: 3, Cleared: 4, Slashed: 5, Finalized: 6, Expired: 7 } as const;
const DisputeOpen = 1;
/** Leaves fetched ahead of the one being recomputed. */
const FETCH_AHEAD = 8;
/** Leaves recomputed together (the engine packs them into prefills sized by memory). */
const VERIFY_GROUP = 8;

function firstLine(error: unknown): string {
  return (error as Error)?.message?.split("\n")[0] ?? String(error);
}

/** A record without the bookkeeping of re-checks (once it has a verdict). */
function withoutRetry(record: BatchRecord): BatchRecord {
  const { attempts: _a, nextAttemptAt: _n, reason: _r, ...rest } = record;
  return rest;
}

export class OperatorError extends FieldError {
  override name = "OperatorError";
}

/** A seam for tests that model misbehaving operators: decides a leaf given the honest check. */
export type LeafCheckHook = (batch: OnchainBatch & { prover: Address }, index: number, honest: () => Promise<LeafCheck>) => Promise<LeafCheck>;

export interface OperatorOptions {
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
  checkHook?: LeafCheckHook;
}

interface Metrics {
  batchesSeen: Counter;
  leavesVerified: Counter<"outcome">;
  verifySeconds: Histogram<"phase">;
  attestationsSent: Counter<"via">;
  disputesOpened: Counter;
  votesSent: Counter<"fraud">;
  cursor: Gauge;
  skipped: Counter<"reason">;
  retries: Counter<"kind">;
  givenUp: Counter<"kind">;
}

function createMetrics(registry: Registry): Metrics {
  return {
    batchesSeen: new Counter({ name: "vb_operator_batches_seen_total", help: "Batches seen on chain", registers: [registry] }),
    leavesVerified: new Counter({ name: "vb_operator_leaves_verified_total", help: "Leaves checked, by outcome", labelNames: ["outcome"], registers: [registry] }),
    verifySeconds: new Histogram({
      name: "vb_operator_verification_seconds",
      help: "Time per leaf and per batch, by phase (seed block wait, fetch, recompute, sign, whole batch)",
      labelNames: ["phase"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    attestationsSent: new Counter({ name: "vb_operator_attestations_sent_total", help: "Attestations sent, by transport", labelNames: ["via"], registers: [registry] }),
    disputesOpened: new Counter({ name: "vb_operator_disputes_opened_total", help: "Disputes this operator opened", registers: [registry] }),
    votesSent: new Counter({ name: "vb_operator_votes_sent_total", help: "Dispute votes sent", labelNames: ["fraud"], registers: [registry] }),
    cursor: new Gauge({ name: "vb_operator_cursor_block", help: "Next block the follower reads", registers: [registry] }),
    skipped: new Counter({ name: "vb_operator_skipped_total", help: "Batches and events not handled, by reason (an on-chain value out of bounds, a model not run here, a handler that kept failing)", labelNames: ["reason"], registers: [registry] }),
    retries: new Counter({ name: "vb_operator_retries_total", help: "Batch checks and votes tried again after unavailable leaves or a failure", labelNames: ["kind"], registers: [registry] }),
    givenUp: new Counter({ name: "vb_operator_given_up_total", help: "Batches and votes given up once their window closed", labelNames: ["kind"], registers: [registry] }),
  };
}

export class OperatorNode {
  private stopped = new AbortController();
  private loop?: Promise<void>;
  private follower!: ChainFollower;
  /** Leaves found valid per batch, kept across re-checks of a batch whose other leaves were not served. */
  private readonly validLeaves = new Map<string, Map<number, LeafCheck>>();
  private lastSent = new Map<string, number>();
  private lastFollowUp = 0;
  /** The BLS key attestations are signed with too, once bound on chain (config.blsKey). */
  private bls?: { secret: bigint; keyHash: Hex; pubkeyG2: Hex };
  readonly topics: { attestations: string; votes: string };

  private constructor(
    readonly config: OperatorConfig,
    readonly conn: ChainConnection,
    readonly signer: PrivateKeyAccount,
    readonly engine: Engine,
    readonly state: OperatorState,
    readonly guard: SigningGuard,
    readonly mesh: MeshNode,
    readonly app: FastifyInstance,
    readonly metrics: Metrics,
    readonly registry: Registry,
    readonly log: Logger,
    private readonly fetcher: UntrustedFetcher,
    private readonly checker: LeafChecker,
    private readonly checkHook: LeafCheckHook | undefined,
  ) {
    const bm = conn.deployment.contracts.batchManager.address;
    this.topics = { attestations: gossipTopic("attestations", conn.chainId, bm), votes: gossipTopic("votes", conn.chainId, bm) };
  }

  get address(): string {
    const a = this.app.server.address();
    return typeof a === "object" && a ? `http://${this.config.http.host}:${a.port}` : "";
  }

  get domain(): ProtocolDomain {
    return protocolDomain(this.conn.chainId, this.conn.deployment.contracts.batchManager.address);
  }

  static async start(config: OperatorConfig, options: OperatorOptions = {}): Promise<OperatorNode> {
    const log = options.logger ?? createLogger("operator", config.logLevel);
    const deployment = readDeploymentFile(config.chain.deployment);
    const account = await loadKey(config.account, "account", options.env ?? process.env);
    const signer = await loadKey(config.signer, "signer", options.env ?? process.env);
    const bls = config.blsKey ? await loadBlsKey(config.blsKey, "blsKey", options.env ?? process.env) : undefined;
    const eigen = new EigenMetrics();
    const conn = await connectChain(config.chain.rpcUrl, deployment, account, { metrics: eigen });
    restrictNewFiles();
    ensurePrivateDir(config.dataDir, { tighten: true });
    const closers: (() => Promise<unknown>)[] = [];
    try {
      const engine = await Engine.load({
        ...(config.model.dir ? { modelDir: config.model.dir } : {}),
        ...(config.model.file ? { modelFile: config.model.file } : {}),
        ...(config.model.device ? { device: config.model.device } : {}),
        // A verifier recomputes in float32 (half-precision weights upcast), on any device.
        precision: "float32",
        ...(config.model.path ? { modelPath: config.model.path } : {}),
        ...(config.model.id ? { modelId: config.model.id } : {}),
        ...(config.model.cacheDir ? { cacheDir: config.model.cacheDir } : {}),
        ...(config.model.tokenizerPath ? { tokenizerPath: config.model.tokenizerPath } : {}),
        ...(config.model.threads !== undefined ? { threads: config.model.threads } : {}),
      });
      closers.push(() => engine.close());
      for (const warning of engine.warnings) log.warn({ model: engine.info.modelId }, warning);
      const registered = await registeredWeightsHash(conn.publicClient, deployment, engine.info.modelId);
      if (registered !== undefined && registered !== engine.info.weightsHash) {
        throw new WeightsHashMismatchError(`${engine.info.modelId} is registered with weights ${registered}, but this operator's model hashes to ${engine.info.weightsHash}; it would judge batches with the wrong weights`, "model");
      }
      const state = new OperatorState(join(config.dataDir, "state"));
      await state.open();
      closers.push(() => state.close());
      const guard = new SigningGuard(join(config.dataDir, "signing-guard"));
      await guard.open();
      closers.push(() => guard.close());
      const peerKey = await loadOrCreatePeerKey(config.mesh.peerKeyFile ?? join(config.dataDir, "peer.key"));
      const mesh = await MeshNode.start({ listen: config.mesh.listen, bootstrap: config.mesh.bootstrap, privateKey: peerKey, ...(config.mesh.colocatedIps ? { colocatedIps: config.mesh.colocatedIps } : {}) });
      closers.push(() => mesh.stop());
      const registry = createMetricsRegistry("operator");
      const metrics = createMetrics(registry);
      eigen.registerOn(registry);
      const app = Fastify({ logger: false, ...FIELD_ERROR_SERVER_OPTIONS });
      installFieldErrorShape(app);
      closers.push(() => app.close());
      const fetcher = new UntrustedFetcher({ ...config.fetchPolicy, timeoutMs: config.fetchTimeoutMs });
      const profiles = await loadOperatorProfiles(config.model.profiles ?? [], engine);
      log.info({ profiles: [...profiles.values()].map((p) => `${p.name} ${p.contentHash}`) }, "verification profiles");
      const node = new OperatorNode(config, conn, signer, engine, state, guard, mesh, app, metrics, registry, log, fetcher, new LeafChecker(engine, fetcher, { profiles }), options.checkHook);
      await node.ensureRegistered();
      if (bls) await node.useBlsKey(bls);
      for (const topic of Object.values(node.topics)) {
        // Relay for the mesh: well-formed messages of this deployment travel on, others are rejected.
        mesh.subscribe(topic, { validate: (data) => node.relayVerdict(data), onMessage: () => undefined });
      }
      await app.register(opsRoutes, { registry, readiness: () => (node.stopped.signal.aborted ? ["stopping"] : []) });
      eigen.services = operatorServices(eigen, mesh, node);
      eigen.stakeSource = async () => [{ quorumNumber: 0, quorumName: "operators", stake: await node.registeredStake() }];
      await app.register(eigenNodeApi, { nodeName: "verifiable-benchmarks-operator", nodeVersion: NODE_VERSION, services: eigen.services });
      app.get("/v1/status", async () => node.status());
      app.get<{ Params: { id: string } }>("/v1/batches/:id", { schema: { params: { type: "object", properties: { id: { type: "string", pattern: "^[0-9]{1,20}$" } }, required: ["id"] } } }, async (request, reply) => {
        const record = await state.batch(BigInt(request.params.id));
        if (!record) return reply.code(404).send({ error: { message: `batch ${request.params.id} not seen`, field: "id" } });
        return record;
      });
      app.get<{ Params: { id: string } }>("/v1/batches/:id/judgements", { schema: { params: { type: "object", properties: { id: { type: "string", pattern: "^[0-9]{1,20}$" } }, required: ["id"] } } }, async (request, reply) => {
        const batchId = BigInt(request.params.id);
        const record = await state.batch(batchId);
        if (!record) return reply.code(404).send({ error: { message: `batch ${request.params.id} not seen`, field: "id" } });
        return { batchId: record.batchId, profileHash: record.profileHash ?? null, status: record.status, leaves: await state.judgementsOf(batchId) };
      });
      await app.listen({ host: config.http.host, port: config.http.port });
      node.follower = new ChainFollower({
        publicClient: conn.publicClient,
        address: deployment.contracts.batchManager.address,
        abi: batchManagerAbi,
        logRange: config.chain.logRange,
        load: () => state.cursor(),
        save: async (block) => {
          await state.setCursor(block);
          metrics.cursor.set(Number(block));
        },
        startBlock: BigInt(config.chain.startBlock ?? deployment.blockNumber),
        handle: (event) => node.onEvent(event),
        log,
        skipped: metrics.skipped,
        signal: node.stopped.signal,
      });
      await node.follower.open();
      node.loop = node.run();
      log.info({ account: account.address, signer: signer.address, peerId: mesh.peerId, mesh: mesh.addresses, http: node.address, cursor: node.follower.cursor.toString() }, "operator ready");
      return node;
    } catch (error) {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    await this.loop?.catch(() => undefined);
    await this.app.close();
    await this.mesh.stop();
    await this.guard.close();
    await this.state.close();
    await this.engine.close();
  }

  async status(): Promise<Record<string, unknown>> {
    const open = await this.state.openBatches();
    return {
      account: this.conn.account.address,
      signer: this.signer.address,
      ...(this.bls ? { blsKeyHash: this.bls.keyHash } : {}),
      peerId: this.mesh.peerId,
      mesh: this.mesh.addresses,
      cursor: this.follower.cursor.toString(),
      openBatches: open.map((b) => ({ batchId: b.batchId, status: b.status, ...(b.attempts ? { attempts: b.attempts } : {}), ...(b.reason ? { reason: b.reason } : {}) })),
    };
  }

  private relayVerdict(data: Uint8Array): "accept" | "reject" {
    let message;
    try {
      message = decodeGossipMessage(data);
    } catch {
      return "reject";
    }
    const bm = this.conn.deployment.contracts.batchManager.address;
    return message.chainId === this.conn.chainId && message.contract.toLowerCase() === bm.toLowerCase() ? "accept" : "reject";
  }

  // ------------------------------------------------------------------ registration

  /** This operator's weight now (slashable stake in EigenLayer mode), in token units. */
  async registeredStake(): Promise<number> {
    // Not the client's cached block number: a registration in the newest block must show.
    const block = await this.conn.publicClient.getBlockNumber({ cacheTime: 0 });
    const weight = (await this.conn.publicClient.readContract({
      address: this.conn.deployment.contracts.registry.address, abi: stakeRegistryAbi, functionName: "weightAt", args: [this.signer.address, block],
    })) as bigint;
    return Number(weight) / 1e18;
  }

  private async ensureRegistered(): Promise<void> {
    try {
      const el = this.config.eigenLayer ?? {};
      const outcome = await ensureRegistered(this.conn, this.signer, BigInt(this.config.stake), {
        ...(el.allocationDelay !== undefined ? { allocationDelay: el.allocationDelay } : {}),
        ...(el.magnitude !== undefined ? { magnitude: BigInt(el.magnitude) } : {}),
        ...(el.metadataURI !== undefined ? { metadataURI: el.metadataURI } : {}),
        onStep: (step, detail) => this.log.info({ step, ...detail }, "EigenLayer: joining the operator set"),
      });
      if (outcome === "registered") this.log.info({ stake: this.config.stake, mode: this.conn.deployment.mode }, "registered as operator");
    } catch (error) {
      if (error instanceof RegistrationError) throw new OperatorError(error.message, error.field);
      throw error;
    }
  }

  /** Binds the BLS key (once) and signs every attestation with it too from now on. */
  private async useBlsKey(bls: BlsKeyPair): Promise<void> {
    try {
      const outcome = await ensureBlsKey(this.conn, bls);
      const keyHash = hashG1(bls.pubkeyG1);
      if (outcome === "registered") this.log.info({ keyHash }, "BLS key registered with its proof of possession");
      this.bls = { secret: bls.secret, keyHash, pubkeyG2: g2ToHex(bls.pubkeyG2) };
    } catch (error) {
      if (error instanceof RegistrationError) throw new OperatorError(error.message, error.field);
      throw error;
    }
  }

  private async send(address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[]): Promise<Hex> {
    const { publicClient, walletClient, account } = this.conn;
    const { request } = await publicClient.simulateContract({ address, abi: abi as never, functionName: functionName as never, args: args as never, account });
    const hash = await walletClient.writeContract(request as never);
    const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 120_000 });
    if (receipt.status !== "success") throw new OperatorError(`${functionName} reverted (tx ${hash})`, functionName);
    return hash;
  }

  // ------------------------------------------------------------------ following the chain

  private async run(): Promise<void> {
    const signal = this.stopped.signal;
    while (!signal.aborted) {
      await this.phase("follow", () => this.follower.poll());
      await this.phase("check", () => this.checkDue());
      await this.phase("vote", () => this.voteDue());
      if (Date.now() - this.lastFollowUp >= Math.min(1000, this.config.resendIntervalMs)) {
        this.lastFollowUp = Date.now();
        await this.phase("follow-up", () => this.followUp());
      }
      await sleep(this.config.chain.pollIntervalMs, signal);
    }
  }

  /** One phase of the loop: a failure is logged and never stops the other phases. */
  private async phase(name: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      if (!this.stopped.signal.aborted) this.log.warn({ phase: name, err: firstLine(error) }, "operator step failed; retrying");
    }
  }

  /** Queues the work an event asks for (idempotent: a block may be handled twice). */
  private async onEvent(event: ContractEvent): Promise<void> {
    if (event.eventName === "BatchSubmitted") await this.admitBatch(event);
    else if (event.eventName === "DisputeOpened") await this.admitDispute(event);
  }

  private async admitBatch(event: ContractEvent): Promise<void> {
    const a = event.args as { batchId: bigint; prover: Address; modelId: Hex; root: Hex; leafCount: bigint; dataURI: string; responseDeadline: bigint; profileHash: Hex };
    if (await this.state.batch(a.batchId)) return;
    this.metrics.batchesSeen.inc();
    const skip = batchSkip(a, { maxBatchLeaves: this.config.maxBatchLeaves, modelId: this.engine.info.modelId, allowPrivateNetworks: this.config.fetchPolicy.allowPrivateNetworks });
    const leafCount = typeof a.leafCount === "bigint" && a.leafCount <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(a.leafCount) : -1;
    const record: BatchRecord = {
      batchId: a.batchId.toString(), root: a.root, modelId: a.modelId, leafCount,
      // A value out of bounds is not kept (an oversized URI would bloat every status answer).
      dataURI: skip?.label === "data-uri" ? "" : a.dataURI,
      profileHash: a.profileHash,
      submittedBlock: event.blockNumber.toString(), responseDeadline: String(a.responseDeadline),
      status: skip ? skip.status : "seen",
      ...(skip ? { reason: skip.reason, done: true } : {}),
    };
    await this.state.putBatch(record);
    if (skip) {
      this.metrics.skipped.inc({ reason: skip.label });
      this.log.warn({ batchId: record.batchId, prover: a.prover, reason: skip.reason }, skip.status === "unsupported" ? "batch of a model this operator does not run; not checking" : "batch skipped: an on-chain value this operator cannot handle");
    }
  }

  private async admitDispute(event: ContractEvent): Promise<void> {
    const a = event.args as { disputeId: bigint; batchId: bigint; leafHash: Hex; votingDeadline: bigint };
    if ((await this.state.vote(a.disputeId)) || (await this.state.pendingVote(a.disputeId))) return;
    await this.state.putPendingVote({ disputeId: a.disputeId.toString(), batchId: a.batchId.toString(), leafHash: a.leafHash, votingDeadline: String(a.votingDeadline) });
  }

  // ------------------------------------------------------------------ queued work

  /** Checks every batch that is due (new, or whose leaves were not served last time), each on its own. */
  private async checkDue(): Promise<void> {
    // New batches first: one whose leaves keep timing out must not make fresh ones wait behind it.
    const due = (await this.state.openBatches()).filter((r) => r.status === "seen" || r.status === "unavailable");
    due.sort((a, b) => (a.status === b.status ? 0 : a.status === "seen" ? -1 : 1));
    for (const record of due) {
      if (this.stopped.signal.aborted) return;
      if (record.status !== "seen" && record.status !== "unavailable") continue;
      if ((record.nextAttemptAt ?? 0) > Date.now()) continue;
      try {
        await this.checkQueued(record);
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        await this.retryBatch(record, `check failed: ${firstLine(error)}`, Number(record.responseDeadline ?? 0));
      }
    }
  }

  private async checkQueued(record: BatchRecord): Promise<void> {
    const batchId = BigInt(record.batchId);
    const onchain = (await this.conn.publicClient.readContract({ address: this.domain.verifyingContract, abi: batchManagerAbi, functionName: "getBatch", args: [batchId] })) as { state: number; prover: Address; deadline: number | bigint };
    // A node catching up on history skips batches that can no longer be attested or disputed.
    if (onchain.state === BatchState.Finalized || onchain.state === BatchState.Expired || onchain.state === BatchState.Slashed) {
      this.validLeaves.delete(record.batchId);
      await this.state.putBatch({ ...record, done: true });
      return;
    }
    // A re-check only helps while the batch can still be attested.
    if (record.status === "unavailable" && onchain.state !== BatchState.Submitted) {
      this.validLeaves.delete(record.batchId);
      await this.state.putBatch({ ...record, done: true });
      return;
    }
    const deadline = onchain.state === BatchState.Submitted ? Number(onchain.deadline) : Number(record.responseDeadline ?? 0);
    const failing = await this.checkBatch(record, onchain.prover, deadline);
    if (failing) await this.retryBatch({ ...record, status: "unavailable" }, failing.reason, deadline, failing.permanent);
  }

  /**
   * Schedules another check of a batch (backoff, base..max) while its response window is open;
   * gives it up, with a log line and a metric, once no check can happen before the deadline.
   */
  private async retryBatch(record: BatchRecord, reason: string, deadlineSeconds: number, permanent = false): Promise<void> {
    const attempts = (record.attempts ?? 0) + 1;
    const delay = Math.min(this.config.retry.maxMs, this.config.retry.baseMs * 2 ** Math.min(attempts - 1, 20));
    // The last try is made just before the window closes.
    const nextAt = Math.min(Date.now() + delay, deadlineSeconds * 1000 - 1000);
    if (permanent || nextAt <= Date.now()) {
      this.validLeaves.delete(record.batchId);
      await this.state.putBatch({ ...record, attempts, reason, done: true });
      this.metrics.givenUp.inc({ kind: "batch" });
      this.log.warn({ batchId: record.batchId, attempts, reason }, permanent ? "batch given up: its data URI is refused by the fetch policy" : "batch given up: its response window closed before it could be checked");
      return;
    }
    await this.state.putBatch({ ...record, attempts, reason, nextAttemptAt: nextAt });
    this.metrics.retries.inc({ kind: "batch" });
    this.log.info({ batchId: record.batchId, attempts, retryInMs: nextAt - Date.now(), reason }, "batch not checkable yet; checking again");
  }

  /** Votes on every dispute that is due, each on its own, retried until its voting deadline. */
  private async voteDue(): Promise<void> {
    for (const pending of await this.state.openPendingVotes()) {
      if (this.stopped.signal.aborted) return;
      if ((pending.nextAttemptAt ?? 0) > Date.now()) continue;
      let outcome: { done: boolean; reason: string };
      try {
        outcome = await this.voteOn(BigInt(pending.disputeId), BigInt(pending.batchId), pending.leafHash);
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        outcome = { done: false, reason: `vote failed: ${firstLine(error)}` };
      }
      if (outcome.done) {
        await this.state.putPendingVote({ ...pending, done: true, reason: outcome.reason });
        continue;
      }
      const attempts = (pending.attempts ?? 0) + 1;
      const delay = Math.min(this.config.retry.maxMs, this.config.retry.baseMs * 2 ** Math.min(attempts - 1, 20));
      const nextAt = Math.min(Date.now() + delay, Number(pending.votingDeadline) * 1000 - 1000);
      if (nextAt <= Date.now()) {
        await this.state.putPendingVote({ ...pending, attempts, done: true, reason: outcome.reason });
        this.metrics.givenUp.inc({ kind: "vote" });
        this.log.warn({ disputeId: pending.disputeId, attempts, reason: outcome.reason }, "vote given up: the voting window closed");
      } else {
        await this.state.putPendingVote({ ...pending, attempts, nextAttemptAt: nextAt, reason: outcome.reason });
        this.metrics.retries.inc({ kind: "vote" });
        this.log.info({ disputeId: pending.disputeId, attempts, retryInMs: nextAt - Date.now(), reason: outcome.reason }, "cannot vote yet; trying again");
      }
    }
  }

  /** Seed block: the first block after the submission, whose hash the prover could not know. */
  private async seedBlockHash(submittedBlock: bigint): Promise<Hex> {
    const { publicClient } = this.conn;
    for (;;) {
      const head = await publicClient.getBlockNumber();
      if (head > submittedBlock) return (await publicClient.getBlock({ blockNumber: submittedBlock + 1n })).hash!;
      if (this.stopped.signal.aborted) throw new OperatorError("stopping", "stop");
      await sleep(this.config.chain.pollIntervalMs, this.stopped.signal);
    }
  }

  /**
   * Checks the sampled leaves of a batch and records the verdict (valid: signed and sent; fraud:
   * kept for a dispute; unsupported). Returns why not, when a leaf was not served (the caller
   * schedules another try); `permanent` when the fetch policy refuses the data URI itself.
   */
  private async checkBatch(record: BatchRecord, prover: Address, deadlineSeconds: number): Promise<{ reason: string; permanent: boolean } | undefined> {
    const batchStart = performance.now();
    const batchId = BigInt(record.batchId);
    const onchain: OnchainBatch & { prover: Address } = { ...onchainBatch(record), prover };
    const blockHash = await this.seedBlockHash(BigInt(record.submittedBlock));
    this.metrics.verifySeconds.observe({ phase: "seed" }, (performance.now() - batchStart) / 1000);
    const indices = sampleLeaves({ blockHash, batchId, operator: this.conn.account.address, leafCount: record.leafCount, fraction: this.config.samplingFraction });
    const known = this.validLeaves.get(record.batchId) ?? new Map<number, LeafCheck>();
    this.validLeaves.set(record.batchId, known);
    const checked: { leafHash: Hex; index: number }[] = [];
    const judged: StoredJudgement[] = [];
    let verdict: BatchRecord["status"] = "valid";
    let failing: LeafCheck | undefined;
    let permanent = false;
    // Fetches run ahead of recomputation; fetched leaves are recomputed VERIFY_GROUP at a time
    // in shared prefills (LeafChecker.judgeMany), then recorded one by one, in order.
    const todo = indices.filter((i) => !known.has(i));
    const fetches = new Map<number, Promise<FetchedLeaf>>();
    checking: for (let k = 0; k < todo.length; ) {
      if (this.stopped.signal.aborted) return undefined;
      if (Date.now() / 1000 > deadlineSeconds) return { reason: "the response window closed while checking", permanent: true };
      for (let j = k; j < Math.min(todo.length, k + VERIFY_GROUP + FETCH_AHEAD); j++) {
        if (!fetches.has(j)) fetches.set(j, this.checker.fetch(onchain, todo[j]!));
      }
      const group: FetchedLeaf[] = [];
      for (let j = k; j < Math.min(todo.length, k + VERIFY_GROUP); j++) {
        group.push(await fetches.get(j)!);
        fetches.delete(j);
      }
      const honestResults = await this.checker.judgeMany(onchain, group);
      for (const [i, fetched] of group.entries()) {
        const index = todo[k + i]!;
        const honest = async () => honestResults[i]!;
        const result = this.checkHook ? await this.checkHook(onchain, index, honest) : await honest();
        this.metrics.leavesVerified.inc({ outcome: result.outcome });
        this.metrics.verifySeconds.observe({ phase: "fetch" }, result.timings.fetchMs / 1000);
        this.metrics.verifySeconds.observe({ phase: "recompute" }, result.timings.recomputeMs / 1000);
        if (result.outcome === "valid") known.set(index, result);
        if (result.leafHash) checked.push({ leafHash: result.leafHash, index });
        if (result.judgement) judged.push({ index, outcome: result.outcome, ...result.judgement });
        if (result.outcome !== "valid") {
          verdict = result.outcome;
          failing = result;
          permanent = fetched.refusedByPolicy === true;
          break checking;
        }
      }
      k += group.length;
    }
    if (this.stopped.signal.aborted) return undefined;
    for (const [index, result] of known) if (result.leafHash) checked.push({ leafHash: result.leafHash, index });
    await this.state.putLeafIndexes(batchId, checked);
    await this.state.putJudgements(batchId, judged);
    if (verdict === "unavailable") {
      this.log.warn({ batchId: record.batchId, index: failing?.index, reason: failing?.reason }, "leaf not available; not attesting yet");
      return { reason: failing?.reason ?? "leaf not served", permanent };
    }
    this.validLeaves.delete(record.batchId);
    if (verdict === "valid") {
      const signStart = performance.now();
      const message = { batchId, root: record.root, verdict: Verdict.Valid, leavesChecked: indices.length };
      const digest = hashAttestation(this.domain, message);
      await this.guard.authorize(`attest:${this.conn.chainId}:${this.domain.verifyingContract.toLowerCase()}:${batchId}`, digest, "valid");
      const signed = await signAttestation(this.signer, this.domain, message);
      const envelope = { chainId: this.conn.chainId, contract: this.domain.verifyingContract, signature: fromCompactSignature(signed.signature), message };
      const encoded = encodeGossipMessage(
        this.bls
          ? { type: "attestation-bls", ...envelope, bls: { keyHash: this.bls.keyHash, pubkeyG2: this.bls.pubkeyG2, signature: g1ToHex(blsSign(this.bls.secret, digest)) } }
          : { type: "attestation", ...envelope },
      );
      this.metrics.verifySeconds.observe({ phase: "sign" }, (performance.now() - signStart) / 1000);
      const stored: BatchRecord = { ...withoutRetry(record), status: "valid", leavesChecked: indices.length, message: Buffer.from(encoded).toString("hex") };
      await this.state.putBatch(stored);
      this.log.info({ batchId: record.batchId, leavesChecked: indices.length }, "batch holds up; attesting");
      await this.deliver("attestations", encoded, stored.batchId);
    } else {
      const stored: BatchRecord = { ...withoutRetry(record), status: verdict, leavesChecked: indices.length };
      if (verdict === "fraud" && failing?.fields && failing.merkleProof && failing.evidence && failing.leafHash) {
        stored.fraud = {
          index: failing.index, leafHash: failing.leafHash, merkleProof: failing.merkleProof, evidence: failing.evidence, reason: failing.reason,
          fields: { ...failing.fields, seed: failing.fields.seed.toString() },
        };
      }
      await this.state.putBatch(stored);
      this.log.warn({ batchId: record.batchId, verdict, index: failing?.index, reason: failing?.reason }, "batch does not hold up; not attesting");
    }
    this.metrics.verifySeconds.observe({ phase: "batch" }, (performance.now() - batchStart) / 1000);
    return undefined;
  }

  /** Gossip first; the aggregator's HTTP API when no peer takes it. */
  private async deliver(kind: "attestations" | "votes", encoded: Uint8Array, subject: string): Promise<void> {
    this.lastSent.set(`${kind}:${subject}`, Date.now());
    let via: "gossip" | "http" | "none" = "none";
    try {
      if ((await this.mesh.publish(this.topics[kind], encoded)) > 0) via = "gossip";
    } catch (error) {
      this.log.debug({ err: error }, "gossip publish failed");
    }
    if (via === "none") {
      for (const base of this.config.aggregatorUrls) {
        try {
          const response = await fetch(`${base.replace(/\/+$/, "")}/v1/${kind}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: Buffer.from(encoded),
            signal: AbortSignal.timeout(this.config.fetchTimeoutMs),
          });
          if (response.ok) {
            via = "http";
            break;
          }
          this.log.warn({ status: response.status, body: await response.text() }, `aggregator refused ${kind}`);
        } catch (error) {
          this.log.debug({ err: error, base }, "aggregator HTTP fallback failed");
        }
      }
    }
    if (kind === "attestations") this.metrics.attestationsSent.inc({ via });
    this.log.info({ kind, subject, via }, "sent");
  }

  // ------------------------------------------------------------------ follow-up: resends and disputes

  private async followUp(): Promise<void> {
    const { publicClient } = this.conn;
    const bm = this.conn.deployment.contracts.batchManager.address;
    for (const record of await this.state.openBatches()) {
      if (record.status === "seen" || record.status === "unavailable") continue;
      // Each record on its own: one whose dispute cannot be sent never holds up the others.
      try {
        const batchId = BigInt(record.batchId);
        const onchain = (await publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "getBatch", args: [batchId] })) as { state: number; deadline: number };
        if (record.status === "valid") {
          // While disputed the batch cannot be attested, but a rejected dispute reopens it: keep the record.
          if (onchain.state === BatchState.Disputed) continue;
          if (onchain.state !== BatchState.Submitted) {
            await this.state.putBatch({ ...record, done: true });
          } else if (Date.now() - (this.lastSent.get(`attestations:${record.batchId}`) ?? 0) >= this.config.resendIntervalMs && record.message) {
            await this.deliver("attestations", new Uint8Array(Buffer.from(record.message, "hex")), record.batchId);
          }
        } else if (record.status === "fraud" && record.fraud) {
          // No need to wait for someone to attest a fraudulent batch: dispute it while Submitted too.
          if (onchain.state === BatchState.Submitted || onchain.state === BatchState.Attested || onchain.state === BatchState.Disputed || onchain.state === BatchState.Cleared) {
            await this.openDispute(record);
          } else {
            await this.state.putBatch({ ...record, done: true });
          }
        } else if (onchain.state !== BatchState.Submitted) {
          await this.state.putBatch({ ...record, done: true });
        }
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        this.log.warn({ batchId: record.batchId, status: record.status, err: firstLine(error) }, "follow-up of a batch failed; trying again later");
      }
    }
    for (const vote of await this.state.openVotes()) {
      try {
        const disputeId = BigInt(vote.disputeId);
        const dispute = (await publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "getDispute", args: [disputeId] })) as { state: number };
        const voted = (await publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "hasVoted", args: [disputeId, this.signer.address] })) as boolean;
        if (dispute.state !== DisputeOpen || voted) {
          await this.state.putVote({ ...vote, done: true });
        } else if (Date.now() - (this.lastSent.get(`votes:${vote.disputeId}`) ?? 0) >= this.config.resendIntervalMs) {
          await this.deliver("votes", new Uint8Array(Buffer.from(vote.message, "hex")), vote.disputeId);
        }
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        this.log.warn({ disputeId: vote.disputeId, err: firstLine(error) }, "follow-up of a vote failed; trying again later");
      }
    }
  }

  private async openDispute(record: BatchRecord): Promise<void> {
    const { publicClient, account, deployment } = this.conn;
    const bm = deployment.contracts.batchManager.address;
    const fraud = record.fraud!;
    const batchId = BigInt(record.batchId);
    const already = (await publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "leafDisputed", args: [batchId, fraud.leafHash] })) as boolean;
    if (already) {
      await this.state.putBatch({ ...record, done: true });
      return;
    }
    const bond = BigInt(deployment.config.disputeBond);
    const token = deployment.contracts.stakeToken.address;
    const allowance = (await publicClient.readContract({ address: token, abi: devStakeTokenAbi, functionName: "allowance", args: [account.address, bm] })) as bigint;
    if (allowance < bond) await this.send(token, devStakeTokenAbi, "approve", [bm, bond]);
    const leaf = { ...fraud.fields, seed: BigInt(fraud.fields.seed) };
    try {
      const tx = await this.send(bm, batchManagerAbi, "openDispute", [batchId, leaf, fraud.merkleProof, fraud.evidence]);
      this.metrics.disputesOpened.inc();
      this.log.warn({ batchId: record.batchId, leafHash: fraud.leafHash, tx, reason: fraud.reason }, "dispute opened");
      await this.state.putBatch({ ...record, disputeTx: tx, done: true });
    } catch (error) {
      if (/LeafAlreadyDisputed|ChallengeWindowClosed|ResponseWindowClosed|InvalidBatchState/.test(String((error as Error).message))) {
        await this.state.putBatch({ ...record, done: true });
        return;
      }
      throw error;
    }
  }

  // ------------------------------------------------------------------ votes

  private async findLeafIndex(record: BatchRecord, leafHash: Hex): Promise<number | undefined> {
    const known = await this.state.leafIndex(BigInt(record.batchId), leafHash);
    if (known !== undefined) return known;
    // leafCount is bounded by maxBatchLeaves (batch-bounds.ts): the scan is too.
    for (let index = 0; index < record.leafCount && !this.stopped.signal.aborted; index++) {
      try {
        const { record: leaf } = parseLeafResponse(await fetchJson(leafUrl(record.dataURI, index), this.fetcher));
        if (hashInferenceLeaf(leaf) === leafHash.toLowerCase()) return index;
      } catch {
        // An unserved or malformed leaf cannot be the disputed one we are looking for.
      }
    }
    return undefined;
  }

  /** Recomputes the disputed leaf and sends a signed vote. `done: false` asks for another try later. */
  private async voteOn(disputeId: bigint, batchId: bigint, leafHash: Hex): Promise<{ done: boolean; reason: string }> {
    const { publicClient } = this.conn;
    const bm = this.conn.deployment.contracts.batchManager.address;
    if (await this.state.vote(disputeId)) return { done: true, reason: "voted" };
    const dispute = (await publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "getDispute", args: [disputeId] })) as { state: number };
    if (dispute.state !== DisputeOpen) return { done: true, reason: "the dispute is closed" };
    const record = await this.state.batch(batchId);
    if (!record || record.status === "skipped" || record.status === "unsupported") {
      const reason = !record ? "dispute over a batch never seen" : `cannot check batch ${batchId}: ${record.reason ?? record.status}`;
      this.log.warn({ disputeId: disputeId.toString(), batchId: batchId.toString(), reason }, "abstaining");
      return { done: true, reason };
    }
    const index = await this.findLeafIndex(record, leafHash);
    // The prover may be restarting: look again until the voting window closes.
    if (index === undefined) return { done: false, reason: "disputed leaf not served by the prover" };
    const prover = ((await publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "getBatch", args: [batchId] })) as { prover: Address }).prover;
    // The vote judges the leaf under the profile the batch was submitted with, as the attestation did.
    const onchain = { ...onchainBatch(record), prover };
    const honest = () => this.checker.check(onchain, index);
    const result = this.checkHook ? await this.checkHook(onchain, index, honest) : await honest();
    if (result.outcome === "unavailable") return { done: false, reason: result.reason };
    if (result.outcome !== "valid" && result.outcome !== "fraud") {
      this.log.warn({ disputeId: disputeId.toString(), outcome: result.outcome }, "cannot judge the disputed leaf; abstaining");
      return { done: true, reason: result.reason };
    }
    const message = { disputeId, batchId, leafHash, fraud: result.outcome === "fraud" };
    const digest = hashDisputeVote(this.domain, message);
    await this.guard.authorize(`vote:${this.conn.chainId}:${this.domain.verifyingContract.toLowerCase()}:${disputeId}`, digest, message.fraud ? "fraud" : "clean");
    const signed = await signDisputeVote(this.signer, this.domain, message);
    const encoded = encodeGossipMessage({ type: "vote", chainId: this.conn.chainId, contract: this.domain.verifyingContract, signature: fromCompactSignature(signed.signature), message });
    await this.state.putVote({ disputeId: disputeId.toString(), batchId: batchId.toString(), leafHash, fraud: message.fraud, message: Buffer.from(encoded).toString("hex") });
    this.metrics.votesSent.inc({ fraud: String(message.fraud) });
    this.log.info({ disputeId: disputeId.toString(), fraud: message.fraud, reason: result.reason }, "voting");
    await this.deliver("votes", encoded, disputeId.toString());
    return { done: true, reason: message.fraud ? "voted fraud" : "voted clean" };
  }
}

/** The chain's view of a batch, as the leaf checker takes it. */
function onchainBatch(record: BatchRecord): OnchainBatch {
  return {
    batchId: BigInt(record.batchId),
    root: record.root,
    modelId: record.modelId,
    leafCount: record.leafCount,
    dataURI: record.dataURI,
    ...(record.profileHash ? { profileHash: record.profileHash } : {}),
  };
}

/** The profile files of the config (hash-checked), plus the engine's own, by content hash. */
async function loadOperatorProfiles(paths: readonly string[], engine: Engine): Promise<Map<string, VerificationProfile>> {
  const profiles = new Map<string, VerificationProfile>();
  if (engine.profile) profiles.set(engine.profile.contentHash, engine.profile);
  for (const path of paths) {
    let profile;
    try {
      profile = await loadProfile(path);
    } catch (error) {
      throw new OperatorError(`model.profiles: ${(error as Error).message}`, "model.profiles");
    }
    if (!("schema" in profile)) throw new OperatorError(`model.profiles: ${path} is a reference profile, not a calibrated one`, "model.profiles");
    if (profile.model.weightsHash !== engine.info.weightsHash) {
      throw new OperatorError(`model.profiles: ${path} is for weights ${profile.model.weightsHash}, this operator runs ${engine.info.weightsHash}`, "model.profiles");
    }
    profiles.set(profile.contentHash, profile);
  }
  return profiles;
}

const NODE_VERSION = "0.1.0";

/** The operator's services in EigenLayer's node API: chain, mesh, registration. */
function operatorServices(eigen: EigenMetrics, mesh: MeshNode, node: OperatorNode): EigenService[] {
  return [
    chainService(eigen),
    meshService(mesh, Object.values(node.topics), "libp2p gossipsub mesh to the aggregator and other operators"),
    {
      id: "avs-registration",
      name: "registration",
      description: "Registered in the operator set with weight (allocated slashable stake in EigenLayer mode)",
      status: async () => ((await node.registeredStake()) > 0 ? "Up" : "Down"),
    },
  ];
}
