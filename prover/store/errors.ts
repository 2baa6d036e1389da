import { FieldError } from "../../protocol/errors.ts";

/** Typed errors of the proof store; each names the field or key that was wrong. */
export class StoreError extends FieldError {
  override name = "StoreError";
}

/** A record id is already taken: ids are never reused, so a second write is a caller bug. */
export class DuplicateRecordError extends StoreError {
  override name = "DuplicateRecordError";
}

/** A batch update names a batch that does not exist. */
export class UnknownBatchError extends StoreError {
  override name = "UnknownBatchError";
}
