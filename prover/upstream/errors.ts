/**
 * Typed failures of the proof sidecar's upstream (an SGLang server). Each names what failed and
 * carries the HTTP status and code the prover answers with; none of them writes a record.
 */
import { FieldError } from "../../protocol/errors.ts";

export abstract class UpstreamError extends FieldError {
  override name = "UpstreamError";
  /** The status the prover answers the client with. */
  abstract readonly statusCode: number;
  /** OpenAI-style error code. */
  abstract readonly code: string;
}

/** The upstream cannot be reached (refused, reset, DNS). */
export class UpstreamUnavailableError extends UpstreamError {
  override name = "UpstreamUnavailableError";
  readonly statusCode = 502;
  readonly code = "upstream_unavailable";
}

/** The upstream did not answer, or did not finish, within the deadline. */
export class UpstreamTimeoutError extends UpstreamError {
  override name = "UpstreamTimeoutError";
  readonly statusCode = 504;
  readonly code = "upstream_timeout";
}

/** The upstream answered with an error status or a body that is not SGLang's generate response. */
export class UpstreamResponseError extends UpstreamError {
  override name = "UpstreamResponseError";
  readonly statusCode = 502;
  readonly code = "upstream_bad_response";
}

/**
 * The hidden states are missing, of the wrong shape (rows or width), or hold values that are
 * not finite numbers: no proof can be built, so nothing is recorded. Usually the server was
 * started without --enable-return-hidden-states, or serves another model.
 */
export class MalformedHiddenStatesError extends UpstreamError {
  override name = "MalformedHiddenStatesError";
  readonly statusCode = 502;
  readonly code = "upstream_bad_hidden_states";
}
