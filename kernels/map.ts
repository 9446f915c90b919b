/** Elementwise kernels generated from `Expr`s: several outputs, broadcast inputs, in-place updates. */
import { type Expr, maxParam } from "../engine/expr.ts";
import { type Shape, sizeOf } from "../engine/shape.ts";
import { ExprEmitter } from "./expr_wgsl.ts";
import { broadcastOffsets } from "./indexing.ts";
import { binding, BUILTINS, type Kernel, linearGrid, WG_LINEAR } from "./kernel.ts";

const WG = 64;
/** Elements per invocation: amortises per-workgroup overhead on llvmpipe, harmless on GPUs. */
const PER = 4;

export interface MapSpec {
  readonly exprs: readonly Expr[];
  readonly inputs: readonly { shape: Shape; dtype: "f32" | "i32" }[];
  readonly shape: Shape;
  readonly outDtype: "f32" | "i32";
  /** For each output, the input it overwrites in place (or -1): that buffer is bound once, read_write. */
  readonly alias: readonly number[];
}

/** Binding order: inputs that are not aliased, then outputs, then params (if any). */
export function mapKernel(
  spec: MapSpec,
): Kernel & { bindingOf: { inputs: number[]; outputs: number[]; params: number } } {
  const n = sizeOf(spec.shape);
  const nParams = Math.max(-1, ...spec.exprs.map(maxParam)) + 1;
  const decl: string[] = [];
  const inName: string[] = [];
  const bIn: number[] = [], bOut: number[] = [];
  let b = 0;
  spec.inputs.forEach((x, i) => {
    const aliasOut = spec.alias.indexOf(i);
    if (aliasOut >= 0) {
      inName.push(`O${aliasOut}`);
      bIn.push(-1);
      return;
    }
    decl.push(binding(b, `I${i}`, `array<${x.dtype}>`, false));
    inName.push(`I${i}`);
    bIn.push(b++);
  });
  spec.exprs.forEach((_, j) => {
    decl.push(binding(b, `O${j}`, `array<${spec.outDtype}>`, true));
    bOut.push(b++);
  });
  const bParams = nParams > 0 ? b : -1;
  if (nParams > 0) decl.push(binding(b++, "P", "array<f32>", false));

  const offs = broadcastOffsets("i", spec.shape, spec.inputs.map((x) => x.shape));
  const em = new ExprEmitter((i) => {
    const v = `${inName[i]}[${offs[i]}]`;
    return spec.inputs[i].dtype === "f32" ? v : `f32(${v})`;
  });
  const results = spec.exprs.map((e) => em.emit(e));
  const store = results.map((r, j) => `    O${j}[i] = ${spec.outDtype === "f32" ? r : `i32(${r})`};`).join(
    "\n",
  );
  const groups = Math.ceil(n / (WG * PER));
  const code = `${decl.join("\n")}
@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {
  let base = ${WG_LINEAR} * ${WG * PER}u + lid.x;
  for (var q = 0u; q < ${PER}u; q++) {
    let i = base + q * ${WG}u;
    if (i >= ${n}u) { return; }
${em.code()}
${store}
  }
}
`;
  return { code, workgroups: linearGrid(groups), bindingOf: { inputs: bIn, outputs: bOut, params: bParams } };
}
