import assert from "node:assert/strict";
import { EngineBusyError, Engine, GenerationAbortedError, type GenerateRequest, type Generation } from "../../prover/engine/index.ts";
import { LLAMA_TINY_ONNX, tempCacheDir } from "../helpers/engine-fixtures.ts";
import { until as poll } from "../helpers/poll.ts";

/**
 * Continuous batching on the default model: concurrent requests share forwards, and each one's
 * tokens and proofs are those of the same request run alone (an engine with batching off).
 */
/** Resolves once `condition` holds (polled every millisecond, at most 20 s). */
const until = (condition: () => boolean): Promise<true> => poll("the condition", 20_000, async () => (condition() ? true : undefined), 1);

describe("prover/engine continuous batching", () => {
  const cache = tempCacheDir("engine-batching");
  let batched: Engine;
  let alone: Engine;
  const prompts: number[][] = [];

  before(async () => {
    // Cohorts large enough that every request of a test shares forwards (the default bound is sized for speed).
    batched = await Engine.load({ cacheDir: cache.dir, batching: { cohortTokens: 4096 } });
    alone = await Engine.load({ cacheDir: cache.dir, batching: false });
    for (let i = 0; i < 12; i++) prompts.push(batched.tokenizer.chatPrompt([{ role: "user", content: `Request ${i}: ${"say something ".repeat(i % 4)}` }]));
  });
  after(async () => {
    await batched?.close();
    await alone?.close();
    cache.cleanup();
  });

  const request = (i: number, overrides: Partial<GenerateRequest> = {}): GenerateRequest => ({
    promptTokens: prompts[i % prompts.length]!,
    temperature: i % 3 === 0 ? 0 : 0.8,
    topP: 0.95,
    maxTokens: 24 + (i % 5) * 9,
    seed: BigInt(500 + i),
    ...overrides,
  });

  async function aloneRuns(requests: GenerateRequest[]): Promise<Generation[]> {
    const out: Generation[] = [];
    for (const r of requests) out.push(await alone.generate(r));
    return out;
  }

  it("batches by default on a model with a KV cache, attention mask and position ids", () => {
    assert.equal(batched.batching, true);
    assert.equal(batched.concurrency, 64);
    assert.equal(alone.batching, false);
    assert.equal(alone.concurrency, 1);
  });

  it("runs concurrent requests of different lengths in shared forwards, with the tokens and proofs of each run alone", async () => {
    const requests = prompts.map((_, i) => request(i));
    const reference = await aloneRuns(requests);
    const before = batched.batchStats()!;
    const results = await Promise.all(requests.map((r) => batched.generate(r)));
    const after = batched.batchStats()!;
    const rowsPerForward = (after.rows - before.rows) / (after.forwards - before.forwards);
    assert.ok(rowsPerForward > 4, `forwards were shared (${rowsPerForward.toFixed(1)} rows per forward)`);
    const identical = results.filter((g, i) => JSON.stringify(g.outputTokens) === JSON.stringify(reference[i]!.outputTokens)).length;
    // Left padding shifts a late or shorter request's rotary positions (float rounding only);
    // measured: every request identical. Allow one near-tie flip, never more.
    assert.ok(identical >= requests.length - 1, `${identical}/${requests.length} identical to the alone run`);
    for (const [i, g] of results.entries()) {
      assert.equal(g.finishReason, reference[i]!.finishReason === "stop" || g.outputTokens.length < requests[i]!.maxTokens ? g.finishReason : "length");
      const verdict = await alone.verify(g.promptTokens, g.outputTokens, g.proofs, { sampling: g.sampling });
      assert.equal(verdict.accepted, true, `request ${i}: ${JSON.stringify(verdict.failures)}`);
      if (JSON.stringify(g.outputTokens) === JSON.stringify(reference[i]!.outputTokens)) {
        assert.equal(g.proofs.length, reference[i]!.proofs.length);
      }
    }
    // The request whose prompt is the longest starts at position 0: its forwards are the very ones it runs alone.
    const longest = prompts.reduce((best, p, i) => (p.length > prompts[best]!.length ? i : best), 0);
    assert.deepEqual(results[longest]!.proofs[0], reference[longest]!.proofs[0]);
  });

  it("lets a new request's prefill join requests already decoding", async () => {
    const long = request(1, { maxTokens: 120, temperature: 0.7 });
    const late = request(2, { maxTokens: 30 });
    const [refLong, refLate] = await aloneRuns([long, late]);
    let tokensOfLong = 0;
    let joinedAt = -1;
    let lateDoneAt = -1;
    const first = batched.generate({ ...long, onToken: () => void tokensOfLong++ });
    await until(() => tokensOfLong >= 10);
    joinedAt = tokensOfLong;
    const second = batched.generate(late).then((g) => {
      lateDoneAt = tokensOfLong;
      return g;
    });
    const [a, b] = await Promise.all([first, second]);
    assert.ok(joinedAt < 120 && lateDoneAt < 120, `the late request finished while the first was still decoding (at its token ${lateDoneAt})`);
    assert.deepEqual(a.outputTokens, refLong!.outputTokens);
    assert.deepEqual(b.outputTokens, refLate!.outputTokens, "a joiner shifted to the running clock still samples the same tokens");
    for (const g of [a, b]) assert.equal((await alone.verify(g.promptTokens, g.outputTokens, g.proofs, { sampling: g.sampling })).accepted, true);
  });

  it("sizes admission by cache memory: what does not fit waits, and a full waiting list is an EngineBusyError with a retry estimate", async () => {
    const perToken = 4 * 2 * 8 * 32 * 4; // layers x (key, value) x heads x head size x float32
    const small = await Engine.load({ cacheDir: cache.dir, batching: { kvCacheBytes: 1 << 20, maxWaiting: 1 } });
    try {
      // Each request reserves 2 x (prompt + maxTokens) x perToken: two of these exceed 1 MiB.
      const big = request(0, { maxTokens: 40 });
      assert.ok(2 * 2 * (big.promptTokens.length + 40) * perToken > 1 << 20);
      const running = small.generate(big);
      await new Promise((r) => setImmediate(r));
      const waiting = small.generate(request(3, { maxTokens: 40 }));
      // Two forwards later an admission pass has seen the second request and held it back.
      const forwards = small.batchStats()!.forwards;
      await until(() => small.batchStats()!.forwards >= forwards + 2);
      const refused = await small.generate(request(4)).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(refused instanceof EngineBusyError, String(refused));
      assert.ok(refused.retryAfterS >= 1 && refused.retryAfterS <= 60);
      assert.equal(refused.field, "engine");
      const stats = small.batchStats()!;
      assert.equal(stats.running, 1, "the second request waits for memory");
      assert.equal(stats.waiting, 1);
      const [a, b] = await Promise.all([running, waiting]);
      assert.equal(a.outputTokens.length > 0 && b.outputTokens.length > 0, true);
      assert.equal(small.batchStats()!.reservedBytes, 0, "every reservation is returned");
    } finally {
      await small.close();
    }
  });

  it("keeps every member's positions inside the context: a request that would overrun a cohort's clock starts another", async () => {
    const maxContext = 200;
    const tight = await Engine.load({ cacheDir: cache.dir, maxContext });
    try {
      const firstRequest = request(5, { maxTokens: 100, temperature: 0 });
      let produced = 0;
      const first = tight.generate({ ...firstRequest, onToken: () => void produced++ });
      await until(() => produced >= 40);
      // The running cohort's clock is now past prompt 5 + 40: joining it would end past the context.
      const secondRequest = request(6, { maxTokens: maxContext - prompts[6]!.length, temperature: 0 });
      assert.ok(prompts[5]!.length + 40 + secondRequest.maxTokens > maxContext);
      const second = tight.generate(secondRequest);
      await until(() => tight.batchStats()!.cohorts === 2);
      const [a, b] = await Promise.all([first, second]);
      const [refA, refB] = await aloneRuns([firstRequest, secondRequest]);
      assert.deepEqual(a.outputTokens, refA!.outputTokens);
      assert.deepEqual(b.outputTokens, refB!.outputTokens);
    } finally {
      await tight.close();
    }
  });

  it("frees an aborted request's slot at once; the others go on", async () => {
    const controller = new AbortController();
    let seen = 0;
    const victim = batched.generate(request(7, { maxTokens: 200, signal: controller.signal, onToken: () => void seen++ }));
    const other = batched.generate(request(8, { maxTokens: 60 }));
    await until(() => seen >= 5);
    const running = batched.batchStats()!.running;
    controller.abort();
    assert.equal(batched.batchStats()!.running, running - 1, "the slot is free as soon as the signal fires");
    await assert.rejects(victim, GenerationAbortedError);
    const g = await other;
    const [ref] = await aloneRuns([request(8, { maxTokens: 60 })]);
    assert.deepEqual(g.outputTokens, ref!.outputTokens);
  });

  it("fails only the request whose callback throws", async () => {
    const bad = batched.generate(request(9, { onToken: (_t, index) => { if (index === 3) throw new Error("client callback failed"); } }));
    const good = batched.generate(request(10));
    await assert.rejects(bad, /client callback failed/);
    const [ref] = await aloneRuns([request(10)]);
    assert.deepEqual((await good).outputTokens, ref!.outputTokens);
  });

  it("interleaves verification with decoding", async () => {
    const g = await batched.generate(request(11));
    const running = batched.generate(request(0, { maxTokens: 80 }));
    const verdict = await batched.verify(g.promptTokens, g.outputTokens, g.proofs, { sampling: g.sampling });
    assert.equal(verdict.accepted, true);
    assert.ok((await running).outputTokens.length > 0);
  });

  it("verifies several requests in right-padded shared prefills with the statistics of each verified alone; a bad request is its own error", async () => {
    const gens = await aloneRuns(prompts.slice(0, 8).map((_, i) => request(i)));
    const requests = gens.map((g) => ({ promptTokens: g.promptTokens, outputTokens: g.outputTokens, proofs: g.proofs, options: { sampling: g.sampling } }));
    const bad = [
      { ...requests[0]!, outputTokens: [...requests[0]!.outputTokens.slice(0, -1), 9999] },
      { ...requests[1]!, proofs: requests[1]!.proofs.slice(1) },
      { ...requests[2]!, proofs: [new Uint8Array(3), ...requests[2]!.proofs.slice(1)] },
    ];
    const mixed = [...requests.slice(0, 4), ...bad, ...requests.slice(4)];
    const together = await alone.verifyBatch(mixed);
    const one: (Awaited<ReturnType<Engine["verify"]>> | Error)[] = [];
    for (const r of mixed) one.push(await alone.verify(r.promptTokens, r.outputTokens, r.proofs, r.options).catch((e: Error) => e));
    assert.equal(together.length, mixed.length);
    for (const [i, v] of together.entries()) {
      const o = one[i]!;
      if (o instanceof Error) {
        assert.ok(v instanceof Error, `request ${i}: ${String(v)}`);
        assert.equal(v.name, o.name);
        assert.equal(v.message, o.message);
        continue;
      }
      assert.ok(!(v instanceof Error), `request ${i}: ${String(v)}`);
      assert.deepEqual(v.statistics, o.statistics, `request ${i}: batched statistics equal those of the request alone`);
      assert.equal(v.accepted, o.accepted);
    }
    assert.deepEqual(together.map((v) => v instanceof Error ? v.name : v.accepted), [true, true, true, true, "InvalidRequestError", "ProofCountMismatchError", "MalformedProofError", true, true, true, true]);
    // Sized by memory: a budget of one sequence packs nothing together, with the same result.
    const unbatched = await alone.verifyBatch(requests, { maxTokensPerForward: 1 });
    for (const [i, v] of unbatched.entries()) assert.deepEqual((v as { statistics: unknown }).statistics, (together[i < 4 ? i : i + 3] as { statistics: unknown }).statistics);
  });

  it("verifies in shared prefills on torch exports without a KV cache (llama_tiny, gpt2_tiny) with the statistics of each alone", async () => {
    for (const modelPath of [LLAMA_TINY_ONNX, LLAMA_TINY_ONNX.replace("llama_tiny.onnx", "gpt2_tiny.onnx")]) {
      const engine = await Engine.load({ modelPath, cacheDir: cache.dir });
      try {
        assert.equal(engine.batching, false, "no KV cache: generation runs one at a time");
        const requests = [];
        for (let i = 0; i < 4; i++) {
          const g = await engine.generate({ promptTokens: Array.from({ length: 5 + i * 3 }, (_, j) => 10 + ((i * 7 + j * 3) % 200)), temperature: 0, topP: 1, maxTokens: 8 + i * 4, seed: 0n });
          requests.push({ promptTokens: g.promptTokens, outputTokens: g.outputTokens, proofs: g.proofs, options: { sampling: g.sampling } });
        }
        const together = await engine.verifyBatch(requests);
        for (const [i, r] of requests.entries()) {
          const one = await engine.verify(r.promptTokens, r.outputTokens, r.proofs, r.options);
          const v = together[i]!;
          assert.ok(!(v instanceof Error), String(v));
          assert.deepEqual(v.statistics, one.statistics, `${modelPath} request ${i}`);
          assert.equal(v.accepted, true);
        }
      } finally {
        await engine.close();
      }
    }
  });

  it("refuses bad batching options with a typed error naming the field", async () => {
    await assert.rejects(Engine.load({ cacheDir: cache.dir, batching: { maxBatch: 0 } }), { name: "InvalidOptionError", field: "batching.maxBatch" });
    await assert.rejects(Engine.load({ cacheDir: cache.dir, batching: { kvCacheBytes: 12 } }), { name: "InvalidOptionError", field: "batching.kvCacheBytes" });
    await assert.rejects(Engine.load({ cacheDir: cache.dir, batching: "on" as never }), { name: "InvalidOptionError", field: "batching" });
  });
});
