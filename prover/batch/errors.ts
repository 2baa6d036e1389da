import { FieldError } from "../../protocol/errors.ts";

/** A batcher option is out of range; names the config field. */
export class BatchConfigError extends FieldError {
  override name = "BatchConfigError";
}
