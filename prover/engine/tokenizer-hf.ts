import { UnsupportedTokenizerError } from "./errors.ts";
import type { Tokenizer } from "./tokenizer.ts";

export async function loadHfTokenizer(path: string): Promise<Tokenizer> {
  throw new UnsupportedTokenizerError(`tokenizer.json support is not built yet (${path})`, "tokenizerPath");
}
