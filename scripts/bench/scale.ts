/**
 * Scale by simulation (npm run bench:scale): the real aggregator process and a real libp2p
 * gossipsub mesh with 10, 50 and 100 light operator identities in this process. Each identity is
 * registered on chain (native staking) with a BLS key (proof of possession) and runs its own mesh
 * node; it does not recompute, it replays the verdict "valid". The mesh is multi-hop: only the
 * first few identities dial the aggregator, every later one dials three earlier identities, so
 * most attestations reach the aggregator relayed by peers that validate them first.
 *
 * Per size, two batches on the same network, each attested by every identity at the same moment:
 * one with ECDSA attestations only (attest: every signature checked on chain), one with BLS
 * attestations (attestBLS: one aggregate signature; the aggregator runs attestationScheme "bls").
 * Reported: time from the first attestation published to the batch attested on chain, signers
 * certified, gas of the attest transaction, and message counts (published, gossip sends,
 * aggregator receipts by outcome when it submitted, and how many of the n reached it at all
 * within 20 s: late ones are refused, the batch being attested by then). `--direct N` with N at
 * least the size makes a star (every identity dials the aggregator). The aggregator's grace period after quorum is part of the time
 * (AGGREGATOR_GRACE_MS, default 1000 here).
 *
 *   npm run bench:scale [-- --sizes 10,50,100] [--grace-ms 1000] [--direct 4] [--record]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createWalletClient, http, keccak256, parseEther, toHex, type Hex } from "viem";
import { blsKeyPairFromSeed, blsSign, g1ToHex, g1Words, g2ToHex, g2Words, hashG1 } from "../../protocol/bls/index.ts";
import { batchManagerAbi, devStakeTokenAbi, stakeRegistryAbi } from "../../protocol/contracts/abis.ts";
import { fromCompactSignature, hashAttestation, protocolDomain, Role, signAttestation, signRegistration, Verdict } from "../../protocol/eip712/index.ts";
import { encodeGossipMessage, gossipTopic, MeshNode, NoSubscribersError } from "../../protocol/gossip/index.ts";
import { DEFAULT_MODEL_MANIFEST } from "../../prover/model/manifest.ts";
import { launchAggregator, setupNetwork, startHardhatNode } from "../network/launch.ts";
import { printTable, recordSection } from "./harness.ts";

const { values: args } = parseArgs({
  options: { sizes: { type: "string", default: "10,50,100" }, "grace-ms": { type: "string", default: "1000" }, direct: { type: "string", default: "4" }, record: { type: "boolean", default: false } },
});
const sizes = args.sizes.split(",").map((s) => Number(s));
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 200)) throw new Error(`--sizes takes integers 1..200, got ${args.sizes}`);
const direct = Number(args.direct);
if (!Number.isInteger(direct) || direct < 1) throw new Error(`--direct takes a positive integer (identities that dial the aggregator), got ${args.direct}`);
/** How long after the submission late attestations are still counted as arriving. */
const LATE_MS = 20_000;
/** Earlier identities each later one dials. */
const PEERS_PER_IDENTITY = 3;
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

async function runSize(n: number): Promise<string[][]> {
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
    process.stderr.write(`bench:scale: registering ${n} identities with BLS keys...\n`);
    const blsKeys: ReturnType<typeof blsKeyPairFromSeed>[] = [];
    for (const op of setup.operators) {
      const wallet = createWalletClient({ transport, account: op.account });
      await setup.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract({ address: token, abi: devStakeTokenAbi, functionName: "approve", args: [registry, stake], chain: null }) });
      const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
      const signature = await signRegistration(op.signer, protocolDomain(setup.deployment.chainId, registry), { operator: op.account.address, signingKey: op.signer.address, role: Role.Operator, deadline });
      await setup.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract({ address: registry, abi: stakeRegistryAbi, functionName: "register", args: [Role.Operator, stake, op.signer.address, deadline, signature], chain: null }) });
      const bls = blsKeyPairFromSeed(readFileSync(op.blsKeyFile!, "utf8").trim() as Hex);
      const pop = blsSign(bls.secret, (await setup.publicClient.readContract({ address: registry, abi: stakeRegistryAbi, functionName: "blsRegistrationMessage", args: [op.account.address] })) as Hex);
      await setup.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract({ address: registry, abi: stakeRegistryAbi, functionName: "registerBLSKey", args: [g1Words(bls.pubkeyG1), g2Words(bls.pubkeyG2), g1Words(pop)], chain: null }) });
      blsKeys.push(bls);
    }
    // Every identity dials from 127.0.0.1: exempt it from gossipsub's IP-colocation penalty, which
    // otherwise ignores the messages of every peer past the 10th from one address.
    const aggregator = await launchAggregator(setup, { AGGREGATOR_GRACE_MS: args["grace-ms"], AGGREGATOR_MESH_COLOCATED_IPS: "127.0.0.1", AGGREGATOR_ATTESTATION_SCHEME: "bls" });
    aggregatorProc = aggregator.proc;
    const topic = gossipTopic("attestations", setup.deployment.chainId, bm);
    process.stderr.write(`bench:scale: ${n} mesh nodes...\n`);
    // Deterministic multi-hop topology: identity i < direct dials the aggregator, any later one
    // three earlier identities picked by a fixed hash.
    for (let i = 0; i < n; i++) {
      const bootstrap = i < direct
        ? [aggregator.mesh]
        : [...new Set(Array.from({ length: PEERS_PER_IDENTITY }, (_, k) => Number(BigInt(keccak256(toHex(`peer ${i} ${k}`))) % BigInt(i))))].map((j) => meshes[j]!.addresses[0]!);
      const mesh = await MeshNode.start({ bootstrap, colocatedIps: ["127.0.0.1"] });
      mesh.subscribe(topic, { validate: () => "accept", onMessage: () => undefined });
      meshes.push(mesh);
      // libp2p refuses more than a few inbound connections a second from one host.
      await new Promise((r) => setTimeout(r, 250));
    }
    await Promise.all(meshes.map((m) => m.waitForSubscribers(topic, 1, 60_000)));

    /** One batch attested by every identity with `scheme`: a row of the table. */
    async function attestOnce(scheme: "ecdsa" | "bls"): Promise<string[]> {
      // One batch from the prover; every identity replays "valid" for it.
      const prover = createWalletClient({ transport, account: setup.provers[0]!.account });
      const root = keccak256(toHex(`scale root ${n} ${scheme}`));
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
        const envelope = { chainId: setup.deployment.chainId, contract: bm, signature: fromCompactSignature(signed.signature), message };
        if (scheme === "ecdsa") return encodeGossipMessage({ type: "attestation", ...envelope });
        const bls = blsKeys[setup.operators.indexOf(op)]!;
        return encodeGossipMessage({
          type: "attestation-bls", ...envelope,
          bls: { keyHash: hashG1(bls.pubkeyG1), pubkeyG2: g2ToHex(bls.pubkeyG2), signature: g1ToHex(blsSign(bls.secret, hashAttestation(domain, message))) },
        });
      }));
      const before = await receipts();
      const beforeAll = await receipts(false);
      const t0 = performance.now();
      // An identity whose few connections dropped (2 cores, 100 nodes) waits for a peer again.
      let republished = 0;
      const publish = async (m: MeshNode, data: Uint8Array): Promise<number> => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await m.publish(topic, data);
          } catch (error) {
            if (!(error instanceof NoSubscribersError) || attempt >= 3) throw error;
            republished++;
            await m.waitForSubscribers(topic, 1, 20_000);
          }
        }
      };
      const sends = await Promise.all(meshes.map((m, i) => publish(m, messages[i]!)));
      const attested = await until(`batch ${batchId} attested`, async () => {
        const logs = await setup.publicClient.getContractEvents({ address: bm, abi: batchManagerAbi, eventName: "BatchAttested", args: { batchId }, fromBlock: 0n });
        return logs[0];
      });
      const seconds = (performance.now() - t0) / 1000;
      const receipt = await setup.publicClient.getTransactionReceipt({ hash: attested.transactionHash! });
      const [certificate] = await setup.publicClient.getContractEvents({ address: bm, abi: batchManagerAbi, eventName: "BatchAttestedBLS", args: { batchId }, fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber });
      const listed = (attested.args as { signers: readonly unknown[] }).signers.length;
      const nonSigners = (certificate?.args as { nonSignerKeyHashes?: readonly unknown[] } | undefined)?.nonSignerKeyHashes?.length;
      const signers = certificate ? `${n - nonSigners!} (BLS)` : `${listed} (ECDSA)`;
      const after = await receipts();
      const received = [...after].map(([outcome, count]) => [outcome, count - (before.get(outcome) ?? 0)] as const).filter(([, c]) => c > 0).map(([o, c]) => `${o}=${c}`).join(" ");
      // Late or lost? Messages still arriving after the submission are refused (the batch is no
      // longer awaiting attestations); wait up to LATE_MS for all n.
      const lateDeadline = Date.now() + LATE_MS;
      let arrived = 0;
      for (;;) {
        const now = await receipts(false);
        arrived = [...now].reduce((sum, [k, c]) => sum + c - (beforeAll.get(k) ?? 0), 0);
        if (arrived >= n || Date.now() > lateDeadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      return [String(n), scheme, seconds.toFixed(2), signers, receipt.gasUsed.toString(), republished ? `${n} (${republished} after a wait for peers)` : String(n), String(sends.reduce((a, b) => a + b, 0)), received, `${arrived}/${n}`];
    }

    /** The aggregator's receipts so far, by transport and outcome: attestations admitted, or every message. */
    async function receipts(admittedOnly = true): Promise<Map<string, number>> {
      const metrics = await (await fetch(`${aggregator.url}/metrics`)).text();
      return new Map([...metrics.matchAll(/^vb_aggregator_messages_total\{([^}]*)\} (\d+)/gm)]
        .filter((m) => !admittedOnly || m[1]!.includes('kind="attestation'))
        .map((m) => [`${/via="([^"]*)"/.exec(m[1]!)?.[1]}:${/outcome="([^"]*)"/.exec(m[1]!)?.[1]}`, Number(m[2])] as const));
    }

    const rows: string[][] = [];
    for (const scheme of ["ecdsa", "bls"] as const) rows.push(await attestOnce(scheme));
    return rows;
  } finally {
    await Promise.all(meshes.map((m) => m.stop().catch(() => undefined)));
    await aggregatorProc?.stop("SIGTERM").catch(() => undefined);
    await chain.node.stop("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: string[][] = [["identities", "scheme", "first attestation -> attested on chain (s)", "signers certified", "attest gas", "published", "gossip sends", "admitted by the submission (via:outcome)", `arrived within ${LATE_MS / 1000} s`]];
for (const n of sizes) rows.push(...(await runSize(n)));
console.log(`Scale by simulation: aggregator + libp2p gossipsub, light identities replaying "valid" (grace ${args["grace-ms"]} ms; ${direct} identities dial the aggregator, the others ${PEERS_PER_IDENTITY} earlier identities)\n`);
const table = printTable(rows);
if (args.record) recordSection("scale", ["## Scale by simulation (`npm run bench:scale`)", "", "```", table, "```"].join("\n"));
process.exit(0);
