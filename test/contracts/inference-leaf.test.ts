import assert from "node:assert/strict";
import hre, { network } from "hardhat";
import { formatAbiItem } from "viem/utils";
import { getContract, parseAbi, type Abi, type Hex } from "viem";
import {
  BatchMerkleTree,
  hashInferenceLeaf,
  hashLeafFields,
  inferenceLeafFields,
  type InferenceLeafFields,
  type InferenceRecord,
} from "../../protocol/merkle/index.ts";
import { rng } from "../../benchmark/rng.ts";

const MODELS = ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "mistral-7b", "模型-ü"];

function randomRecord(next: () => number): InferenceRecord {
  const int = (n: number) => Math.floor(next() * n);
  const topk = 1 + int(8);
  const tokens = (n: number) => Array.from({ length: n }, () => (int(2 ** 16) * 2 ** 16 + int(2 ** 16)) >>> 0);
  return {
    model: MODELS[int(MODELS.length)]!,
    promptTokens: tokens(int(40)),
    outputTokens: tokens(int(40)),
    sampling: { temperature: int(2_000_001) / 1e6, topP: int(1_000_001) / 1e6, maxTokens: int(2 ** 32) },
    seed: (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32)),
    proofs: Array.from({ length: 1 + int(4) }, () => Uint8Array.from({ length: 2 + 2 * topk }, () => int(256))),
    proofParams: { topk, decodeBatchSize: 1 + int(64) },
  };
}

/**
 * The harness ABI, typed for viem. Hardhat writes typed artifacts to artifacts/*.d.ts, which
 * this project's tsconfig does not include (they exist only after a build), so the ABI is
 * spelled out here and checked against the compiled artifact below.
 */
const HARNESS_ABI = parseAbi([
  "struct InferenceLeaf { bytes32 modelId; bytes32 promptHash; bytes32 outputHash; bytes32 samplingHash; uint64 seed; bytes32 proofsHash; }",
  "function hash(InferenceLeaf leaf) pure returns (bytes32)",
  "function verify(bytes32[] proof, bytes32 root, InferenceLeaf leaf) pure returns (bool)",
  "function requireIncluded(bytes32[] proof, bytes32 root, InferenceLeaf leaf) pure returns (bytes32)",
  "error InferenceNotInBatch(bytes32 root, bytes32 leafHash)",
]);

/** Every contract call error message viem raises on a revert includes the custom error name. */
async function assertRevertsWith(call: Promise<unknown>, errorName: string): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.match(String((err as Error).message), new RegExp(errorName));
    return true;
  });
}

// Top-level await, not an async describe(): mocha does not await describe callbacks, so tests
// declared after an await inside one are silently never registered.
const { viem } = await network.create();
const deployed = await viem.deployContract("InferenceLeafHarness");
const harness = getContract({ address: deployed.address, abi: HARNESS_ABI, client: await viem.getPublicClient() });

describe("InferenceLeaf.sol against protocol/merkle", () => {
  it("has the ABI this test assumes", async () => {
    const artifact = await hre.artifacts.readArtifact("InferenceLeafHarness");
    // The library's custom error is part of the harness ABI (solc lists errors it can revert with).
    const compiled = (artifact.abi as Abi).map((item) => formatAbiItem(item)).sort();
    const assumed = HARNESS_ABI.map((item) => formatAbiItem(item)).sort();
    assert.deepEqual(compiled, assumed);
  });

  it("hashes leaves exactly as hashInferenceLeaf", async () => {
    const next = rng(11);
    const records = Array.from({ length: 12 }, () => randomRecord(next));
    // Range edges as well: zero/max seed, empty prompt, temperature 0 and topP 1.
    records.push({ ...records[0]!, seed: 0n, promptTokens: [], sampling: { temperature: 0, topP: 1, maxTokens: 0 } });
    records.push({ ...records[1]!, seed: (1n << 64n) - 1n, outputTokens: [0, 4294967295] });
    for (const record of records) {
      const fields = inferenceLeafFields(record);
      assert.equal(await harness.read.hash([fields]), hashInferenceLeaf(record));
    }
  });

  for (const size of [1, 2, 3, 7, 64]) {
    it(`verifies a TS-built proof for every leaf of a batch of ${size}`, async () => {
      const next = rng(100 + size);
      const leaves: InferenceLeafFields[] = Array.from({ length: size }, () => inferenceLeafFields(randomRecord(next)));
      const hashes = await Promise.all(leaves.map((leaf) => harness.read.hash([leaf])));
      const tree = BatchMerkleTree.fromLeafHashes(hashes);
      for (let i = 0; i < size; i++) {
        const proof = tree.proof(i);
        assert.equal(await harness.read.verify([proof, tree.root, leaves[i]!]), true, `leaf ${i}`);
        assert.equal(await harness.read.requireIncluded([proof, tree.root, leaves[i]!]), hashes[i]);
      }
    });
  }

  it("rejects a tampered leaf, a wrong proof and a wrong root", async () => {
    const next = rng(7);
    const leaves = Array.from({ length: 7 }, () => inferenceLeafFields(randomRecord(next)));
    const tree = BatchMerkleTree.fromLeafHashes(leaves.map((leaf) => hashLeafFields(leaf)));
    const flip = (h: Hex): Hex => `0x${h.slice(2, 65)}${((parseInt(h.slice(65), 16) ^ 1) & 15).toString(16)}`;

    for (const i of [0, 3, 6]) {
      const leaf = leaves[i]!;
      const proof = tree.proof(i);
      const root = tree.root;
      assert.equal(await harness.read.verify([proof, root, leaf]), true);

      const tampered: InferenceLeafFields[] = [
        { ...leaf, seed: leaf.seed ^ 1n },
        { ...leaf, modelId: flip(leaf.modelId) },
        { ...leaf, promptHash: flip(leaf.promptHash) },
        { ...leaf, outputHash: flip(leaf.outputHash) },
        { ...leaf, samplingHash: flip(leaf.samplingHash) },
        { ...leaf, proofsHash: flip(leaf.proofsHash) },
        leaves[(i + 1) % 7]!, // another leaf of the same batch, with this leaf's proof
      ];
      for (const bad of tampered) {
        assert.equal(await harness.read.verify([proof, root, bad]), false);
        await assertRevertsWith(harness.read.requireIncluded([proof, root, bad]), "InferenceNotInBatch");
      }

      const wrongProofs: Hex[][] = [
        [flip(proof[0]!), ...proof.slice(1)],
        proof.slice(0, -1),
        [...proof, proof[0]!],
        tree.proof((i + 1) % 7),
        [],
      ];
      for (const bad of wrongProofs) {
        assert.equal(await harness.read.verify([bad, root, leaf]), false);
        await assertRevertsWith(harness.read.requireIncluded([bad, root, leaf]), "InferenceNotInBatch");
      }

      for (const badRoot of [flip(root), tree.leaf(i), `0x${"00".repeat(32)}` as Hex]) {
        assert.equal(await harness.read.verify([proof, badRoot, leaf]), false);
        await assertRevertsWith(harness.read.requireIncluded([proof, badRoot, leaf]), "InferenceNotInBatch");
      }
    }
  });
});

