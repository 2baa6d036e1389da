/**
 * The base of the project's typed errors: each names the field, argument or check that was
 * wrong, so a caller (and a user reading the message) knows what to fix without parsing text.
 * Every module derives its own base from it (ToplocError, EnvelopeError, NodeConfigError, ...).
 */
export class FieldError extends Error {
  override name = "FieldError";
  constructor(
    message: string,
    /** Field, argument or check that was wrong, e.g. "batch.maxRecords" or "signatures[3]". */
    readonly field: string,
  ) {
    super(message);
  }
}
