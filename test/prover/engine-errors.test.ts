import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { InvalidBase64Error, MalformedProofError, ProofCountMismatchError } from "../../protocol/toploc/index.ts";
import {
  ContextLengthError,
  Engine,
  EngineClosedError,
  InvalidOptionError,
  InvalidRequestError,
  ModelFileNotFoundError,
  UnsupportedTokenizerError,
  type GenerateRequest,
} from "../../prover/engine/index.ts";
import { tempCacheDir } from "../helpers/engine-fixtures.ts";

/** Asserts a typed rejection naming `field` (and, when given, mentioning `text`). */
async function rejectsWith(promise: Promise<unknown>, type: new (...args: never[]) => Error, field: string, text?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    assert.equal((error as Error & { field: string }).field, field);
    if (text) assert.match((error as Error).message, text);
    return true;
  });
}

describe("prover/engine bad input", () => {
  const cache = tempCacheDir("engine-errors");
  let engine: Engine;
  const valid = (): GenerateRequest => ({ promptTokens: [256, 72, 105], temperature: 0.5, topP: 0.9, maxTokens: 4, seed: 7n });

  before(async () => {
    engine = await Engine.load({ cacheDir: cache.dir });
  });
  after(async () => {
    await engine?.close();
    cache.cleanup();
  });

  const badRequests: [string, Partial<Record<keyof GenerateRequest, unknown>>, typeof InvalidRequestError, string, RegExp][] = [
    ["an empty prompt", { promptTokens: [] }, InvalidRequestError, "promptTokens", /empty/],
    ["a prompt that is not an array", { promptTokens: "hello" }, InvalidRequestError, "promptTokens", /array/],
    ["a token id past the vocabulary", { promptTokens: [1, 258] }, InvalidRequestError, "promptTokens[1]", /0\.\.257, got 258/],
    ["a negative token id", { promptTokens: [-1] }, InvalidRequestError, "promptTokens[0]", /got -1/],
    ["a fractional token id", { promptTokens: [1, 2, 3.5] }, InvalidRequestError, "promptTokens[2]", /3\.5/],
    ["a prompt as long as the context", { promptTokens: new Array(1024).fill(65) }, ContextLengthError, "promptTokens", /1024/],
    ["prompt + maxTokens past the context", { promptTokens: new Array(1000).fill(65), maxTokens: 25 }, ContextLengthError, "maxTokens", /1000.*25.*1024/],
    ["maxTokens 0", { maxTokens: 0 }, InvalidRequestError, "maxTokens", /got 0/],
    ["maxTokens above the context", { maxTokens: 1025 }, InvalidRequestError, "maxTokens", /1025/],
    ["fractional maxTokens", { maxTokens: 2.5 }, InvalidRequestError, "maxTokens", /2\.5/],
    ["NaN temperature", { temperature: NaN }, InvalidRequestError, "temperature", /NaN/],
    ["negative temperature", { temperature: -0.1 }, InvalidRequestError, "temperature", /-0\.1/],
    ["temperature above 2", { temperature: 2.5 }, InvalidRequestError, "temperature", /2\.5/],
    ["temperature as a string", { temperature: "1" }, InvalidRequestError, "temperature", /"1"/],
    ["topP 0", { topP: 0 }, InvalidRequestError, "topP", /\(0, 1\], got 0/],
    ["topP above 1", { topP: 1.01 }, InvalidRequestError, "topP", /1\.01/],
    ["NaN topP", { topP: NaN }, InvalidRequestError, "topP", /NaN/],
    ["a negative seed", { seed: -1n }, InvalidRequestError, "seed", /-1n/],
    ["a seed of 2^64", { seed: 1n << 64n }, InvalidRequestError, "seed", /18446744073709551616n/],
    ["a seed as a number", { seed: 5 }, InvalidRequestError, "seed", /got 5/],
    ["shouldStop that is not a function", { shouldStop: true }, InvalidRequestError, "shouldStop", /function/],
    ["prove that is not a boolean", { prove: "yes" }, InvalidRequestError, "prove", /boolean/],
  ];
  for (const [what, change, type, field, text] of badRequests) {
    it(`generate rejects ${what}`, async () => {
      await rejectsWith(engine.generate({ ...valid(), ...change } as GenerateRequest), type, field, text);
    });
  }

  it("accepts the edges of every range: topP 1, temperature 2, seed 2^64-1, a prompt one short of the context", async () => {
    const edge = await engine.generate({ ...valid(), topP: 1, temperature: 2, seed: (1n << 64n) - 1n, maxTokens: 2 });
    assert.ok(edge.outputTokens.length >= 1);
    const full = await engine.generate({ ...valid(), promptTokens: new Array(1023).fill(65), maxTokens: 1, temperature: 0 });
    assert.equal(full.outputTokens.length, 1);
    assert.equal(full.finishReason, full.outputTokens[0] === 257 ? "stop" : "length");
  });

  it("verify rejects bad tokens, a proof count that does not match, malformed and non-base64 proofs", async () => {
    const g = await engine.generate({ ...valid(), maxTokens: 40 });
    await rejectsWith(engine.verify(g.promptTokens, [], g.proofs), InvalidRequestError, "outputTokens", /empty/);
    await rejectsWith(engine.verify([], g.outputTokens, g.proofs), InvalidRequestError, "promptTokens", /empty/);
    await rejectsWith(engine.verify(g.promptTokens, [...g.outputTokens.slice(0, -1), 999], g.proofs), InvalidRequestError, `outputTokens[${g.outputTokens.length - 1}]`);
    const n = g.proofs.length;
    assert.ok(n >= 2);
    await rejectsWith(engine.verify(g.promptTokens, g.outputTokens, g.proofs.slice(1)), ProofCountMismatchError, "proofs", new RegExp(`got ${n - 1} proofs for ${n} chunks`));
    await rejectsWith(engine.verify(g.promptTokens, g.outputTokens, [...g.proofs.slice(0, -1), g.proofs[n - 1]!.subarray(0, 100)]), MalformedProofError, `proofs[${n - 1}]`);
    await rejectsWith(engine.verify(g.promptTokens, g.outputTokens, [...g.proofs.slice(0, -1), "not base64!"]), InvalidBase64Error, `proofs[${n - 1}]`);
    await rejectsWith(engine.verify(g.promptTokens, g.outputTokens, "proofs" as never), InvalidRequestError, "proofs");
    const long = new Array(1024).fill(65);
    await rejectsWith(engine.verify(long, [1, 2], g.proofs), ContextLengthError, "outputTokens");
  });

  it("load rejects bad options, a missing tokenizer and an unsupported tokenizer.json", async () => {
    await rejectsWith(Engine.load({ modelPath: "" }), InvalidOptionError, "modelPath");
    await rejectsWith(Engine.load({ cacheDir: cache.dir, maxContext: 1 }), InvalidOptionError, "maxContext", /got 1/);
    await rejectsWith(Engine.load({ cacheDir: cache.dir, threads: -1 }), InvalidOptionError, "threads");
    await rejectsWith(Engine.load({ cacheDir: cache.dir, activationTensor: 42 as never }), InvalidOptionError, "activationTensor");
    await rejectsWith(Engine.load({ cacheDir: cache.dir, tokenizerPath: join(cache.dir, "absent.json") }), ModelFileNotFoundError, "tokenizerPath", /ENOENT/);
    const wordLevel = join(cache.dir, "wordlevel.json");
    writeFileSync(wordLevel, JSON.stringify({ model: { type: "WordLevel", vocab: { a: 0 } } }));
    await rejectsWith(Engine.load({ cacheDir: cache.dir, tokenizerPath: wordLevel }), UnsupportedTokenizerError, "model.type", /WordLevel/);
    const notJson = join(cache.dir, "broken.json");
    writeFileSync(notJson, "{ not json");
    await rejectsWith(Engine.load({ cacheDir: cache.dir, tokenizerPath: notJson }), UnsupportedTokenizerError, "tokenizerPath", /not JSON/);
  });

  it("a closed engine refuses work with a typed error", async () => {
    const closing = await Engine.load({ cacheDir: cache.dir });
    await closing.close();
    await rejectsWith(closing.generate(valid()), EngineClosedError, "engine");
    await rejectsWith(closing.verify([1], [2], ["AAAA"]), EngineClosedError, "engine");
  });
});
