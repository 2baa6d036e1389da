import { FieldError } from "../errors.ts";

/** Bad sampler settings or logits (unknown version, temperature out of range, wrong shapes). */
export class SamplerError extends FieldError {
  override name = "SamplerError";
}
