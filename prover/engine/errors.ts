/**
 * Typed errors of the inference engine. Each names the field (request field, load option, graph
 * tensor) and the offending value, so that the server can map it to a 4xx and say exactly what
 * was wrong.
 */
import { FieldError } from "../../protocol/errors.ts";

export class EngineError extends FieldError {
  override name = "EngineError";
}

/** A generate/verify request is malformed: bad token ids, sampling values out of range, ... */
export class InvalidRequestError extends EngineError {
  override name = "InvalidRequestError";
}

/** The prompt (plus the tokens asked for) does not fit the model's context window. */
export class ContextLengthError extends InvalidRequestError {
  override name = "ContextLengthError";
}

/** A load option is wrong (bad type, empty path, ...). */
export class InvalidOptionError extends EngineError {
  override name = "InvalidOptionError";
}

/** The model or tokenizer file does not exist or cannot be read. */
export class ModelFileNotFoundError extends EngineError {
  override name = "ModelFileNotFoundError";
}

/** The ONNX file is not a decoder-only causal LM this engine can drive (no logits, odd inputs, ...). */
export class UnsupportedModelError extends EngineError {
  override name = "UnsupportedModelError";
}

/** The activation tensor named by the caller is not in the graph, or none could be found. */
export class ActivationTensorError extends EngineError {
  override name = "ActivationTensorError";
}

/** The tokenizer.json uses a model or pre-tokenizer this loader does not implement. */
export class UnsupportedTokenizerError extends EngineError {
  override name = "UnsupportedTokenizerError";
}

/** The generated default model does not hash to the value pinned in its manifest. */
export class DefaultModelMismatchError extends EngineError {
  override name = "DefaultModelMismatchError";
}

/** The request's AbortSignal fired before generation finished. */
export class GenerationAbortedError extends EngineError {
  override name = "GenerationAbortedError";
}

/** The engine was closed; no more forwards can run. */
export class EngineClosedError extends EngineError {
  override name = "EngineClosedError";
}

/** A verification profile that belongs to another model (weights) or other TOPLOC parameters. */
export class ProfileMismatchError extends EngineError {
  override name = "ProfileMismatchError";
}

/** A model folder lacks a file it needs, or one of its JSON files cannot be used; `field` is the file. */
export class ModelFolderError extends EngineError {
  override name = "ModelFolderError";
}

/** External weights data that is missing, truncated, or outside the model folder. */
export class ExternalDataError extends EngineError {
  override name = "ExternalDataError";
}

/** The chat template does not parse, or fails to render a conversation (raise_exception, bad syntax). */
export class ChatTemplateError extends EngineError {
  override name = "ChatTemplateError";
}

/** The model's weights hash is not the one registered for its model id (or the one the caller expects). */
export class WeightsHashMismatchError extends EngineError {
  override name = "WeightsHashMismatchError";
}

/** The execution provider asked for (cuda) is not in the installed onnxruntime-node build, or cannot start. */
export class DeviceUnavailableError extends EngineError {
  override name = "DeviceUnavailableError";
}

/**
 * The engine's admission is full (every batch slot taken and its waiting list at its bound):
 * load, not a fault. `retryAfterS` estimates when a slot frees (the server's Retry-After).
 */
export class EngineBusyError extends EngineError {
  override name = "EngineBusyError";
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message, "engine");
  }
}
