/**
 * Test fixtures: a minimal protobuf encoder for ONNX ModelProto (field numbers from onnx/onnx.proto),
 * enough to build small image classifiers in a test without any download or Python.
 */

type Field = Uint8Array;

function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
}

const concat = (parts: ArrayLike<number>[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const key = (field: number, wire: number) => varint((field << 3) | wire);
/** Varint field (int32/int64/enum). */
const int = (field: number, v: number | bigint): Field => Uint8Array.from([...key(field, 0), ...varint(v)]);
/** Length-delimited field (string, bytes, sub-message, packed). */
const bytes = (field: number, b: ArrayLike<number>): Field => concat([key(field, 2), varint(b.length), b]);
const str = (field: number, s: string): Field => bytes(field, new TextEncoder().encode(s));
const msg = (field: number, ...fields: Field[]): Field => bytes(field, concat(fields));
const f32 = (field: number, v: number): Field => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return concat([key(field, 5), b]);
};

export const FLOAT = 1;

/** A float TensorProto (an initializer) with raw little-endian data. */
export function initializer(name: string, dims: number[], values: ArrayLike<number>): Field {
  const raw = new Uint8Array(new Float32Array(Array.from(values)).buffer);
  return concat([...dims.map((d) => int(1, d)), int(2, FLOAT), str(8, name), bytes(9, raw)]);
}

export type Attr = { name: string; int: number } | { name: string; float: number } | {
  name: string;
  ints: number[];
};

function attribute(a: Attr): Field {
  // AttributeProto: name=1, f=2, i=3, ints=8, type=20 (FLOAT=1, INT=2, INTS=7)
  if ("int" in a) return concat([str(1, a.name), int(3, a.int), int(20, 2)]);
  if ("float" in a) return concat([str(1, a.name), f32(2, a.float), int(20, 1)]);
  return concat([str(1, a.name), ...a.ints.map((i) => int(8, i)), int(20, 7)]);
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Attr[];
}

function node(n: NodeSpec, i: number): Field {
  // NodeProto: input=1, output=2, name=3, op_type=4, attribute=5
  return concat([
    ...n.inputs.map((x) => str(1, x)),
    ...n.outputs.map((x) => str(2, x)),
    str(3, `${n.op.toLowerCase()}_${i}`),
    str(4, n.op),
    ...(n.attrs ?? []).map((a) => msg(5, attribute(a))),
  ]);
}

/** ValueInfoProto of a float tensor; string dims are symbolic (e.g. "batch"). */
function valueInfo(name: string, shape: (number | string)[]): Field {
  const dims = shape.map((d) => msg(1, typeof d === "number" ? int(1, d) : str(2, d)));
  const tensorType = concat([int(1, FLOAT), msg(2, ...dims)]);
  return concat([str(1, name), msg(2, msg(1, tensorType))]);
}

export interface GraphSpec {
  nodes: NodeSpec[];
  initializers: Field[];
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
  opset?: number;
}

/** Serialised ModelProto (ir_version 8, default-domain opset 13 unless given). */
export function onnxModel(g: GraphSpec): Uint8Array {
  const graph = concat([
    ...g.nodes.map((n, i) => msg(1, node(n, i))),
    str(2, "test_graph"),
    ...g.initializers.map((t) => msg(5, t)),
    ...g.inputs.map((v) => msg(11, valueInfo(v.name, v.shape))),
    ...g.outputs.map((v) => msg(12, valueInfo(v.name, v.shape))),
  ]);
  return concat([
    int(1, 8),
    str(2, "ddrepro-test"),
    msg(7, graph),
    msg(8, str(1, ""), int(2, g.opset ?? 13)),
  ]);
}
