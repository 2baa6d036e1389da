/**
 * Typed errors for TOPLOC proofs. Every error names the field and the offending value so that
 * a caller (a prover, an operator, a dispute) can report exactly what was wrong.
 */
import { FieldError } from "../errors.ts";

export class ToplocError extends FieldError {
  override name = "ToplocError";
}

/** The proof bytes do not decode into a well-formed polynomial. */
export class MalformedProofError extends ToplocError {
  override name = "MalformedProofError";
}

/** A proof string is not canonical base64. */
export class InvalidBase64Error extends ToplocError {
  override name = "InvalidBase64Error";
}

/** k, the decode batch size, or another parameter is out of its allowed range. */
export class InvalidParameterError extends ToplocError {
  override name = "InvalidParameterError";
}

/** Activations contain NaN or +/-Inf, which have no magnitude order and cannot be proven. */
export class NonFiniteActivationError extends ToplocError {
  override name = "NonFiniteActivationError";
}

/** A chunk holds fewer values than the k it must prove. */
export class ChunkTooShortError extends ToplocError {
  override name = "ChunkTooShortError";
}

/** The number of proofs does not match the number of chunks the activations split into. */
export class ProofCountMismatchError extends ToplocError {
  override name = "ProofCountMismatchError";
}

/** No modulus in (0, 65497] maps the top-k indices injectively (only possible for huge k). */
export class NoInjectiveModulusError extends ToplocError {
  override name = "NoInjectiveModulusError";
}

/**
 * The proof's modulus is not the one the reference chooses (the largest m <= 65497 that keeps
 * the top-k indices distinct): a second encoding of the same claims, or a proof built for
 * other indices.
 */
export class NonCanonicalModulusError extends MalformedProofError {
  override name = "NonCanonicalModulusError";
}
