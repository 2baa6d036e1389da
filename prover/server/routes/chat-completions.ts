/** POST /v1/chat/completions: messages through the model's chat template, a proven reply out. */
import type { FastifyPluginAsync } from "fastify";
import { ChatTemplateError } from "../../engine/errors.ts";
import { invalidRequest, modelNotFound } from "../errors.ts";
import { rejectUnsupported, resolveSettings, type CommonBody, type SettingsPolicy } from "../request-params.ts";
import { chatBodySchema } from "../schemas.ts";
import type { ServiceDeps } from "../completion-service.ts";
import { serveCompletion } from "../serve-completion.ts";

interface ChatMessage {
  role: string;
  content?: string | { type: "text"; text: string }[] | null;
  name?: string;
}

interface ChatBody extends CommonBody {
  messages: ChatMessage[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
}

export interface ChatRoutesOptions {
  deps: ServiceDeps;
  policy: SettingsPolicy;
}

export const chatRoutes: FastifyPluginAsync<ChatRoutesOptions> = async (app, { deps, policy }) => {
  app.post<{ Body: ChatBody }>("/v1/chat/completions", { schema: { body: chatBodySchema } }, async (request, reply) => {
    const body = request.body;
    if (body.model !== deps.engine.info.modelId) throw modelNotFound(body.model);
    rejectUnsupported(body);
    if (body.logprobs === true || (body.top_logprobs != null && body.top_logprobs !== 0)) {
      throw invalidRequest("'logprobs' is not supported by this server.", "logprobs", "unsupported_parameter");
    }
    const maxTokens = pickMaxTokens(body);
    const messages = body.messages.map((message, i) => ({ role: message.role, content: contentText(message, i) }));
    let promptTokens: number[];
    try {
      promptTokens = deps.engine.tokenizer.chatPrompt(messages);
    } catch (error) {
      // The model's chat template refused the conversation (raise_exception: roles out of order, an unknown role).
      if (error instanceof ChatTemplateError) throw invalidRequest(error.message, "messages");
      throw error;
    }
    const settings = resolveSettings(body, promptTokens.length, maxTokens, deps.engine.info, policy);
    await serveCompletion(deps, request, reply, "chat", promptTokens, settings);
  });
};

/** max_completion_tokens is the newer name of max_tokens; both may be sent only if they agree. */
function pickMaxTokens(body: ChatBody): { value: number | null | undefined; param: string } {
  const legacy = body.max_tokens;
  const current = body.max_completion_tokens;
  if (legacy != null && current != null && legacy !== current) {
    throw invalidRequest(
      `'max_tokens' (${legacy}) and 'max_completion_tokens' (${current}) disagree; send one of them.`,
      "max_completion_tokens",
    );
  }
  return current != null ? { value: current, param: "max_completion_tokens" } : { value: legacy, param: "max_tokens" };
}

function contentText(message: ChatMessage, index: number): string {
  const content = message.content;
  if (content == null) {
    if (message.role === "assistant") return "";
    throw invalidRequest(`messages[${index}].content is required for role '${message.role}'.`, `messages[${index}].content`);
  }
  return typeof content === "string" ? content : content.map((part) => part.text).join("");
}
