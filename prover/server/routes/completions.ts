/** POST /v1/completions: a text prompt (or token ids) in, a proven completion out. */
import type { FastifyPluginAsync } from "fastify";
import { invalidRequest, modelNotFound } from "../errors.ts";
import { rejectUnsupported, resolveSettings, type CommonBody, type SettingsPolicy } from "../request-params.ts";
import { completionBodySchema } from "../schemas.ts";
import type { ServiceDeps } from "../completion-service.ts";
import { serveCompletion } from "../serve-completion.ts";

interface CompletionBody extends CommonBody {
  prompt: string | string[] | number[] | number[][];
  logprobs?: number | null;
  echo?: boolean | null;
  best_of?: number | null;
  suffix?: string | null;
}

export interface CompletionRoutesOptions {
  deps: ServiceDeps;
  policy: SettingsPolicy;
}

export const completionRoutes: FastifyPluginAsync<CompletionRoutesOptions> = async (app, { deps, policy }) => {
  app.post<{ Body: CompletionBody }>("/v1/completions", { schema: { body: completionBodySchema } }, async (request, reply) => {
    const body = request.body;
    if (body.model !== deps.engine.info.modelId) throw modelNotFound(body.model);
    rejectUnsupported(body);
    if (body.logprobs != null && body.logprobs !== 0) {
      throw invalidRequest("'logprobs' is not supported by this server.", "logprobs", "unsupported_parameter");
    }
    if (body.echo === true) throw invalidRequest("'echo' is not supported by this server.", "echo", "unsupported_parameter");
    if (body.best_of != null && body.best_of !== 1) {
      throw invalidRequest(`Invalid value for 'best_of': only 1 is supported, got ${body.best_of}.`, "best_of", "unsupported_value");
    }
    if (body.suffix != null) throw invalidRequest("'suffix' is not supported by this server.", "suffix", "unsupported_parameter");
    const promptTokens = promptToTokens(body.prompt, deps);
    const settings = resolveSettings(body, promptTokens.length, { value: body.max_tokens, param: "max_tokens" }, deps.engine.info, policy);
    await serveCompletion(deps, request, reply, "completion", promptTokens, settings);
  });
};

/** A string, a one-string array, token ids, or one list of token ids (one prompt: n = 1). Token ids are used as given. */
function promptToTokens(prompt: CompletionBody["prompt"], deps: ServiceDeps): number[] {
  const { tokenizer, info } = deps.engine;
  const single = Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] !== "number" ? prompt[0]! : prompt;
  let tokens: number[];
  if (typeof single === "string") {
    if (tokenizer.promptTokens) {
      // The special tokens the model's tokenizer adds to one sequence (BOS for Llama, none for Qwen).
      tokens = single.length > 0 ? tokenizer.promptTokens(single) : [];
    } else {
      // Text prompts start with BOS where the model has one (tokenizer.encode does not add it).
      const text = tokenizer.encode(single);
      tokens = info.bosTokenId !== undefined && text.length > 0 ? [info.bosTokenId, ...text] : text;
    }
  } else {
    tokens = single as number[];
    const bad = tokens.findIndex((t) => t >= info.vocabSize);
    if (bad >= 0) {
      throw invalidRequest(`prompt[${bad}] is token ${tokens[bad]}, outside this model's vocabulary (0..${info.vocabSize - 1}).`, "prompt");
    }
  }
  if (tokens.length === 0) throw invalidRequest("The prompt must not be empty.", "prompt");
  return tokens;
}
