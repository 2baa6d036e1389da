import { onnx, type AttributeProto, type NodeProto, type TensorProto, type ValueInfoProto } from "../engine/onnx-proto.ts";

const FLOAT = 1;
const INT64 = 7;
const BOOL = 9;
export const ELEM = { FLOAT, INT64, BOOL } as const;

type Attribute = number | number[] | string;

/** A tiny ONNX graph builder: named nodes in insertion order (which is topological by construction). */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private counter = 0;

  /** Adds a node; returns its output name(s). Names are `${hint}` or `${hint}_${n}` to stay readable. */
  op(opType: string, inputs: string[], hint: string, attributes: Record<string, Attribute> = {}, outputCount = 1): string {
    return this.opMulti(opType, inputs, hint, attributes, outputCount)[0]!;
  }

  opMulti(opType: string, inputs: string[], hint: string, attributes: Record<string, Attribute> = {}, outputCount = 1): string[] {
    const outputs = Array.from({ length: outputCount }, (_, i) => (outputCount === 1 ? this.fresh(hint) : `${this.fresh(hint)}_${i}`));
    this.nodes.push({
      opType,
      name: `${opType}_${this.nodes.length}`,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attributes).map(([name, value]) => attributeProto(name, value)),
    });
    return outputs;
  }

  /** Same as op, but the output gets exactly `name` (graph outputs, the hooked tensor). */
  named(opType: string, inputs: string[], name: string, attributes: Record<string, Attribute> = {}): string {
    this.nodes.push({
      opType,
      name: `${opType}_${this.nodes.length}`,
      input: inputs,
      output: [name],
      attribute: Object.entries(attributes).map(([n, v]) => attributeProto(n, v)),
    });
    return name;
  }

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  floatTensor(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push({
      name,
      dims,
      dataType: FLOAT,
      rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    });
    return name;
  }

  int64Tensor(name: string, dims: number[], values: number[]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, dataType: INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  input(name: string, elemType: number, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: number, dims: (number | string)[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** Serialises the model (IR 8, default-domain opset `opset`). */
  encode(graphName: string, opset: number, metadata: Record<string, string>): Uint8Array {
    return onnx.ModelProto.encode({
      irVersion: 8,
      producerName: "verifiable-benchmarks",
      opsetImport: [{ domain: "", version: opset }],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    }).finish();
  }
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attributeProto(name: string, value: Attribute): AttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === "string") return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if (Number.isInteger(value)) return { name, type: A.INT, i: value };
  return { name, type: A.FLOAT, f: value };
}
