/**
 * Typed errors for batch commitments. As in protocol/toploc, every error names the field that
 * was wrong (e.g. "promptTokens[17]", "leafHashes[3]") so a prover or operator can say exactly
 * which record or leaf of a batch to fix.
 */
import { FieldError } from "../errors.ts";

export class MerkleError extends FieldError {
  override name = "MerkleError";
}

/** An inference record cannot be encoded into a leaf (bad token, seed, proof length, ...). */
export class InvalidLeafError extends MerkleError {
  override name = "InvalidLeafError";
}

/** A value that must be exactly 32 bytes (a leaf hash, a root, a proof node) is not. */
export class MalformedHashError extends MerkleError {
  override name = "MalformedHashError";
}

/** A tree over zero leaves has no root; committing an empty batch is a caller bug. */
export class EmptyBatchError extends MerkleError {
  override name = "EmptyBatchError";
}

/** More leaves than one tree may hold (its layers must fit in 32-bit wasm memory). */
export class BatchTooLargeError extends MerkleError {
  override name = "BatchTooLargeError";
}

/** A proof was asked for a leaf index the tree does not have. */
export class LeafIndexOutOfRangeError extends MerkleError {
  override name = "LeafIndexOutOfRangeError";
}
