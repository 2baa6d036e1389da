/**
 * Errors in the OpenAI shape: { error: { message, type, param, code } } with the status code
 * OpenAI uses for the same condition, so OpenAI clients raise their usual typed exceptions.
 */
export type ApiErrorType = "invalid_request_error" | "not_found_error" | "rate_limit_error" | "server_error";

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly statusCode: number,
    message: string,
    readonly type: ApiErrorType,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (e.g. retry-after). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function invalidRequest(message: string, param: string | null, code: string | null = null): ApiError {
  return new ApiError(400, message, "invalid_request_error", param, code);
}

export function modelNotFound(model: string): ApiError {
  return new ApiError(404, `The model \`${model}\` does not exist or you do not have access to it.`, "invalid_request_error", "model", "model_not_found");
}

export function notFound(message: string, param: string | null, code = "not_found"): ApiError {
  return new ApiError(404, message, "invalid_request_error", param, code);
}

/** Every batch slot and queue place taken: 429 (load, not a fault) with the engine's estimate of when a slot frees. */
export function overloaded(waiting: number, retryAfterS = 1): ApiError {
  const seconds = Math.max(1, Math.ceil(retryAfterS));
  return new ApiError(
    429,
    `The engine is at capacity (${waiting} requests already waiting); retry in ${seconds} s.`,
    "rate_limit_error",
    null,
    "engine_overloaded",
    { "retry-after": String(seconds) },
  );
}

export function engineFailure(): ApiError {
  return new ApiError(500, "The engine failed while generating this completion.", "server_error", null, "engine_error");
}

export function internalError(): ApiError {
  return new ApiError(500, "The server had an error while processing your request.", "server_error", null, "internal_error");
}
