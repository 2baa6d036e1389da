export { Engine, FALLBACK_MAX_CONTEXT, type EngineInfo, type Generation, type LoadOptions, type VerifyOptions } from "./engine.ts";
export type { GenerateRequest, Sampling } from "./request.ts";
export { MAX_TEMPERATURE, MAX_UINT64 } from "./request.ts";
export { ByteTokenizer, plainChatText, type Tokenizer } from "./tokenizer.ts";
export { HfByteLevelTokenizer, loadHfTokenizer } from "./tokenizer-hf.ts";
export { defaultCacheDir } from "./hook.ts";
export * from "./errors.ts";
export { DEFAULT_MODEL_MANIFEST, type ModelManifest } from "../model/manifest.ts";
export type { ToplocParams, ThresholdProfile, MedianConvention, Verdict } from "../../protocol/toploc/index.ts";
