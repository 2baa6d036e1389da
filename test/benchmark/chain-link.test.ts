/**
 * The envelope-to-chain link, for real: the project's prover (real engine, level store, batches
 * of 4 committed on a Hardhat chain by its ChainCommitter), `vb run --link-batches` recording
 * each response's proof record, leaf hash, batch and index, operators attesting on chain, and
 * `vb verify --rpc-url` (over JSON-RPC on loopback) checking the traced responses as proven
 * leaves of the attested batches; an envelope whose commitment names an unrelated batch, or
 * whose traces point at someone else's leaves, fails naming the first response.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { network } from "hardhat";
import { createWalletClient, custom, type PublicClient } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { runBenchmark, type RunOptions } from "../../benchmark/run.ts";
import { ChainCommitter } from "../../prover/batch/chain-committer.ts";
import type { Engine } from "../../prover/engine/index.ts";
import { Role } from "../../protocol/eip712/index.ts";
import type { Deployment } from "../../protocol/contracts/deployments.ts";
import { generateEd25519, parseLossless, prettyJson, publicKeyToPem, signEnvelope, type VbEnvelope } from "../../protocol/envelope/index.ts";
import type { ChainConnection } from "../../runtime/chain.ts";
import { runMain } from "../helpers/cli.ts";
import { deploySystem, wait, type Member, type System } from "../helpers/contracts.ts";
import { defaultModelProfile } from "../../prover/model/profile.ts";
import { loadDefaultEngine, startTestServer, tempDir, waitFor, type TestServer } from "../helpers/prover-server.ts";
import { startRpcBridge } from "../helpers/rpc-bridge.ts";

const connection = await network.create();

describe("vb run --link-batches and vb verify --rpc-url against the prover and a chain", function () {
  this.timeout(120_000);
  const cache = tempDir("chainlink-cache");
  const tmp = tempDir("chainlink");
  const key = generateEd25519();
  const pub = join(tmp.dir, "dev.pub");
  let sys: System;
  let operators: Member[];
  let engine: Engine;
  let server: TestServer;
  let rpc: { url: string; close(): Promise<void> };

  before(async () => {
    writeFileSync(pub, publicKeyToPem(key.publicKey) + "\n");
    sys = await deploySystem(connection, "native", "chainlink");
    // The prover serves the default model: bind it to its profile, or BatchManager refuses its batches.
    const own = defaultModelProfile()!;
    await wait(sys.publicClient, await sys.modelRegistry.write.setModelProfile([own.model.id, own.contentHash, `0x${own.model.weightsHash}`, ""]));
    operators = [await sys.addMember(Role.Operator), await sys.addMember(Role.Operator)];
    const prover = await sys.addMember(Role.Prover);
    const publicClient = sys.publicClient as PublicClient;
    const chain = publicClient.chain!;
    const account = prover.account as PrivateKeyAccount;
    const chainConnection: ChainConnection = {
      chainId: sys.chainId, chain, publicClient, account,
      walletClient: createWalletClient({ chain, transport: custom(connection.provider), account }),
      deployment: { chainId: sys.chainId, blockNumber: 0, contracts: { batchManager: { address: sys.batchManager.address }, modelRegistry: { address: sys.modelRegistry.address } } } as unknown as Deployment,
    };
    engine = await loadDefaultEngine(cache);
    server = await startTestServer({ engine, dataDir: tmp.dir, maxRecords: 4, maxAgeMs: 300, committer: new ChainCommitter(chainConnection) });
    rpc = await startRpcBridge(connection.provider);
  });
  after(async () => {
    await rpc?.close();
    await server?.stop();
    await engine?.close();
    cache.cleanup();
    tmp.cleanup();
  });

  const options = (): RunOptions => ({
    suite: "linked", suiteVersion: "1.0.0", model: engine.info.modelId, modelRevision: "embedded", engine: "vb-prover", engineVersion: "0.1.0", quant: "fp32",
    baseUrl: `${server.address}/v1`, api: "chat", concurrency: 2, rate: null, numRequests: 8, durationS: null, maxTokens: 4, temperature: 0, seed: 9,
    dataset: "synthetic", warmupRuns: 0, convergence: { window: 3, cvThreshold: 0.05, timeoutS: 0 }, slo: { ttft_ms: null, tpot_ms: null, e2e_ms: null },
    launches: 1, resamples: 100, requestTimeoutMs: 60_000, progress: false, linkBatches: { timeoutS: 30 },
  });

  /** Re-signs an edited envelope (and its edited traces) in a folder of its own. */
  function resign(name: string, env: VbEnvelope, traces: string): Promise<string> {
    const d = join(tmp.dir, name);
    mkdirSync(d);
    writeFileSync(join(d, "traces.jsonl"), traces);
    const edited = { ...env, traces: { ...env.traces!, sha256: createHash("sha256").update(traces).digest("hex") } };
    const { signature: _s, ...unsigned } = edited;
    return signEnvelope(unsigned as VbEnvelope, { ed25519: key }).then((s) => {
      writeFileSync(join(d, "envelope.json"), prettyJson(s));
      return join(d, "envelope.json");
    });
  }

  it("links every response to its committed batch, verifies only once the batches are attested, and fails an unrelated batch", async () => {
    const dir = join(tmp.dir, "run");
    const out = await runBenchmark(options(), { ed25519: key }, dir);
    const env = out.envelope;
    assert.equal(env.phases.probe.proof_record, true);
    const c = env.commitment!;
    assert.equal(c.chain_id, sys.chainId);
    assert.equal(c.contract, sys.batchManager.address.toLowerCase());
    assert.equal(c.batches.reduce((s, b) => s + b.responses, 0), 8);
    const lines = readFileSync(join(dir, "traces.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.every((t) => /^rec_/.test(t.proof.record_id) && /^0x[0-9a-f]{64}$/.test(t.proof.leaf_hash) && c.batches.some((b) => b.batch_id === t.proof.batch_id) && Number.isInteger(t.proof.leaf_index)));
    const envFile = join(dir, "envelope.json");
    // The prover's on-chain data URIs are on loopback: the verifier's fetch policy must be told.
    const verify = (file: string, ...extra: string[]) => runMain(["verify", file, "--trust-key", pub, "--rpc-url", rpc.url, "--allow-private-network", "127.0.0.1/32", ...extra]);
    const strict = await runMain(["verify", envFile, "--trust-key", pub, "--rpc-url", rpc.url, "--all"]);
    assert.equal(strict.code, 1, strict.stdout + strict.stderr);
    assert.match(strict.stderr, /127\.0\.0\.1 is a loopback, private, link-local or reserved address/);

    // Submitted, not attested yet: the leaves check out, the envelope is unverified.
    const pending = await verify(envFile, "--all");
    assert.equal(pending.code, 3, pending.stdout + pending.stderr);
    assert.match(pending.stdout, /UNVERIFIED +commitment: all 8 of 8 traced responses are proven leaves of .* but batch \d+ is Submitted/);

    for (const b of c.batches) await sys.attest(BigInt(b.batch_id), b.root as `0x${string}`, operators);
    const all = await verify(envFile, "--all");
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stdout, /PASS +commitment: all 8 of 8 traced responses are proven leaves of \d+ batch\(es\) [\d, ]+ of 0x[0-9a-f]{40} on chain 31337: (\d+ Attested(, )?)+/);
    const sampled = await verify(envFile, "--sample", "3", "--sample-seed", "1");
    assert.equal(sampled.code, 0, sampled.stdout + sampled.stderr);
    assert.match(sampled.stdout, /commitment: 3 \(seeded sample, seed 1\) of 8 traced responses are proven leaves/);

    // Another batch of the same prover, committed and attested, that holds none of these responses.
    for (let i = 0; i < 4; i++) await server.client.chat.completions.create({ model: engine.info.modelId, messages: [{ role: "user", content: `other ${i}` }], max_tokens: 2 });
    const before = new Set(c.batches.map((b) => b.batch_id));
    const other = await waitFor(async () => {
      const count = await sys.batchManager.read.batchCount();
      for (let id = count; id >= 1n; id--) if (!before.has(id.toString())) return id;
      return undefined;
    }, 10_000, "another committed batch");
    const otherRoot = (await sys.batchManager.read.batchRoot([other])) as `0x${string}`;
    await sys.attest(other, otherRoot, operators);

    const tree = parseLossless(readFileSync(envFile, "utf8")) as unknown as VbEnvelope;
    const tracesText = readFileSync(join(dir, "traces.jsonl"), "utf8");
    const unrelated = await resign("unrelated", { ...tree, commitment: { ...c, batches: [{ batch_id: other.toString(), root: otherRoot, responses: 8 }] } }, tracesText);
    const r1 = await verify(unrelated, "--all");
    assert.equal(r1.code, 1, r1.stdout + r1.stderr);
    assert.match(r1.stderr, new RegExp(`check "commitment": response seq 0 \\(record rec_\\w+\\) went into batch \\d+, which the commitment does not name \\(it names ${other}\\): not a proven leaf of the named batches`));

    // The traces pointed at the unrelated batch too: its leaves are someone else's.
    const moved = tracesText.trim().split("\n").map((l) => {
      const t = JSON.parse(l);
      t.proof.batch_id = other.toString();
      return JSON.stringify(t);
    }).join("\n") + "\n";
    const pointed = await resign("pointed", { ...tree, commitment: { ...c, batches: [{ batch_id: other.toString(), root: otherRoot, responses: 8 }] } }, moved);
    const r2 = await verify(pointed, "--all");
    assert.equal(r2.code, 1, r2.stdout + r2.stderr);
    assert.match(r2.stderr, /response seq 0 \(record rec_\w+\): leaf \d+ of batch \d+ (encodes to 0x[0-9a-f]{64}, not the traced leaf hash|is record rec_\w+|.*does not open)/);
  });
});
