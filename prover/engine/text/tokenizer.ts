import { IncrementalDecoder, type StreamDecoder } from "./stream-decoder.ts";

/** One chat message as a template sees it: role and content, plus whatever else the caller sends. */
export interface ChatMessage {
  role: string;
  content: string;
  [field: string]: unknown;
}

/** Text <-> token ids, plus the chat template a server needs for /v1/chat/completions. */
export interface Tokenizer {
  /** The text's token ids, without the special tokens a post-processor would add. */
  encode(text: string): number[];
  /** A raw completion prompt's token ids: the text with the special tokens the tokenizer adds to one sequence (BOS, ...). */
  promptTokens(text: string): number[];
  /** Decodes token ids to text; special tokens (BOS, EOS, added specials) are left out. */
  decode(tokens: readonly number[]): string;
  /** Decodes a growing output token by token; the pieces join to decode(all tokens). */
  streamDecoder(): StreamDecoder;
  bosTokenId?: number;
  eosTokenId?: number;
  /** Token ids that end generation: EOS and the model's other end-of-turn tokens (generation_config.json). */
  stopTokenIds: readonly number[];
  /** Largest token id this tokenizer can produce. */
  maxTokenId: number;
  /** Token ids of a chat prompt ending where the assistant's reply begins. */
  chatPrompt(messages: ChatMessage[]): number[];
}

/**
 * The plain chat template used by the byte-level default model and, as a fallback, by models
 * that ship no chat template:
 *   <|role|>\n content \n   for each message, then   <|assistant|>\n
 * (BOS is prepended as token id, not text, when the tokenizer has one).
 */
export function plainChatText(messages: { role: string; content: string }[]): string {
  let text = "";
  for (const message of messages) text += `<|${message.role}|>\n${message.content}\n`;
  return `${text}<|assistant|>\n`;
}

export const BYTE_VOCAB_SIZE = 258;
export const BYTE_BOS_TOKEN_ID = 256;
export const BYTE_EOS_TOKEN_ID = 257;

/**
 * Token id b < 256 is the byte b of the UTF-8 text; 256 is BOS, 257 is EOS. With
 * `special: false` (a user's model that came without a tokenizer.json) there is no BOS or EOS:
 * ids from 256 up decode to nothing and generation stops only at maxTokens or a stop string.
 */
export class ByteTokenizer implements Tokenizer {
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly stopTokenIds: readonly number[];
  readonly maxTokenId: number;
  private readonly decoder = new TextDecoder("utf-8");

  constructor(options: { special?: boolean } = {}) {
    if (options.special !== false) {
      this.bosTokenId = BYTE_BOS_TOKEN_ID;
      this.eosTokenId = BYTE_EOS_TOKEN_ID;
    }
    this.stopTokenIds = this.eosTokenId === undefined ? [] : [this.eosTokenId];
    this.maxTokenId = options.special === false ? 255 : BYTE_EOS_TOKEN_ID;
  }

  encode(text: string): number[] {
    return Array.from(new TextEncoder().encode(text));
  }

  promptTokens(text: string): number[] {
    const ids = this.encode(text);
    return this.bosTokenId !== undefined && ids.length > 0 ? [this.bosTokenId, ...ids] : ids;
  }

  decode(tokens: readonly number[]): string {
    const bytes = Uint8Array.from(tokens.filter((t) => t >= 0 && t < 256));
    // Invalid UTF-8 (a reply cut inside a character) becomes U+FFFD, never an exception.
    return this.decoder.decode(bytes);
  }

  streamDecoder(): StreamDecoder {
    return new IncrementalDecoder((tokens) => this.decode(tokens));
  }

  chatPrompt(messages: ChatMessage[]): number[] {
    const text = this.encode(plainChatText(messages));
    return this.bosTokenId === undefined ? text : [this.bosTokenId, ...text];
  }
}
