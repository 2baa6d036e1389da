/**
 * A model's own chat template (Jinja, from tokenizer_config.json or chat_template.jinja),
 * rendered with @huggingface/jinja the way transformers' apply_chat_template renders it:
 * trim_blocks and lstrip_blocks, the variables messages, add_generation_prompt, tools and
 * documents (None when not given), every special token of the tokenizer config as text
 * (bos_token, eos_token, ...), and the helpers raise_exception and strftime_now. The rendered
 * text already holds the special tokens the template writes, so it is tokenized without adding
 * any (apply_chat_template's tokenize=True does the same).
 */
import { Template } from "@huggingface/jinja";
import { ChatTemplateError } from "../errors.ts";
import type { ChatMessage } from "./tokenizer.ts";

/** The special-token entries of a tokenizer config that a template may use, by name. */
export const TEMPLATE_SPECIAL_TOKENS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;

export interface RenderOptions {
  /** End with the opening of an assistant turn (default true: the server asks for a reply). */
  addGenerationPrompt?: boolean;
}

/**
 * @huggingface/jinja (0.5.11) runs str.strip/lstrip/rstrip(chars) as whitespace strips and
 * ignores `chars`; Qwen 3's template, for one, strips newlines only (`content.lstrip('\n')`).
 * Such calls are rewritten after parsing into calls of helpers that strip exactly `chars`, as
 * Python does. Calls without an argument keep the library's whitespace strip.
 */
const STRIP_HELPERS: Readonly<Record<string, string>> = { strip: "__vb_py_strip", lstrip: "__vb_py_lstrip", rstrip: "__vb_py_rstrip" };

function pythonStrip(side: "both" | "left" | "right") {
  return (value: unknown, chars: unknown): string => {
    if (typeof value !== "string") throw new Error(`strip() of a ${typeof value}`);
    if (chars === null || chars === undefined) return side === "left" ? value.trimStart() : side === "right" ? value.trimEnd() : value.trim();
    if (typeof chars !== "string") throw new Error("strip() argument must be a string or None");
    const set = new Set(chars);
    const points = Array.from(value);
    let start = 0;
    let end = points.length;
    if (side !== "right") while (start < end && set.has(points[start]!)) start++;
    if (side !== "left") while (end > start && set.has(points[end - 1]!)) end--;
    return points.slice(start, end).join("");
  };
}

const HELPER_FUNCTIONS = { __vb_py_strip: pythonStrip("both"), __vb_py_lstrip: pythonStrip("left"), __vb_py_rstrip: pythonStrip("right") };

interface AstNode {
  type?: string;
  [key: string]: unknown;
}

/** Rewrites x.strip(c) / x.lstrip(c) / x.rstrip(c) anywhere in the parsed template into helper calls. */
function rewriteStripCalls(node: unknown, seen = new Set<unknown>()): void {
  if (node === null || typeof node !== "object" || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    for (const child of node) rewriteStripCalls(child, seen);
    return;
  }
  const ast = node as AstNode;
  for (const value of Object.values(ast)) rewriteStripCalls(value, seen);
  if (ast.type !== "CallExpression") return;
  const callee = ast.callee as AstNode | undefined;
  const args = ast.args as unknown[] | undefined;
  const property = callee?.property as AstNode | undefined;
  if (callee?.type !== "MemberExpression" || callee.computed || property?.type !== "Identifier" || !Array.isArray(args) || args.length === 0) return;
  const helper = STRIP_HELPERS[property.value as string];
  if (!helper) return;
  ast.callee = { ...property, value: helper };
  ast.args = [callee.object, ...args];
}

/** The conversation rendered once at load, so that a template that cannot render is refused before anything is served. */
const PROBE: ChatMessage[] = [{ role: "user", content: "Hello" }];

export class ChatTemplate {
  private constructor(
    private readonly compiled: Template,
    /** Where the template came from, for errors: "tokenizer_config.json" or "chat_template.jinja". */
    readonly file: string,
    private readonly variables: Readonly<Record<string, unknown>>,
  ) {}

  /**
   * Compiles `source` and renders a one-message conversation with it; either failing is a
   * ChatTemplateError naming `file`.
   */
  static compile(source: string, file: string, specialTokens: Readonly<Record<string, string | string[]>>): ChatTemplate {
    let compiled: Template;
    try {
      compiled = new Template(source);
      rewriteStripCalls(compiled.parsed);
    } catch (error) {
      throw new ChatTemplateError(`${file}: the chat template does not parse: ${(error as Error).message}`, file);
    }
    const template = new ChatTemplate(compiled, file, { ...specialTokens });
    try {
      template.renderRaw(PROBE, true);
    } catch (error) {
      throw new ChatTemplateError(`${file}: the chat template fails to render a one-message conversation: ${(error as Error).message}`, file);
    }
    return template;
  }

  /** The prompt text of `messages`; a template that raises (roles out of order, an unknown role) is a ChatTemplateError. */
  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    try {
      return this.renderRaw(messages, options.addGenerationPrompt ?? true);
    } catch (error) {
      throw new ChatTemplateError(`${this.file}: the chat template refused the conversation: ${(error as Error).message}`, "messages");
    }
  }

  private renderRaw(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    return this.compiled.render({
      ...HELPER_FUNCTIONS,
      ...this.variables,
      messages: messages.map((message) => ({ ...message })),
      add_generation_prompt: addGenerationPrompt,
      tools: null,
      documents: null,
    });
  }
}

/**
 * The template text a tokenizer config names: a string, or (newer configs) a list of named
 * templates, of which apply_chat_template uses "default".
 */
export function templateFromConfig(value: unknown, file: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const named = value.find((entry) => entry && typeof entry === "object" && (entry as { name?: unknown }).name === "default");
    const template = (named as { template?: unknown } | undefined)?.template;
    if (typeof template === "string") return template;
    throw new ChatTemplateError(`${file}: chat_template is a list without a template named "default"`, file);
  }
  throw new ChatTemplateError(`${file}: chat_template must be a string or a list of {name, template}`, file);
}
