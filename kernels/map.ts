/** Elementwise kernels generated from `Expr`s: several outputs, broadcast inputs, in-place updates. */
import { type Expr, maxParam } from "../engine/expr.ts";
import { broadcastStrides, type Shape, sizeOf, stridesOf } from "../engine/shape.ts";
import { ExprEmitter } from "./expr_wgsl.ts";
import { broadcastOffsets, coalesce, vec4Lanes } from "./indexing.ts";
import { binding, BUILTINS, type Kernel, linearGrid, memoized, WG_LINEAR } from "./kernel.ts";

const WG = 64;
/** Elements per invocation: amortises per-workgroup overhead on llvmpipe, harmless on GPUs. */
const PER = 4;
/** The vec4 variant: 8-lane workgroups (one SIMD row on llvmpipe) looping over 64 vec4s each. */
const VWG = 8;
const VPER = 64;

export interface MapSpec {
  readonly exprs: readonly Expr[];
  readonly inputs: readonly { shape: Shape; dtype: "f32" | "i32" }[];
  readonly shape: Shape;
  readonly outDtype: "f32" | "i32";
  /** For each output, the input it overwrites in place (or -1): that buffer is bound once, read_write. */
  readonly alias: readonly number[];
}

/** Binding order: inputs that are not aliased, then outputs, then params (if any). */
function mapKernelSource(
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

  const lanes = vectorLanes(spec);
  if (lanes) {
    // Four elements per step: contiguous operands load vec4, operands broadcast along the innermost
    // dimension load one scalar and splat it (each storage load is a per-lane gather on llvmpipe).
    spec.inputs.forEach((x, i) => {
      if (bIn[i] < 0) return;
      const t = lanes[i] === "vec" ? `array<vec4<${x.dtype}>>` : `array<${x.dtype}>`;
      decl[bIn[i]] = binding(bIn[i], `I${i}`, t, false);
    });
    spec.exprs.forEach((
      _,
      j,
    ) => (decl[bOut[j]] = binding(bOut[j], `O${j}`, `array<vec4<${spec.outDtype}>>`, true)));
    const offs = broadcastOffsets("e", spec.shape, spec.inputs.map((x) => x.shape));
    const em = new ExprEmitter(
      (i) => {
        const v = lanes[i] === "vec"
          ? `${inName[i]}[${offs[i] === "e" ? "iv" : `(${offs[i]}) / 4u`}]`
          : `${inName[i]}[${offs[i]}]`;
        if (lanes[i] === "vec") return spec.inputs[i].dtype === "f32" ? v : `vec4<f32>(${v})`;
        return `vec4<f32>(${spec.inputs[i].dtype === "f32" ? v : `f32(${v})`})`;
      },
      undefined,
      "t",
      "vec4<f32>",
    );
    const results = spec.exprs.map((e) => em.emit(e));
    const store = results.map((r, j) => `    O${j}[iv] = ${spec.outDtype === "f32" ? r : `vec4<i32>(${r})`};`)
      .join("\n");
    const nv = n / 4;
    const code = `${decl.join("\n")}
@compute @workgroup_size(${VWG}) fn main(${BUILTINS}) {
  let base = ${WG_LINEAR} * ${VWG * VPER}u + lid.x;
  for (var q = 0u; q < ${VPER}u; q++) {
    let iv = base + q * ${VWG}u;
    if (iv >= ${nv}u) { return; }
    let e = iv * 4u;
${em.code()}
${store}
  }
}
`;
    return {
      code,
      workgroups: linearGrid(Math.ceil(nv / (VWG * VPER))),
      bindingOf: { inputs: bIn, outputs: bOut, params: bParams },
    };
  }

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

/**
 * How each input is read when the map can run on vec4s, or null: the innermost (coalesced) output
 * dimension must be a multiple of 4 and every input either contiguous along it with 4-aligned other
 * strides ("vec") or constant along it ("splat").
 */
function vectorLanes(spec: MapSpec): ("vec" | "splat")[] | null {
  const n = sizeOf(spec.shape);
  if (n % 4 !== 0 || n === 0) return null;
  const c = coalesce(spec.shape, [
    stridesOf(spec.shape),
    ...spec.inputs.map((x) => broadcastStrides(x.shape, spec.shape)),
  ]);
  const last = c.shape.length - 1;
  if (last < 0 || c.shape[last] % 4 !== 0) return null;
  return vec4Lanes(c.strides.slice(1), last);
}

export const mapKernel = memoized(mapKernelSource);

export interface MultiMapSpec {
  /** Output j of every segment; inputs are the segment's operands, f32 and contiguous. */
  readonly exprs: readonly Expr[];
  readonly inputs: number;
  /** For each output, the operand it overwrites in place (or -1: a separate output buffer). */
  readonly alias: readonly number[];
  /** Elements of each segment. */
  readonly sizes: readonly number[];
}

/**
 * The same elementwise `exprs` over several same-sized operand groups ("segments", e.g. every parameter
 * tensor with its gradient and momentum), in one dispatch: an optimizer step over a network is one
 * kernel instead of one per tensor, each costing a dispatch and a pass on llvmpipe. Every workgroup
 * serves one segment (the branch on its id is uniform); segments whose size is a multiple of 4 run on
 * vec4s. Bindings, per segment in order: its non-aliased operands, then its outputs; then the params.
 */
function multiMapKernelSource(spec: MultiMapSpec): Kernel & { bindingsPerSegment: number } {
  const nParams = Math.max(-1, ...spec.exprs.map(maxParam)) + 1;
  const own = Array.from({ length: spec.inputs }, (_, i) => i).filter((i) => !spec.alias.includes(i));
  const per = own.length + spec.exprs.length;
  const decl: string[] = [];
  const bodies: string[] = [];
  let start = 0;
  spec.sizes.forEach((size, k) => {
    const vec = size % 4 === 0;
    const ty = vec ? "vec4<f32>" : "f32";
    const name = (i: number) => {
      const j = spec.alias.indexOf(i);
      return j >= 0 ? `S${k}O${j}` : `S${k}I${i}`;
    };
    own.forEach((i, b) => decl.push(binding(k * per + b, `S${k}I${i}`, `array<${ty}>`, false)));
    spec.exprs.forEach((_, j) =>
      decl.push(binding(k * per + own.length + j, `S${k}O${j}`, `array<${ty}>`, true))
    );
    const units = vec ? size / 4 : size;
    const groups = Math.max(1, Math.ceil(units / (VWG * VPER)));
    const em = new ExprEmitter((i) => `${name(i)}[u]`, undefined, "t", vec ? "vec4<f32>" : "f32");
    const results = spec.exprs.map((e) => em.emit(e));
    const store = results.map((r, j) => `      S${k}O${j}[u] = ${r};`).join("\n");
    bodies.push(`if (w < ${start + groups}u) {
    let base = (w - ${start}u) * ${VWG * VPER}u + lid.x;
    for (var q = 0u; q < ${VPER}u; q++) {
      let u = base + q * ${VWG}u;
      if (u >= ${units}u) { return; }
${em.code("      ")}
${store}
    }
    return;
  }`);
    start += groups;
  });
  if (nParams > 0) decl.push(binding(spec.sizes.length * per, "P", "array<f32>", false));
  const code = `${decl.join("\n")}
@compute @workgroup_size(${VWG}) fn main(${BUILTINS}) {
  let w = ${WG_LINEAR};
  ${bodies.join(" else ")}
}
`;
  return { code, workgroups: linearGrid(start), bindingsPerSegment: per };
}

export const multiMapKernel = memoized(multiMapKernelSource);
