/**
 * One error shape for the HTTP APIs of the operator and the aggregator, whatever refuses the
 * request: a route (IngestError and friends), fastify (unknown route, wrong media type, body too
 * large, bad percent-encoding, an oversized path parameter) or Node's HTTP parser (431, 408,
 * unparseable bytes). The shape is the one the aggregator's admission already answers with:
 *   { "error": { "message": "...", "field": "..." } }
 * A 5xx is logged; nothing else is (a refusal is the client's business).
 */
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { FieldError } from "../protocol/errors.ts";

function body(message: string, field: string): string {
  return JSON.stringify({ error: { message, field } });
}

function fromFastify(error: FastifyError): { status: number; message: string; field: string } {
  if (error instanceof FieldError) return { status: (error as { status?: number }).status ?? 400, message: error.message, field: error.field };
  if (Array.isArray(error.validation)) return { status: 400, message: error.message, field: error.validationContext ?? "request" };
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  if (status >= 500) return { status, message: "internal error", field: "server" };
  return { status, message: error.message, field: error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" ? "content-type" : "request" };
}

/** Error and not-found handlers answering in the shared shape. */
export function installFieldErrorShape(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { status, message, field } = fromFastify(error);
    if (status >= 500) request.log.error({ err: error }, "request failed");
    void reply.code(status).type("application/json; charset=utf-8").send(body(message, field));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).type("application/json; charset=utf-8").send(body(`no route ${request.method} ${request.url.split("?")[0]}`, "url"));
  });
}

/** fastify's `frameworkErrors`: errors raised before routing (bad percent-encoding, long path parameters). */
export function fieldFrameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = error.code === "FST_ERR_MAX_PARAM_LENGTH" ? 414 : 400;
  const message = error.code === "FST_ERR_BAD_URL" ? "the request path is not valid percent-encoding" : error.code === "FST_ERR_MAX_PARAM_LENGTH" ? "a path parameter is too long" : "the request could not be routed";
  void reply.code(status).type("application/json; charset=utf-8").send(body(message, "url"));
}

/** fastify's `clientErrorHandler`: what Node's HTTP parser refuses, answered before closing. */
export function fieldClientErrors(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, message] = error.code === "HPE_HEADER_OVERFLOW" ? [431, "the request headers are too large"] : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "the request did not arrive in time"] : [400, "the request is not valid HTTP"];
  const text = body(message, "request");
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  socket.destroy(error);
}

/** The fastify options that go with installFieldErrorShape. */
export const FIELD_ERROR_SERVER_OPTIONS = { frameworkErrors: fieldFrameworkErrors, clientErrorHandler: fieldClientErrors, requestTimeout: 30_000 } as const;
