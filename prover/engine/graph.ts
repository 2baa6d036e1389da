import { onnx, type GraphProto, type ModelProto, type NodeProto } from "./onnx-proto.ts";
import { ActivationTensorError, UnsupportedModelError } from "./errors.ts";

/** The graph outputs every causal LM export has. */
export const LOGITS_OUTPUT = "logits";

/** Ops that carry the logits unchanged in meaning between the vocabulary projection and the output. */
const PASS_THROUGH_OPS = new Set(["Identity", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Transpose", "Slice", "Tanh"]);
/** Elementwise ops allowed after the projection when their other operand is a constant (bias, scale). */
const CONSTANT_OPERAND_OPS = new Set(["Add", "Sub", "Mul", "Div"]);
const PROJECTION_OPS = new Set(["MatMul", "Gemm"]);

const TENSOR_FLOAT = 1;

/** One KV-cache input of a decoder export and its shape as declared in the graph. */
export interface PastInput {
  name: string;
  layer: number;
  kind: "key" | "value";
  /** Declared dims: a number where fixed, a string where symbolic (batch, past length). */
  dims: (number | string)[];
}

/** What the engine needs to know about a causal LM export before running it. */
export interface GraphSummary {
  inputs: string[];
  outputs: string[];
  pastInputs: PastInput[];
  /** present.N.key/value outputs, in graph order. */
  presentOutputs: string[];
  /** Every tensor name the graph defines (inputs, initializers, node outputs). */
  tensorNames: Set<string>;
  /** Element type of the past_key_values inputs (float32, float16 or bfloat16); float32 without a cache. */
  pastElemType: number;
  /** The context window from the model's `max_context` metadata, when it has one. */
  maxContext?: number;
}

export function decodeModel(bytes: Uint8Array, field = "modelPath"): ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new UnsupportedModelError(`${field} is not an ONNX model: ${(error as Error).message}`, field);
  }
}

const PAST_INPUT = /^past_key_values\.(\d+)\.(key|value)$/;
const PRESENT_OUTPUT = /^present\.(\d+)\.(key|value)$/;
const KNOWN_INPUTS = new Set(["input_ids", "attention_mask", "position_ids", "num_logits_to_keep", "logits_to_keep"]);
const FLOAT_TYPES = new Set([1, 10, 16]);

/** Checks that the graph has the inputs and outputs of a causal LM export and summarises them. */
export function summarizeGraph(model: ModelProto, field = "modelPath"): GraphSummary {
  const graph = model.graph;
  if (!graph) throw new UnsupportedModelError(`${field} has no graph`, field);
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ""));
  const inputs = (graph.input ?? []).map((v) => v.name ?? "").filter((name) => !initializers.has(name));
  const outputs = (graph.output ?? []).map((v) => v.name ?? "");
  if (!inputs.includes("input_ids")) {
    throw new UnsupportedModelError(`${field} has no input named input_ids (inputs: ${inputs.join(", ")})`, field);
  }
  if (!outputs.includes(LOGITS_OUTPUT)) {
    throw new UnsupportedModelError(`${field} has no output named logits (outputs: ${outputs.join(", ")})`, field);
  }
  const pastInputs: PastInput[] = [];
  let pastElemType: number | undefined;
  for (const input of graph.input ?? []) {
    const name = input.name ?? "";
    if (initializers.has(name) || KNOWN_INPUTS.has(name)) continue;
    const match = PAST_INPUT.exec(name);
    if (!match) {
      throw new UnsupportedModelError(`${field} has an input this engine cannot feed: ${JSON.stringify(name)}`, field);
    }
    const dims = (input.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : "?"));
    const elemType = input.type?.tensorType?.elemType ?? 0;
    if (!FLOAT_TYPES.has(elemType)) {
      throw new UnsupportedModelError(`${field}: ${name} has element type ${elemType}; KV caches must be float32, float16 or bfloat16`, field);
    }
    if (pastElemType !== undefined && elemType !== pastElemType) {
      throw new UnsupportedModelError(`${field}: past_key_values inputs mix element types ${pastElemType} and ${elemType}`, field);
    }
    pastElemType = elemType;
    pastInputs.push({ name, layer: Number(match[1]), kind: match[2] as "key" | "value", dims });
  }
  const presentOutputs = outputs.filter((name) => PRESENT_OUTPUT.test(name));
  if (pastInputs.length > 0 && presentOutputs.length !== pastInputs.length) {
    throw new UnsupportedModelError(
      `${field} has ${pastInputs.length} past_key_values inputs but ${presentOutputs.length} present outputs`,
      field,
    );
  }
  for (const past of pastInputs) {
    if (!outputs.includes(`present.${past.layer}.${past.kind}`)) {
      throw new UnsupportedModelError(`${field} has ${past.name} but no output present.${past.layer}.${past.kind}`, field);
    }
  }
  const tensorNames = new Set<string>([...inputs, ...initializers]);
  for (const node of graph.node ?? []) for (const out of node.output ?? []) tensorNames.add(out);
  const declared = Number((model.metadataProps ?? []).find((p) => p.key === "max_context")?.value);
  const maxContext = Number.isInteger(declared) && declared > 1 ? declared : undefined;
  return { inputs, outputs, pastInputs, presentOutputs, tensorNames, pastElemType: pastElemType ?? TENSOR_FLOAT, ...(maxContext ? { maxContext } : {}) };
}

/** Tensors whose value does not depend on any graph input: initializers, Constant outputs, and anything computed only from those. */
function constantTensors(graph: GraphProto): Set<string> {
  const constants = new Set<string>((graph.initializer ?? []).map((t) => t.name ?? ""));
  for (const node of graph.node ?? []) {
    // ONNX graphs are topologically sorted, so one pass sees every producer before its consumers.
    const inputs = (node.input ?? []).filter((name) => name !== "");
    if (node.opType === "Constant" || inputs.every((name) => constants.has(name))) {
      for (const out of node.output ?? []) constants.add(out);
    }
  }
  return constants;
}

/**
 * Finds the tensor that feeds the final vocabulary projection: walk back from `logits` through
 * ops that do not change what the logits mean (reshapes, casts, a bias or scale by a constant)
 * to the MatMul/Gemm that makes them; its input that is not a weight is the final norm's output.
 */
export function findActivationTensor(model: ModelProto): string {
  const graph = model.graph!;
  const producers = new Map<string, NodeProto>();
  for (const node of graph.node ?? []) for (const out of node.output ?? []) producers.set(out, node);
  const constants = constantTensors(graph);
  let current = LOGITS_OUTPUT;
  const path: string[] = [];
  for (let depth = 0; depth < 32; depth++) {
    const node = producers.get(current);
    if (!node) break;
    const op = node.opType ?? "";
    path.push(op);
    const dynamic = (node.input ?? []).filter((name) => name !== "" && !constants.has(name));
    if (PROJECTION_OPS.has(op)) {
      // MatMul(A, W) / Gemm(A, W): with tied embeddings W may be computed (a Transpose of the
      // embedding), but it is still constant; the one dynamic input is the hidden state.
      if (dynamic.length === 1) return dynamic[0]!;
      if (dynamic.length > 1 && op === "MatMul") return node.input![0]!;
      break;
    }
    if (PASS_THROUGH_OPS.has(op) && node.input?.[0]) {
      current = node.input[0]; // the data input; the others are shapes, axes or starts
      continue;
    }
    if (CONSTANT_OPERAND_OPS.has(op) && dynamic.length === 1) {
      current = dynamic[0]!;
      continue;
    }
    break;
  }
  throw new ActivationTensorError(
    `could not find the vocabulary projection behind logits (ops walked back: ${path.join(" <- ") || "none"}); ` +
      "name the hidden-state tensor with the activationTensor option",
    "activationTensor",
  );
}

/**
 * Returns the model bytes with `tensorName` added as a graph output. Protobuf parsers merge a
 * repeated embedded message field that occurs twice, so appending a ModelProto that holds only
 * `graph.output = [tensorName]` adds the output without re-encoding (and possibly dropping
 * fields unknown to this schema version) anything in the original model.
 */
export function withExtraOutput(modelBytes: Uint8Array, tensorName: string, elemType = TENSOR_FLOAT): Uint8Array {
  const patch = onnx.ModelProto.encode({
    graph: { output: [{ name: tensorName, type: { tensorType: { elemType } } }] },
  }).finish();
  const out = new Uint8Array(modelBytes.length + patch.length);
  out.set(modelBytes, 0);
  out.set(patch, modelBytes.length);
  return out;
}
