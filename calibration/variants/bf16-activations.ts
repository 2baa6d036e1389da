/**
 * bf16 inference, emulated on an fp32 graph: after every op that computes on activations, the
 * result is rounded to bf16 (Cast to bfloat16 and back), as a GPU running the model in bf16
 * stores every intermediate tensor in bf16 (matmuls accumulate in fp32 and round their output).
 *
 * What is NOT rounded, because bf16 inference keeps it in fp32 too:
 * - per-row statistics of normalisations: the mean of squares, its epsilon-shifted root and
 *   reciprocal (Hugging Face's RMSNorm upcasts to fp32; LayerNormalization is a single op);
 * - the square whose only use is such a mean;
 * - tensors that do not depend on the token activations (positions, masks, rotary tables),
 *   until they meet the activations; rotary tables are then rounded where they are multiplied
 *   into them (bf16 models cast cos/sin to bf16 first); masks are added unrounded.
 * Graph outputs keep their names: a rounded tensor takes the original name and the op's raw
 * result is renamed.
 */
import type { GraphProto, NodeProto } from "../../prover/engine/onnx-proto.ts";
import { ElemType, inferElemTypes } from "./elem-types.ts";

const REDUCTIONS = new Set(["ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL2", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceLogSumExp"]);
/** Ops that only move or select values: their output is already bf16 when their input is. */
const MOVES = new Set(["Reshape", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Gather", "GatherElements", "GatherND", "Concat", "Split", "Expand", "Tile", "Identity", "Flatten", "Pad", "Cast"]);

export interface Bf16RewriteStats {
  rounded: number;
  keptStatistics: number;
}

/** Rewrites `graph` in place; returns how many tensors it rounds. */
export function roundActivationsToBf16(graph: GraphProto): Bf16RewriteStats {
  const nodes = graph.node ?? [];
  const types = inferElemTypes(graph);
  const isFloat = (name: string) => types.get(name) === ElemType.FLOAT;
  const constants = new Set<string>((graph.initializer ?? []).map((t) => t.name ?? ""));
  const consumers = new Map<string, NodeProto[]>();
  for (const node of nodes) for (const input of node.input ?? []) if (input) consumers.set(input, [...(consumers.get(input) ?? []), node]);

  // Seeds: the token embeddings (a Gather of a float weight by token ids) and any float graph
  // input (a KV cache of earlier, already rounded activations).
  const activation = new Set<string>();
  const tokenDerived = new Set<string>(["input_ids"]);
  for (const v of graph.input ?? []) if (v.name && isFloat(v.name) && !constants.has(v.name)) activation.add(v.name);
  const statistic = new Set<string>();

  for (const node of nodes) {
    const inputs = (node.input ?? []).filter(Boolean);
    const outputs = (node.output ?? []).filter(Boolean);
    if (node.opType === "Constant" || inputs.every((n) => constants.has(n))) {
      for (const out of outputs) constants.add(out);
      continue;
    }
    if (inputs.some((n) => tokenDerived.has(n))) for (const out of outputs) tokenDerived.add(out);
    const floatInputs = inputs.filter(isFloat);
    const isEmbedding = node.opType === "Gather" && constants.has(inputs[0] ?? "") && isFloat(inputs[0] ?? "") && tokenDerived.has(inputs[1] ?? "");
    const onActivations = isEmbedding || floatInputs.some((n) => activation.has(n));
    if (!onActivations) continue;
    const statInputs = floatInputs.filter((n) => activation.has(n));
    const reducesToStatistic = REDUCTIONS.has(node.opType ?? "") || (statInputs.length > 0 && statInputs.every((n) => statistic.has(n)));
    for (const out of outputs) {
      if (!isFloat(out)) continue;
      activation.add(out);
      if (reducesToStatistic) statistic.add(out);
    }
  }

  const renamed: NodeProto[] = [];
  let rounded = 0;
  let keptStatistics = 0;
  const roundedCopy = new Map<string, string>();
  const castPair = (from: string, to: string, hint: string): NodeProto[] => [
    { opType: "Cast", name: `${hint}/to_bf16`, input: [from], output: [`${from}::bf16`], attribute: [{ name: "to", type: 2, i: ElemType.BFLOAT16 }] },
    { opType: "Cast", name: `${hint}/to_fp32`, input: [`${from}::bf16`], output: [to], attribute: [{ name: "to", type: 2, i: ElemType.FLOAT }] },
  ];
  for (const node of nodes) {
    // Position-derived float tables multiplied into activations are rounded first (rotary cos/sin).
    if (node.opType === "Mul" && (node.input ?? []).some((n) => activation.has(n))) {
      node.input = (node.input ?? []).map((name) => {
        if (!name || activation.has(name) || constants.has(name) || !isFloat(name)) return name;
        let copy = roundedCopy.get(name);
        if (!copy) {
          copy = `${name}::rounded`;
          roundedCopy.set(name, copy);
          renamed.push(...castPair(name, copy, `${name}::round`));
          rounded++;
        }
        return copy;
      });
    }
    const after: NodeProto[] = [];
    node.output = (node.output ?? []).map((out) => {
      if (!out || !activation.has(out) || MOVES.has(node.opType ?? "")) return out;
      if (statistic.has(out) || squareForStatistic(node, out, consumers, statistic)) {
        keptStatistics++;
        return out;
      }
      const raw = `${out}::fp32`;
      after.push(...castPair(raw, out, `${out}::round`));
      rounded++;
      return raw;
    });
    renamed.push(node, ...after);
  }
  graph.node = renamed;
  return { rounded, keptStatistics };
}

/** x*x or Pow(x, 2) whose every consumer is a reduction to a per-row statistic. */
function squareForStatistic(node: NodeProto, out: string, consumers: ReadonlyMap<string, NodeProto[]>, statistic: ReadonlySet<string>): boolean {
  if (node.opType !== "Pow" && !(node.opType === "Mul" && node.input?.[0] === node.input?.[1])) return false;
  const users = consumers.get(out) ?? [];
  return users.length > 0 && users.every((u) => REDUCTIONS.has(u.opType ?? "") && (u.output ?? []).every((o) => statistic.has(o)));
}
