/**
 * Every error leaves the server in the OpenAI shape { error: { message, type, param, code } }.
 * Fastify's own errors (schema validation, bad JSON, body too large, unknown route, wrong media
 * type) are translated here, so a client never sees fastify's default error format.
 */
import type { FastifyError, FastifyInstance } from "fastify";
import { ApiError } from "./errors.ts";

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** ajv's message, with the accepted values spelled out where ajv leaves them in params. */
function reasonOf(issue: ValidationIssue): string {
  if (issue.keyword === "enum") return `must be one of ${(issue.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  if (issue.keyword === "const") return `must be ${JSON.stringify(issue.params.allowedValue)}`;
  return issue.message ?? issue.keyword;
}

/** "/messages/0/role" -> "messages[0].role" (OpenAI's way of naming a nested param). */
function paramName(path: string): string {
  return path
    .split("/")
    .filter((part) => part.length > 0)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join("");
}

/** The most telling issue: anyOf branches report every alternative, so prefer a leaf keyword. */
function fromValidation(issues: ValidationIssue[], context: string): ApiError {
  const issue = issues.find((i) => i.keyword !== "anyOf") ?? issues[0]!;
  const at = paramName(issue.instancePath);
  const kinds: Record<string, string> = { params: "path parameter ", querystring: "query parameter ", headers: "header " };
  const where = (name: string) => `${kinds[context] ?? ""}${name}`;
  if (issue.keyword === "additionalProperties") {
    const extra = String(issue.params.additionalProperty);
    const param = at ? `${at}.${extra}` : extra;
    return new ApiError(400, `Unrecognized request argument supplied: ${where(`'${param}'`)}.`, "invalid_request_error", param, "unknown_parameter");
  }
  if (issue.keyword === "required") {
    const missing = String(issue.params.missingProperty);
    const param = at ? `${at}.${missing}` : missing;
    return new ApiError(400, `Missing required parameter: ${where(`'${param}'`)}.`, "invalid_request_error", param, "missing_required_parameter");
  }
  const param = at || null;
  const reason = issues.some((i) => i.instancePath === issue.instancePath && i.keyword === "anyOf")
    ? describeAnyOf(issues, issue.instancePath)
    : reasonOf(issue);
  return new ApiError(400, `Invalid value for ${where(`'${param ?? context}'`)}: ${reason}.`, "invalid_request_error", param, "invalid_value");
}

/** For a field with several accepted forms, list every rule it broke. */
function describeAnyOf(issues: ValidationIssue[], path: string): string {
  const reasons = issues.filter((i) => i.instancePath === path && i.keyword !== "anyOf").map(reasonOf);
  return `${[...new Set(reasons)].join(", or ")}`;
}

function fromFastify(error: FastifyError): ApiError {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError(413, "The request body is too large.", "invalid_request_error", null, "request_too_large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError(415, "Unsupported content type: send the body as application/json.", "invalid_request_error", null, "unsupported_media_type");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ApiError(400, "The request body is empty; expected a JSON object.", "invalid_request_error", null, "invalid_json");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ApiError(400, "The request body does not match its Content-Length.", "invalid_request_error", null, "invalid_body");
  }
  if (error instanceof SyntaxError || error.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    const detail = error instanceof SyntaxError ? `: ${error.message}` : "";
    return new ApiError(400, `The request body is not valid JSON${detail}.`, "invalid_request_error", null, "invalid_json");
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return new ApiError(status, error.message, "invalid_request_error", null, null);
  return new ApiError(500, "The server had an error while processing your request.", "server_error", null, "internal_error");
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let apiError: ApiError;
    if (error instanceof ApiError) apiError = error;
    else if (Array.isArray(error.validation)) apiError = fromValidation(error.validation as ValidationIssue[], error.validationContext ?? "body");
    else apiError = fromFastify(error);
    if (apiError.statusCode >= 500) request.log.error({ err: error }, "request failed");
    void reply.code(apiError.statusCode).headers(apiError.headers).send(apiError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError(404, `No route ${request.method} ${request.url.split("?")[0]}.`, "invalid_request_error", null, "unknown_url");
    void reply.code(404).send(error.toBody());
  });
}
