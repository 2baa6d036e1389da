/**
 * A stand-in for an SGLang server (which needs a GPU), backed by the project's own engine, for
 * the proof sidecar's tests. It speaks SGLang's HTTP API as SGLang's sources define it:
 *
 *   POST /generate   { input_ids, sampling_params: { temperature, max_new_tokens, stop_token_ids },
 *                      return_hidden_states, stream }
 *     -> { text, output_ids, meta_info: { id, finish_reason: { type: "stop", matched } |
 *          { type: "length", length } | null, prompt_tokens, completion_tokens, hidden_states } }
 *     streamed as "data: <json>\n\n" events with the whole output so far (SGLang's default,
 *     non-incremental), the last one finished and carrying the hidden states, then "data: [DONE]".
 *     meta_info.hidden_states = [prefill rows (one per prompt token), then one row per decode
 *     step: the row of the token it fed], each the input of the LM head.
 *   POST /v1/completions with return_hidden_states: choices[i].hidden_states is the last element
 *     of those hidden states only (what SGLang's OpenAI endpoints return), [] without decode rows.
 *   GET /health, GET /get_model_info.
 *
 * A request for hidden states when the server was not started with them enabled is refused as
 * SGLang refuses it (HTTP 400). Faults for the tests: wrong row width, missing rows, NaN (written
 * as Python's json writes it), no hidden states, an HTTP 500, a slow first byte. A client that
 * disconnects aborts its generation at once (`aborted` counts them).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Engine } from "../../prover/engine/index.ts";

export type StandinFault = "none" | "wrong-width" | "missing-rows" | "nan" | "no-hidden-states" | "http-500";

export interface StandinOptions {
  engine: Engine;
  /** --enable-return-hidden-states (default true). */
  enableReturnHiddenStates?: boolean;
  fault?: StandinFault;
  /** Delay before the first byte of every answer, in ms. */
  delayMs?: number;
}

export interface SglangStandin {
  url: string;
  options: StandinOptions;
  /** Generations aborted because their client went away. */
  aborted: number;
  /** Generations running now. */
  running: number;
  requests: unknown[];
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

export async function startSglangStandin(options: StandinOptions): Promise<SglangStandin> {
  const { engine } = options;
  let counter = 0;
  const standin: SglangStandin = { url: "", options, aborted: 0, running: 0, requests: [], close: async () => undefined };

  /** SGLang's meta_info.hidden_states for prompt + output, with the configured fault applied. */
  async function hiddenStatesOf(prompt: number[], output: number[]): Promise<unknown[] | undefined> {
    const fault = options.fault ?? "none";
    if (fault === "no-hidden-states") return undefined;
    const { activations } = await engine.recomputation(prompt, output);
    const H = engine.info.hiddenSize;
    const prefill = activations[0]!;
    const rows: number[][] = [];
    for (let i = 0; i < prompt.length; i++) rows.push(Array.from(prefill.subarray(i * H, (i + 1) * H)));
    const states: unknown[] = [rows, ...activations.slice(1).map((r) => Array.from(r))];
    if (fault === "wrong-width") states[1] = (states[1] as number[] | undefined)?.slice(0, H - 1) ?? rows[0]!.slice(1);
    if (fault === "missing-rows") states.splice(1);
    return states;
  }

  /** Python's json.dumps: NaN stays a bare word. */
  function dumps(value: unknown): string {
    const text = JSON.stringify(value);
    return options.fault === "nan" ? text.replace(/\[(-?\d[^,\]]*),/, "[NaN,") : text;
  }

  async function generate(body: any, req: IncomingMessage, res: ServerResponse, openai: boolean): Promise<void> {
    standin.requests.push(body);
    const wantsHidden = body.return_hidden_states === true;
    if (wantsHidden && options.enableReturnHiddenStates === false) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "The server is not configured to return the hidden states. Please set `--enable-return-hidden-states` to enable this feature." } }));
      return;
    }
    if (options.fault === "http-500") {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "CUDA out of memory (stand-in)" } }));
      return;
    }
    const params = openai ? { temperature: body.temperature ?? 1, max_new_tokens: body.max_tokens ?? 16 } : (body.sampling_params ?? {});
    const prompt: number[] = openai ? (Array.isArray(body.prompt) ? body.prompt : engine.tokenizer.encode(String(body.prompt))) : body.input_ids;
    const stream = body.stream === true;
    const id = `standin-${++counter}`;
    const controller = new AbortController();
    let finished = false;
    res.on("close", () => {
      if (!finished) {
        standin.aborted++;
        controller.abort();
      }
    });
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (controller.signal.aborted) return;
    const meta = (output: number[], finish: unknown) => ({ id, finish_reason: finish, prompt_tokens: prompt.length, completion_tokens: output.length });
    if (stream) res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    standin.running++;
    const sofar: number[] = [];
    let generation;
    try {
      generation = await engine.generate({
        promptTokens: prompt,
        temperature: Number(params.temperature ?? 1),
        topP: 1,
        maxTokens: Number(params.max_new_tokens ?? 128),
        seed: 0n,
        signal: controller.signal,
        ...(stream && !openai
          ? {
              onToken: (token: number) => {
                sofar.push(token);
                res.write(`data: ${JSON.stringify({ text: engine.tokenizer.decode(sofar), output_ids: sofar, meta_info: meta(sofar, null) })}\n\n`);
              },
            }
          : {}),
      });
    } catch (error) {
      if (controller.signal.aborted) return;
      throw error;
    } finally {
      standin.running--;
    }
    const output = generation.outputTokens;
    const finish = generation.finishReason === "stop" ? { type: "stop", matched: output.at(-1) } : { type: "length", length: output.length };
    const meta_info: Record<string, unknown> = meta(output, finish);
    const states = wantsHidden ? await hiddenStatesOf(prompt, output) : undefined;
    if (states) meta_info.hidden_states = states;
    finished = true;
    if (openai) {
      const hidden = wantsHidden ? (states && states.length > 1 ? states[states.length - 1] : []) : undefined;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(dumps({ id, object: "text_completion", created: Math.floor(Date.now() / 1000), model: engine.info.modelId, choices: [{ index: 0, text: engine.tokenizer.decode(output), logprobs: null, finish_reason: finish.type, matched_stop: null, ...(hidden !== undefined ? { hidden_states: hidden } : {}) }], usage: { prompt_tokens: prompt.length, completion_tokens: output.length, total_tokens: prompt.length + output.length } }));
      return;
    }
    const last = dumps({ text: engine.tokenizer.decode(output), output_ids: output, meta_info });
    if (stream) {
      res.write(`data: ${last}\n\n`);
      res.end("data: [DONE]\n\n");
    } else {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(last);
    }
  }

  const server: Server = createServer((req, res) => {
    const route = `${req.method} ${req.url?.split("?")[0]}`;
    const fail = (error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: String((error as Error).message ?? error) } }));
    };
    if (route === "GET /health") return void res.end();
    if (route === "GET /get_model_info") {
      res.setHeader("content-type", "application/json");
      return void res.end(JSON.stringify({ model_path: engine.info.modelId, tokenizer_path: engine.info.modelId, is_generation: true }));
    }
    if (route === "POST /generate" || route === "POST /v1/completions") {
      readJson(req).then((body) => generate(body, req, res, route !== "POST /generate"), fail).catch(fail);
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ detail: "Not Found" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  standin.url = `http://127.0.0.1:${port}`;
  standin.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return standin;
}
