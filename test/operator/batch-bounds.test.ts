import assert from "node:assert/strict";
import { batchSkip, dataUriProblem, type SubmittedBatchArgs } from "../../operator/batch-bounds.ts";
import { hashModelId } from "../../protocol/merkle/index.ts";

const MODEL = "vb-byte-llama-4l-256h-v1";
const limits = { maxBatchLeaves: 1024, modelId: MODEL, allowPrivateNetworks: ["127.0.0.1/32"] };
const good: SubmittedBatchArgs = {
  batchId: 1n, modelId: hashModelId(MODEL), root: `0x${"11".repeat(32)}`, leafCount: 4n,
  dataURI: "http://127.0.0.1:8000/v1/batches/1", responseDeadline: 1_800_000_000n,
};

describe("operator/batch-bounds: every on-chain value bounded before the operator acts on it", () => {
  it("checks a batch within bounds", () => {
    assert.equal(batchSkip(good, limits), undefined);
    assert.equal(batchSkip({ ...good, leafCount: 1024n, dataURI: "https://prover.example.com/v1/batches/1" }, limits), undefined);
  });

  it("skips, naming the reason, what it cannot or must not handle", () => {
    const cases: [Partial<SubmittedBatchArgs>, string, RegExp][] = [
      [{ leafCount: 0n }, "leaf-count", /leafCount 0 is outside 1\.\.1024/],
      [{ leafCount: 1025n }, "leaf-count", /outside 1\.\.1024/],
      [{ leafCount: 2n ** 25n + 1n }, "leaf-count", /33554433/],
      [{ leafCount: 2n ** 64n - 1n }, "leaf-count", /outside/],
      [{ dataURI: "" }, "data-uri", /empty/],
      [{ dataURI: `http://h/${"a".repeat(2048)}` }, "data-uri", /bytes; the limit is 2048/],
      [{ dataURI: "not a url" }, "data-uri", /not a URL/],
      [{ dataURI: "file:///etc/passwd" }, "data-uri", /scheme file:/],
      [{ dataURI: "gopher://127.0.0.1/" }, "data-uri", /scheme gopher:/],
      [{ dataURI: "http://127.0.0.2:8000/x" }, "data-uri", /127\.0\.0\.2 is a loopback/],
      [{ dataURI: "http://169.254.169.254/latest/meta-data" }, "data-uri", /169\.254\.169\.254/],
      [{ dataURI: "http://[::1]:8000/x" }, "data-uri", /::1/],
      [{ dataURI: "http://10.0.0.5/x" }, "data-uri", /10\.0\.0\.5/],
      [{ responseDeadline: 0n }, "deadline", /not a plausible timestamp/],
      [{ responseDeadline: 2n ** 200n }, "deadline", /not a plausible timestamp/],
    ];
    for (const [change, label, reason] of cases) {
      const skip = batchSkip({ ...good, ...change }, limits);
      assert.equal(skip?.label, label, JSON.stringify(change, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
      assert.equal(skip!.status, "skipped");
      assert.match(skip!.reason, reason);
    }
  });

  it("marks a model it does not run unsupported, without fetching anything", () => {
    const skip = batchSkip({ ...good, modelId: hashModelId("another-model") }, limits);
    assert.equal(skip?.status, "unsupported");
    assert.equal(skip?.label, "model");
  });

  it("checks data URIs without resolving names (names are resolved and checked at fetch time)", () => {
    assert.equal(dataUriProblem("http://localhost:8000/x", []), undefined);
    assert.match(dataUriProblem(42, [])!, /empty/);
  });
});
