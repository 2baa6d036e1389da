import { FieldError } from "../../protocol/errors.ts";

/** A model cannot be rewritten into the asked-for precision variant (unsupported graph, bad option). */
export class VariantModelError extends FieldError {
  override name = "VariantModelError";
}
