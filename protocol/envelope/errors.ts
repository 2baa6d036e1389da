/**
 * Typed errors for benchmark envelopes. Each names the field (or the check) and the values
 * involved, so `vb verify` can say exactly which check failed and why.
 */
import { FieldError } from "../errors.ts";

export class EnvelopeError extends FieldError {
  override name = "EnvelopeError";
}

/** The bytes are not JSON (or JSON this tool refuses: duplicate keys, excessive nesting). */
export class MalformedJsonError extends EnvelopeError {
  override name = "MalformedJsonError";
}

/** A value cannot be written canonically (a function, a non-finite number where forbidden, ...). */
export class CanonicalizationError extends EnvelopeError {
  override name = "CanonicalizationError";
}

/** The document does not match the envelope schema. */
export class SchemaValidationError extends EnvelopeError {
  override name = "SchemaValidationError";
  constructor(
    message: string,
    field: string,
    readonly errors: readonly string[],
  ) {
    super(message, field);
  }
}

/** One verification check failed; carries the stored and the recomputed value. */
export class VerificationError extends EnvelopeError {
  override name = "VerificationError";
  constructor(
    /** Check that failed: "schema", "content_hash", "signature[0]", "trust", ... */
    readonly check: string,
    message: string,
    readonly stored?: string,
    readonly recomputed?: string,
  ) {
    super(
      `verification failed at check "${check}": ${message}` +
        (stored !== undefined || recomputed !== undefined ? `\n  stored:     ${stored ?? "(none)"}\n  recomputed: ${recomputed ?? "(none)"}` : ""),
      check,
    );
  }
}

/** A key (file, PEM, hex) cannot be read or has the wrong type or length. */
export class KeyFormatError extends EnvelopeError {
  override name = "KeyFormatError";
}

/** A signature scheme this build does not know. */
export class UnsupportedSignatureError extends EnvelopeError {
  override name = "UnsupportedSignatureError";
}

/** Sigstore signing needs a network and an OIDC identity token; one of them is missing. */
export class SigstoreUnavailableError extends EnvelopeError {
  override name = "SigstoreUnavailableError";
}
