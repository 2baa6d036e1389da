/**
 * Every error leaves the server in the OpenAI shape { error: { message, type, param, code } }.
 * Fastify's own errors (schema validation, bad JSON, body too large, unknown route, wrong media
 * type) are translated here, so a client never sees fastify's default error format.
 */
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
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
    // A full queue or a rate limit is load, not a fault: a warning without a stack trace.
    if (apiError.code === "engine_overloaded") request.log.warn({ code: apiError.code, url: request.url }, "engine queue full; request refused");
    else if (apiError.statusCode === 429) request.log.info({ code: apiError.code, key: (request as { apiKeyName?: string }).apiKeyName }, "request refused by the key's limits");
    else if (apiError.statusCode >= 500) request.log.error({ err: error }, "request failed");
    void reply.code(apiError.statusCode).headers(apiError.headers).send(apiError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError(404, `No route ${request.method} ${request.url.split("?")[0]}.`, "invalid_request_error", null, "unknown_url");
    void reply.code(404).send(error.toBody());
  });
}

/**
 * Errors fastify raises before a route runs (fastify's `frameworkErrors` option): a path that is
 * not valid percent-encoding, a path parameter over maxParamLength (100), a failing constraint.
 */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  let apiError: ApiError;
  if (error.code === "FST_ERR_BAD_URL") {
    apiError = new ApiError(400, "The request path is not valid percent-encoding.", "invalid_request_error", null, "invalid_url");
  } else if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    apiError = new ApiError(414, "A path parameter is longer than 100 characters.", "invalid_request_error", null, "uri_too_long");
  } else {
    apiError = new ApiError(error.statusCode && error.statusCode < 500 ? error.statusCode : 400, "The request could not be routed.", "invalid_request_error", null, "invalid_request");
  }
  void reply.code(apiError.statusCode).headers(apiError.headers).send(apiError.toBody());
}

/**
 * Errors of the HTTP parser, before fastify sees a request (fastify's `clientErrorHandler`):
 * headers over the size limit (431), a request timeout (408), anything unparseable (400). The
 * connection is answered in OpenAI's shape, then closed.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, message, code] =
    error.code === "HPE_HEADER_OVERFLOW" ? [431, "The request headers are too large.", "request_header_fields_too_large"]
    : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "The request did not arrive in time.", "request_timeout"]
    : [400, "The request is not valid HTTP.", "invalid_http"];
  const body = JSON.stringify(new ApiError(status, message, "invalid_request_error", null, code).toBody());
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}
