/**
 * The proof sidecar: an InferenceEngine whose inference runs on an SGLang server (a GPU engine)
 * started with --enable-return-hidden-states. The prover's OpenAI API, store and batcher stay as
 * they are; each request is sent to SGLang's native POST /generate with the prover's own token
 * ids, greedy sampling and `return_hidden_states: true`, streamed back token by token, and the
 * TOPLOC proofs are built from the final hidden states SGLang returns.
 *
 * Why /generate and not SGLang's /v1 endpoints: with return_hidden_states, /v1/chat/completions
 * and /v1/completions return only the last element of the request's hidden states (one row, in
 * choices[i].hidden_states, or in an extra stream chunk after the finish chunk), not enough to
 * prove every chunk. /generate returns them all in meta_info.hidden_states.
 *
 * Why greedy only: SGLang samples with its own sampler, which operators cannot replay from the
 * seed; a sampled reply would be judged a token mismatch. Temperature > 0 is refused (400).
 */
import type { ToplocParams } from "../../protocol/toploc/index.ts";
import { CURRENT_SAMPLER_VERSION } from "../../protocol/sampler/index.ts";
import { GenerationAbortedError, InvalidRequestError } from "../engine/errors.ts";
import { ProofAccumulator } from "../engine/proving.ts";
import type { EngineInfoLike, GenerateRequestLike, GenerationLike, InferenceEngine, TokenizerLike } from "../inference-engine.ts";
import { MalformedHiddenStatesError, UpstreamResponseError, UpstreamTimeoutError, UpstreamUnavailableError } from "./errors.ts";
import { readHiddenStates } from "./hidden-states.ts";

export interface SglangUpstreamOptions {
  /** The SGLang server's base URL, e.g. http://gpu-host:30000. */
  url: string;
  /** Whole-request deadline in milliseconds (default 300 s). */
  timeoutMs?: number;
  /** Requests sent at once (SGLang batches them; default 64). */
  concurrency?: number;
  /** Generation stops at these too (sent as sampling_params.stop_token_ids). */
  stopTokenIds?: readonly number[];
  /** The fetch to use (tests); default globalThis.fetch. */
  fetch?: typeof fetch;
}

/** What the sidecar needs of the model: the prover's own info (weights hash, hidden size, TOPLOC) and tokenizer. */
export interface SidecarModel {
  info: EngineInfoLike;
  tokenizer: TokenizerLike;
}

interface GenerateChunk {
  output_ids?: unknown;
  meta_info?: { finish_reason?: { type?: unknown } | null; hidden_states?: unknown };
  error?: unknown;
}

export class SglangUpstream implements InferenceEngine {
  readonly info: EngineInfoLike;
  readonly tokenizer: TokenizerLike;
  readonly concurrency: number;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(
    model: SidecarModel,
    private readonly options: SglangUpstreamOptions,
  ) {
    this.info = model.info;
    this.tokenizer = model.tokenizer;
    this.concurrency = options.concurrency ?? 64;
    this.base = options.url.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 300_000;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  retryAfterSeconds(): number {
    return 1;
  }

  async generate(request: GenerateRequestLike): Promise<GenerationLike> {
    if (request.temperature !== 0) {
      throw new InvalidRequestError(
        `temperature must be 0 with the SGLang upstream: SGLang samples with its own sampler, which operators cannot replay (got ${request.temperature})`,
        "temperature",
      );
    }
    if (request.signal?.aborted) throw new GenerationAbortedError("generation was aborted by the caller", "signal");
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    // A client that goes away aborts the upstream request at once: SGLang frees its slot on disconnect.
    const onAbort = () => controller.abort();
    request.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await this.stream(request, controller.signal);
    } catch (error) {
      if (request.signal?.aborted) throw new GenerationAbortedError("generation was aborted by the caller", "signal");
      if (timedOut) throw new UpstreamTimeoutError(`the SGLang upstream did not finish within ${this.timeoutMs} ms`, "upstream");
      throw error;
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
    }
  }

  private async stream(request: GenerateRequestLike, signal: AbortSignal): Promise<GenerationLike> {
    const body = {
      input_ids: request.promptTokens,
      sampling_params: {
        temperature: 0,
        max_new_tokens: request.maxTokens,
        ...(this.options.stopTokenIds?.length ? { stop_token_ids: [...this.options.stopTokenIds] } : {}),
      },
      return_hidden_states: true,
      stream: true,
    };
    let response: Response;
    try {
      response = await this.fetch(`${this.base}/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new UpstreamUnavailableError(`the SGLang upstream cannot be reached: ${describe(error)}`, "upstream");
    }
    if (!response.ok) {
      const text = (await response.text().catch(() => "")).slice(0, 300);
      throw new UpstreamResponseError(`SGLang answered HTTP ${response.status}: ${text}`, "upstream");
    }
    const output: number[] = [];
    let kept: number | undefined; // output length when shouldStop ended the reply early
    let finish: string | undefined;
    let hiddenStates: unknown;
    for await (const chunk of events(response, signal)) {
      if (chunk.error !== undefined) throw new UpstreamResponseError(`SGLang reported an error: ${JSON.stringify(chunk.error).slice(0, 300)}`, "upstream");
      const ids = chunk.output_ids;
      if (!Array.isArray(ids) || ids.some((t) => !Number.isInteger(t) || t < 0 || t >= this.info.vocabSize)) {
        throw new UpstreamResponseError("a /generate chunk has no output_ids of token ids in the model's vocabulary", "output_ids");
      }
      // SGLang's default streams the whole output so far; --incremental-streaming-output streams the new ids only.
      const cumulative = ids.length >= output.length && output.every((t, i) => t === ids[i]);
      const fresh = cumulative ? (ids as number[]).slice(output.length) : (ids as number[]);
      for (const token of fresh) {
        output.push(token);
        if (kept !== undefined) continue;
        request.onToken?.(token, output.length - 1);
        if (request.shouldStop?.(output)) kept = output.length;
      }
      const type = chunk.meta_info?.finish_reason?.type;
      if (typeof type === "string") {
        finish = type;
        hiddenStates = chunk.meta_info?.hidden_states;
      }
    }
    if (finish === undefined) throw new UpstreamResponseError("the /generate stream ended without a finish reason", "meta_info.finish_reason");
    if (finish === "abort") throw new UpstreamResponseError("SGLang aborted the request", "meta_info.finish_reason");
    if (output.length === 0) throw new UpstreamResponseError("SGLang returned no output tokens", "output_ids");
    // A stop string ends the reply where the prover's tracker saw it; the rows it needs are a prefix of those returned.
    const outputTokens = kept !== undefined ? output.slice(0, kept) : output;
    const rows = readHiddenStates(hiddenStates, request.promptTokens.length, outputTokens.length, this.info.hiddenSize);
    const toploc: ToplocParams = this.info.toploc;
    const prover = new ProofAccumulator(this.info.hiddenSize, toploc);
    prover.addPrefill(rows.prefill);
    for (const r of rows.decode) prover.addDecode(r);
    return {
      promptTokens: request.promptTokens,
      outputTokens,
      finishReason: kept !== undefined || finish === "stop" ? "stop" : "length",
      proofs: prover.finish(),
      toploc: { ...toploc },
      sampler: CURRENT_SAMPLER_VERSION,
    };
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}

/** The JSON events of an SSE body ("data: {...}" blocks, "data: [DONE]" last). */
async function* events(response: Response, signal: AbortSignal): AsyncGenerator<GenerateChunk> {
  if (!response.body) throw new UpstreamResponseError("SGLang answered without a body", "upstream");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      let read;
      try {
        read = await reader.read();
      } catch (error) {
        if (signal.aborted) throw error;
        throw new UpstreamUnavailableError(`the SGLang stream broke: ${describe(error)}`, "upstream");
      }
      if (read.done) break;
      buffer += decoder.decode(read.value, { stream: true });
      if (buffer.length > 512 << 20) throw new UpstreamResponseError("a /generate event is over 512 MiB", "upstream");
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (data === "" || data === "[DONE]") continue;
        yield parseChunk(data);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function parseChunk(data: string): GenerateChunk {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (error) {
    // Python's json writes NaN and Infinity as bare words, which are not JSON.
    if (/\b(NaN|-?Infinity)\b/.test(data)) throw new MalformedHiddenStatesError("the hidden states hold NaN or Infinity", "meta_info.hidden_states");
    throw new UpstreamResponseError(`a /generate event is not JSON: ${(error as Error).message}`, "upstream");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new UpstreamResponseError("a /generate event is not a JSON object", "upstream");
  return value as GenerateChunk;
}
