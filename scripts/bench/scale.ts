/**
 * Scale by simulation (npm run bench:scale): the real aggregator process and a real libp2p
 * gossipsub mesh with 10, 50 and 100 light operator identities in this process. Each identity is
 * registered on chain (native staking) and runs its own mesh node; it does not recompute, it
 * replays the verdict "valid": every identity signs the EIP-712 attestation of one submitted batch
 * and publishes it at the same moment. Reported per size: time from the first attestation
 * published to the batch attested on chain, signers in the transaction, and message counts
 * (published, gossip sends, aggregator receipts by outcome). The aggregator's grace period after
 * quorum is part of the time (AGGREGATOR_GRACE_MS, default 1000 here).
 *
 *   npm run bench:scale [-- --sizes 10,50,100] [--grace-ms 1000] [--record]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createWalletClient, http, keccak256, parseEther, toHex, type Address } from "viem";
import { batchManagerAbi, devStakeTokenAbi, stakeRegistryAbi } from "../../protocol/contracts/abis.ts";
import { fromCompactSignature, protocolDomain, Role, signAttestation, signRegistration, Verdict } from "../../protocol/eip712/index.ts";
import { encodeGossipMessage, gossipTopic, MeshNode } from "../../protocol/gossip/index.ts";
import { DEFAULT_MODEL_MANIFEST } from "../../prover/model/manifest.ts";
import { launchAggregator, setupNetwork, startHardhatNode } from "../network/launch.ts";
import { printTable, recordSection } from "./harness.ts";

const { values: args } = parseArgs({ options: { sizes: { type: "string", default: "10,50,100" }, "grace-ms": { type: "string", default: "1000" }, record: { type: "boolean", default: false } } });
const sizes = args.sizes.split(",").map((s) => Number(s));
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 200)) throw new Error(`--sizes takes integers 1..200, got ${args.sizes}`);
const TIMEOUT_MS = 120_000;

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runSize(n: number): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), `vb-scale-${n}-`));
  const chain = await startHardhatNode(dir);
  const meshes: MeshNode[] = [];
  let aggregatorProc: { stop(signal?: NodeJS.Signals): Promise<unknown> } | undefined;
  try {
    const setup = await setupNetwork(chain.rpcUrl, dir, { operators: n, provers: 1, config: { responseWindow: 600 }, ethPerAccount: parseEther("10") });
    const transport = http(chain.rpcUrl);
    const registry = setup.deployment.contracts.registry.address;
    const token = setup.deployment.contracts.stakeToken.address;
    const bm = setup.deployment.contracts.batchManager.address;
    const stake = parseEther("100");
    process.stderr.write(`bench:scale: registering ${n} identities...\n`);
    for (const op of setup.operators) {
      const wallet = createWalletClient({ transport, account: op.account });
      await setup.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract({ address: token, abi: devStakeTokenAbi, functionName: "approve", args: [registry, stake], chain: null }) });
      const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
      const signature = await signRegistration(op.signer, protocolDomain(setup.deployment.chainId, registry), { operator: op.account.address, signingKey: op.signer.address, role: Role.Operator, deadline });
      await setup.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract({ address: registry, abi: stakeRegistryAbi, functionName: "register", args: [Role.Operator, stake, op.signer.address, deadline, signature], chain: null }) });
    }
    // Every identity dials from 127.0.0.1: exempt it from gossipsub's IP-colocation penalty, which
    // otherwise ignores the messages of every peer past the 10th from one address.
    const aggregator = await launchAggregator(setup, { AGGREGATOR_GRACE_MS: args["grace-ms"], AGGREGATOR_MESH_COLOCATED_IPS: "127.0.0.1" });
    aggregatorProc = aggregator.proc;
    const topic = gossipTopic("attestations", setup.deployment.chainId, bm);
    process.stderr.write(`bench:scale: ${n} mesh nodes...\n`);
    for (let i = 0; i < n; i++) {
      const mesh = await MeshNode.start({ bootstrap: [aggregator.mesh] });
      mesh.subscribe(topic, { validate: () => "accept", onMessage: () => undefined });
      meshes.push(mesh);
      // libp2p refuses more than a few inbound connections a second from one host.
      await new Promise((r) => setTimeout(r, 250));
    }
    if (process.env.VB_SCALE_DEBUG) { await new Promise((r) => setTimeout(r, 5000)); process.stderr.write(`aggregator mesh ${aggregator.mesh}; peers of node 0: ${(meshes[0] as unknown as { node: { getPeers(): unknown[] } }).node.getPeers().length}\n`); }
    await Promise.all(meshes.map((m) => m.waitForSubscribers(topic, 1, 60_000)));

    // One batch from the prover; every identity replays "valid" for it.
    const prover = createWalletClient({ transport, account: setup.provers[0]!.account });
    const root = keccak256(toHex(`scale root ${n}`));
    await setup.publicClient.waitForTransactionReceipt({ hash: await prover.writeContract({
      address: bm, abi: batchManagerAbi, functionName: "submitBatch",
      args: [keccak256(toHex(DEFAULT_MODEL_MANIFEST.modelId)), keccak256(toHex("envelope")), root, 8n, "http://127.0.0.1:1/batches/1"], chain: null,
    }) });
    const batchId = (await setup.publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "batchCount" })) as bigint;
    // The aggregator learns of the batch from the chain before it takes attestations for it.
    await new Promise((r) => setTimeout(r, 1500));
    const domain = protocolDomain(setup.deployment.chainId, bm);
    const messages = await Promise.all(setup.operators.map(async (op) => {
      const message = { batchId, root, verdict: Verdict.Valid, leavesChecked: 8 };
      const signed = await signAttestation(op.signer, domain, message);
      return encodeGossipMessage({ type: "attestation", chainId: setup.deployment.chainId, contract: bm, signature: fromCompactSignature(signed.signature), message });
    }));
    const t0 = performance.now();
    const sends = await Promise.all(meshes.map((m, i) => m.publish(topic, messages[i]!)));
    const attested = await until(`batch ${batchId} attested`, async () => {
      const logs = await setup.publicClient.getContractEvents({ address: bm, abi: batchManagerAbi, eventName: "BatchAttested", args: { batchId }, fromBlock: 0n });
      return logs[0];
    });
    const seconds = (performance.now() - t0) / 1000;
    const signers = (attested.args as { signers: Address[] }).signers.length;
    const metrics = await (await fetch(`${aggregator.url}/metrics`)).text();
    const received = [...metrics.matchAll(/^vb_aggregator_messages_total\{([^}]*)\} (\d+)/gm)]
      .filter((m) => m[1]!.includes('kind="attestation'))
      .map((m) => `${/outcome="([^"]*)"/.exec(m[1]!)?.[1]}=${m[2]}`).join(" ");
    return [String(n), seconds.toFixed(2), String(signers), String(n), String(sends.reduce((a, b) => a + b, 0)), received];
  } finally {
    await Promise.all(meshes.map((m) => m.stop().catch(() => undefined)));
    await aggregatorProc?.stop("SIGTERM").catch(() => undefined);
    await chain.node.stop("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: string[][] = [["identities", "first attestation -> attested on chain (s)", "signers in tx", "published", "gossip sends", "aggregator receipts (attestations)"]];
for (const n of sizes) rows.push(await runSize(n));
console.log(`Scale by simulation: aggregator + libp2p gossipsub, light identities replaying "valid" (grace ${args["grace-ms"]} ms)\n`);
const table = printTable(rows);
if (args.record) recordSection("scale", ["## Scale by simulation (`npm run bench:scale`)", "", "```", table, "```"].join("\n"));
process.exit(0);
