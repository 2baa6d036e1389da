/**
 * The chaos run: the local network on loopback (a Hardhat node with 1 s blocks, the contracts, an
 * honest prover, an aggregator, three honest operators, all separate processes) with, at the same
 * time, a hostile operator and a hostile prover (scripts/chaos/hostile-*.ts), and SIGKILLs of
 * every honest node in turn while honest batches are in flight. What it counts:
 *   - honest batches attested within their window (the target: all of them; none expired);
 *   - data lost: completions the prover acknowledged (200, with a proof record) that are not in
 *     a batch committed on chain at the end (target 0);
 *   - double signatures: an honest signing key seen signing two different messages on one
 *     subject, on the mesh (an observer peer recovers every signer) or slashed on chain (0);
 *   - secrets shown: the honest nodes reach the chain through a proxy that fails bursts of
 *     calls, by a URL with a (fake) API key in its path and query; no log line and no API answer
 *     may hold it;
 *   - what the hostile parties got: refusals, skips, slashings, hits on the internal service.
 */
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Address } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { protocolDomain, recoverAttestationSigner, recoverDisputeVoteSigner } from "../../protocol/eip712/index.ts";
import { decodeGossipMessage, gossipTopic, MeshNode } from "../../protocol/gossip/index.ts";
import { readdirSync, readFileSync } from "node:fs";
import { startFlakyRpc, type FlakyRpc } from "./flaky-rpc.ts";
import { freePort, launchAggregator, launchOperator, launchProver, setupNetwork, spawnTs, startHardhatNode, type NetworkSetup, type NodeProcess } from "../network/launch.ts";

export type ChaosKill = "operator-1" | "operator-2" | "operator-3" | "aggregator" | "prover";

export interface ChaosOptions {
  /** Honest batches to send. */
  batches: number;
  requestsPerBatch: number;
  /** Nodes SIGKILLed and restarted, one after each honest batch (in this order). */
  kills: readonly ChaosKill[];
  /** Keep the folder (logs, keys, data) instead of deleting it. */
  keep?: boolean;
  log?: (line: string) => void;
}

export interface ChaosFigures {
  honestBatches: number;
  attested: number;
  expired: number;
  recordsAcknowledged: number;
  recordsLost: number;
  doubleSignatures: number;
  messagesObserved: number;
  hostileSlashings: number;
  internalServiceHits: number;
  kills: string[];
  hostileProver: unknown;
  hostileOperator: unknown;
  /** Per hostile batch, each honest operator's recorded decision. */
  hostileBatchDecisions: Record<string, string[]>;
  seconds: number;
  dir: string;
  /** Log files and API answers holding the RPC URL's key. */
  secretsShown: number;
  /** Places the RPC URL was shown redacted (the errors that carry it were printed). */
  redactedShown: number;
  /** RPC calls the flaky proxy refused (errors every node had to handle, and print). */
  rpcRefusals: number;
}

const State = { Submitted: 1, Attested: 2, Disputed: 3, Cleared: 4, Slashed: 5, Finalized: 6, Expired: 7 } as const;

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`chaos: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function lastJson(proc: NodeProcess, prefix: string): unknown {
  const lines = proc.log.split("\n").filter((l) => l.startsWith(`${prefix}: {`));
  const last = lines[lines.length - 1];
  return last ? JSON.parse(last.slice(prefix.length + 2)) : undefined;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosFigures> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const dir = mkdtempSync(path.join(tmpdir(), "vb-chaos-"));
  const procs = new Map<string, NodeProcess>();
  let internal: Server | undefined;
  let observer: MeshNode | undefined;
  let hardhat: NodeProcess | undefined;
  let rpc: FlakyRpc | undefined;
  const kills: string[] = [];
  try {
    const chain = await startHardhatNode(dir);
    hardhat = chain.node;
    log("chain up; deploying");
    const setup: NetworkSetup = await setupNetwork(chain.rpcUrl, dir, {
      operators: 4, // three honest, one hostile
      provers: 2, // one honest, one hostile
      blockIntervalMs: 1000,
      // Two honest operators out of four are a quorum, so one may be down at any time.
      config: { attestThresholdBps: 5000, voteThresholdBps: 5000, responseWindow: 150, challengeWindow: 15, votingWindow: 30, unbondingDelay: 1000 },
    });
    // The honest nodes reach the chain through a flaky proxy, by a URL with a (fake) API key in it.
    rpc = await startFlakyRpc(chain.rpcUrl, 100, 4);
    const nodes: NetworkSetup = { ...setup, rpcUrl: rpc.url };
    const bm = setup.deployment.contracts.batchManager.address;
    const domain = protocolDomain(setup.deployment.chainId, bm);

    // A service on the operators' machine that nobody outside should reach (127.0.0.2 is loopback too).
    let internalHits = 0;
    internal = createServer((_req, res) => {
      internalHits++;
      res.writeHead(200, { "content-type": "application/json" }).end('{"secret":"internal"}');
    });
    await new Promise<void>((r) => internal!.listen(0, "127.0.0.2", r));
    const internalUrl = `http://127.0.0.2:${(internal.address() as { port: number }).port}`;

    const ports = { http: await freePort(), mesh: await freePort() };
    const startAggregator = async () => {
      const a = await launchAggregator(nodes, { AGGREGATOR_GRACE_MS: "1500" }, nodes.rpcUrl, ports);
      procs.set("aggregator", a.proc);
      return a;
    };
    const aggregator = await startAggregator();
    log(`aggregator ${aggregator.url}`);

    // Fixed mesh ports: a restarted operator is found again where it was (libp2p redials it).
    const meshPorts = [await freePort(), await freePort(), await freePort()];
    const operatorMesh: string[] = [];
    const startOperator = async (index: number) => {
      const config = { fetchTimeoutMs: 3000, mesh: { listen: [`/ip4/127.0.0.1/tcp/${meshPorts[index]}`], bootstrap: [aggregator.mesh] } };
      const op = await launchOperator(nodes, { index, aggregatorUrl: aggregator.url, bootstrap: [aggregator.mesh], config });
      procs.set(`operator-${index + 1}`, op.proc);
      const address = await op.proc.waitFor(/"mesh":\["([^"]+)"/, 10_000);
      operatorMesh[index] = address[1]!;
    };
    await Promise.all([0, 1, 2].map(startOperator));
    // The observer (and the hostile operator) hear the operators first-hand, not only through the aggregator.
    // An observer on the mesh: every signed message it sees, by recovered signer and subject.
    observer = await MeshNode.start({ listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: [aggregator.mesh, ...operatorMesh] });
    const signed = new Map<string, Set<string>>();
    let observed = 0;
    const onMessage = async (data: Uint8Array) => {
      try {
        const m = decodeGossipMessage(data);
        const signer = m.type === "vote" ? await recoverDisputeVoteSigner(domain, m.message, m.signature) : await recoverAttestationSigner(domain, m.message, m.signature);
        const subject = m.type === "vote" ? `vote:${m.message.disputeId}` : `attestation:${m.message.batchId}`;
        const content = m.type === "vote" ? String(m.message.fraud) : `${m.message.root}:${m.message.verdict}:${m.message.leavesChecked}`;
        const key = `${signer.toLowerCase()}|${subject}`;
        observed++;
        signed.set(key, (signed.get(key) ?? new Set()).add(content));
      } catch {
        // Malformed or non-canonical: the aggregator refuses it too; not a signature of anyone.
      }
    };
    for (const kind of ["attestations", "votes"] as const) observer.subscribe(gossipTopic(kind, setup.deployment.chainId, bm), { validate: () => "accept", onMessage: (d) => void onMessage(d) });

    const proverPort = await freePort();
    const startProver = async () => {
      const p = await launchProver(nodes, { index: 0, args: ["--port", String(proverPort)], env: { PROVER_BATCH_MAX_RECORDS: String(options.requestsPerBatch), PROVER_BATCH_MAX_AGE_MS: "5000", PROVER_BATCH_COMMIT_RETRY_MS: "2000", PROVER_LOG_LEVEL: "info" } });
      procs.set("prover", p.proc);
      return p.url;
    };
    const proverUrl = await startProver();
    log(`honest prover ${proverUrl}, operators 1-3 up`);

    const hostileOp = setup.operators[3]!;
    const hostileOperator = spawnTs("hostile-operator", "scripts/chaos/hostile-operator.ts", [], {
      CHAOS_RPC_URL: setup.rpcUrl, CHAOS_DEPLOYMENT: setup.deploymentFile, CHAOS_ACCOUNT_KEY_FILE: hostileOp.accountKeyFile, CHAOS_SIGNER_KEY_FILE: hostileOp.signerKeyFile,
      CHAOS_AGGREGATOR_URL: aggregator.url, CHAOS_BOOTSTRAP: [aggregator.mesh, ...operatorMesh].join(","), CHAOS_HONEST_PROVER: setup.provers[0]!.account.address,
    }, dir);
    procs.set("hostile-operator", hostileOperator);
    await hostileOperator.waitFor(/hostile-operator: ready/, 60_000);
    const hostileProver = spawnTs("hostile-prover", "scripts/chaos/hostile-prover.ts", [], {
      CHAOS_RPC_URL: setup.rpcUrl, CHAOS_DEPLOYMENT: setup.deploymentFile, CHAOS_KEY_FILE: setup.provers[1]!.accountKeyFile,
      CHAOS_INTERNAL_URL: internalUrl, CHAOS_MODEL_ID: "vb-byte-llama-4l-256h-v1",
    }, dir);
    procs.set("hostile-prover", hostileProver);
    await hostileProver.waitFor(/hostile-prover: \{/, 60_000);
    log("hostile operator and prover at work");
    rpc.arm();

    // Honest load, with a SIGKILL after each batch's requests are in.
    const acknowledged: string[] = [];
    const complete = async (label: string) => {
      const response = await fetch(`${proverUrl}/v1/completions`, {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "vb-byte-llama-4l-256h-v1", prompt: `chaos ${label}`, max_tokens: 6, temperature: 0, seed: acknowledged.length }),
        signal: AbortSignal.timeout(60_000),
      }).catch(() => undefined);
      const id = response?.status === 200 ? response.headers.get("x-proof-record") : null;
      if (id) acknowledged.push(id);
      return id !== null;
    };
    const kill = async (name: ChaosKill, during?: Promise<unknown>) => {
      const proc = procs.get(name)!;
      await proc.stop("SIGKILL");
      kills.push(name);
      log(`SIGKILL ${name}`);
      if (name === "aggregator") await startAggregator();
      else if (name === "prover") await startProver();
      else await startOperator(Number(name.split("-")[1]) - 1);
      log(`restarted ${name}`);
      await during;
    };
    for (let b = 0; b < options.batches; b++) {
      const target = options.kills[b];
      const requests = (async () => {
        for (let i = 0; i < options.requestsPerBatch; i++) {
          // A request cut off by the prover's SIGKILL is not acknowledged; it is sent again.
          for (let attempt = 0; attempt < 20 && !(await complete(`batch ${b} request ${i}`)); attempt++) await new Promise((r) => setTimeout(r, 1000));
        }
      })();
      if (target === "prover") {
        // Mid-batch: some requests answered, the rest in flight or not sent yet.
        await new Promise((r) => setTimeout(r, 800));
        await kill("prover", requests);
      } else {
        await requests;
        if (target) await kill(target);
      }
    }
    log(`${acknowledged.length} completions acknowledged; waiting for their batches`);

    const honestProver = setup.provers[0]!.account.address;
    const submittedBy = async (prover: Address) => (await setup.publicClient.getContractEvents({ address: bm, abi: batchManagerAbi, eventName: "BatchSubmitted", args: { prover }, fromBlock: 0n }))
      .map((l) => l.args as { batchId: bigint; responseDeadline: bigint });
    // Every acknowledged record in a batch committed on chain (or given up after a bound).
    let lost = acknowledged.length;
    await until("every acknowledged record in a committed batch", 120_000, async () => {
      let missing = 0;
      for (const id of acknowledged) {
        const record = (await (await fetch(`${proverUrl}/v1/records/${id}`)).json()) as { batch: { id: number } | null };
        if (!record.batch) { missing++; continue; }
        const batch = (await (await fetch(`${proverUrl}/v1/batches/${record.batch.id}`)).json()) as { status: string };
        if (batch.status !== "committed") missing++;
      }
      lost = missing;
      return missing === 0 ? true : undefined;
    }).catch(() => undefined);
    const honest = await submittedBy(honestProver);
    const lastDeadline = Math.max(...honest.map((b) => Number(b.responseDeadline)), 0);
    const states = async () => Promise.all(honest.map(async (b) => ((await setup.publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "getBatch", args: [b.batchId] })) as { state: number }).state));
    await until("every honest batch attested or past its window", Math.max(30_000, (lastDeadline + 60) * 1000 - Date.now()), async () => {
      const s = await states();
      return s.every((x) => x === State.Attested || x === State.Finalized || x === State.Cleared || x === State.Expired || x === State.Slashed) ? true : undefined;
    }).catch(() => undefined);
    const final = await states();
    const honestKeys = new Set(setup.operators.slice(0, 3).map((o) => o.signer.address.toLowerCase()));
    const slashed = await setup.publicClient.getContractEvents({ address: bm, abi: batchManagerAbi, eventName: "EquivocationSlashed", fromBlock: 0n });
    const slashedKeys = slashed.map((l) => String((l.args as { signingKey: Address }).signingKey).toLowerCase());
    let doubleSignatures = slashedKeys.filter((k) => honestKeys.has(k)).length;
    for (const [key, contents] of signed) if (honestKeys.has(key.split("|")[0]!) && contents.size > 1) doubleSignatures++;
    // What each honest operator decided about each hostile batch (kept in its level state across restarts).
    const decisions: Record<string, string[]> = {};
    const hostileBatches = ((lastJson(hostileProver, "hostile-prover") as { batches?: { label: string; batchId?: string }[] } | undefined)?.batches ?? []).filter((b) => b.batchId);
    for (const i of [1, 2, 3]) {
      const url = procs.get(`operator-${i}`)!.log.match(/operator: ready on (\S+)/)?.[1];
      for (const b of hostileBatches) {
        const decision = url ? ((await (await fetch(`${url}/v1/batches/${b.batchId}`)).json().catch(() => ({}))) as { status?: string; done?: boolean }) : {};
        (decisions[b.label] ??= []).push(`${decision.status ?? "unseen"}${decision.status === "unavailable" ? (decision.done ? " (given up)" : " (retrying)") : ""}`);
      }
    }
    // No secret in any log line or API answer: the RPC URL's key, in the clear or URL-encoded.
    const shown: string[] = [];
    const answers = [await fetch(`${proverUrl}/v1/batches?limit=100`).then((r) => r.text()).catch(() => "")];
    for (const i of [1, 2, 3]) {
      const url = procs.get(`operator-${i}`)!.log.match(/operator: ready on (\S+)/)?.[1];
      if (url) answers.push(await fetch(`${url}/v1/status`).then((r) => r.text()).catch(() => ""));
    }
    answers.push(await fetch(`${aggregator.url}/v1/status`).then((r) => r.text()).catch(() => ""));
    const texts = [...readdirSync(dir).filter((f) => f.endsWith(".log")).map((f) => readFileSync(path.join(dir, f), "utf8")), ...answers];
    for (const secret of rpc.secrets) for (const text of texts) if (text.includes(secret)) shown.push(secret);
    // Proof that the errors were printed: the RPC URL appears, redacted.
    const redactedShown = texts.reduce((n, t) => n + (t.match(/\/v3\/\*\*\*/g)?.length ?? 0), 0);
    const rpcErrors = rpc.refused();
    return {
      secretsShown: shown.length,
      redactedShown,
      rpcRefusals: rpcErrors,
      honestBatches: honest.length,
      attested: final.filter((x) => x === State.Attested || x === State.Finalized || x === State.Cleared).length,
      expired: final.filter((x) => x === State.Expired).length,
      recordsAcknowledged: acknowledged.length,
      recordsLost: lost,
      doubleSignatures,
      messagesObserved: observed,
      hostileSlashings: slashedKeys.filter((k) => k === hostileOp.signer.address.toLowerCase()).length,
      internalServiceHits: internalHits,
      kills,
      hostileProver: lastJson(hostileProver, "hostile-prover"),
      hostileOperator: lastJson(hostileOperator, "hostile-operator"),
      hostileBatchDecisions: decisions,
      seconds: (Date.now() - started) / 1000,
      dir,
    };
  } finally {
    await observer?.stop().catch(() => undefined);
    for (const proc of [...procs.values()].reverse()) await proc.stop("SIGTERM").catch(() => undefined);
    await hardhat?.stop("SIGTERM").catch(() => undefined);
    await rpc?.close().catch(() => undefined);
    await new Promise<void>((r) => (internal ? internal.close(() => r()) : r()));
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether the figures meet the targets. */
export function chaosMet(f: ChaosFigures): { name: string; value: string; target: string; met: boolean }[] {
  return [
    { name: "honest batches attested", value: `${f.attested} of ${f.honestBatches}`, target: "all, none expired", met: f.honestBatches > 0 && f.attested === f.honestBatches && f.expired === 0 },
    { name: "acknowledged completions lost", value: `${f.recordsLost} of ${f.recordsAcknowledged}`, target: "0", met: f.recordsLost === 0 && f.recordsAcknowledged > 0 },
    { name: "double signatures by honest keys", value: String(f.doubleSignatures), target: "0", met: f.doubleSignatures === 0 },
    { name: "internal service fetched", value: String(f.internalServiceHits), target: "0", met: f.internalServiceHits === 0 },
    { name: "RPC key in a log or API answer", value: `${f.secretsShown} (${f.rpcRefusals} RPC failures, the URL shown redacted ${f.redactedShown} times)`, target: "0", met: f.secretsShown === 0 },
    { name: "hostile operator slashed (equivocation)", value: String(f.hostileSlashings), target: ">= 1", met: f.hostileSlashings >= 1 },
  ];
}
