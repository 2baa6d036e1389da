/**
 * The aggregator node: admits signed attestations and dispute votes from the gossip mesh and from
 * its HTTP API (aggregator/ingest.ts), pools them by stake (aggregator/quorum.ts, votes.ts),
 * submits attest() once a batch's quorum holds and its grace period is over, castVotes() and
 * resolveDispute() once a dispute is decided (or its voting window is over), finalize() once
 * an attested batch's challenge window is over, expire() once a batch's response window
 * passed without quorum, and slash*Equivocation() with the two messages of a signing key that
 * signed both ways (kept in level until on chain). Transactions that fail for a transient reason
 * are retried with exponential backoff; a revert that says someone else got there first closes
 * the subject. Admitted messages are kept in level and re-admitted on restart; one that is
 * refused on re-admission (stored by an older version that admitted it, e.g. a high-s copy)
 * is dropped with a log line.
 *
 * Isolation: every batch, dispute, slashing and finalization job is its own unit of work. A job
 * that fails backs off alone; the loop's phases (following the chain, submitting, settling,
 * slashing) never stop one another, and the follower skips (with a reason and a metric) an
 * event it cannot handle instead of stopping on it.
 */
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Address, Hex } from "viem";
import { batchManagerAbi, stakeRegistryAbi } from "../protocol/contracts/abis.ts";
import { chainService, eigenNodeApi, EigenMetrics, meshService } from "../runtime/eigen-node-api.ts";
import { hashAttestation, protocolDomain, toCompactSignature, type AttestationMessage, type ProtocolDomain } from "../protocol/eip712/index.ts";
import { decodeGossipMessage, encodeGossipMessage, gossipTopic, loadOrCreatePeerKey, MeshNode, type GossipMessage } from "../protocol/gossip/index.ts";
import { connectChain, loadKey, readDeploymentFile, sleep, type ChainConnection } from "../runtime/chain.ts";
import { ChainFollower, type ContractEvent } from "../runtime/follower.ts";
import { ensurePrivateDir, restrictNewFiles } from "../runtime/private-files.ts";
import { createLogger, createMetricsRegistry, opsRoutes } from "../runtime/observability.ts";
import { FieldError } from "../protocol/errors.ts";
import { FIELD_ERROR_SERVER_OPTIONS, installFieldErrorShape } from "../runtime/http-errors.ts";
import type { AggregatorConfig } from "./config.ts";
import { Admission, IngestError, type Admitted } from "./ingest.ts";
import { BlsKeyDirectory } from "../runtime/bls-key-directory.ts";
import { buildCertificate } from "./bls-certificates.ts";
import { AttestationPool, type CheckedAttestation, type QuorumReady } from "./quorum.ts";
import { AggregatorState, type EquivocationRecord } from "./state.ts";
import { VotePool, type CheckedVote } from "./votes.ts";

/** The API's answer to an admitted message; a conflict (equivocation) is a 409 in the error shape too. */
function answer(outcome: string, signer: Address, weight: bigint, subject: string): { status: number; body: Record<string, unknown> } {
  const body: Record<string, unknown> = { outcome, signer, weight: weight.toString() };
  if (outcome !== "conflict") return { status: 202, body };
  return { status: 409, body: { error: { message: `signer ${signer} signed two different messages on ${subject}: kept as equivocation evidence`, field: "signature" }, ...body } };
}

/** Stored evidence that cannot be turned into a slashing call. */
class EvidenceError extends FieldError {
  override name = "EvidenceError";
}

const BatchState = { Submitted: 1, Attested: 2, Disputed: 3, Cleared: 4, Slashed: 5, Finalized: 6, Expired: 7 } as const;
const DONE_REVERTS = /InvalidBatchState|ResponseWindowClosed|DisputeNotOpen|AlreadyVoted|VotingClosed/;

interface Metrics {
  received: Counter<"kind" | "via" | "outcome">;
  submitted: Counter<"kind" | "result">;
  submitSeconds: Histogram<"kind">;
  openBatches: Gauge;
  quorumLatency: Histogram;
  skipped: Counter<"reason">;
  jobFailures: Counter<"kind">;
}

function createMetrics(registry: Registry): Metrics {
  return {
    received: new Counter({ name: "vb_aggregator_messages_total", help: "Signed messages received, by kind, transport and outcome", labelNames: ["kind", "via", "outcome"], registers: [registry] }),
    submitted: new Counter({ name: "vb_aggregator_transactions_total", help: "Transactions sent, by kind and result", labelNames: ["kind", "result"], registers: [registry] }),
    submitSeconds: new Histogram({ name: "vb_aggregator_transaction_seconds", help: "Send-to-receipt time", labelNames: ["kind"], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [registry] }),
    openBatches: new Gauge({ name: "vb_aggregator_open_batches", help: "Batches collecting attestations", registers: [registry] }),
    quorumLatency: new Histogram({ name: "vb_aggregator_first_attestation_to_submit_seconds", help: "From a batch's first admitted attestation to attest() mined", buckets: [0.5, 1, 2, 5, 10, 30, 60, 120], registers: [registry] }),
    skipped: new Counter({ name: "vb_aggregator_skipped_total", help: "Work given up with a logged reason: stored messages refused on replay, unusable evidence, events whose handler kept failing", labelNames: ["reason"], registers: [registry] }),
    jobFailures: new Counter({ name: "vb_aggregator_job_failures_total", help: "Failures of one unit of work (a batch, dispute, slashing or loop phase), each isolated from the others", labelNames: ["kind"], registers: [registry] }),
  };
}

interface Retry {
  attempts: number;
  nextAt: number;
}

export interface AggregatorOptions {
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
}

export class AggregatorNode {
  private readonly stopped = new AbortController();
  private loop?: Promise<void>;
  private follower!: ChainFollower;
  private lastPoll = 0;
  /** Seconds the newest block's timestamp is ahead of this machine's clock (0 when behind). */
  private chainClockLead = 0;
  private readonly retries = new Map<string, Retry>();
  private readonly firstSeen = new Map<bigint, number>();
  /** Equivocations waiting to be slashed, by `attestations|votes:<id>:<signer>` (also in level). */
  private readonly equivocations = new Map<string, EquivocationRecord>();
  private readonly pool: AttestationPool;
  private readonly votes: VotePool;
  private readonly admission: Admission;
  private readonly blsKeys: BlsKeyDirectory;
  /** Signers of BLS-attested batches (from BatchAttestedBLS), for the BatchAttested that follows. */
  private readonly blsAttesters = new Map<bigint, Address[]>();
  readonly domain: ProtocolDomain;
  readonly topics: { attestations: string; votes: string };

  private constructor(
    readonly config: AggregatorConfig,
    readonly conn: ChainConnection,
    readonly state: AggregatorState,
    readonly mesh: MeshNode,
    readonly app: FastifyInstance,
    readonly metrics: Metrics,
    readonly registry: Registry,
    readonly log: Logger,
  ) {
    const bm = conn.deployment.contracts.batchManager.address;
    this.domain = protocolDomain(conn.chainId, bm);
    this.pool = new AttestationPool({ thresholdBps: conn.deployment.config.attestThresholdBps, graceMs: config.graceMs });
    this.votes = new VotePool(conn.deployment.config.voteThresholdBps);
    this.blsKeys = new BlsKeyDirectory({ publicClient: conn.publicClient, registry: conn.deployment.contracts.registry.address, fromBlock: BigInt(conn.deployment.blockNumber), logRange: config.chain.logRange });
    this.admission = new Admission(conn.publicClient, this.domain, conn.deployment.contracts.registry.address, this.blsKeys);
    this.topics = { attestations: gossipTopic("attestations", conn.chainId, bm), votes: gossipTopic("votes", conn.chainId, bm) };
  }

  get address(): string {
    const a = this.app.server.address();
    return typeof a === "object" && a ? `http://${this.config.http.host}:${a.port}` : "";
  }

  static async start(config: AggregatorConfig, options: AggregatorOptions = {}): Promise<AggregatorNode> {
    const log = options.logger ?? createLogger("aggregator", config.logLevel);
    const deployment = readDeploymentFile(config.chain.deployment);
    const account = await loadKey(config.account, "account", options.env ?? process.env);
    const eigen = new EigenMetrics();
    const conn = await connectChain(config.chain.rpcUrl, deployment, account, { metrics: eigen });
    restrictNewFiles();
    ensurePrivateDir(config.dataDir, { tighten: true });
    const closers: (() => Promise<unknown>)[] = [];
    try {
      const state = new AggregatorState(join(config.dataDir, "state"));
      await state.open();
      closers.push(() => state.close());
      const peerKey = await loadOrCreatePeerKey(config.mesh.peerKeyFile ?? join(config.dataDir, "peer.key"));
      const mesh = await MeshNode.start({ listen: config.mesh.listen, bootstrap: config.mesh.bootstrap, privateKey: peerKey, ...(config.mesh.colocatedIps ? { colocatedIps: config.mesh.colocatedIps } : {}) });
      closers.push(() => mesh.stop());
      const registry = createMetricsRegistry("aggregator");
      eigen.registerOn(registry);
      const app = Fastify({ logger: false, bodyLimit: config.http.bodyLimitBytes, ...FIELD_ERROR_SERVER_OPTIONS });
      installFieldErrorShape(app);
      closers.push(() => app.close());
      const node = new AggregatorNode(config, conn, state, mesh, app, createMetrics(registry), registry, log);
      eigen.services = [chainService(eigen), meshService(mesh, Object.values(node.topics), "libp2p gossipsub mesh the operators' attestations and votes arrive on")];
      // The aggregator holds no stake: it reports the operator set's total weight, the quorum's base.
      eigen.stakeSource = async () => {
        const block = await conn.publicClient.getBlockNumber({ cacheTime: 0 });
        const total = (await conn.publicClient.readContract({ address: deployment.contracts.registry.address, abi: stakeRegistryAbi, functionName: "totalWeightAt", args: [block] })) as bigint;
        return [{ quorumNumber: 0, quorumName: "operators", stake: Number(total) / 1e18 }];
      };
      await app.register(eigenNodeApi, { nodeName: "verifiable-benchmarks-aggregator", nodeVersion: "0.1.0", services: eigen.services });
      for (const kind of ["attestations", "votes"] as const) {
        mesh.subscribe(node.topics[kind], {
          validate: async (data) => {
            const outcome = await node.receive(data, "gossip");
            // Only the sender's fault lowers its score: stale subjects and our own RPC trouble do not.
            if (outcome.status < 300) return "accept";
            return outcome.status === 409 || outcome.status === 404 || outcome.status >= 500 ? "ignore" : "reject";
          },
          onMessage: () => undefined,
        });
      }
      node.routes();
      await app.listen({ host: config.http.host, port: config.http.port });
      node.follower = new ChainFollower({
        publicClient: conn.publicClient,
        address: node.domain.verifyingContract,
        abi: batchManagerAbi,
        logRange: config.chain.logRange,
        load: () => state.cursor(),
        save: (block) => state.setCursor(block),
        startBlock: BigInt(config.chain.startBlock ?? deployment.blockNumber),
        handle: (event) => node.onEvent(event),
        log,
        skipped: node.metrics.skipped,
        signal: node.stopped.signal,
      });
      await node.follower.open();
      await node.replayStored();
      node.loop = node.run();
      log.info({ account: account.address, peerId: mesh.peerId, mesh: mesh.addresses, http: node.address }, "aggregator ready");
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
    await this.state.close();
  }

  // ------------------------------------------------------------------ admission

  /**
   * Re-admits what level holds from before a restart: messages (a crash loses no signature) and
   * open equivocation evidence. A message the doors refuse now, for a reason of its own (4xx:
   * e.g. a high-s copy an older version admitted, a subject gone), is deleted with a log line;
   * one refused because the chain is unreachable (5xx) stays for the next start.
   */
  private async replayStored(): Promise<void> {
    for (const [key, hex] of await this.state.allMessages()) {
      const outcome = await this.receive(new Uint8Array(Buffer.from(hex, "hex")), "replay");
      if (outcome.status < 400 || outcome.status >= 500) continue;
      await this.state.deleteMessage(key);
      const reason = (outcome.body.error as { message?: string } | undefined)?.message ?? `status ${outcome.status}`;
      this.metrics.skipped.inc({ reason: "stored-message-refused" });
      this.log.warn({ key, status: outcome.status, reason }, "dropped a stored message that is refused on replay");
    }
    for (const record of await this.state.openEquivocations()) {
      const problem = AggregatorNode.evidenceProblem(record);
      if (problem) {
        await this.state.putEquivocation({ ...record, done: true });
        this.metrics.skipped.inc({ reason: "stored-evidence-unusable" });
        this.log.warn({ key: record.key, reason: problem }, "dropped stored equivocation evidence that cannot be sent");
        continue;
      }
      this.equivocations.set(record.key, record);
    }
  }

  /** Admits one message; returns the HTTP status and a body for the API. */
  async receive(data: Uint8Array, via: "gossip" | "http" | "replay"): Promise<{ status: number; body: Record<string, unknown> }> {
    let admitted: Admitted;
    try {
      admitted = await this.admission.admit(data);
    } catch (error) {
      if (error instanceof IngestError) {
        this.metrics.received.inc({ kind: "unknown", via, outcome: `refused-${error.status}` });
        return { status: error.status, body: { error: { message: error.message, field: error.field } } };
      }
      this.log.warn({ err: error }, "admission failed");
      return { status: 503, body: { error: { message: `chain unavailable: ${(error as Error).message.split("\n")[0]}`, field: "chain" } } };
    }
    const hex = Buffer.from(data).toString("hex");
    if (admitted.kind === "attestation") {
      const m = admitted.envelope.message;
      this.pool.open(m.batchId, admitted.batch.totalWeight);
      const outcome = this.pool.add({ message: m, signer: admitted.signer, signature: admitted.envelope.signature, weight: admitted.weight, ...(admitted.bls ? { bls: admitted.bls } : {}) });
      if (outcome === "accepted") {
        if (!this.firstSeen.has(m.batchId)) this.firstSeen.set(m.batchId, Date.now());
        await this.state.putMessage(`attestation:${m.batchId}:${admitted.signer.toLowerCase()}`, hex);
      }
      if (outcome === "conflict") await this.recordEquivocation("attestations", m.batchId, admitted.signer, this.pool.evidence(m.batchId, admitted.signer));
      this.metrics.received.inc({ kind: "attestation", via, outcome });
      return answer(outcome, admitted.signer, admitted.weight, `batch ${m.batchId}`);
    }
    const m = admitted.envelope.message;
    this.votes.open(m.disputeId, admitted.batch.totalWeight);
    const outcome = this.votes.add({ message: m, signer: admitted.signer, signature: admitted.envelope.signature, weight: admitted.weight });
    if (outcome === "accepted") {
      await this.state.putMessage(`vote:${m.disputeId}:${admitted.signer.toLowerCase()}`, hex);
      if (!(await this.state.dispute(m.disputeId))) {
        await this.state.putDispute({ disputeId: m.disputeId.toString(), batchId: m.batchId.toString(), leafHash: m.leafHash, votingDeadline: admitted.dispute.votingDeadline.toString() });
      }
    }
    if (outcome === "conflict") await this.recordEquivocation("votes", m.disputeId, admitted.signer, this.votes.evidence(m.disputeId, admitted.signer));
    this.metrics.received.inc({ kind: "vote", via, outcome });
    return answer(outcome, admitted.signer, admitted.weight, `dispute ${m.disputeId}`);
  }

  private routes(): void {
    const app = this.app;
    // The body is the gossip message itself: decoded strictly by the same codec as the mesh.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
    app.register(opsRoutes, { registry: this.registry, readiness: () => (this.stopped.signal.aborted ? ["stopping"] : []) });
    const post = async (request: { body: unknown }, reply: { code(n: number): { send(b: unknown): unknown } }) => {
      if (!Buffer.isBuffer(request.body)) return reply.code(400).send({ error: { message: "body must be a JSON gossip message", field: "body" } });
      const { status, body } = await this.receive(new Uint8Array(request.body), "http");
      return reply.code(status).send(body);
    };
    app.post("/v1/attestations", post);
    app.post("/v1/votes", post);
    app.get("/v1/status", async () => this.status());
  }

  async status(): Promise<Record<string, unknown>> {
    return {
      account: this.conn.account.address,
      peerId: this.mesh.peerId,
      mesh: this.mesh.addresses,
      cursor: this.follower.cursor.toString(),
      openDisputes: this.votes.openDisputes().map(String),
      attested: await this.state.openAttested(),
      disputes: await this.state.allDisputes(),
      submissions: (await this.state.allSubmissions()).map((s) => ({ ...s })),
    };
  }

  // ------------------------------------------------------------------ the loop

  private async run(): Promise<void> {
    const signal = this.stopped.signal;
    while (!signal.aborted) {
      if (Date.now() - this.lastPoll >= this.config.chain.pollIntervalMs) {
        this.lastPoll = Date.now();
        await this.phase("follow", () => this.follower.poll());
        await this.phase("clock", () => this.readChainClock());
        await this.phase("finalize", () => this.finalizeDue());
      }
      await this.phase("attest", () => this.submitReady());
      await this.phase("disputes", () => this.settleDisputes());
      await this.phase("slashing", () => this.slashEquivocators());
      await sleep(100, signal);
    }
  }

  /** One phase of the loop: its failure is logged and counted, and never stops the others. */
  private async phase(kind: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      if (this.stopped.signal.aborted) return;
      this.metrics.jobFailures.inc({ kind });
      this.log.warn({ phase: kind, err: (error as Error)?.message?.split("\n")[0] ?? String(error) }, "aggregator step failed; retrying");
    }
  }

  /**
   * Deadlines are chain time (block.timestamp). A chain whose clock runs ahead of this machine's
   * (a local chain that mined many blocks quickly) would keep every window open for that long if
   * judged by the wall clock, so the newest block's timestamp counts when it is ahead; on a
   * quiet chain that only mines on transactions, the next block takes the wall clock.
   */
  private chainSeconds(): number {
    return Date.now() / 1000 + this.chainClockLead;
  }

  private async readChainClock(): Promise<void> {
    const block = await this.conn.publicClient.getBlock({ blockTag: "latest" });
    this.chainClockLead = Math.max(0, Number(block.timestamp) - Date.now() / 1000);
  }

  private due(key: string): boolean {
    return (this.retries.get(key)?.nextAt ?? 0) <= Date.now();
  }

  private backoff(key: string, error: unknown): void {
    this.metrics.jobFailures.inc({ kind: key.split(":")[0]! });
    const r = this.retries.get(key) ?? { attempts: 0, nextAt: 0 };
    r.attempts += 1;
    const delay = Math.min(this.config.retry.maxMs, this.config.retry.baseMs * 2 ** (r.attempts - 1));
    r.nextAt = Date.now() + delay;
    this.retries.set(key, r);
    this.log.warn({ key, attempts: r.attempts, retryInMs: delay, err: (error as Error)?.message?.split("\n")[0] ?? String(error) }, "job failed; backing off");
  }

  private async send(kind: string, functionName: string, args: readonly unknown[]): Promise<Hex> {
    const { publicClient, walletClient, account } = this.conn;
    const started = performance.now();
    const { request } = await publicClient.simulateContract({ address: this.domain.verifyingContract, abi: batchManagerAbi, functionName: functionName as never, args: args as never, account });
    const hash = await walletClient.writeContract(request as never);
    const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 120_000 });
    this.metrics.submitSeconds.observe({ kind }, (performance.now() - started) / 1000);
    if (receipt.status !== "success") throw new Error(`${functionName} reverted (tx ${hash})`);
    this.metrics.submitted.inc({ kind, result: "mined" });
    return hash;
  }

  private async estimate(call: { functionName: string; args: readonly unknown[] }): Promise<bigint> {
    const { publicClient, account } = this.conn;
    return publicClient.estimateContractGas({ address: this.domain.verifyingContract, abi: batchManagerAbi, functionName: call.functionName as never, args: call.args as never, account });
  }

  private async submitReady(): Promise<void> {
    const openBatchIds = this.openBatchIds();
    this.metrics.openBatches.set(openBatchIds.length);
    for (const batchId of openBatchIds) {
      const key = `attest:${batchId}`;
      if (!this.due(key)) continue;
      // Everything about one batch happens inside its own try: nothing it holds can stop another.
      try {
        const ready = this.pool.ready(batchId);
        if (!ready) continue;
        await this.submitAttestation(batchId, ready);
      } catch (error) {
        try {
          if (DONE_REVERTS.test(String((error as Error)?.message)) && !(await this.disputed(batchId))) {
            this.pool.close(batchId);
            await this.state.deleteMessagesOf(`attestation:${batchId}:`);
            this.metrics.submitted.inc({ kind: "attest", result: "moot" });
            continue;
          }
        } catch {
          // The state read failed too: treat it as a failure of this batch's job.
        }
        this.metrics.submitted.inc({ kind: "attest", result: "failed" });
        this.backoff(key, error);
      }
    }
  }

  private async submitAttestation(batchId: bigint, ready: QuorumReady): Promise<void> {
    const m = ready.message;
    const ecdsa = { functionName: "attest", args: [m.batchId, m.root, m.verdict, m.leavesChecked, ready.attestations.map((a) => toCompactSignature(a.signature))] as const };
    let call: { functionName: string; args: readonly unknown[] } = ecdsa;
    let signers = ready.attestations;
    let scheme: "ecdsa" | "bls" = "ecdsa";
    if (ready.bls && this.config.attestationScheme !== "ecdsa") {
      const { refBlock } = await this.admission.batch(batchId);
      const certificate = await buildCertificate(this.blsKeys, refBlock, hashAttestation(this.domain, m), ready.bls.attestations.map((a) => a.bls!));
      const bls = { functionName: "attestBLS", args: [m.batchId, m.root, m.verdict, m.leavesChecked, certificate] as const };
      // "auto": whichever costs less gas for this signer set (ECDSA wins for small sets).
      const cheaper = async () => {
        const [blsGas, ecdsaGas] = await Promise.all([this.estimate(bls), this.estimate(ecdsa)]);
        return blsGas <= ecdsaGas;
      };
      if (this.config.attestationScheme === "bls" || (await cheaper())) {
        call = bls;
        signers = ready.bls.attestations;
        scheme = "bls";
      }
    }
    const tx = await this.send("attest", call.functionName, call.args);
    this.pool.close(batchId);
    const first = this.firstSeen.get(batchId);
    if (first) this.metrics.quorumLatency.observe((Date.now() - first) / 1000);
    await this.state.putSubmission({ kind: "attest", subject: batchId.toString(), txHash: tx, at: Date.now(), signers: signers.map((a) => a.signer), scheme });
    await this.state.deleteMessagesOf(`attestation:${batchId}:`);
    this.log.info({ batchId: batchId.toString(), scheme, signers: signers.length, weight: signers.reduce((sum, a) => sum + a.weight, 0n).toString(), total: ready.totalStake.toString(), tx }, "batch attested");
  }

  /**
   * Whether a batch is Disputed: it cannot be attested now, but a rejected dispute reopens a batch
   * nobody attested, and then the signatures collected so far still count.
   */
  private async disputed(batchId: bigint): Promise<boolean> {
    const b = (await this.conn.publicClient.readContract({ address: this.domain.verifyingContract, abi: batchManagerAbi, functionName: "getBatch", args: [batchId] })) as { state: number };
    return b.state === BatchState.Disputed;
  }

  private openBatchIds(): bigint[] {
    return [...this.firstSeen.keys()].filter((id) => this.pool.isOpen(id));
  }

  /** Handles one BatchManager event (BatchSubmitted / Attested / Reopened / Cleared / ..., DisputeOpened / Resolved); idempotent. */
  private async onEvent(log: ContractEvent): Promise<void> {
    const a = log.args;
    switch (log.eventName) {
      case "BatchSubmitted": {
        if (!(await this.state.awaitingBatch(a.batchId as bigint))) {
          await this.state.putAwaiting({ batchId: String(a.batchId), responseDeadline: String(a.responseDeadline) });
        }
        break;
      }
      case "BatchAttestedBLS": {
        // Emitted just before BatchAttested, whose signer list is empty for a certificate.
        const batchId = a.batchId as bigint;
        const { refBlock } = await this.admission.batch(batchId);
        this.blsAttesters.set(batchId, await this.blsKeys.signersOf(refBlock, a.nonSignerKeyHashes as Hex[]));
        break;
      }
      case "BatchAttested": {
        const batchId = a.batchId as bigint;
        this.pool.close(batchId);
        await this.settleAwaiting(batchId);
        const listed = a.signers as Address[];
        const signers = listed.length > 0 ? listed : (this.blsAttesters.get(batchId) ?? []);
        this.blsAttesters.delete(batchId);
        await this.state.putAttested({ batchId: batchId.toString(), challengeDeadline: String(a.challengeDeadline), signers });
        break;
      }
      case "BatchReopened": {
        // Every dispute on a batch nobody attested was rejected: a fresh response window.
        await this.state.putAwaiting({ batchId: String(a.batchId), responseDeadline: String(a.responseDeadline) });
        break;
      }
      case "BatchCleared": {
        const record = await this.state.attestedBatch(a.batchId as bigint);
        if (record) await this.state.putAttested({ ...record, done: false });
        break;
      }
      case "BatchFinalized":
      case "BatchSlashed":
      case "BatchExpired": {
        const record = await this.state.attestedBatch(a.batchId as bigint);
        if (record) await this.state.putAttested({ ...record, done: true });
        if (log.eventName === "BatchExpired") {
          this.pool.close(a.batchId as bigint);
          await this.settleAwaiting(a.batchId as bigint);
        }
        break;
      }
      case "DisputeOpened": {
        const disputeId = a.disputeId as bigint;
        const batch = await this.admission.batch(a.batchId as bigint);
        this.votes.open(disputeId, batch.totalWeight);
        if (!(await this.state.dispute(disputeId))) {
          await this.state.putDispute({ disputeId: disputeId.toString(), batchId: String(a.batchId), leafHash: a.leafHash as Hex, votingDeadline: String(a.votingDeadline) });
        }
        break;
      }
      case "DisputeResolved": {
        const disputeId = a.disputeId as bigint;
        this.votes.close(disputeId);
        const record = await this.state.dispute(disputeId);
        const outcomes = ["None", "Open", "Upheld", "Rejected", "Moot"];
        if (record) await this.state.putDispute({ ...record, outcome: outcomes[Number(a.outcome)] ?? String(a.outcome) });
        await this.state.deleteMessagesOf(`vote:${disputeId}:`);
        break;
      }
      default:
        break;
    }
  }

  private async settleDisputes(): Promise<void> {
    for (const disputeId of this.votes.openDisputes()) {
      const key = `dispute:${disputeId}`;
      if (!this.due(key)) continue;
      try {
        const record = await this.state.dispute(disputeId);
        if (!record) continue;
        const decision = this.votes.decision(disputeId);
        const votingOver = this.chainSeconds() > Number(record.votingDeadline) + 1;
        if (!decision && !votingOver) continue;
        const pending = this.votes.pending(disputeId);
        if (pending.length > 0 && !votingOver) {
          const votes = pending.map((v) => ({ fraud: v.message.fraud, ...toCompactSignature(v.signature) }));
          const tx = await this.send("castVotes", "castVotes", [disputeId, votes]);
          this.votes.markOnChain(disputeId, pending.map((v) => v.signer));
          await this.state.putSubmission({ kind: "castVotes", subject: disputeId.toString(), txHash: tx, at: Date.now(), signers: pending.map((v) => v.signer) });
        }
        const attested = await this.state.attestedBatch(BigInt(record.batchId));
        const attesters = decision === "upheld" ? (attested?.signers ?? []) : [];
        const tx = await this.send("resolveDispute", "resolveDispute", [disputeId, attesters]);
        this.votes.close(disputeId);
        await this.state.putSubmission({ kind: "resolveDispute", subject: disputeId.toString(), txHash: tx, at: Date.now() });
        this.log.info({ disputeId: disputeId.toString(), decision: decision ?? "timed out", tx }, "dispute resolved");
      } catch (error) {
        if (/DisputeNotOpen/.test(String((error as Error)?.message))) {
          this.votes.close(disputeId);
        } else {
          this.metrics.submitted.inc({ kind: "dispute", result: "failed" });
          this.backoff(key, error);
        }
      }
    }
  }

  /**
   * Keeps the evidence of an equivocation a pool just saw on batch or dispute `id`: the key's two
   * signed messages, gossip-encoded, written to level first, until the slashing tx is mined.
   */
  private async recordEquivocation(
    kind: EquivocationRecord["kind"],
    id: bigint,
    signer: Address,
    pair: readonly [CheckedAttestation | CheckedVote, CheckedAttestation | CheckedVote] | undefined,
  ): Promise<void> {
    this.log.warn({ kind, id: id.toString(), signer }, "equivocating signer");
    const key = `${kind}:${id}:${signer.toLowerCase()}`;
    if (!pair || this.equivocations.has(key) || (await this.state.equivocation(key))) return;
    const type = kind === "attestations" ? "attestation" : "vote";
    const encode = ({ message, signature }: CheckedAttestation | CheckedVote) =>
      Buffer.from(encodeGossipMessage({ type, chainId: this.conn.chainId, contract: this.domain.verifyingContract, message, signature } as GossipMessage)).toString("hex");
    const record: EquivocationRecord = { key, kind, messages: [encode(pair[0]), encode(pair[1])] };
    await this.state.putEquivocation(record);
    this.equivocations.set(key, record);
  }

  /** The slashing call for an evidence record: function name and arguments, from its two signed messages. */
  private static slashCall(record: EquivocationRecord): { functionName: "slashAttestationEquivocation" | "slashVoteEquivocation"; args: readonly unknown[] } {
    const [a, b] = record.messages.map((hex) => decodeGossipMessage(new Uint8Array(Buffer.from(hex, "hex"))));
    if (a!.type === "attestation" && b!.type === "attestation") {
      const body = (m: AttestationMessage) => ({ root: m.root, verdict: m.verdict, leavesChecked: m.leavesChecked });
      return { functionName: "slashAttestationEquivocation", args: [a!.message.batchId, body(a!.message), toCompactSignature(a!.signature), body(b!.message), toCompactSignature(b!.signature)] };
    }
    if (a!.type === "vote" && b!.type === "vote") {
      const [fraud, clean] = a!.message.fraud ? [a!, b!] : [b!, a!];
      return { functionName: "slashVoteEquivocation", args: [a!.message.disputeId, toCompactSignature(fraud.signature), toCompactSignature(clean.signature)] };
    }
    throw new EvidenceError(`equivocation ${record.key}: messages of different kinds`, "messages");
  }

  /** Why stored evidence cannot become a slashing call (malformed, non-canonical), or undefined. */
  private static evidenceProblem(record: EquivocationRecord): string | undefined {
    try {
      AggregatorNode.slashCall(record);
      return undefined;
    } catch (error) {
      if (error instanceof FieldError) return error.message;
      throw error;
    }
  }

  /** Sends the evidence of each equivocation seen: the signer's operator is slashed on chain. */
  private async slashEquivocators(): Promise<void> {
    for (const [key, record] of this.equivocations) {
      if (!this.due(key)) continue;
      try {
        const problem = AggregatorNode.evidenceProblem(record);
        if (problem) {
          this.equivocations.delete(key);
          await this.state.putEquivocation({ ...record, done: true });
          this.metrics.skipped.inc({ reason: "evidence-unusable" });
          this.log.warn({ key, reason: problem }, "dropped equivocation evidence that cannot be sent");
          continue;
        }
        const { functionName, args } = AggregatorNode.slashCall(record);
        const tx = await this.send("slashEquivocation", functionName, args);
        this.equivocations.delete(key);
        await this.state.putEquivocation({ ...record, done: true });
        await this.state.putSubmission({ kind: "slashEquivocation", subject: key, txHash: tx, at: Date.now() });
        this.log.warn({ subject: key, tx }, "equivocating operator slashed");
      } catch (error) {
        if (/EquivocationAlreadySlashed|SignerNotStaked|NotEquivocation/.test(String((error as Error)?.message))) {
          this.equivocations.delete(key);
          await this.state.putEquivocation({ ...record, done: true });
          this.metrics.submitted.inc({ kind: "slashEquivocation", result: "moot" });
        } else {
          this.metrics.submitted.inc({ kind: "slashEquivocation", result: "failed" });
          this.backoff(key, error);
        }
      }
    }
  }

  private async settleAwaiting(batchId: bigint): Promise<void> {
    const record = await this.state.awaitingBatch(batchId);
    if (record && !record.done) await this.state.putAwaiting({ ...record, done: true });
  }

  /** Batches whose response window passed without quorum: expire() them (frees nothing, but ends them). */
  private async expireDue(): Promise<void> {
    const nowSeconds = this.chainSeconds();
    for (const record of await this.state.openAwaiting()) {
      if (nowSeconds <= Number(record.responseDeadline) + 1) continue;
      const key = `expire:${record.batchId}`;
      if (!this.due(key)) continue;
      try {
        const b = (await this.conn.publicClient.readContract({ address: this.domain.verifyingContract, abi: batchManagerAbi, functionName: "getBatch", args: [BigInt(record.batchId)] })) as { state: number };
        if (b.state !== BatchState.Submitted) {
          // A disputed batch may come back (BatchReopened) with a new deadline; anything else is over.
          if (b.state !== BatchState.Disputed) await this.state.putAwaiting({ ...record, done: true });
          continue;
        }
        const tx = await this.send("expire", "expire", [BigInt(record.batchId)]);
        this.pool.close(BigInt(record.batchId));
        await this.state.putSubmission({ kind: "expire", subject: record.batchId, txHash: tx, at: Date.now() });
        await this.state.putAwaiting({ ...record, done: true });
        this.log.warn({ batchId: record.batchId, tx }, "batch expired without quorum");
      } catch (error) {
        this.backoff(key, error);
      }
    }
  }

  private async finalizeDue(): Promise<void> {
    if (!this.config.finalize) return;
    await this.phase("expire", () => this.expireDue());
    const nowSeconds = this.chainSeconds();
    for (const record of await this.state.openAttested()) {
      if (nowSeconds <= Number(record.challengeDeadline) + 1) continue;
      const key = `finalize:${record.batchId}`;
      if (!this.due(key)) continue;
      try {
        const b = (await this.conn.publicClient.readContract({ address: this.domain.verifyingContract, abi: batchManagerAbi, functionName: "getBatch", args: [BigInt(record.batchId)] })) as { state: number };
        if (b.state !== BatchState.Attested && b.state !== BatchState.Cleared) {
          if (b.state !== BatchState.Disputed) await this.state.putAttested({ ...record, done: true });
          continue;
        }
        const tx = await this.send("finalize", "finalize", [BigInt(record.batchId)]);
        await this.state.putSubmission({ kind: "finalize", subject: record.batchId, txHash: tx, at: Date.now() });
        await this.state.putAttested({ ...record, done: true });
        this.log.info({ batchId: record.batchId, tx }, "batch finalized");
      } catch (error) {
        this.backoff(key, error);
      }
    }
  }
}
