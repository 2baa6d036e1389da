/**
 * The chaos run's hostile operator, as a process: a registered, staked operator whose node is
 * out to stall or mislead the aggregator.
 *   - every honest attestation it sees on the mesh, it re-sends as a malleated (high-s) copy,
 *     over HTTP and gossip, hoping to shut the genuine copy out;
 *   - it replays messages it saw earlier, again and again;
 *   - it opens a groundless dispute on the honest prover's first batch, then votes both ways
 *     on it, and signs two different attestations for that batch (equivocations: it should be
 *     slashed for them, and change nothing else).
 * Prints one JSON line of counters every 2 s: `hostile-operator: {...}`.
 *
 * Environment: CHAOS_RPC_URL, CHAOS_DEPLOYMENT, CHAOS_ACCOUNT_KEY_FILE, CHAOS_SIGNER_KEY_FILE,
 * CHAOS_AGGREGATOR_URL, CHAOS_BOOTSTRAP (mesh addresses: the aggregator's and the operators'),
 * CHAOS_HONEST_PROVER.
 */
import { pathToFileURL } from "node:url";
import { createWalletClient, http, keccak256, toHex, type Address, type Hex } from "viem";
import { fetchJson, leafUrl, parseLeafResponse } from "../../operator/leaf-check.ts";
import { ensureRegistered } from "../../operator/registration.ts";
import { batchManagerAbi, devStakeTokenAbi } from "../../protocol/contracts/abis.ts";
import { fromCompactSignature, malleatedSignature, protocolDomain, signAttestation, signDisputeVote, Verdict } from "../../protocol/eip712/index.ts";
import { decodeGossipMessage, encodeGossipMessage, gossipTopic, MeshNode, type GossipMessage } from "../../protocol/gossip/index.ts";
import { hashLeafFields, inferenceLeafFields } from "../../protocol/merkle/index.ts";
import { connectChain, loadKey, readDeploymentFile, sleep } from "../../runtime/chain.ts";
import { DEFAULT_FETCH_POLICY, UntrustedFetcher } from "../../runtime/untrusted-fetch.ts";

function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const counters = {
  malleatedSent: 0,
  malleatedOutcomes: {} as Record<string, number>,
  replaysSent: 0,
  replayOutcomes: {} as Record<string, number>,
  disputeOpened: "",
  conflictingVotes: {} as Record<string, number>,
  conflictingAttestations: {} as Record<string, number>,
};

function tally(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

async function main(): Promise<void> {
  const deployment = readDeploymentFile(need("CHAOS_DEPLOYMENT"));
  const account = await loadKey({ keyFile: need("CHAOS_ACCOUNT_KEY_FILE") }, "account", process.env);
  const signer = await loadKey({ keyFile: need("CHAOS_SIGNER_KEY_FILE") }, "signer", process.env);
  const conn = await connectChain(need("CHAOS_RPC_URL"), deployment, account);
  await ensureRegistered(conn, signer, 10n ** 20n);
  const bm = deployment.contracts.batchManager.address;
  const domain = protocolDomain(deployment.chainId, bm);
  const topics = { attestation: gossipTopic("attestations", deployment.chainId, bm), vote: gossipTopic("votes", deployment.chainId, bm) };
  const aggregator = need("CHAOS_AGGREGATOR_URL").replace(/\/+$/, "");
  const post = async (message: GossipMessage): Promise<string> => {
    try {
      const response = await fetch(`${aggregator}/v1/${message.type === "vote" ? "votes" : "attestations"}`, { method: "POST", headers: { "content-type": "application/json" }, body: Buffer.from(encodeGossipMessage(message)), signal: AbortSignal.timeout(5_000) });
      return String(response.status);
    } catch {
      return "unreachable";
    }
  };

  const mesh = await MeshNode.start({ listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: need("CHAOS_BOOTSTRAP").split(",") });
  const seen: Uint8Array[] = [];
  const attack = async (data: Uint8Array) => {
    let message: GossipMessage;
    try {
      message = decodeGossipMessage(data);
    } catch {
      return;
    }
    seen.push(data);
    if (message.type !== "attestation") return;
    const copy: GossipMessage = { ...message, signature: malleatedSignature(message.signature) };
    counters.malleatedSent++;
    tally(counters.malleatedOutcomes, `http ${await post(copy)}`);
    try {
      // The mesh's own validators refuse it at the first hop; publishing may not even leave this node.
      tally(counters.malleatedOutcomes, `gossip sent to ${await mesh.publish(topics.attestation, encodeGossipMessage(copy))}`);
    } catch {
      tally(counters.malleatedOutcomes, "gossip refused");
    }
  };
  for (const topic of Object.values(topics)) mesh.subscribe(topic, { validate: () => "accept", onMessage: (data) => void attack(data) });

  const report = () => process.stdout.write(`hostile-operator: ${JSON.stringify(counters)}\n`);
  setInterval(report, 2_000).unref();
  process.stdout.write(`hostile-operator: ready ${signer.address}\n`);
  let stopping = false;
  process.on("SIGTERM", () => {
    stopping = true;
  });

  const honestProver = need("CHAOS_HONEST_PROVER") as Address;
  const fetcher = new UntrustedFetcher({ ...DEFAULT_FETCH_POLICY, allowPrivateNetworks: ["127.0.0.1/32"], timeoutMs: 5_000 });
  let disputed = false;
  let lastReplay = Date.now();
  while (!stopping) {
    await sleep(1_000);
    // Replays: old messages, re-sent as they were.
    if (Date.now() - lastReplay > 4_000 && seen.length > 0) {
      lastReplay = Date.now();
      for (let i = 0; i < Math.min(5, seen.length); i++) {
        const message = decodeGossipMessage(seen[Math.floor(Math.random() * seen.length)]!);
        counters.replaysSent++;
        tally(counters.replayOutcomes, await post(message));
      }
    }
    if (disputed) continue;
    try {
      const logs = await conn.publicClient.getContractEvents({ address: bm, abi: batchManagerAbi, eventName: "BatchSubmitted", args: { prover: honestProver }, fromBlock: BigInt(deployment.blockNumber) });
      const first = logs[0]?.args as { batchId: bigint; root: Hex; dataURI: string } | undefined;
      if (!first) continue;
      disputed = true;
      const { record, merkleProof } = parseLeafResponse(await fetchJson(leafUrl(first.dataURI, 0), fetcher));
      const fields = inferenceLeafFields(record);
      const wallet = createWalletClient({ transport: http(need("CHAOS_RPC_URL")), account, chain: conn.chain });
      const send = async (address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[]) => {
        const { request, result } = await conn.publicClient.simulateContract({ address, abi: abi as never, functionName: functionName as never, args: args as never, account });
        await conn.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract(request as never) });
        return result as bigint;
      };
      await send(deployment.contracts.stakeToken.address, devStakeTokenAbi, "approve", [bm, BigInt(deployment.config.disputeBond)]);
      const disputeId = await send(bm, batchManagerAbi, "openDispute", [first.batchId, { ...fields, seed: BigInt(fields.seed) }, merkleProof, keccak256(toHex("groundless"))]);
      counters.disputeOpened = `dispute ${disputeId} on batch ${first.batchId}`;
      for (const fraud of [true, false]) {
        const message = { disputeId, batchId: first.batchId, leafHash: hashLeafFields(fields), fraud };
        const signed = await signDisputeVote(signer, domain, message);
        tally(counters.conflictingVotes, await post({ type: "vote", chainId: deployment.chainId, contract: bm, signature: fromCompactSignature(signed.signature), message }));
      }
      for (const leavesChecked of [1, 2]) {
        const message = { batchId: first.batchId, root: first.root, verdict: Verdict.Valid, leavesChecked };
        const signed = await signAttestation(signer, domain, message);
        tally(counters.conflictingAttestations, await post({ type: "attestation", chainId: deployment.chainId, contract: bm, signature: fromCompactSignature(signed.signature), message }));
      }
    } catch (error) {
      counters.disputeOpened = `failed: ${String((error as Error).message).split("\n")[0]}`;
    }
  }
  report();
  await mesh.stop();
  process.exit(0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    process.stderr.write(`hostile-operator: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
