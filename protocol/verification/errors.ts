import { FieldError } from "../errors.ts";

/** Base of the verification errors. */
export class VerificationError extends FieldError {
  override name = "VerificationError";
}

/** A verification profile that does not parse, validate or hash to what it claims. */
export class InvalidProfileError extends VerificationError {
  override name = "InvalidProfileError";
}

/** Evidence that cannot be computed from the inputs (shapes, counts, k). */
export class EvidenceError extends VerificationError {
  override name = "EvidenceError";
}
