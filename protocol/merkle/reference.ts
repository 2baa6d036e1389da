/**
 * The reference tree: merkletreejs configured as this protocol's tree (keccak256, sorted pairs,
 * leaves given already hashed, odd node promoted). Too slow for large batches (~8 s for 10^6
 * leaves) but widely used and independent of our wasm kernel, so the tests hold
 * BatchMerkleTree and merkleRoot to it root for root and proof for proof.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { MerkleTree } from "merkletreejs";
import type { Hex } from "viem";
import { toBytes32, type Bytes32Input } from "./bytes32.ts";
import { EmptyBatchError, LeafIndexOutOfRangeError, MalformedHashError } from "./errors.ts";

export const REFERENCE_TREE_OPTIONS = Object.freeze({ sortPairs: true, hashLeaves: false });

export function referenceMerkleTree(leafHashes: readonly Bytes32Input[]): MerkleTree {
  if (!Array.isArray(leafHashes)) {
    throw new MalformedHashError("leafHashes must be an array of 32-byte hashes", "leafHashes");
  }
  if (leafHashes.length === 0) throw new EmptyBatchError("leafHashes is empty: a batch needs at least one leaf", "leafHashes");
  const leaves = leafHashes.map((leaf, i) => Buffer.from(toBytes32(leaf, `leafHashes[${i}]`)));
  return new MerkleTree(leaves, keccak_256, { ...REFERENCE_TREE_OPTIONS });
}

/** Root of the reference tree, lowercase 0x-hex. */
export function referenceMerkleRoot(leafHashes: readonly Bytes32Input[]): Hex {
  return referenceMerkleTree(leafHashes).getHexRoot() as Hex;
}

/**
 * Proof for leaf `index` from the reference tree. The index is passed on: merkletreejs would
 * otherwise look the leaf up by value and pick the last of any duplicates.
 */
export function referenceMerkleProof(tree: MerkleTree, index: number): Hex[] {
  const leaves = tree.getLeaves();
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new LeafIndexOutOfRangeError(`leaf index must be an integer in 0..${leaves.length - 1}, got ${String(index)}`, "index");
  }
  return tree.getHexProof(leaves[index]!, index) as Hex[];
}
