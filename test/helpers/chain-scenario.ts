/**
 * A chain with a batch in every state, for the explorer's browser test and the `vb receipt` /
 * `vb root` tests: a real Hardhat node, the deployment, three registered operators, an honest
 * prover and one serving another model's weights under the honest model's id (both real
 * `npm run prover` processes committing on chain). The operators' part (attesting, disputing,
 * voting) is played by the test with the operators' own keys, and time moves by evm_increaseTime,
 * so every state is reached in seconds:
 *
 *   finalized  honest, attested by all three, challenge window passed, finalized
 *   attested   honest, attested by all three
 *   expired    honest, never attested, response window passed, expired
 *   slashed    the impostor's, disputed, two fraud votes, upheld: the prover slashed
 *   disputed   honest, disputed, one fraud vote: still open
 *   pending    honest, just submitted
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createWalletClient, http, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { batchManagerAbi, devStakeTokenAbi } from "../../protocol/contracts/abis.ts";
import { protocolDomain, signAttestation, signDisputeVote, sortBySigner, Verdict } from "../../protocol/eip712/index.ts";
import { inferenceLeafFields } from "../../protocol/merkle/leaf.ts";
import { parseLeafResponse } from "../../protocol/merkle/leaf-response.ts";
import { ensureRegistered } from "../../operator/registration.ts";
import { buildDefaultModel } from "../../prover/model/default-model.ts";
import { connectChain } from "../../runtime/chain.ts";
import { launchProver, setupNetwork, startHardhatNode, type NetworkSetup, type NodeProcess } from "../../scripts/network/launch.ts";

export const DEFAULT_MODEL = "vb-byte-llama-4l-256h-v1";
export const LEAVES = 4;

export type ScenarioState = "finalized" | "attested" | "expired" | "slashed" | "disputed" | "pending";

export interface ScenarioBatch {
  batchId: bigint;
  proverUrl: string;
  recordIds: string[];
  /** The first leaf's response body, as a client got it. */
  response: Record<string, unknown>;
}

export interface ChainScenario {
  dir: string;
  setup: NetworkSetup;
  honest: { url: string; account: Address };
  impostor: { url: string; account: Address };
  batches: Record<ScenarioState, ScenarioBatch>;
  disputes: { slashed: bigint; open: bigint };
  /** A record served but not in a closed batch yet. */
  unbatchedRecord: string;
  stop(): Promise<void>;
}

async function complete(url: string, label: string, count: number): Promise<{ recordIds: string[]; first: Record<string, unknown> }> {
  const recordIds: string[] = [];
  let first: Record<string, unknown> | undefined;
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: DEFAULT_MODEL, prompt: `${label} ${i}: the quick brown fox`, max_tokens: 10, temperature: 0, seed: i }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    recordIds.push(response.headers.get("x-proof-record")!);
    const body = JSON.parse(text) as Record<string, unknown>;
    first ??= body;
  }
  return { recordIds, first: first! };
}

export async function buildChainScenario(): Promise<ChainScenario> {
  const dir = mkdtempSync(path.join(tmpdir(), "vb-scenario-"));
  const procs: NodeProcess[] = [];
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    if (!process.env.VB_KEEP_SCENARIO) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const chain = await startHardhatNode(dir);
    procs.push(chain.node);
    const setup = await setupNetwork(chain.rpcUrl, dir, { operators: 3, provers: 2 });
    const { deployment, publicClient } = setup;
    const bm = deployment.contracts.batchManager.address;
    const domain = protocolDomain(deployment.chainId, bm);
    for (const op of setup.operators) {
      await ensureRegistered(await connectChain(chain.rpcUrl, deployment, op.account), op.signer, BigInt(deployment.config.minOperatorStake));
    }
    const impostorModel = path.join(dir, "impostor.onnx");
    writeFileSync(impostorModel, buildDefaultModel({ seed: 4242 }));
    const env = { PROVER_BATCH_MAX_RECORDS: String(LEAVES), PROVER_BATCH_MAX_AGE_MS: "600000" };
    const [honest, impostor] = await Promise.all([
      launchProver(setup, { index: 0, env }),
      launchProver(setup, { index: 1, env, args: ["--model", impostorModel, "--model-id", DEFAULT_MODEL, "--registry-check", "warn"] }),
    ]);
    procs.push(honest.proc, impostor.proc);

    const send = async (account: PrivateKeyAccount, address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[]) => {
      const wallet = createWalletClient({ transport: http(chain.rpcUrl), account });
      const hash = await wallet.writeContract({ address, abi: abi as never, functionName: functionName as never, args: args as never, chain: null } as never);
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      assert.equal(receipt.status, "success", `${functionName} reverted`);
    };
    const timeTravel = async (seconds: number) => {
      await publicClient.request({ method: "evm_increaseTime" as never, params: [seconds] as never });
      await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    };
    let lastBatch = 0n;
    const nextBatch = async (url: string, prover: Address, label: string): Promise<ScenarioBatch> => {
      const { recordIds, first } = await complete(url, label, LEAVES);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const logs = await publicClient.getContractEvents({ address: bm, abi: batchManagerAbi, eventName: "BatchSubmitted", args: { prover }, fromBlock: 0n });
        const id = logs.map((l) => (l.args as { batchId: bigint }).batchId).find((b) => b > lastBatch);
        if (id !== undefined) {
          lastBatch = id;
          return { batchId: id, proverUrl: url, recordIds, response: first };
        }
        if (Date.now() > deadline) throw new Error(`no batch from ${label} on chain within 60 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const attest = async (batch: ScenarioBatch) => {
      const root = (await publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "batchRoot", args: [batch.batchId] })) as Hex;
      const message = { batchId: batch.batchId, root, verdict: Verdict.Valid, leavesChecked: LEAVES };
      const signed = sortBySigner(await Promise.all(setup.operators.map((op) => signAttestation(op.signer, domain, message))));
      await send(setup.aggregator.account, bm, batchManagerAbi, "attest", [batch.batchId, root, Verdict.Valid, LEAVES, signed.map((s) => s.signature)]);
    };
    const dispute = async (batch: ScenarioBatch, fraudVotes: number): Promise<bigint> => {
      const challenger = setup.operators[0]!.account;
      const leafJson = await (await fetch(`${batch.proverUrl}/v1/records/${batch.recordIds[0]}`)).json() as { batch: { id: number; index: number } };
      const { record, merkleProof } = parseLeafResponse(await (await fetch(`${batch.proverUrl}/v1/batches/${leafJson.batch.id}/leaves/${leafJson.batch.index}`)).json());
      const bond = BigInt(deployment.config.disputeBond);
      await send(challenger, deployment.contracts.stakeToken.address, devStakeTokenAbi, "approve", [bm, bond]);
      await send(challenger, bm, batchManagerAbi, "openDispute", [batch.batchId, inferenceLeafFields(record), merkleProof, `0x${"ee".repeat(32)}`]);
      const disputeId = (await publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "disputeCount", args: [] })) as bigint;
      const leafHash = ((await publicClient.readContract({ address: bm, abi: batchManagerAbi, functionName: "getDispute", args: [disputeId] })) as { leafHash: Hex }).leafHash;
      const votes = sortBySigner(await Promise.all(setup.operators.slice(0, fraudVotes).map((op) => signDisputeVote(op.signer, domain, { disputeId, batchId: batch.batchId, leafHash, fraud: true }))));
      await send(setup.aggregator.account, bm, batchManagerAbi, "castVotes", [disputeId, votes.map((v) => v.signature)]);
      return disputeId;
    };

    const honestAccount = setup.provers[0]!.account.address;
    const impostorAccount = setup.provers[1]!.account.address;
    const finalized = await nextBatch(honest.url, honestAccount, "finalized");
    await attest(finalized);
    await timeTravel(deployment.config.challengeWindow + 1);
    await send(setup.aggregator.account, bm, batchManagerAbi, "finalize", [finalized.batchId]);
    const attested = await nextBatch(honest.url, honestAccount, "attested");
    await attest(attested);
    const expired = await nextBatch(honest.url, honestAccount, "expired");
    await timeTravel(deployment.config.responseWindow + 1);
    await send(setup.aggregator.account, bm, batchManagerAbi, "expire", [expired.batchId]);
    const slashed = await nextBatch(impostor.url, impostorAccount, "slashed");
    const slashedDispute = await dispute(slashed, 2);
    await send(setup.aggregator.account, bm, batchManagerAbi, "resolveDispute", [slashedDispute, []]);
    const disputed = await nextBatch(honest.url, honestAccount, "disputed");
    const openDispute = await dispute(disputed, 1);
    const pending = await nextBatch(honest.url, honestAccount, "pending");
    const unbatched = await complete(honest.url, "unbatched", 1);
    return {
      dir,
      setup,
      honest: { url: honest.url, account: honestAccount },
      impostor: { url: impostor.url, account: impostorAccount },
      batches: { finalized, attested, expired, slashed, disputed, pending },
      disputes: { slashed: slashedDispute, open: openDispute },
      unbatchedRecord: unbatched.recordIds[0]!,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A prover in front of `target` that serves every leaf with a tampered Merkle proof. */
export async function tamperingProxy(target: string): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const upstream = await fetch(`${target}${req.url}`);
    let body = await upstream.text();
    if (/\/leaves\/\d+$/.test(req.url ?? "") && upstream.ok) {
      const leaf = JSON.parse(body) as { merkle_proof: string[] };
      leaf.merkle_proof[0] = `0x${"5a".repeat(32)}`;
      body = JSON.stringify(leaf);
    }
    res.writeHead(upstream.status, { "content-type": "application/json", "access-control-allow-origin": "*" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
