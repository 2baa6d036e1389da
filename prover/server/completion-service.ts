/**
 * One completion from request to persisted record: queue for the engine, generate with stop
 * sequences applied as text appears, build the proof record (leaf hash included), write it to
 * the store, and tell the batcher. The caller completes its response only after this resolves,
 * so every response that reaches a client has its record on disk.
 */
import { randomBytes } from "node:crypto";
import { hashInferenceLeaf } from "../../protocol/merkle/index.ts";
import type { Batcher } from "../batch/index.ts";
import type { GenerationLike, InferenceEngine } from "../inference-engine.ts";
import type { ProofRecord, ProofStore } from "../store/index.ts";
import { EngineBusyError, InvalidRequestError as EngineInvalidRequestError } from "../engine/errors.ts";
import { UpstreamError } from "../upstream/errors.ts";
import { ApiError, engineFailure, internalError, invalidRequest, overloaded } from "./errors.ts";
import { EngineQueue, QueueAbortedError, QueueFullError } from "./engine-queue.ts";
import type { GenerationSettings } from "./request-params.ts";
import { StopTextTracker } from "./stop-text.ts";

export interface ServiceDeps {
  engine: InferenceEngine;
  store: ProofStore;
  queue: EngineQueue;
  batcher?: Batcher;
  /** Told about engine and store failures (the client only sees a generic 500). */
  onError?: (error: unknown, context: string) => void;
}

export interface CompletionJob {
  kind: ProofRecord["kind"];
  recordId: string;
  createdAt: Date;
  promptTokens: number[];
  settings: GenerationSettings;
  /** Streaming: called with each piece of text as soon as it is safe to send. */
  onText?: (delta: string) => void;
  signal?: AbortSignal;
}

export interface CompletionOutcome {
  record: ProofRecord;
  text: string;
  finishReason: "stop" | "length";
}

/** A fresh record id: "rec_" and 128 random bits in hex. */
export function newRecordId(): string {
  return `rec_${randomBytes(16).toString("hex")}`;
}

/** Refuses at once when the queue is full, before a stream is opened. */
export function assertCapacity(queue: EngineQueue, engine?: InferenceEngine): void {
  if (queue.active >= queue.concurrency && queue.waiting >= queue.maxWaiting) throw overloaded(queue.waiting, engine?.retryAfterSeconds?.());
}

export async function runCompletion(deps: ServiceDeps, job: CompletionJob): Promise<CompletionOutcome> {
  const { engine, queue } = deps;
  const tracker = new StopTextTracker(engine.tokenizer, job.settings.stop);
  // The engine asks shouldStop after every token with the whole output so far; that one list
  // drives both stop detection and streaming.
  const emit = (tokens: readonly number[]): void => {
    const delta = tracker.update(tokens);
    if (delta.length > 0) job.onText?.(delta);
  };
  let generation: GenerationLike;
  try {
    generation = await queue.run(
      () =>
        engine.generate({
          promptTokens: job.promptTokens,
          temperature: job.settings.sampling.temperature,
          topP: job.settings.sampling.topP,
          maxTokens: job.settings.sampling.maxTokens,
          seed: job.settings.seed,
          shouldStop: (tokens) => {
            emit(tokens);
            return tracker.stopped;
          },
          ...(job.signal ? { signal: job.signal } : {}),
        }),
      job.signal,
    );
  } catch (error) {
    if (error instanceof QueueFullError) throw overloaded(error.waiting, engine.retryAfterSeconds?.());
    if (error instanceof EngineBusyError) throw overloaded(queue.waiting, error.retryAfterS);
    if (error instanceof QueueAbortedError || job.signal?.aborted) throw error;
    // The routes check what they can; the engine has the last word on token ids and ranges.
    if (error instanceof EngineInvalidRequestError) throw invalidRequest(error.message, requestParam(error.field));
    if (error instanceof UpstreamError) {
      // The upstream engine (the SGLang sidecar's) failed: the client is told which way; nothing is recorded.
      deps.onError?.(error, `upstream for ${job.recordId}`);
      throw new ApiError(error.statusCode, `The upstream inference server failed: ${error.message}`, "server_error", null, error.code);
    }
    deps.onError?.(error, `generating ${job.recordId}`);
    throw engineFailure();
  }
  emit(generation.outputTokens);
  const tail = tracker.finish();
  if (tail.length > 0) job.onText?.(tail);
  const finishReason = tracker.stopped ? "stop" : generation.finishReason;
  const record = buildRecord(deps, job, generation, finishReason);
  try {
    await deps.store.putRecord(record);
  } catch (error) {
    deps.onError?.(error, `persisting ${job.recordId}`);
    throw internalError();
  }
  deps.batcher?.notifyRecord();
  return { record, text: tracker.finalText, finishReason };
}

/** The API's name for an engine request field. */
function requestParam(field: string): string | null {
  if (field.startsWith("promptTokens")) return "prompt";
  return { maxTokens: "max_tokens", temperature: "temperature", topP: "top_p", seed: "seed" }[field] ?? null;
}

function buildRecord(
  deps: ServiceDeps,
  job: CompletionJob,
  generation: GenerationLike,
  finishReason: "stop" | "length",
): ProofRecord {
  const { info } = deps.engine;
  const sampling = { ...job.settings.sampling, ...(generation.sampler !== undefined ? { sampler: generation.sampler } : {}) };
  const proofParams = { topk: generation.toploc.topk, decodeBatchSize: generation.toploc.decodeBatchSize };
  let leafHash;
  try {
    leafHash = hashInferenceLeaf({
      model: info.modelId,
      promptTokens: generation.promptTokens,
      outputTokens: generation.outputTokens,
      sampling,
      seed: job.settings.seed,
      proofs: generation.proofs,
      proofParams,
    });
  } catch (error) {
    // The engine returned something no leaf can encode (e.g. a proof of the wrong length).
    deps.onError?.(error, `encoding the leaf of ${job.recordId}`);
    throw error instanceof ApiError ? error : engineFailure();
  }
  return {
    id: job.recordId,
    kind: job.kind,
    model: info.modelId,
    weightsHash: info.weightsHash,
    promptTokens: [...generation.promptTokens],
    outputTokens: [...generation.outputTokens],
    sampling: { ...sampling },
    seed: job.settings.seed.toString(),
    seedSource: job.settings.seedSource,
    proofs: generation.proofs.map((proof) => Buffer.from(proof).toString("base64")),
    toploc: {
      topk: generation.toploc.topk,
      decodeBatchSize: generation.toploc.decodeBatchSize,
      skipPrefill: generation.toploc.skipPrefill,
    },
    finishReason,
    createdAt: job.createdAt.toISOString(),
    completedAt: new Date().toISOString(),
    leafHash,
  };
}
