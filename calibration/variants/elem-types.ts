/**
 * Element types of every tensor in an ONNX graph, inferred from the graph alone (no shape
 * inference library in JavaScript). Precision rewrites need them: a bf16 rounding may only be
 * inserted after float tensors, never after shapes, indices or masks of booleans.
 */
import type { GraphProto, NodeProto } from "../../prover/engine/onnx-proto.ts";
import { VariantModelError } from "./errors.ts";

/** onnx.TensorProto.DataType values used here. */
export const ElemType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;

const INT64_OUTPUT = new Set(["Shape", "Size", "ArgMax", "ArgMin", "NonZero", "NonMaxSuppression"]);
const BOOL_OUTPUT = new Set(["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf"]);
/** Ops with subgraphs: their outputs cannot be typed without walking the subgraph. */
const CONTROL_FLOW = new Set(["If", "Loop", "Scan", "SequenceMap"]);

function attribute(node: NodeProto, name: string) {
  return (node.attribute ?? []).find((a) => a.name === name);
}

function constantType(node: NodeProto): number {
  const value = attribute(node, "value");
  if (value?.t) return value.t.dataType ?? ElemType.FLOAT;
  if (attribute(node, "value_float") || attribute(node, "value_floats")) return ElemType.FLOAT;
  if (attribute(node, "value_int") || attribute(node, "value_ints")) return ElemType.INT64;
  throw new VariantModelError(`Constant ${JSON.stringify(node.name)} has a value form this rewrite does not read`, "modelPath");
}

/** Output element type of one node, given the types of its inputs. */
function outputType(node: NodeProto, types: ReadonlyMap<string, number>): number {
  const op = node.opType ?? "";
  const input = (i: number): number | undefined => {
    const name = node.input?.[i];
    return name ? types.get(name) : undefined;
  };
  if (CONTROL_FLOW.has(op)) throw new VariantModelError(`${op} node ${JSON.stringify(node.name)}: control flow is not supported by precision rewrites`, "modelPath");
  if (INT64_OUTPUT.has(op)) return ElemType.INT64;
  if (BOOL_OUTPUT.has(op)) return ElemType.BOOL;
  switch (op) {
    case "Cast":
      return Number(attribute(node, "to")?.i ?? ElemType.FLOAT);
    case "CastLike":
      return input(1) ?? ElemType.FLOAT;
    case "Constant":
      return constantType(node);
    case "ConstantOfShape":
      return attribute(node, "value")?.t?.dataType ?? ElemType.FLOAT;
    case "Where":
      return input(1) ?? input(2) ?? ElemType.FLOAT;
    case "EyeLike":
    case "RandomNormalLike":
    case "RandomUniformLike":
      return Number(attribute(node, "dtype")?.i ?? input(0) ?? ElemType.FLOAT);
  }
  // Everything else (arithmetic, MatMul, Softmax, reshapes, gathers, concat, ...) keeps the type
  // of its first typed input: ONNX requires the data inputs of these ops to share one type.
  for (let i = 0; i < (node.input?.length ?? 0); i++) {
    const t = input(i);
    if (t !== undefined) return t;
  }
  throw new VariantModelError(`cannot infer the output type of ${op} node ${JSON.stringify(node.name)}`, "modelPath");
}

/** Maps every tensor name (inputs, initializers, node outputs) to its element type. */
export function inferElemTypes(graph: GraphProto): Map<string, number> {
  const types = new Map<string, number>();
  for (const t of graph.initializer ?? []) types.set(t.name ?? "", t.dataType ?? ElemType.FLOAT);
  for (const v of graph.input ?? []) {
    const elem = v.type?.tensorType?.elemType;
    if (elem && !types.has(v.name ?? "")) types.set(v.name ?? "", elem);
  }
  for (const node of graph.node ?? []) {
    const t = outputType(node, types);
    for (const out of node.output ?? []) if (out) types.set(out, t);
  }
  return types;
}
