/**
 * The part both completion routes share: run the job and answer either with one JSON body or
 * with a server-sent event stream (`data: {...}\n\n` chunks, then `data: [DONE]`).
 *
 * A stream's headers go out with its first chunk, so a failure before any text (queue full,
 * engine error in the prefill) still gets its proper status code. A failure after that is sent
 * as a final `data: {"error": {...}}` event, which OpenAI clients raise as an APIError.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ProofRecord } from "../store/index.ts";
import { ApiError, internalError } from "./errors.ts";
import { assertCapacity, newRecordId, runCompletion, type CompletionOutcome, type ServiceDeps } from "./completion-service.ts";
import { ChunkFactory, chatBody, completionBody, fingerprint, type ResponseMeta } from "./openai-format.ts";
import type { GenerationSettings } from "./request-params.ts";

export const PROOF_RECORD_HEADER = "x-proof-record";

export async function serveCompletion(
  deps: ServiceDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  kind: ProofRecord["kind"],
  promptTokens: number[],
  settings: GenerationSettings,
): Promise<void> {
  const recordId = newRecordId();
  const createdAt = new Date();
  const meta: ResponseMeta = {
    id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${recordId.slice(4)}`,
    created: Math.floor(createdAt.getTime() / 1000),
    model: deps.engine.info.modelId,
    systemFingerprint: fingerprint(deps.engine.info.weightsHash),
  };
  // Cancels generation when the client goes away before the response is complete.
  const abort = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) abort.abort();
  });

  if (!settings.stream) {
    let outcome: CompletionOutcome;
    try {
      outcome = await runCompletion(deps, { kind, recordId, createdAt, promptTokens, settings, signal: abort.signal });
    } catch (error) {
      // The client went away and the generation was cancelled for it: nothing failed, nobody to answer.
      if (abort.signal.aborted) {
        request.log.info({ recordId }, "client closed the connection; generation cancelled");
        reply.hijack();
        reply.raw.destroy();
        return;
      }
      throw error;
    }
    reply.header(PROOF_RECORD_HEADER, recordId);
    await reply.send(kind === "chat" ? chatBody(meta, outcome) : completionBody(meta, outcome));
    return;
  }

  assertCapacity(deps.queue, deps.engine);
  reply.hijack();
  const stream = new SseStream(reply, recordId);
  const chunks = new ChunkFactory(kind, meta, settings.includeUsage);
  let outcome: CompletionOutcome;
  try {
    outcome = await runCompletion(deps, {
      kind,
      recordId,
      createdAt,
      promptTokens,
      settings,
      signal: abort.signal,
      onText: (delta) => {
        stream.open(chunks.opening());
        stream.send(chunks.text(delta));
      },
    });
  } catch (error) {
    if (abort.signal.aborted) return stream.end(); // nobody is listening
    const apiError = error instanceof ApiError ? error : internalError();
    if (!(error instanceof ApiError)) request.log.error({ err: error }, "stream failed");
    return stream.fail(apiError);
  }
  stream.open(chunks.opening());
  stream.send(chunks.finish(outcome));
  if (settings.includeUsage) stream.send(chunks.usage(outcome));
  stream.done();
}

/** Writes SSE frames on the raw response once fastify has let go of it (reply.hijack()). */
class SseStream {
  private started = false;

  constructor(
    private readonly reply: FastifyReply,
    private readonly recordId: string,
  ) {}

  /** Sends the headers (and the chat opening chunk) before the first frame. */
  open(opening: Record<string, unknown> | undefined): void {
    if (this.started) return;
    this.started = true;
    this.reply.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      // No explicit "connection: keep-alive": Node keeps HTTP/1.1 connections alive by itself,
      // and a client that asked for Connection: close gets its connection closed after [DONE].
      [PROOF_RECORD_HEADER]: this.recordId,
    });
    if (opening !== undefined) this.send(opening);
  }

  send(chunk: Record<string, unknown>): void {
    if (!this.reply.raw.writableEnded) this.reply.raw.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  done(): void {
    if (!this.reply.raw.writableEnded) this.reply.raw.end("data: [DONE]\n\n");
  }

  /** Before the first frame: a plain JSON error with its status. After: an error event. */
  fail(error: ApiError): void {
    const raw = this.reply.raw;
    if (raw.writableEnded) return;
    if (!this.started) {
      raw.writeHead(error.statusCode, { "content-type": "application/json; charset=utf-8", ...error.headers });
      raw.end(JSON.stringify(error.toBody()));
      return;
    }
    raw.end(`data: ${JSON.stringify(error.toBody())}\n\n`);
  }

  end(): void {
    if (!this.reply.raw.writableEnded) this.reply.raw.end();
  }
}
