/**
 * Fuzzing the aggregator's two doors against a real chain: a Hardhat node on 127.0.0.1 with the
 * contracts deployed, three registered operators, an open batch and an open dispute, and the
 * aggregator node in-process. Messages are what a hostile operator or peer sends: genuine ones
 * signed by the operators' keys over random contents (duplicates, conflicts: equivocations the
 * aggregator then slashes on chain), malleated (high-s) and re-encoded signatures, field
 * mutations of genuine messages, byte mutations, noise, oversized bodies.
 *   HTTP   raw requests to /v1/attestations, /v1/votes and elsewhere, checked like the prover's
 *          (no 5xx, every error in the aggregator's shape { error: { message, field } });
 *   gossip the validator the mesh runs on every message (node.receive(bytes, "gossip")), plus a
 *          real libp2p peer publishing a sample over the mesh (messages reaching the validator
 *          are counted from the node's metrics).
 * Any exception escaping receive() is a crash: the mesh would turn it into "reject" and hide it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import fc from "fast-check";
import { createWalletClient, http, keccak256, toHex, type Hex } from "viem";
import { loadAggregatorConfig } from "../../aggregator/config.ts";
import { AggregatorNode } from "../../aggregator/node.ts";
import { ensureRegistered } from "../../operator/registration.ts";
import { batchManagerAbi, devStakeTokenAbi } from "../../protocol/contracts/abis.ts";
import { fromCompactSignature, malleatedSignature, protocolDomain, signAttestation, signDisputeVote, Verdict } from "../../protocol/eip712/index.ts";
import { encodeGossipMessage, gossipTopic, MeshNode, type GossipMessage } from "../../protocol/gossip/index.ts";
import { BatchMerkleTree, hashLeafFields, type InferenceLeafFields } from "../../protocol/merkle/index.ts";
import { connectChain } from "../../runtime/chain.ts";
import { createLogger } from "../../runtime/observability.ts";
import { setupNetwork, startHardhatNode, type NetworkSetup } from "../network/launch.ts";
import { count, newFigures, problem, type Figures } from "./figures.ts";
import { hostileValue, mutatedBytes, mutatedJson, sample } from "./generators.ts";
import { exchange } from "./raw-http.ts";

interface World {
  setup: NetworkSetup;
  batchId: bigint;
  root: Hex;
  disputeId: bigint;
  leafHash: Hex;
}

function leaves(seed: number): InferenceLeafFields[] {
  const h = (s: string): Hex => keccak256(toHex(`fuzz ${seed}: ${s}`));
  return [0, 1].map((i) => ({ modelId: h("model"), promptHash: h(`prompt ${i}`), outputHash: h(`output ${i}`), samplingHash: h("sampling"), seed: BigInt(i), proofsHash: h(`proofs ${i}`) }));
}

/** Deploys, registers three operators, submits a batch and a second one with a dispute open on it. */
async function buildWorld(dir: string, seed: number): Promise<{ world: World; stop: () => Promise<void> }> {
  const chain = await startHardhatNode(dir);
  try {
    const setup = await setupNetwork(chain.rpcUrl, dir, {
      operators: 3,
      provers: 1,
      // The batches name model "model": bind it to a profile, or BatchManager refuses them.
      models: [{ model: "model", profileHash: keccak256(toHex("profile of model")), weightsHash: keccak256(toHex("weights of model")) }],
      // Quorum needs every operator: genuine attestations pile up, conflicts get slashed.
      config: { attestThresholdBps: 10_000, voteThresholdBps: 10_000, responseWindow: 3_600, challengeWindow: 3_600, votingWindow: 3_600, unbondingDelay: 20_000 },
    });
    for (const op of setup.operators) await ensureRegistered(await connectChain(setup.rpcUrl, setup.deployment, op.account), op.signer, 10n ** 20n);
    const bm = setup.deployment.contracts.batchManager.address;
    const send = async (account: NetworkSetup["provers"][number]["account"], address: Hex, abi: readonly unknown[], functionName: string, args: readonly unknown[]) => {
      const wallet = createWalletClient({ transport: http(setup.rpcUrl), account });
      const { request, result } = await setup.publicClient.simulateContract({ address, abi: abi as never, functionName: functionName as never, args: args as never, account });
      await setup.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract(request as never) });
      return result as bigint;
    };
    const prover = setup.provers[0]!.account;
    const submit = (root: Hex) => send(prover, bm, batchManagerAbi, "submitBatch", [keccak256(toHex("model")), keccak256(toHex("envelope")), root, 2n, "http://127.0.0.1:1/v1/batches/1"]);
    const open = leaves(seed);
    const batchId = await submit(BatchMerkleTree.fromLeafHashes(open.map(hashLeafFields)).root);
    const disputed = leaves(seed + 1);
    const tree = BatchMerkleTree.fromLeafHashes(disputed.map(hashLeafFields));
    const disputedBatch = await submit(tree.root);
    const challenger = setup.operators[0]!.account;
    await send(challenger, setup.deployment.contracts.stakeToken.address, devStakeTokenAbi, "approve", [bm, BigInt(setup.deployment.config.disputeBond)]);
    const disputeId = await send(challenger, bm, batchManagerAbi, "openDispute", [disputedBatch, disputed[0]!, tree.proof(0), keccak256(toHex("evidence"))]);
    const root = BatchMerkleTree.fromLeafHashes(open.map(hashLeafFields)).root;
    return { world: { setup, batchId, root, disputeId, leafHash: hashLeafFields(disputed[0]!) }, stop: () => chain.node.stop("SIGTERM") };
  } catch (error) {
    await chain.node.stop("SIGTERM");
    throw error;
  }
}

/** Messages a hostile operator or peer sends, as bytes. */
async function messageInputs(world: World, runs: number, seed: number): Promise<Uint8Array[]> {
  const { setup } = world;
  const domain = protocolDomain(setup.deployment.chainId, setup.deployment.contracts.batchManager.address);
  const envelope = { chainId: setup.deployment.chainId, contract: setup.deployment.contracts.batchManager.address };
  const shapes = sample(fc.record({
    kind: fc.constantFrom("attestation", "vote"),
    operator: fc.integer({ min: 0, max: 3 }), // 3: a key with no stake
    batchId: fc.constantFrom(world.batchId, world.batchId + 1n, 999n, 0n),
    root: fc.oneof(fc.constant(world.root), fc.constant(keccak256(toHex("another root")))),
    leavesChecked: fc.oneof(fc.constant(2), fc.integer({ min: 0, max: 0xffffffff })),
    verdict: fc.constantFrom(Verdict.Valid, Verdict.Valid, Verdict.Invalid),
    disputeId: fc.constantFrom(world.disputeId, world.disputeId + 1n),
    fraud: fc.boolean(),
    treatment: fc.constantFrom("as-is", "as-is", "malleate", "json-mutation", "byte-mutation", "wrong-chain", "noise"),
    mutationSeed: fc.nat(),
  }), runs, seed);
  const stranger = (await import("viem/accounts")).privateKeyToAccount(keccak256(toHex("fuzz stranger")));
  const out: Uint8Array[] = [];
  for (const s of shapes) {
    const key = s.operator === 3 ? stranger : setup.operators[s.operator]!.signer;
    let message: GossipMessage;
    if (s.kind === "attestation") {
      const m = { batchId: s.batchId, root: s.root, verdict: s.verdict, leavesChecked: s.leavesChecked };
      message = { type: "attestation", ...envelope, signature: fromCompactSignature((await signAttestation(key, domain, m)).signature), message: m };
    } else {
      const batchId = s.disputeId === world.disputeId ? world.batchId + 1n : s.batchId;
      const m = { disputeId: s.disputeId, batchId, leafHash: world.leafHash, fraud: s.fraud };
      message = { type: "vote", ...envelope, signature: fromCompactSignature((await signDisputeVote(key, domain, m)).signature), message: m };
    }
    if (s.treatment === "malleate") message = { ...message, signature: malleatedSignature(message.signature) };
    if (s.treatment === "wrong-chain") message = { ...message, chainId: message.chainId + 1 };
    const bytes = encodeGossipMessage(message);
    if (s.treatment === "json-mutation") {
      const [doc] = sample(mutatedJson(JSON.parse(new TextDecoder().decode(bytes))), 1, s.mutationSeed);
      out.push(new TextEncoder().encode(JSON.stringify(doc) ?? ""));
    } else if (s.treatment === "byte-mutation") {
      out.push(sample(mutatedBytes(bytes), 1, s.mutationSeed)[0]!);
    } else if (s.treatment === "noise") {
      out.push(sample(fc.oneof(fc.uint8Array({ maxLength: 300 }), hostileValue.map((v) => new TextEncoder().encode(JSON.stringify(v) ?? "")), fc.constant(new Uint8Array(5000).fill(0x7b))), 1, s.mutationSeed)[0]!);
    } else {
      out.push(bytes);
    }
  }
  return out;
}

function isAggregatorError(body: string): boolean {
  try {
    const error = (JSON.parse(body) as { error?: Record<string, unknown> }).error;
    return !!error && typeof error.message === "string";
  } catch {
    return false;
  }
}

export interface AggregatorFuzzOptions {
  runs: number;
  seed: number;
  /** Messages also published over a real libp2p peer (default min(300, runs / 10)). */
  meshSample?: number;
  hangMs?: number;
}

export async function fuzzAggregator(options: AggregatorFuzzOptions): Promise<Figures[]> {
  const httpFigures = newFigures("aggregator HTTP");
  const gossipFigures = newFigures("aggregator gossip");
  const dir = mkdtempSync(path.join(tmpdir(), "vb-fuzz-aggregator-"));
  const started = performance.now();
  const { world, stop } = await buildWorld(dir, options.seed);
  const base = loadAggregatorConfig({ env: { AGGREGATOR_KEY_FILE: world.setup.aggregator.accountKeyFile } });
  const errorLines: string[] = [];
  const node = await AggregatorNode.start({
    ...base,
    chain: { ...base.chain, rpcUrl: world.setup.rpcUrl, deployment: world.setup.deploymentFile, pollIntervalMs: 200 },
    dataDir: path.join(dir, "aggregator"),
    http: { ...base.http, port: 0 },
    graceMs: 0,
  }, { logger: createLogger("aggregator", "error", new Writable({ write(c, _e, done) { errorLines.push(String(c)); done(); } })) });
  const hangMs = options.hangMs ?? 30_000;
  try {
    const setupSeconds = (performance.now() - started) / 1000;
    const { hostname, port } = new URL(node.address);
    // HTTP: the messages as bodies, with paths, methods and content types a client may get wrong.
    const t0 = performance.now();
    const httpBodies = await messageInputs(world, options.runs, options.seed + 1);
    const frames = sample(fc.record({
      path: fc.oneof({ weight: 8, arbitrary: fc.constantFrom("/v1/attestations", "/v1/votes") }, { weight: 1, arbitrary: fc.constantFrom("/v1/status", "/metrics", "/healthz", "/readyz", "/v1/attestations/1", "/%zz", "/", `/${"a".repeat(200)}`) }),
      method: fc.oneof({ weight: 8, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "OPTIONS") }),
      contentType: fc.oneof({ weight: 8, arbitrary: fc.constant("application/json") }, { weight: 1, arbitrary: fc.constantFrom("", "text/plain", "application/octet-stream", "application/json; charset=utf-16") }),
    }), options.runs, options.seed + 2);
    let next = 0;
    const worker = async () => {
      while (next < httpBodies.length) {
        const i = next++;
        const body = httpBodies[i]!;
        const f = frames[i]!;
        const head = `${f.method} ${f.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${f.contentType ? `Content-Type: ${f.contentType}\r\n` : ""}Content-Length: ${body.length}\r\n\r\n`;
        httpFigures.inputs++;
        const answer = await exchange(hostname, Number(port), Buffer.concat([Buffer.from(head), Buffer.from(body)]), hangMs);
        const shown = `${f.method} ${f.path} ${Buffer.from(body).toString("utf8").slice(0, 200)}`;
        if (answer.hang) problem(httpFigures, "hangs", shown, "no complete answer");
        else if (answer.status === undefined) count(httpFigures, "closed without an answer");
        else {
          count(httpFigures, String(answer.status));
          if (answer.status >= 500) problem(httpFigures, "http5xx", shown, `${answer.status} ${answer.body.slice(0, 200)}`);
          else if (answer.status >= 400 && !isAggregatorError(answer.body)) problem(httpFigures, "untyped", shown, `${answer.status} ${answer.body.slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    httpFigures.seconds = setupSeconds + (performance.now() - t0) / 1000;

    // Gossip: every message through the validator the mesh calls.
    const t1 = performance.now();
    const gossipBodies = await messageInputs(world, options.runs, options.seed + 3);
    for (const data of gossipBodies) {
      gossipFigures.inputs++;
      const shown = Buffer.from(data).toString("utf8").slice(0, 200);
      const s0 = performance.now();
      try {
        const outcome = await node.receive(data, "gossip");
        count(gossipFigures, String(outcome.status));
        if (outcome.status >= 500) problem(gossipFigures, "http5xx", shown, `${outcome.status} ${JSON.stringify(outcome.body).slice(0, 200)}`);
      } catch (error) {
        problem(gossipFigures, "crashes", shown, `receive threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
      }
      if (performance.now() - s0 > hangMs) problem(gossipFigures, "hangs", shown, "no verdict within the bound");
    }
    // And a sample over a real libp2p peer.
    const meshSample = options.meshSample ?? Math.min(300, Math.floor(options.runs / 10));
    if (meshSample > 0) {
      const peer = await MeshNode.start({ listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: [node.mesh.addresses[0]!] });
      try {
        const topics = { attestation: gossipTopic("attestations", world.setup.deployment.chainId, world.setup.deployment.contracts.batchManager.address), vote: gossipTopic("votes", world.setup.deployment.chainId, world.setup.deployment.contracts.batchManager.address) };
        await peer.waitForSubscribers(topics.attestation, 1, 20_000);
        const before = gossipCount(await node.registry.metrics());
        let published = 0;
        for (const data of (await messageInputs(world, meshSample, options.seed + 4)).slice(0, meshSample)) {
          const topic = new TextDecoder().decode(data).includes('"vote"') ? topics.vote : topics.attestation;
          try {
            if ((await peer.publish(topic, data)) > 0) published++;
          } catch {
            // Duplicates (same bytes twice) and a peer that graylisted us are refused at the sender.
          }
        }
        await new Promise((r) => setTimeout(r, 1_000));
        count(gossipFigures, `libp2p: ${published} published, ${gossipCount(await node.registry.metrics()) - before} reached the validator`);
      } finally {
        await peer.stop();
      }
    }
    gossipFigures.seconds = (performance.now() - t1) / 1000;
    for (const line of errorLines) problem(gossipFigures, "untyped", "(log)", `error logged: ${line.slice(0, 300)}`);
  } finally {
    await node.stop();
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return [httpFigures, gossipFigures];
}

function gossipCount(metrics: string): number {
  let total = 0;
  for (const m of metrics.matchAll(/^vb_aggregator_messages_total\{[^}]*via="gossip"[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}
