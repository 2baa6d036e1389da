/**
 * Typed errors for EIP-712 messages. Each names the field that was wrong, so an operator or the
 * aggregator can say which signature or which argument to fix.
 */
import { FieldError } from "../errors.ts";

export class TypedDataError extends FieldError {
  override name = "TypedDataError";
}

/** A message field is out of its type's range (uint8, uint32, bytes32, address, ...). */
export class InvalidTypedDataFieldError extends TypedDataError {
  override name = "InvalidTypedDataFieldError";
}

/** A signature is not 65 bytes (r, s, v) or 64 bytes (ERC-2098 compact). */
export class MalformedSignatureError extends TypedDataError {
  override name = "MalformedSignatureError";
}

/** The same signer appears twice where each may sign once. */
export class DuplicateSignerError extends TypedDataError {
  override name = "DuplicateSignerError";
}

/** A signature that recovers but is not the one canonical encoding (high s, v not 27/28, r or s out of range). */
export class NonCanonicalSignatureError extends MalformedSignatureError {
  override name = "NonCanonicalSignatureError";
}
