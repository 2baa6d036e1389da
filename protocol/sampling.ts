/**
 * Which leaves of a batch an operator re-checks. The draw is seeded by the hash of a block
 * mined after the batch was submitted, which the prover cannot know when it commits, mixed
 * with the batch id and the operator's address so that different operators cover different
 * leaves. Anyone can recompute an operator's sample from public data.
 *
 *   seed    = keccak256(abi.encode(bytes32 blockHash, uint256 batchId, address operator))
 *   word(i) = keccak256(abi.encode(bytes32 seed, uint256 i))   (i = 0, 1, 2, ...)
 *   count   = leafCount when fraction = 1, else max(1, ceil(fraction * leafCount))
 *   indices = the first `count` positions of a Fisher-Yates shuffle of 0..leafCount-1, where
 *             step j swaps j with j + (word(j) mod (leafCount - j)); returned in ascending order
 *
 * The modulo bias is below 2^-225 for any batch that fits a tree (2^25 leaves).
 */
import { encodeAbiParameters, hexToBigInt, keccak256, type Address, type Hex } from "viem";
import { FieldError } from "./errors.ts";

export class SamplingError extends FieldError {
  override name = "SamplingError";
}

export interface SampleInput {
  /** Hash of the block the seed is taken from (after the batch's submission block). */
  blockHash: Hex;
  batchId: bigint;
  operator: Address;
  leafCount: number;
  /** Share of leaves to check, in (0, 1]. */
  fraction: number;
}

const MAX_LEAVES = 2 ** 25;

export function sampleSeed(blockHash: Hex, batchId: bigint, operator: Address): Hex {
  return keccak256(
    encodeAbiParameters([{ type: "bytes32" }, { type: "uint256" }, { type: "address" }], [blockHash, batchId, operator]),
  );
}

/** The leaf indices an operator must check, ascending. */
export function sampleLeaves(input: SampleInput): number[] {
  const { blockHash, batchId, operator, leafCount, fraction } = input;
  if (!/^0x[0-9a-fA-F]{64}$/.test(blockHash)) throw new SamplingError(`blockHash must be 32 bytes of hex, got ${blockHash}`, "blockHash");
  if (typeof batchId !== "bigint" || batchId < 0n) throw new SamplingError(`batchId must be a non-negative bigint`, "batchId");
  if (!/^0x[0-9a-fA-F]{40}$/.test(operator)) throw new SamplingError(`operator must be an address, got ${operator}`, "operator");
  if (!Number.isInteger(leafCount) || leafCount < 1 || leafCount > MAX_LEAVES) {
    throw new SamplingError(`leafCount must be an integer in 1..${MAX_LEAVES}, got ${leafCount}`, "leafCount");
  }
  if (!(fraction > 0 && fraction <= 1)) throw new SamplingError(`fraction must be in (0, 1], got ${fraction}`, "fraction");

  const count = fraction === 1 ? leafCount : Math.min(leafCount, Math.max(1, Math.ceil(fraction * leafCount)));
  const seed = sampleSeed(blockHash, batchId, operator);
  // Sparse Fisher-Yates: only swapped positions are stored, so a 2^25-leaf batch costs O(count).
  const swapped = new Map<number, number>();
  const at = (i: number) => swapped.get(i) ?? i;
  const picked: number[] = [];
  for (let j = 0; j < count; j++) {
    const word = hexToBigInt(keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "uint256" }], [seed, BigInt(j)])));
    const k = j + Number(word % BigInt(leafCount - j));
    const chosen = at(k);
    swapped.set(k, at(j));
    picked.push(chosen);
  }
  return picked.sort((a, b) => a - b);
}
