/**
 * What can end a benchmark run without a signed envelope. Each names the flag or the phase that
 * was wrong, so that `vb run` can say it in one line and exit non-zero.
 */
import { FieldError } from "../protocol/errors.ts";

/** A run option is out of range or inconsistent (usage: exit 2). */
export class RunConfigError extends FieldError {
  override name = "RunConfigError";
}

/** The output folder holds an earlier run; --force replaces it. */
export class OutputExistsError extends RunConfigError {
  override name = "OutputExistsError";
}

/**
 * The first request (the probe) did not get a streamed completion: the endpoint is down, the
 * base path is wrong, or the model is not served there. `field` is the flag to fix.
 */
export class ProbeError extends FieldError {
  override name = "ProbeError";
}

/**
 * The run started but cannot produce a result worth signing: more requests failed than
 * --max-error-rate allows (the server went away, or answers errors). Traces up to that point
 * are kept next to where the envelope would have been, for inspection.
 */
export class RunFailedError extends FieldError {
  override name = "RunFailedError";
  constructor(
    message: string,
    field: string,
    /** The phase that failed: warm-up, convergence gate, measurement, linking. */
    readonly phase: string,
  ) {
    super(message, field);
  }
}
