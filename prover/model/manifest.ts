import { DEFAULT_TOPLOC_PARAMS, type ToplocParams } from "../../protocol/toploc/index.ts";
import { DEFAULT_MODEL_CONFIG } from "./default-model.ts";

/** What a prover publishes about its default model, and what an operator checks it against. */
export interface ModelManifest {
  modelId: string;
  /** sha256 hex of the ONNX file as generated: graph and weights. */
  weightsHash: string;
  dtype: "float32";
  hiddenSize: number;
  vocabSize: number;
  layers: number;
  maxContext: number;
  activationTensor: string;
  hasKvCache: boolean;
  tokenizer: "byte-level";
  bosTokenId: number;
  eosTokenId: number;
  toploc: ToplocParams;
  generator: { seed: number; file: string };
}

/**
 * The pinned manifest. weightsHash is what buildDefaultModel() produced when this version was
 * made; the loader refuses a generated file that hashes differently, so every prover that calls
 * itself this model id serves exactly these weights.
 */
export const DEFAULT_MODEL_MANIFEST: Readonly<ModelManifest> = Object.freeze({
  modelId: DEFAULT_MODEL_CONFIG.modelId,
  weightsHash: "992a35a420cfed012bb285b1a12deebc6d7be10cfe23916aaa1fd4cecd3f8f71",
  dtype: "float32",
  hiddenSize: DEFAULT_MODEL_CONFIG.hiddenSize,
  vocabSize: DEFAULT_MODEL_CONFIG.vocabSize,
  layers: DEFAULT_MODEL_CONFIG.layers,
  maxContext: DEFAULT_MODEL_CONFIG.maxContext,
  activationTensor: DEFAULT_MODEL_CONFIG.activationTensor,
  hasKvCache: true,
  tokenizer: "byte-level",
  bosTokenId: DEFAULT_MODEL_CONFIG.bosTokenId,
  eosTokenId: DEFAULT_MODEL_CONFIG.eosTokenId,
  toploc: { ...DEFAULT_TOPLOC_PARAMS },
  generator: { seed: DEFAULT_MODEL_CONFIG.seed, file: "prover/model/default-model.ts" },
});
