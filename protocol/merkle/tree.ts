/**
 * The Merkle tree over one batch of leaf hashes, in the shape OpenZeppelin's MerkleProof
 * verifies: each inner node is keccak256 of its two children in ascending byte order (sorted
 * pairs, so a proof needs no left/right flags), and an odd node at the end of a layer moves up
 * unchanged (its proof simply has no sibling at that level). This is merkletreejs's tree with
 * { sortPairs: true, hashLeaves: false }; reference.ts builds that one, and the tests check
 * that both give identical roots and proofs.
 *
 * Layers are built by the wasm kernel (wasm-kernel.ts) in one flat buffer: merkletreejs needs
 * ~8 s for 10^6 leaves on the reference machine (a Buffer.concat, a sort and a fresh Keccak
 * per node), this ~1 s. Leaf order is the caller's: leaves are not sorted, so index i of the
 * batch is index i of the tree.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import type { Hex } from "viem";
import { bytes32ToHex, toBytes32, writeBytes32, type Bytes32Input } from "./bytes32.ts";
import { BatchTooLargeError, EmptyBatchError, LeafIndexOutOfRangeError, MalformedHashError } from "./errors.ts";
import { createLayerKernel, type LayerKernel } from "./wasm-kernel.ts";

/** Most leaves one tree may hold: its layers (~2 x 32 bytes a leaf) stay within wasm32 memory. */
export const MAX_BATCH_LEAVES = 2 ** 25;

/** Node counts of every layer, leaves first, root (1) last. */
function layerSizes(leafCount: number): number[] {
  const sizes = [leafCount];
  for (let n = leafCount; n > 1; ) {
    n = Math.ceil(n / 2);
    sizes.push(n);
  }
  return sizes;
}

function checkBatch(leafHashes: readonly Bytes32Input[], field: string): void {
  if (!Array.isArray(leafHashes)) {
    throw new MalformedHashError(`${field} must be an array of 32-byte hashes`, field);
  }
  if (leafHashes.length === 0) throw new EmptyBatchError(`${field} is empty: a batch needs at least one leaf`, field);
  if (leafHashes.length > MAX_BATCH_LEAVES) {
    throw new BatchTooLargeError(`${field} has ${leafHashes.length} leaves; at most ${MAX_BATCH_LEAVES} fit one tree`, field);
  }
}

/** A kernel of `totalNodes` 32-byte slots with the leaves written at the start. */
function loadLeaves(leafHashes: readonly Bytes32Input[], totalNodes: number, field: string): LayerKernel {
  const kernel = createLayerKernel(totalNodes * 32);
  const mem = new Uint8Array(kernel.memory.buffer);
  for (let i = 0; i < leafHashes.length; i++) writeBytes32(leafHashes[i]!, mem, 32 * i, `${field}[${i}]`);
  return kernel;
}

/**
 * The root over a batch of leaf hashes (leaf order kept), as 0x-hex. Builds the layers in place
 * in one buffer of 32 bytes a leaf and keeps nothing; use BatchMerkleTree when proofs are needed.
 */
export function merkleRoot(leafHashes: readonly Bytes32Input[]): Hex {
  checkBatch(leafHashes, "leafHashes");
  const kernel = loadLeaves(leafHashes, leafHashes.length, "leafHashes");
  for (let n = leafHashes.length; n > 1; n = Math.ceil(n / 2)) kernel.layer(0, n, 0);
  return bytes32ToHex(new Uint8Array(kernel.memory.buffer), 0);
}

/** A built tree: every layer kept, so any leaf's proof is a walk up the layers. */
export class BatchMerkleTree {
  private constructor(
    /** All layers back to back, leaves first; 32 bytes a node. */
    private readonly nodes: Uint8Array,
    /** Index of the first node of each layer in `nodes`. */
    private readonly layerStarts: readonly number[],
    private readonly sizes: readonly number[],
  ) {}

  static fromLeafHashes(leafHashes: readonly Bytes32Input[]): BatchMerkleTree {
    checkBatch(leafHashes, "leafHashes");
    const sizes = layerSizes(leafHashes.length);
    const starts: number[] = [];
    let total = 0;
    for (const size of sizes) {
      starts.push(total);
      total += size;
    }
    const kernel = loadLeaves(leafHashes, total, "leafHashes");
    for (let l = 0; l + 1 < sizes.length; l++) kernel.layer(32 * starts[l]!, sizes[l]!, 32 * starts[l + 1]!);
    return new BatchMerkleTree(new Uint8Array(kernel.memory.buffer, 0, 32 * total), starts, sizes);
  }

  /** Number of leaves. */
  get size(): number {
    return this.sizes[0]!;
  }

  /** Number of layers, leaves and root included (1 for a single leaf). */
  get depth(): number {
    return this.sizes.length;
  }

  get root(): Hex {
    return bytes32ToHex(this.nodes, 32 * this.layerStarts[this.layerStarts.length - 1]!);
  }

  leaf(index: number): Hex {
    this.checkIndex(index);
    return bytes32ToHex(this.nodes, 32 * index);
  }

  /**
   * The proof for leaf `index`: its sibling at each layer from the bottom, skipping layers where
   * it is the odd node out. Pass as bytes32[] to MerkleProof.verify(proof, root, leaf).
   */
  proof(index: number): Hex[] {
    this.checkIndex(index);
    const proof: Hex[] = [];
    let i = index;
    for (let l = 0; l + 1 < this.sizes.length; l++) {
      const sibling = i ^ 1;
      if (sibling < this.sizes[l]!) proof.push(bytes32ToHex(this.nodes, 32 * (this.layerStarts[l]! + sibling)));
      i >>>= 1;
    }
    return proof;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new LeafIndexOutOfRangeError(`leaf index must be an integer in 0..${this.size - 1}, got ${String(index)}`, "index");
    }
  }
}

/** keccak256 of a and b in ascending byte order (OpenZeppelin's Hashes.commutativeKeccak256). */
function hashSortedPair(a: Uint8Array, b: Uint8Array, scratch: Uint8Array): Uint8Array {
  const aFirst = Buffer.compare(a, b) <= 0;
  scratch.set(aFirst ? a : b, 0);
  scratch.set(aFirst ? b : a, 32);
  return keccak_256(scratch);
}

/** The root that `proof` leads to from `leaf` (OpenZeppelin's MerkleProof.processProof). */
export function processMerkleProof(proof: readonly Bytes32Input[], leaf: Bytes32Input): Hex {
  if (!Array.isArray(proof)) throw new MalformedHashError("proof must be an array of 32-byte hashes", "proof");
  const scratch = new Uint8Array(64);
  let node = toBytes32(leaf, "leaf");
  for (let i = 0; i < proof.length; i++) node = hashSortedPair(node, toBytes32(proof[i]!, `proof[${i}]`), scratch);
  return bytes32ToHex(node);
}

/**
 * Whether `proof` proves `leaf` under `root`, exactly as MerkleProof.verify decides on chain.
 * Pure (no tree needed). Malformed hashes throw MalformedHashError rather than return false.
 */
export function verifyMerkleProof(proof: readonly Bytes32Input[], root: Bytes32Input, leaf: Bytes32Input): boolean {
  const expected = bytes32ToHex(toBytes32(root, "root"));
  return processMerkleProof(proof, leaf) === expected;
}
