/**
 * The probe: one streamed request before anything else, as `vllm bench serve` sends, so that a
 * dead endpoint, a wrong base path, a wrong model or a missing key is a clear error in a second
 * rather than a run of failures and an envelope signed over them. When the probe fails, GET
 * {base}/models tells a wrong path (nothing there either) from a wrong model (the list does not
 * name it) or a wrong --api (the model is listed, the route is not).
 *
 * With --input-tokens it also calibrates prompt length: two more requests (max_tokens 1) of 8
 * and 64 words; the server's usage.prompt_tokens for each fit prompt tokens = overhead +
 * tokens_per_word * words, in the endpoint's own tokenizer and chat template.
 */
import type { InputTokens, ProbePhase } from "../protocol/envelope/schema.ts";
import { ProbeError } from "./errors.ts";
import { StreamingClient, type EndpointOptions, type RequestResult } from "./http-client.ts";
import { ASSUMED_TOKENS_PER_WORD, calibrationPrompt } from "./workload.ts";

export interface ProbeResult {
  phase: ProbePhase;
  /** Whether the endpoint names proof records (the project's prover does). */
  proofRecords: boolean;
  usage: boolean;
  calibration: InputTokens["calibration"] | null;
}

const MODELS_TIMEOUT_MS = 5_000;

/** The models GET {base}/models lists, or why there is no list. */
async function listModels(baseUrl: string, apiKey: string | undefined): Promise<{ ids: string[] } | { error: string }> {
  const url = `${baseUrl.replace(/\/+$/, "")}/models`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(MODELS_TIMEOUT_MS), headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
    const text = (await res.text()).slice(0, 1 << 20);
    if (!res.ok) return { error: `GET ${url} answered HTTP ${res.status}` };
    const doc = JSON.parse(text) as { data?: { id?: unknown }[] };
    if (!Array.isArray(doc.data)) return { error: `GET ${url} is not a model list` };
    return { ids: doc.data.map((m) => m?.id).filter((id): id is string => typeof id === "string").slice(0, 50) };
  } catch (e) {
    return { error: `GET ${url}: ${(e as Error).message}` };
  }
}

function routeOf(o: EndpointOptions): string {
  return `POST ${new URL(o.baseUrl.replace(/\/+$/, "") + (o.api === "chat" ? "/chat/completions" : "/completions")).pathname}`;
}

/** Turns a failed probe into the error that names what to fix. */
async function diagnose(o: EndpointOptions, r: RequestResult): Promise<ProbeError> {
  const where = `--base-url ${o.baseUrl}`;
  const err = r.error ?? "unknown error";
  if (r.status === 0) {
    if (/ECONNREFUSED/.test(err)) return new ProbeError(`nothing is listening at ${where} (${err}); is the server running, on that port?`, "--base-url");
    if (/ENOTFOUND|EAI_AGAIN/.test(err)) return new ProbeError(`the host of ${where} does not resolve (${err})`, "--base-url");
    if (/timeout/.test(err)) return new ProbeError(`the probe request to ${where} got no answer (${err}); raise --request-timeout if the server is just slow to start`, "--request-timeout");
    return new ProbeError(`the probe request to ${where} failed before any answer: ${err}`, "--base-url");
  }
  if (r.status === 401 || r.status === 403) return new ProbeError(`the endpoint refused the probe with HTTP ${r.status} (${err}); give the API key's environment variable with --api-key-env`, "--api-key-env");
  if (r.status === 200) return new ProbeError(`the probe's stream from ${where} is not a usable completion: ${err}`, "--base-url");
  const models = await listModels(o.baseUrl, o.apiKey);
  if ("ids" in models) {
    if (!models.ids.includes(o.model)) {
      return new ProbeError(`the endpoint does not serve model "${o.model}" (${routeOf(o)} answered HTTP ${r.status}; it lists: ${models.ids.join(", ") || "no models"}); pass one of them with --model`, "--model");
    }
    if (r.status === 404) return new ProbeError(`${routeOf(o)} answered HTTP 404 although the endpoint lists model "${o.model}"; does it serve --api ${o.api === "chat" ? "completions" : "chat"} instead?`, "--api");
  } else if (r.status === 404) {
    return new ProbeError(`${routeOf(o)} answered HTTP 404 and ${models.error}: ${where} is not an OpenAI-compatible API root (it usually ends in /v1)`, "--base-url");
  }
  return new ProbeError(`the endpoint answered the probe with ${err}`, r.status === 404 || r.status === 400 ? "--model" : "--base-url");
}

/**
 * Sends the probe (the run's first prompt, at most 16 tokens) and, when `calibrate`, the two
 * calibration requests. Throws ProbeError when the endpoint does not stream a completion.
 */
export async function probeEndpoint(o: EndpointOptions, prompt: string, calibrate: boolean): Promise<ProbeResult> {
  const client = new StreamingClient({ ...o, maxSockets: 1 });
  try {
    const r = await client.send(prompt, undefined, Math.min(o.maxTokens, 16));
    if (!r.ok) throw await diagnose(o, r);
    if (r.chunkTimes.length === 0) throw new ProbeError(`the endpoint answered the probe with an empty stream (no content chunks): check --model and --api`, "--model");
    const phase: ProbePhase = {
      ok: true,
      status: r.status,
      ttft_ms: r.firstTokenAt === null ? null : r.firstTokenAt - r.sentAt,
      e2e_ms: r.endAt - r.sentAt,
      prompt_tokens: r.promptTokens,
      proof_record: r.proofRecordId !== null,
    };
    const usage = r.tokenSource === "server_usage";
    let calibration: ProbeResult["calibration"] = null;
    if (calibrate) {
      const [short, long] = [8, 64];
      const a = await client.send(calibrationPrompt(short), undefined, 1);
      const b = await client.send(calibrationPrompt(long), undefined, 1);
      for (const x of [a, b]) if (!x.ok) throw await diagnose(o, x);
      if (a.promptTokens !== null && b.promptTokens !== null && b.promptTokens > a.promptTokens) {
        const perWord = (b.promptTokens - a.promptTokens) / (long - short);
        calibration = { overhead_tokens: a.promptTokens - perWord * short, tokens_per_word: perWord, source: "server_usage" };
      } else {
        calibration = { overhead_tokens: 0, tokens_per_word: ASSUMED_TOKENS_PER_WORD, source: "assumed" };
      }
    }
    return { phase, proofRecords: r.proofRecordId !== null, usage, calibration };
  } finally {
    client.close();
  }
}
