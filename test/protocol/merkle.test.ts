import assert from "node:assert/strict";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, type Hex } from "viem";
import {
  BatchMerkleTree,
  EmptyBatchError,
  InvalidLeafError,
  LeafIndexOutOfRangeError,
  MalformedHashError,
  MerkleError,
  bytes32ToHex,
  hashInferenceLeaf,
  hashLeafFields,
  hashTokens,
  inferenceLeafFields,
  merkleRoot,
  processMerkleProof,
  referenceMerkleProof,
  referenceMerkleRoot,
  referenceMerkleTree,
  toBytes32,
  toMicros,
  verifyMerkleProof,
  type InferenceRecord,
} from "../../protocol/merkle/index.ts";
import { createLayerKernel } from "../../protocol/merkle/wasm-kernel.ts";
import { rng } from "../../benchmark/rng.ts";

function randomBytes(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
  return out;
}

function randomLeaves(next: () => number, n: number): Hex[] {
  return Array.from({ length: n }, () => bytes32ToHex(randomBytes(next, 32)));
}

/** Independent helpers: ABI words and keccak written out by hand, no viem. */
const word = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0 && n > 0n; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
};
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString("hex")}`;
const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.slice(2), "hex"));

function baseRecord(): InferenceRecord {
  const proof = (fill: number) => {
    const p = new Uint8Array(2 + 2 * 4);
    p.fill(fill);
    p[0] = 0xff;
    p[1] = 0xd9; // modulus 65497
    return p;
  };
  return {
    model: "meta-llama/Llama-3.1-8B-Instruct",
    promptTokens: [128000, 9906, 11, 1917, 0, 4294967295],
    outputTokens: [40, 1097, 264, 1646, 128009],
    sampling: { temperature: 0.7, topP: 0.95, maxTokens: 256 },
    seed: 0x0123456789abcdefn,
    proofs: [proof(1), proof(2), proof(3)],
    proofParams: { topk: 4, decodeBatchSize: 32 },
  };
}

function withChange(change: (r: InferenceRecord) => void): InferenceRecord {
  const r = baseRecord();
  change(r);
  return r;
}

function assertLeafError(change: (r: InferenceRecord) => void, field: string): void {
  assert.throws(
    () => hashInferenceLeaf(withChange(change)),
    (err: unknown) => err instanceof InvalidLeafError && err instanceof MerkleError && err.field === field,
    `expected InvalidLeafError on ${field}`,
  );
}

describe("protocol/merkle leaf encoding", () => {
  it("hashes tokens as packed big-endian uint32 (known keccak vectors)", () => {
    assert.equal(hashTokens([]), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    // 0x00616263 = "\0abc" as one big-endian uint32, vs keccak256("\0abc") computed directly.
    assert.equal(hashTokens([0x00616263]), hex(keccak_256(Uint8Array.from([0, 0x61, 0x62, 0x63]))));
    assert.equal(hashTokens([1, 0xfffffffe]), hex(keccak_256(Uint8Array.from([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]))));
    assert.equal(hashTokens(Uint32Array.from([5, 6, 7])), hashTokens([5, 6, 7]));
  });

  it("matches an independent hand-built encoding of a whole leaf", () => {
    const r = baseRecord();
    const tokens = (ts: readonly number[]) =>
      keccak_256(concat(...ts.map((t) => Uint8Array.from([t >>> 24, (t >>> 16) & 255, (t >>> 8) & 255, t & 255]))));
    const modelId = keccak_256(new TextEncoder().encode(r.model));
    const promptHash = tokens(r.promptTokens as number[]);
    const outputHash = tokens(r.outputTokens as number[]);
    const samplingHash = keccak_256(concat(word(256n), word(700_000n), word(950_000n)));
    // abi.encode(uint32, uint32, bytes[]): head (topk, dbs, offset 0x60), then the array: length,
    // one offset per element (relative to the start of the offsets), then each element as
    // length + data right-padded to 32 bytes (10 bytes -> one word).
    const elements = r.proofs.map((p) => concat(word(BigInt(p.length)), p, new Uint8Array(32 - p.length)));
    const proofsHash = keccak_256(
      concat(
        word(4n),
        word(32n),
        word(0x60n),
        word(3n),
        word(3n * 32n),
        word(3n * 32n + 64n),
        word(3n * 32n + 128n),
        ...elements,
      ),
    );
    const inner = keccak_256(concat(modelId, promptHash, outputHash, samplingHash, word(r.seed), proofsHash));
    const leaf = keccak_256(inner);

    const fields = inferenceLeafFields(r);
    assert.deepEqual(fields, {
      modelId: hex(modelId),
      promptHash: hex(promptHash),
      outputHash: hex(outputHash),
      samplingHash: hex(samplingHash),
      seed: 0x0123456789abcdefn,
      proofsHash: hex(proofsHash),
    });
    assert.equal(hashInferenceLeaf(r), hex(leaf));
    assert.equal(hashLeafFields(fields), hex(leaf));
    // Pinned, so that any change to the encoding shows up as a protocol change.
    assert.equal(hashInferenceLeaf(r), "0x74ff5330291410d5efecf1282490d2b960fc6565bec7ccb951612972b4c68b14");
  });

  it("returns lowercase 0x-hex, and every field changes the leaf", () => {
    const base = hashInferenceLeaf(baseRecord());
    assert.match(base, /^0x[0-9a-f]{64}$/);
    const variants: ((r: InferenceRecord) => void)[] = [
      (r) => (r.model = "meta-llama/Llama-3.1-8B-instruct"),
      (r) => (r.promptTokens = [...r.promptTokens, 1]),
      (r) => (r.outputTokens = (r.outputTokens as number[]).slice(1)),
      (r) => (r.sampling = { ...r.sampling, temperature: 0.700001 }),
      (r) => (r.sampling = { ...r.sampling, topP: 0.949999 }),
      (r) => (r.sampling = { ...r.sampling, maxTokens: 257 }),
      (r) => (r.seed = r.seed + 1n),
      (r) => (r.proofs = [...r.proofs].reverse()),
      (r) => (r.proofParams = { ...r.proofParams, decodeBatchSize: 31 }),
    ];
    const seen = new Set([base]);
    for (const v of variants) seen.add(hashInferenceLeaf(withChange(v)));
    assert.equal(seen.size, variants.length + 1);
  });

  it("converts temperature and topP to exact micros", () => {
    assert.equal(toMicros(0.7, "t"), 700_000);
    assert.equal(toMicros(0.1 + 0.2, "t"), 300_000); // arithmetic noise is absorbed
    assert.equal(toMicros(1234.567891, "t"), 1_234_567_891); // exact at large magnitudes too
    assert.equal(toMicros(2000, "t"), 2_000_000_000);
    assert.equal(toMicros(4294.967295, "t"), 4_294_967_295);
    assert.equal(Object.is(toMicros(-0, "t"), 0), true);
    assert.equal(toMicros(1, "p", 1), 1_000_000);
    for (const bad of [0.0000001, 0.7000005, 1e-7, 2000.0000015, -0.1, NaN, Infinity, -Infinity, 4294.967296, 1e12]) {
      assert.throws(() => toMicros(bad, "t"), InvalidLeafError, String(bad));
    }
  });

  it("accepts the edges of every range", () => {
    const ok = [
      (r: InferenceRecord) => (r.sampling = { temperature: 0, topP: 0, maxTokens: 0 }),
      (r: InferenceRecord) => (r.sampling = { temperature: 2000, topP: 1, maxTokens: 4294967295 }),
      (r: InferenceRecord) => (r.seed = 0n),
      (r: InferenceRecord) => (r.seed = (1n << 64n) - 1n),
      (r: InferenceRecord) => (r.promptTokens = []),
      (r: InferenceRecord) => (r.outputTokens = [0, 4294967295]),
      (r: InferenceRecord) => (r.model = "模型/ü-🙂"),
      (r: InferenceRecord) => {
        r.proofParams = { topk: 1, decodeBatchSize: 4294967295 };
        r.proofs = [new Uint8Array(4)];
      },
    ];
    for (const change of ok) assert.match(hashInferenceLeaf(withChange(change)), /^0x[0-9a-f]{64}$/);
  });

  it("rejects bad input with InvalidLeafError naming the field", () => {
    assertLeafError((r) => (r.model = ""), "model");
    assertLeafError((r) => (r.model = 42 as unknown as string), "model");
    assertLeafError((r) => (r.model = "bad\uD800model"), "model");
    assertLeafError((r) => (r.promptTokens = [1, -1]), "promptTokens[1]");
    assertLeafError((r) => (r.promptTokens = [1.5]), "promptTokens[0]");
    assertLeafError((r) => (r.promptTokens = [0, 0, 2 ** 32]), "promptTokens[2]");
    assertLeafError((r) => (r.promptTokens = [NaN]), "promptTokens[0]");
    assertLeafError((r) => (r.promptTokens = ["7"] as unknown as number[]), "promptTokens[0]");
    assertLeafError((r) => (r.promptTokens = "1,2" as unknown as number[]), "promptTokens");
    assertLeafError((r) => (r.outputTokens = [3, 2 ** 40]), "outputTokens[1]");
    assertLeafError((r) => (r.outputTokens = Int32Array.from([1]) as unknown as number[]), "outputTokens");
    assertLeafError((r) => (r.sampling = { ...r.sampling, temperature: -0.5 }), "sampling.temperature");
    assertLeafError((r) => (r.sampling = { ...r.sampling, temperature: NaN }), "sampling.temperature");
    assertLeafError((r) => (r.sampling = { ...r.sampling, temperature: Infinity }), "sampling.temperature");
    assertLeafError((r) => (r.sampling = { ...r.sampling, temperature: 0.00000049 }), "sampling.temperature");
    assertLeafError((r) => (r.sampling = { ...r.sampling, temperature: 5000 }), "sampling.temperature");
    assertLeafError((r) => (r.sampling = { ...r.sampling, topP: 1.000001 }), "sampling.topP");
    assertLeafError((r) => (r.sampling = { ...r.sampling, topP: 0.5000005 }), "sampling.topP");
    assertLeafError((r) => (r.sampling = { ...r.sampling, maxTokens: -1 }), "sampling.maxTokens");
    assertLeafError((r) => (r.sampling = { ...r.sampling, maxTokens: 2 ** 32 }), "sampling.maxTokens");
    assertLeafError((r) => (r.sampling = { ...r.sampling, maxTokens: 10.5 }), "sampling.maxTokens");
    assertLeafError((r) => (r.sampling = null as unknown as InferenceRecord["sampling"]), "sampling");
    assertLeafError((r) => (r.seed = -1n), "seed");
    assertLeafError((r) => (r.seed = 1n << 64n), "seed");
    assertLeafError((r) => (r.seed = 5 as unknown as bigint), "seed");
    assertLeafError((r) => (r.proofs = []), "proofs");
    assertLeafError((r) => (r.proofs = [r.proofs[0]!, new Uint8Array(9)]), "proofs[1]");
    assertLeafError((r) => (r.proofs = [r.proofs[0]!, new Uint8Array(11)]), "proofs[1]");
    assertLeafError((r) => (r.proofs = ["AAAA"] as unknown as Uint8Array[]), "proofs[0]");
    assertLeafError((r) => (r.proofParams = { ...r.proofParams, topk: 0 }), "proofParams.topk");
    assertLeafError((r) => (r.proofParams = { ...r.proofParams, topk: 2 ** 32 }), "proofParams.topk");
    assertLeafError((r) => (r.proofParams = { ...r.proofParams, decodeBatchSize: 0 }), "proofParams.decodeBatchSize");
    assertLeafError((r) => (r.proofParams = { ...r.proofParams, topk: 5 }), "proofs[0]"); // 10 bytes, k = 5 needs 12
    assert.throws(() => hashInferenceLeaf(null as unknown as InferenceRecord), { name: "InvalidLeafError", field: "record" });
    assert.throws(() => hashLeafFields({ ...inferenceLeafFields(baseRecord()), promptHash: "0x12" }), {
      name: "InvalidLeafError",
      field: "promptHash",
    });
  });
});

describe("protocol/merkle wasm kernel", () => {
  it("pair() is keccak256 of the 64 bytes, also in place", () => {
    const next = rng(1);
    const kernel = createLayerKernel(4096);
    const mem = new Uint8Array(kernel.memory.buffer);
    for (let i = 0; i < 200; i++) {
      const input = randomBytes(next, 64);
      mem.set(input, 128);
      kernel.pair(128, 160, 512);
      assert.equal(hex(mem.subarray(512, 544)), hex(keccak_256(input)));
      kernel.pair(128, 160, 128);
      assert.equal(hex(mem.subarray(128, 160)), hex(keccak_256(input)));
    }
    // Right and left from unrelated places: the message is left ++ right.
    const a = randomBytes(next, 32);
    const b = randomBytes(next, 32);
    mem.set(a, 1000);
    mem.set(b, 64);
    kernel.pair(1000, 64, 2048);
    assert.equal(hex(mem.subarray(2048, 2080)), hex(keccak_256(concat(a, b))));
  });
});

describe("protocol/merkle tree", () => {
  const sizes = [
    ...Array.from({ length: 70 }, (_, i) => i + 1),
    127, 128, 129, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 2047, 2049, 4096, 4097,
  ];

  it("matches merkletreejs root and proof for proof, 1..70 and around powers of two", () => {
    const next = rng(2);
    for (const n of sizes) {
      const leaves = randomLeaves(next, n);
      const tree = BatchMerkleTree.fromLeafHashes(leaves);
      const ref = referenceMerkleTree(leaves);
      assert.equal(tree.root, ref.getHexRoot(), `root, n = ${n}`);
      assert.equal(merkleRoot(leaves), tree.root, `merkleRoot, n = ${n}`);
      assert.equal(tree.size, n);
      const step = n <= 130 ? 1 : Math.ceil(n / 97);
      for (let i = 0; i < n; i += step) {
        assert.deepEqual(tree.proof(i), referenceMerkleProof(ref, i), `proof ${i}, n = ${n}`);
      }
      assert.deepEqual(tree.proof(n - 1), referenceMerkleProof(ref, n - 1), `last proof, n = ${n}`);
    }
  });

  it("matches merkletreejs on many random batch sizes", () => {
    const next = rng(3);
    for (let t = 0; t < 60; t++) {
      const n = 1 + Math.floor(next() * (t < 40 ? 300 : 20000));
      const leaves = randomLeaves(next, n);
      const tree = BatchMerkleTree.fromLeafHashes(leaves);
      const ref = referenceMerkleTree(leaves);
      assert.equal(tree.root, ref.getHexRoot(), `n = ${n}`);
      assert.equal(merkleRoot(leaves), tree.root, `n = ${n}`);
      for (const i of [0, Math.floor(next() * n), n - 1]) {
        assert.deepEqual(tree.proof(i), referenceMerkleProof(ref, i), `proof ${i}, n = ${n}`);
      }
    }
  });

  it("matches merkletreejs on 100 003 leaves", () => {
    const leaves = Array.from({ length: 100_003 }, (_, i) => hex(keccak_256(Uint8Array.from([i >>> 16, (i >>> 8) & 255, i & 255]))));
    assert.equal(merkleRoot(leaves), referenceMerkleRoot(leaves));
  });

  it("handles tiny and degenerate batches", () => {
    const [a, b, c] = randomLeaves(rng(4), 3) as [Hex, Hex, Hex];
    const sorted = (x: Hex, y: Hex) => (x < y ? [x, y] : [y, x]);
    const pairHash = (x: Hex, y: Hex) => hex(keccak_256(concat(...sorted(x, y).map(fromHex))));
    // One leaf: the root is the leaf, the proof empty.
    const one = BatchMerkleTree.fromLeafHashes([a]);
    assert.equal(one.root, a);
    assert.deepEqual(one.proof(0), []);
    assert.equal(one.depth, 1);
    // Two and three leaves, by hand: the third is promoted and proven by one sibling.
    assert.equal(merkleRoot([a, b]), pairHash(a, b));
    assert.equal(merkleRoot([b, a]), pairHash(a, b)); // sorted pairs: order within a pair is lost
    const three = BatchMerkleTree.fromLeafHashes([a, b, c]);
    assert.equal(three.root, pairHash(pairHash(a, b), c));
    assert.deepEqual(three.proof(2), [pairHash(a, b)]);
    assert.deepEqual(three.proof(0), [b, c]);
    // Equal leaves: proofs by index, not by value.
    const dup = BatchMerkleTree.fromLeafHashes([a, a, b, a]);
    const ref = referenceMerkleTree([a, a, b, a]);
    for (let i = 0; i < 4; i++) assert.deepEqual(dup.proof(i), referenceMerkleProof(ref, i));
    // Raw bytes and upper-case hex are the same leaves.
    assert.equal(merkleRoot([fromHex(a), b.toUpperCase().replace("0X", "0x") as Hex, c]), three.root);
    assert.equal(three.leaf(1), b);
  });

  it("verifies every proof in TS and rejects tampering", () => {
    const next = rng(5);
    for (const n of [1, 2, 3, 5, 7, 8, 33, 64, 100]) {
      const leaves = randomLeaves(next, n);
      const tree = BatchMerkleTree.fromLeafHashes(leaves);
      const other = randomLeaves(next, 1)[0]!;
      for (let i = 0; i < n; i++) {
        const proof = tree.proof(i);
        assert.equal(verifyMerkleProof(proof, tree.root, leaves[i]!), true, `leaf ${i} of ${n}`);
        assert.equal(processMerkleProof(proof, leaves[i]!), tree.root);
        assert.equal(verifyMerkleProof(proof, tree.root, other), false);
        assert.equal(verifyMerkleProof(proof, other, leaves[i]!), false);
        if (proof.length > 0) {
          const bent = [...proof];
          const flipped = fromHex(bent[0]!);
          flipped[31]! ^= 1;
          bent[0] = bytesToHex(flipped);
          assert.equal(verifyMerkleProof(bent, tree.root, leaves[i]!), false);
          assert.equal(verifyMerkleProof(proof.slice(1), tree.root, leaves[i]!), false);
        }
        if (n > 1) assert.equal(verifyMerkleProof(tree.proof((i + 1) % n), tree.root, leaves[i]!), false);
      }
    }
  });

  it("rejects an empty batch, bad indices and malformed hashes", () => {
    const leaves = randomLeaves(rng(6), 5);
    const tree = BatchMerkleTree.fromLeafHashes(leaves);
    const isError = (cls: typeof MerkleError, field: string) => (err: unknown) =>
      err instanceof cls && (err as MerkleError).field === field;

    assert.throws(() => merkleRoot([]), isError(EmptyBatchError, "leafHashes"));
    assert.throws(() => BatchMerkleTree.fromLeafHashes([]), isError(EmptyBatchError, "leafHashes"));
    assert.throws(() => referenceMerkleTree([]), isError(EmptyBatchError, "leafHashes"));
    assert.throws(() => merkleRoot("0x00" as unknown as Hex[]), isError(MalformedHashError, "leafHashes"));
    for (const index of [-1, 5, 1.5, NaN]) {
      assert.throws(() => tree.proof(index), isError(LeafIndexOutOfRangeError, "index"), String(index));
      assert.throws(() => tree.leaf(index), isError(LeafIndexOutOfRangeError, "index"));
    }
    assert.throws(() => referenceMerkleProof(referenceMerkleTree(leaves), 5), isError(LeafIndexOutOfRangeError, "index"));

    const good = leaves[0]!;
    const malformed: unknown[] = [
      good.slice(0, 65), // 63 digits
      good + "0", // 65 digits
      good.slice(2), // no 0x
      "0X" + good.slice(2), // prefix is case-sensitive
      good.slice(0, 65) + "g",
      good.slice(0, 64) + "é", // 66 units, not ASCII
      good.slice(0, 64) + "\uD83D", // 66 units, a lone surrogate
      good.slice(0, 10) + " " + good.slice(11),
      new Uint8Array(31),
      new Uint8Array(33),
      123,
      null,
      undefined,
    ];
    for (const bad of malformed) {
      const batch = [leaves[0], leaves[1], bad] as Hex[];
      assert.throws(() => merkleRoot(batch), isError(MalformedHashError, "leafHashes[2]"), String(bad));
      assert.throws(() => BatchMerkleTree.fromLeafHashes(batch), isError(MalformedHashError, "leafHashes[2]"));
      assert.throws(() => verifyMerkleProof([good, bad as Hex], tree.root, good), isError(MalformedHashError, "proof[1]"));
      assert.throws(() => verifyMerkleProof([], bad as Hex, good), isError(MalformedHashError, "root"));
      assert.throws(() => verifyMerkleProof([], good, bad as Hex), isError(MalformedHashError, "leaf"));
      assert.throws(() => toBytes32(bad as Hex, "x"), MalformedHashError);
    }
    assert.throws(() => verifyMerkleProof(good as unknown as Hex[], good, good), isError(MalformedHashError, "proof"));
  });

  it("round-trips bytes32 hex", () => {
    const next = rng(7);
    for (let i = 0; i < 100; i++) {
      const b = randomBytes(next, 32);
      const h = bytes32ToHex(b);
      assert.equal(h, hex(b));
      assert.deepEqual(toBytes32(h, "x"), b);
      assert.deepEqual(toBytes32(h.toUpperCase().replace("0X", "0x") as Hex, "x"), b);
    }
    assert.throws(() => bytes32ToHex(new Uint8Array(40), 9), RangeError);
  });
});
