/**
 * Reductions of elementwise expressions along axes. One invocation per output element with a serial
 * loop (fastest on llvmpipe); long reductions are split into chunks of partial results first, which
 * keeps f32 sums accurate and gives real GPUs parallelism. Several expressions over the same inputs
 * reduce in one kernel (one read of the inputs, an output each): the broadcast gradients of a map.
 */
import type { ReduceOp } from "../engine/backend.ts";
import { type Expr, maxParam } from "../engine/expr.ts";
import { broadcastStrides, type Shape, sizeOf } from "../engine/shape.ts";
import { ExprEmitter } from "./expr_wgsl.ts";
import { stridedOffsets, vec4Lanes } from "./indexing.ts";
import { binding, BUILTINS, f32Lit, type Kernel, linearGrid, memoized, WG_LINEAR } from "./kernel.ts";

const WG = 64;
export const REDUCE_CHUNK = 1024;

export interface ReduceSpec {
  readonly op: ReduceOp;
  /** One output per expression, all reduced with `op` over the same axes. */
  readonly exprs: readonly Expr[];
  readonly inputs: readonly { shape: Shape; dtype: "f32" | "i32" }[];
  readonly shape: Shape;
  readonly axes: readonly number[];
  /** Split the reduced range into `chunks` partial results (output [outer, chunks]). */
  readonly chunks: number;
}

export function identity(op: ReduceOp): number {
  return op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
}

function reduceKernelSource(spec: ReduceSpec): Kernel {
  const kept = spec.shape.map((_, d) => d).filter((d) => !spec.axes.includes(d));
  const red = spec.axes;
  const strides = spec.inputs.map((x) => broadcastStrides(x.shape, spec.shape));
  const O = sizeOf(kept.map((d) => spec.shape[d]));
  const R = sizeOf(red.map((d) => spec.shape[d]));
  const P = spec.chunks;
  const len = Math.ceil(R / P);
  const outOff = stridedOffsets(
    "o",
    kept.map((d) => spec.shape[d]),
    strides.map((s) => kept.map((d) => s[d])),
  );
  const redOff = stridedOffsets("r", red.map((d) => spec.shape[d]), strides.map((s) => red.map((d) => s[d])));
  const nParams = Math.max(-1, ...spec.exprs.map(maxParam)) + 1;
  const nIn = spec.inputs.length;
  // Four adjacent outputs per invocation when the last dimension is kept, a multiple of 4 and every
  // input is contiguous (vec4 load) or constant (splat) along it: e.g. per-channel sums of NHWC maps.
  const last = spec.shape.length - 1;
  const lanes = last >= 0 && kept.includes(last) && spec.shape[last] % 4 === 0
    ? vec4Lanes(strides, last)
    : null;
  const V = lanes ? 4 : 1;
  const decl = spec.inputs.map((x, i) =>
    binding(i, `I${i}`, lanes?.[i] === "vec" ? `array<vec4<${x.dtype}>>` : `array<${x.dtype}>`, false)
  );
  spec.exprs.forEach((_, j) => decl.push(binding(nIn + j, `O${j}`, "array<f32>", true)));
  if (nParams > 0) decl.push(binding(nIn + spec.exprs.length, "P", "array<f32>", false));
  const type = lanes ? "vec4<f32>" : "f32";
  const em = new ExprEmitter(
    (i) => {
      const at = `base${i} + ${redOff[i]}`;
      if (!lanes) return spec.inputs[i].dtype === "f32" ? `I${i}[${at}]` : `f32(I${i}[${at}])`;
      if (lanes[i] === "vec") {
        const v = `I${i}[(${at}) / 4u]`;
        return spec.inputs[i].dtype === "f32" ? v : `vec4<f32>(${v})`;
      }
      return `vec4<f32>(${spec.inputs[i].dtype === "f32" ? `I${i}[${at}]` : `f32(I${i}[${at}])`})`;
    },
    undefined,
    "t",
    type,
  );
  const vs = spec.exprs.map((e) => em.emit(e));
  const fold = (a: string, v: string) =>
    spec.op === "sum" ? `${a} + ${v}` : spec.op === "max" ? `max(${a}, ${v})` : `min(${a}, ${v})`;
  const OV = O / V;
  const store = vs.map((_, j) =>
    lanes
      ? [0, 1, 2, 3].map((l) => `  O${j}[(o + ${l}u) * ${P}u + p] = acc${j}[${l}];`).join("\n")
      : `  O${j}[o * ${P}u + p] = acc${j};`
  ).join("\n");
  // Neighbouring invocations take neighbouring outputs of one chunk, so their loads are adjacent.
  const code = `${decl.join("\n")}
@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {
  let t = ${WG_LINEAR} * ${WG}u + lid.x;
  if (t >= ${OV * P}u) { return; }
  let o = (t % ${OV}u) * ${V}u;
  let p = t / ${OV}u;
${spec.inputs.map((_, i) => `  let base${i} = ${outOff[i]};`).join("\n")}
  let r0 = p * ${len}u;
  let r1 = min(r0 + ${len}u, ${R}u);
${vs.map((_, j) => `  var acc${j} = ${type}(${f32Lit(identity(spec.op))});`).join("\n")}
  for (var r = r0; r < r1; r++) {
${em.code()}
${vs.map((v, j) => `    acc${j} = ${fold(`acc${j}`, v)};`).join("\n")}
  }
${store}
}
`;
  return { code, workgroups: linearGrid(Math.ceil((OV * P) / WG)) };
}

function argmaxKernelSource(shape: Shape, axis: number): Kernel {
  const outer = sizeOf(shape.slice(0, axis)), len = shape[axis], inner = sizeOf(shape.slice(axis + 1));
  const code = `${binding(0, "X", "array<f32>", false)}
${binding(1, "O", "array<i32>", true)}
@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {
  let t = ${WG_LINEAR} * ${WG}u + lid.x;
  if (t >= ${outer * inner}u) { return; }
  let base = (t / ${inner}u) * ${len * inner}u + t % ${inner}u;
  var best = X[base];
  var bi = 0i;
  for (var k = 1u; k < ${len}u; k++) {
    let v = X[base + k * ${inner}u];
    if (v > best) { best = v; bi = i32(k); }
  }
  O[t] = bi;
}
`;
  return { code, workgroups: linearGrid(Math.ceil((outer * inner) / WG)) };
}

export const reduceKernel = memoized(reduceKernelSource);
export const argmaxKernel = memoized(argmaxKernelSource);
