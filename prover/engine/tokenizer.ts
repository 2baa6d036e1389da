/** Text <-> token ids, plus the chat template a server needs for /v1/chat/completions. */
export interface Tokenizer {
  encode(text: string): number[];
  /** Decodes token ids to text; special tokens (BOS, EOS, added specials) are left out. */
  decode(tokens: readonly number[]): string;
  bosTokenId?: number;
  eosTokenId?: number;
  /** Token ids of a chat prompt ending where the assistant's reply begins. */
  chatPrompt(messages: { role: string; content: string }[]): number[];
}

/**
 * The plain chat template used by the byte-level default model and, as a fallback, by models
 * whose tokenizer.json carries no template:
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
  private readonly decoder = new TextDecoder("utf-8");

  constructor(options: { special?: boolean } = {}) {
    if (options.special !== false) {
      this.bosTokenId = BYTE_BOS_TOKEN_ID;
      this.eosTokenId = BYTE_EOS_TOKEN_ID;
    }
  }

  encode(text: string): number[] {
    return Array.from(new TextEncoder().encode(text));
  }

  decode(tokens: readonly number[]): string {
    const bytes = Uint8Array.from(tokens.filter((t) => t >= 0 && t < 256));
    // Invalid UTF-8 (a reply cut inside a character) becomes U+FFFD, never an exception.
    return this.decoder.decode(bytes);
  }

  chatPrompt(messages: { role: string; content: string }[]): number[] {
    const text = this.encode(plainChatText(messages));
    return this.bosTokenId === undefined ? text : [this.bosTokenId, ...text];
  }
}
