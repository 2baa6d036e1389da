/**
 * END-TO-END (separate processes on 127.0.0.1, ~2-3 minutes): a Hardhat node, the deployment,
 * provers on the default model, three operators and an aggregator over libp2p.
 *
 *   1. an honest batch of 32 requests is attested by all three operators, then finalized;
 *   2. a prover that serves fp8 weights under the model's id is disputed before anyone attests
 *      its batch, and slashed alone; 3. one that edits a single token of its outputs after
 *      proving (the last, which no proof covers), with a colluding operator that rubber-stamps
 *      its batch, is disputed and slashed, and so is the colluder if its attestation landed
 *      before the dispute; the honest operators keep their stake;
 *   4. an operator SIGKILLed while checking a batch restarts and finishes without double-signing;
 *   5. the aggregator SIGKILLed while collecting restarts from level and submits through RPC
 *      failures (retry with backoff); 6. a groundless dispute on a batch not yet attested is
 *      outvoted, an operator whose key votes both ways on it is slashed for equivocating, and the
 *      reopened batch is attested; 7. a batch of a model bound to a profile no operator has
 *      expires: operators refuse to judge it under any other profile.
 *
 * Operator 3 colludes with prover 3 (test/helpers/colluding-operator.ts). Thresholds are set so
 * that one operator's attestation is a quorum and the two honest operators' votes uphold a
 * dispute.
 *
 * Part of `npm test` (about 1.5-2 minutes); VB_E2E=0 skips it. See operator/README.md.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createWalletClient, http, parseEther, parseTransaction, toFunctionSelector, type Address, type Hex } from "viem";
import { batchManagerAbi, devStakeTokenAbi, stakeRegistryAbi } from "../../protocol/contracts/abis.ts";
import { hashLeafFields, inferenceLeafFields } from "../../protocol/merkle/leaf.ts";
import { fromCompactSignature, protocolDomain, signDisputeVote } from "../../protocol/eip712/index.ts";
import { encodeGossipMessage } from "../../protocol/gossip/index.ts";
import { fetchJson, leafUrl, parseLeafResponse } from "../../operator/leaf-check.ts";
import { keccak256, toHex } from "viem";
import { prepareVariantModel } from "../../calibration/variants/index.ts";
import { DEFAULT_MODEL_MANIFEST, defaultCacheDir } from "../../prover/engine/index.ts";
import { ensureDefaultModel } from "../../prover/model/ensure.ts";
import {
  launchAggregator,
  launchOperator,
  launchProver,
  setupNetwork,
  startHardhatNode,
  ROOT,
  type NetworkSetup,
  type NodeProcess,
} from "../../scripts/network/launch.ts";
import { startRpcProxy, type FlakyRpc } from "../helpers/flaky-rpc.ts";
import { DEFAULT_FETCH_POLICY, UntrustedFetcher } from "../../runtime/untrusted-fetch.ts";
import { until as poll } from "../helpers/poll.ts";

const ENABLED = process.env.VB_E2E !== "0";
const DEFAULT_MODEL = "vb-byte-llama-4l-256h-v1";
const State = { Submitted: 1, Attested: 2, Disputed: 3, Cleared: 4, Slashed: 5, Finalized: 6, Expired: 7 } as const;

const until = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) => poll(what, timeoutMs, probe, 150);

async function complete(proverUrl: string, count: number, label: string, model = DEFAULT_MODEL): Promise<void> {
  const one = async (i: number) => {
    const response = await fetch(`${proverUrl}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, prompt: `${label} request ${i}: the quick brown fox`, max_tokens: 12, temperature: 0, seed: i }),
      signal: AbortSignal.timeout(60_000),
    });
    assert.equal(response.status, 200, await response.text());
  };
  for (let i = 0; i < count; i += 8) await Promise.all(Array.from({ length: Math.min(8, count - i) }, (_, j) => one(i + j)));
}

(ENABLED ? describe : describe.skip)("e2e: AVS network on loopback (prover, 3 operators, aggregator, hardhat node)", function () {
  this.timeout(240_000);
  let dir: string;
  let hardhat: NodeProcess | undefined;
  let setup: NetworkSetup;
  const procs: NodeProcess[] = [];
  let aggregator: { proc: NodeProcess; url: string; mesh: string };
  const operators: { proc: NodeProcess; url: string }[] = [];
  let honestProver: { proc: NodeProcess; url: string };
  let unchecked: { proc: NodeProcess; url: string };
  let honestBatchId: bigint;
  let flaky: FlakyRpc | undefined;

  const bm = () => setup.deployment.contracts.batchManager.address;
  const read = (functionName: string, args: readonly unknown[], address: Address = bm(), abi: readonly unknown[] = batchManagerAbi) =>
    setup.publicClient.readContract({ address, abi: abi as never, functionName: functionName as never, args: args as never });
  const batchState = async (id: bigint) => ((await read("getBatch", [id])) as { state: number }).state;
  const activeStake = async (account: Address) => ((await read("stakeOf", [account], setup.deployment.contracts.registry.address, stakeRegistryAbi)) as readonly bigint[])[0]!;
  const submittedBy = async (prover: Address, after: bigint) =>
    until(`a batch from ${prover}`, 90_000, async () => {
      const logs = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "BatchSubmitted", args: { prover }, fromBlock: 0n });
      const ids = logs.map((l) => (l.args as { batchId: bigint }).batchId).filter((id) => id > after);
      return ids[0];
    });
  const attestedSigners = async (batchId: bigint) => {
    const logs = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "BatchAttested", args: { batchId }, fromBlock: 0n });
    return (logs[0]?.args as { signers: Address[] } | undefined)?.signers ?? [];
  };

  before(async function () {
    dir = mkdtempSync(path.join(tmpdir(), "vb-e2e-"));
    const chain = await startHardhatNode(dir);
    hardhat = chain.node;
    setup = await setupNetwork(chain.rpcUrl, dir, {
      operators: 3,
      provers: 4,
      blockIntervalMs: 1000,
      config: { attestThresholdBps: 3000, voteThresholdBps: 6000, responseWindow: 60, challengeWindow: 25, votingWindow: 120, unbondingDelay: 1000 },
      // Bound to a profile no operator has: they must refuse to judge its batches. (Bound to the
      // weights the prover serves: a prover refuses to serve weights other than the registered ones.)
      models: [{ model: "vb-model-no-operator-runs", profileHash: keccak256(toHex("a profile no operator has")), weightsHash: `0x${DEFAULT_MODEL_MANIFEST.weightsHash}` }],
    });
    aggregator = await launchAggregator(setup, { AGGREGATOR_GRACE_MS: "6000" });
    procs.push(aggregator.proc);
    const colluder = setup.provers[2]!.account.address;
    const started = await Promise.all([
      launchOperator(setup, { index: 0, aggregatorUrl: aggregator.url, bootstrap: [aggregator.mesh] }),
      launchOperator(setup, { index: 1, aggregatorUrl: aggregator.url, bootstrap: [aggregator.mesh] }),
      launchOperator(setup, { index: 2, aggregatorUrl: aggregator.url, bootstrap: [aggregator.mesh], script: "test/helpers/colluding-operator.ts", env: { VB_COLLUDE_WITH: colluder } }),
      launchProver(setup, { index: 0, env: { PROVER_BATCH_MAX_RECORDS: "32", PROVER_BATCH_MAX_AGE_MS: "600000" } }),
      // Serves a model no operator runs: nobody can check its batch, so nobody attests it.
      launchProver(setup, { index: 3, args: ["--model-id", "vb-model-no-operator-runs"], env: { PROVER_BATCH_MAX_RECORDS: "4", PROVER_BATCH_MAX_AGE_MS: "600000" } }),
    ]);
    operators.push(started[0], started[1], started[2]);
    honestProver = started[3];
    unchecked = started[4];
    procs.push(...operators.map((o) => o.proc), honestProver.proc, unchecked.proc);
    // Its response window (60 s) runs while the other cases do.
    await complete(unchecked.url, 4, "unchecked", "vb-model-no-operator-runs");
  });

  after(async function () {
    await Promise.all(procs.map((p) => p.stop("SIGTERM").catch(() => undefined)));
    await flaky?.close();
    await hardhat?.stop("SIGTERM");
    if (dir && !process.env.VB_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it("every operator registered itself with its stake and signing key", async () => {
    for (const op of setup.operators) {
      const [role, signingKey] = (await read("memberOf", [op.account.address], setup.deployment.contracts.registry.address, stakeRegistryAbi)) as [number, Address];
      assert.equal(role, 1);
      assert.equal(signingKey, op.signer.address);
      assert.equal(await activeStake(op.account.address), parseEther("100"));
    }
  });

  it("an honest batch of 32 requests is attested by all three operators", async () => {
    await complete(honestProver.url, 32, "honest");
    honestBatchId = await submittedBy(setup.provers[0]!.account.address, 0n);
    await until("the honest batch attested", 60_000, async () => ((await batchState(honestBatchId)) === State.Attested ? true : undefined));
    const signers = (await attestedSigners(honestBatchId)).map((s) => s.toLowerCase()).sort();
    assert.deepEqual(signers, setup.operators.map((o) => o.signer.address.toLowerCase()).sort());
    // Every judged leaf is kept with its request-level statistics and each token's margin.
    const judged = (await (await fetch(`${operators[0]!.url}/v1/batches/${honestBatchId}/judgements`)).json()) as {
      profileHash: string;
      leaves: { outcome: string; accepted: boolean; statistics: { name: string; value: number; threshold: number }[]; tokenMargins: number[] }[];
    };
    assert.equal(judged.leaves.length, 32);
    assert.match(judged.profileHash, /^0x[0-9a-f]{64}$/);
    for (const leaf of judged.leaves) {
      assert.equal(leaf.accepted, true);
      assert.deepEqual(leaf.statistics.map((s) => s.name), ["garbage_rate", "sq_error", "token_max_margin", "token_divergence"]);
      assert.equal(leaf.tokenMargins.length, 12, "a margin for every output token");
    }
  });

  async function expectSlashed(proverIndex: number, launchArgs: { args?: string[]; script?: string }) {
    const prover = await launchProver(setup, { index: proverIndex, ...launchArgs, env: { PROVER_BATCH_MAX_RECORDS: "8", PROVER_BATCH_MAX_AGE_MS: "600000" } });
    procs.push(prover.proc);
    const proverAccount = setup.provers[proverIndex]!.account.address;
    const before = {
      prover: await activeStake(proverAccount),
      ops: await Promise.all(setup.operators.map((o) => activeStake(o.account.address))),
    };
    await complete(prover.url, 8, `cheat-${proverIndex}`);
    const batchId = await submittedBy(proverAccount, 0n);
    await until(`batch ${batchId} slashed`, 90_000, async () => ((await batchState(batchId)) === State.Slashed ? true : undefined));
    const attesters = (await attestedSigners(batchId)).map((s) => s.toLowerCase());
    assert.equal(await activeStake(proverAccount), before.prover / 2n, "prover loses proverSlashBps (50%)");
    assert.equal(await activeStake(setup.operators[0]!.account.address), before.ops[0]);
    assert.equal(await activeStake(setup.operators[1]!.account.address), before.ops[1]);
    await prover.proc.stop("SIGTERM");
    return { attesters, colluderBefore: before.ops[2]! };
  }

  it("a prover that serves fp8 weights under the model's id is disputed before anyone attests, and slashed alone", async () => {
    // The default model's linear weights cast to float8 e4m3, served in bf16 under its id: the
    // tokens are plausible, only the request-level statistics against the profile show it.
    const fp8 = await prepareVariantModel(await ensureDefaultModel(defaultCacheDir()), { weights: "fp8", activations: "bf16" }, defaultCacheDir());
    const { attesters, colluderBefore } = await expectSlashed(1, { args: ["--model", fp8, "--model-id", DEFAULT_MODEL, "--registry-check", "warn"] });
    // Every operator checked it honestly and found it fraudulent: nobody attested, the dispute
    // came while it was Submitted, and only the prover paid.
    assert.deepEqual(attesters, []);
    assert.equal(await activeStake(setup.operators[2]!.account.address), colluderBefore);
  });

  it("a prover that edits one token of its outputs after proving is disputed and slashed", async () => {
    const { attesters, colluderBefore } = await expectSlashed(2, { script: "test/helpers/lying-prover.ts" });
    // The colluder rubber-stamps at once, the honest operators dispute once they have recomputed:
    // whichever lands first decides whether the colluder is an attester, and so slashed too.
    const colluder = setup.operators[2]!;
    if (attesters.length > 0) {
      assert.deepEqual(attesters, [colluder.signer.address.toLowerCase()]);
      assert.equal(await activeStake(colluder.account.address), colluderBefore - colluderBefore / 10n, "the colluder loses operatorSlashBps (10%)");
    } else {
      assert.equal(await activeStake(colluder.account.address), colluderBefore);
    }
  });

  it("an operator SIGKILLed mid-batch restarts, finishes the batch, and does not double-sign", async () => {
    const victim = operators[1]!;
    const leavesVerified = async (url: string) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return [...text.matchAll(/^vb_operator_leaves_verified_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const base = await leavesVerified(victim.url);
    await complete(honestProver.url, 32, "restart");
    // Kill as soon as it has verified part of the new batch.
    const killedAt = await until("the operator to start checking", 60_000, async () => {
      const n = await leavesVerified(victim.url).catch(() => undefined);
      return n !== undefined && n > base ? n - base : undefined;
    });
    await victim.proc.stop("SIGKILL");
    const batchId = await submittedBy(setup.provers[0]!.account.address, honestBatchId);
    // Restarted without a bootstrap list: off the mesh, it must reach the aggregator over HTTP.
    const restarted = await launchOperator(setup, { index: 1, aggregatorUrl: aggregator.url, bootstrap: [] });
    procs.push(restarted.proc);
    operators[1] = restarted;
    const record = await until("the restarted operator to finish the batch", 60_000, async () => {
      const response = await fetch(`${restarted.url}/v1/batches/${batchId}`);
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as { status: string; leavesChecked?: number };
      return body.status === "seen" ? undefined : body;
    });
    assert.equal(record.status, "valid", `killed after ${killedAt} leaves; the restarted operator found ${JSON.stringify(record)}`);
    assert.equal(record.leavesChecked, 32);
    await until("the batch attested", 60_000, async () => ((await batchState(batchId)) >= State.Attested ? true : undefined));
    const metrics = await (await fetch(`${aggregator.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /vb_aggregator_messages_total\{[^}]*outcome="conflict"[^}]*\} [1-9]/, "no equivocating signature reached the aggregator");
    // Off the mesh, its attestation reached the aggregator over HTTP: accepted, or (when the other
    // two had already made the quorum under load) answered 409 because the batch was attested.
    await restarted.proc.waitFor(/"kind":"attestations","subject":"\d+","via":"http"|"status":409,"body":".*?no longer awaiting attestations/, 30_000);
  });

  it("a groundless dispute on a batch nobody attested yet is outvoted, an operator voting both ways is slashed, and the batch reopens and is attested with the signatures already collected", async () => {
    const lastBatch = (await read("batchCount", [])) as bigint;
    await complete(honestProver.url, 32, "groundless");
    const batchId = await submittedBy(setup.provers[0]!.account.address, lastBatch);
    const [submitted] = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "BatchSubmitted", args: { batchId }, fromBlock: 0n });
    const { record, merkleProof } = parseLeafResponse(await fetchJson(leafUrl((submitted!.args as { dataURI: string }).dataURI, 0), new UntrustedFetcher({ ...DEFAULT_FETCH_POLICY, allowPrivateNetworks: ["127.0.0.1/32"] })));
    // Someone with a bond disputes an honest leaf before the operators' attestations land.
    const challenger = setup.deployment.deployer;
    const wallet = createWalletClient({ transport: http(setup.rpcUrl), account: challenger });
    const send = async (address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[]) => {
      const hash = await wallet.writeContract({ address, abi: abi as never, functionName: functionName as never, args: args as never, chain: null } as never);
      assert.equal((await setup.publicClient.waitForTransactionReceipt({ hash })).status, "success", functionName);
    };
    const token = setup.deployment.contracts.stakeToken.address;
    const bond = BigInt(setup.deployment.config.disputeBond);
    await send(token, devStakeTokenAbi, "mint", [challenger, bond]);
    await send(token, devStakeTokenAbi, "approve", [bm(), bond]);
    const fields = inferenceLeafFields(record);
    await send(bm(), batchManagerAbi, "openDispute", [batchId, { ...fields, seed: BigInt(fields.seed) }, merkleProof, `0x${"11".repeat(32)}`]);
    assert.equal(await batchState(batchId), State.Disputed);
    // Operator 1's signing key signs both a fraud and a clean vote (a leaked key, or a buggy
    // node): an equivocation, and the aggregator has its operator slashed. Both are posted at
    // once, before any operator has recomputed the leaf, so the dispute is still open.
    const disputeId = (await read("disputeCount", [])) as bigint;
    const equivocator = setup.operators[0]!;
    const stakeBefore = await activeStake(equivocator.account.address);
    for (const fraud of [true, false]) {
      const message = { disputeId, batchId, leafHash: hashLeafFields(fields), fraud };
      const signed = await signDisputeVote(equivocator.signer, protocolDomain(setup.deployment.chainId, bm()), message);
      const vote = encodeGossipMessage({ type: "vote", chainId: setup.deployment.chainId, contract: bm(), message, signature: fromCompactSignature(signed.signature) });
      const posted = await fetch(`${aggregator.url}/v1/votes`, { method: "POST", headers: { "content-type": "application/json" }, body: Buffer.from(vote) });
      assert.ok([202, 409].includes(posted.status), `vote answered ${posted.status}`);
    }
    await until("the equivocator slashed", 60_000, async () => {
      const logs = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "EquivocationSlashed", args: { signingKey: equivocator.signer.address }, fromBlock: 0n });
      return logs.length > 0 ? true : undefined;
    });
    assert.equal(await activeStake(equivocator.account.address), stakeBefore - stakeBefore / 10n, "operatorSlashBps (10%)");
    // The operators recompute the leaf and vote it clean; the aggregator resolves the dispute
    // (Rejected), the batch is Submitted again, and the attestation held back meanwhile goes in.
    await until("the reopened batch attested", 90_000, async () => ((await batchState(batchId)) === State.Attested ? true : undefined));
    const reopened = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "BatchReopened", args: { batchId }, fromBlock: 0n });
    assert.equal(reopened.length, 1);
    const [resolved] = await setup.publicClient.getContractEvents({ address: bm(), abi: batchManagerAbi, eventName: "DisputeResolved", fromBlock: submitted!.blockNumber });
    assert.equal((resolved!.args as { outcome: number }).outcome, 3, "Rejected");
    assert.ok((await attestedSigners(batchId)).length >= 2);
  });

  it("the aggregator's HTTP API refuses malformed, foreign and unsigned messages, naming the field", async () => {
    const post = async (body: string) => {
      const response = await fetch(`${aggregator.url}/v1/attestations`, { method: "POST", headers: { "content-type": "application/json" }, body });
      return { status: response.status, json: (await response.json()) as { error?: { field: string } } };
    };
    const good = {
      type: "attestation", v: 1, chainId: setup.deployment.chainId, contract: bm(), batchId: String(honestBatchId),
      root: `0x${"11".repeat(32)}`, verdict: 1, leavesChecked: 32, signature: `0x${"22".repeat(64)}1b`,
    };
    const cases: [string, number, string][] = [
      ["{ not json", 400, "message"],
      [JSON.stringify({ ...good, extra: true }), 400, "extra"],
      [JSON.stringify({ ...good, chainId: 1 }), 400, "chainId"],
      [JSON.stringify({ ...good, contract: setup.deployment.contracts.registry.address }), 400, "contract"],
      [JSON.stringify({ ...good, batchId: "999999" }), 404, "batchId"],
      [JSON.stringify({ ...good, verdict: 2 }), 400, "verdict"],
    ];
    for (const [body, status, field] of cases) {
      const { status: got, json } = await post(body);
      assert.equal(got, status, `${field}: ${JSON.stringify(json)}`);
      assert.equal(json.error?.field, field);
    }
    const tooLarge = await fetch(`${aggregator.url}/v1/votes`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(10_000) });
    assert.equal(tooLarge.status, 413);
    for (const url of [aggregator.url, ...operators.map((o) => o.url)]) {
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      assert.equal((await fetch(`${url}/v1/status`)).status, 200);
    }
  });

  it("the aggregator SIGKILLed while collecting restarts from its level state and submits, retrying through RPC failures", async () => {
    const acceptedAttestations = async (url: string, via?: string) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return [...text.matchAll(/^vb_aggregator_messages_total\{([^}]*)\} (\d+)/gm)]
        .filter((m) => m[1]!.includes('kind="attestation"') && m[1]!.includes('outcome="accepted"') && (!via || m[1]!.includes(`via="${via}"`)))
        .reduce((sum, m) => sum + Number(m[2]), 0);
    };
    const lastBatch = (await read("batchCount", [])) as bigint;
    const base = await acceptedAttestations(aggregator.url);
    await complete(honestProver.url, 32, "aggregator-restart");
    const batchId = await submittedBy(setup.provers[0]!.account.address, lastBatch);
    // Two admitted signatures hold quorum whoever signed (the colluder's slashed stake alone no
    // longer does); the grace period then leaves up to 6 s to kill it before it submits.
    await until("two attestations admitted", 60_000, async () => ((await acceptedAttestations(aggregator.url)) >= base + 2 ? true : undefined));
    await aggregator.proc.stop("SIGKILL");
    assert.equal(await batchState(batchId), State.Submitted, "killed inside the grace period, before submitting");
    // Restarted on new ports: operators cannot reach it, so only what it kept in level counts.
    // Its RPC endpoint refuses its first four attest transactions (only those: by chain time the
    // honest batch may be due for finalize, which must not use up the refusals): it must back off
    // and retry.
    const attestSelectors = (batchManagerAbi as readonly { type: string; name?: string }[])
      .filter((item) => item.type === "function" && (item.name === "attest" || item.name === "attestBLS"))
      .map((item) => toFunctionSelector(item as never));
    let attestsLeft = 4;
    flaky = await startRpcProxy({
      target: setup.rpcUrl,
      refuse: ({ body, methods }) => {
        if (attestsLeft === 0 || !methods.includes("eth_sendRawTransaction")) return false;
        const calls = [JSON.parse(body.toString("utf8"))].flat() as { method: string; params: [Hex] }[];
        const isAttest = calls.some((c) => c.method === "eth_sendRawTransaction" && attestSelectors.includes((parseTransaction(c.params[0]).data ?? "0x").slice(0, 10) as Hex));
        if (isAttest) attestsLeft--;
        return isAttest;
      },
    });
    aggregator = await launchAggregator(setup, { AGGREGATOR_GRACE_MS: "4000" }, flaky.url);
    procs.push(aggregator.proc);
    await until("the batch attested by the restarted aggregator", 60_000, async () => ((await batchState(batchId)) === State.Attested ? true : undefined));
    assert.ok((await acceptedAttestations(aggregator.url, "replay")) >= 1, "re-admitted from level");
    assert.equal(flaky.refused(), 4);
    assert.match(await (await fetch(`${aggregator.url}/metrics`)).text(), /vb_aggregator_transactions_total\{[^}]*result="failed"[^}]*\} [1-9]/);
    assert.match(aggregator.proc.log, /"key":"attest:\d+".*job failed; backing off/);
    const status = (await (await fetch(`${aggregator.url}/v1/status`)).json()) as { submissions: { kind: string; subject: string }[] };
    assert.ok(status.submissions.some((s) => s.kind === "attest" && s.subject === String(batchId)));
  });

  it("the honest batch is finalized after its challenge window", async () => {
    await until("the honest batch finalized", 60_000, async () => ((await batchState(honestBatchId)) === State.Finalized ? true : undefined));
  });


  it("a batch no operator can check gets no attestation and the aggregator expires it after its response window", async () => {
    const batchId = await submittedBy(setup.provers[3]!.account.address, 0n);
    for (const op of operators) {
      const response = await fetch(`${op.url}/v1/batches/${batchId}`);
      if (response.status === 200) assert.equal(((await response.json()) as { status: string }).status, "unsupported");
    }
    await until("the unchecked batch expired", 90_000, async () => ((await batchState(batchId)) === State.Expired ? true : undefined));
    assert.deepEqual(await attestedSigners(batchId), []);
  });
});
