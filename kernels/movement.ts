/** Data movement kernels: slice/pad, permute, row gather and its deterministic adjoint. */
import { type Shape, sizeOf, stridesOf } from "../engine/shape.ts";
import { binding, BUILTINS, type Kernel, linearGrid, memoized, WG_LINEAR } from "./kernel.ts";

const WG = 64;

function elementwise(n: number, decl: string[], body: string): Kernel {
  const code = `${decl.join("\n")}
@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {
  let i = ${WG_LINEAR} * ${WG}u + lid.x;
  if (i >= ${n}u) { return; }
${body}
}
`;
  return { code, workgroups: linearGrid(Math.ceil(n / WG)) };
}

/**
 * Whether an op keeps the innermost axis whole (same length, no offset) and it is a multiple of 4: then it
 * moves vec4s, with a quarter of the invocations and index arithmetic (per-element div/mod chains dominate
 * data movement on llvmpipe). The results are the same bits either way.
 */
function vec4Inner(shape: Shape, out: Shape, innerKept: boolean): boolean {
  const r = shape.length;
  return r >= 2 && innerKept && shape[r - 1] % 4 === 0 && out[r - 1] === shape[r - 1];
}

const quarterInner = (s: Shape): number[] => [...s.slice(0, -1), s[s.length - 1] / 4];

/** out[i] = x[i + begin] where in range else 0. */
function slicePadKernelSource(
  shape: Shape,
  begin: readonly number[],
  out: Shape,
  dtype: "f32" | "i32",
): Kernel {
  const vec = vec4Inner(shape, out, begin[shape.length - 1] === 0);
  const [xShape, oShape] = vec ? [quarterInner(shape), quarterInner(out)] : [shape, out];
  const xs = stridesOf(xShape), os = stridesOf(oShape);
  const L: string[] = ["  var off = 0i;", "  var ok = true;"];
  for (let d = 0; d < oShape.length; d++) {
    if (oShape[d] === 1 && begin[d] === 0) continue;
    L.push(
      `  { let c = i32((i / ${os[d]}u) % ${oShape[d]}u) + (${begin[d]}); ok = ok && c >= 0 && c < ${
        xShape[d]
      };`,
    );
    L.push(`    off += c * ${xs[d]}; }`);
  }
  const type = vec ? `vec4<${dtype}>` : dtype;
  L.push(`  O[i] = select(${type}(${dtype === "f32" ? "0.0" : "0i"}), X[u32(max(off, 0))], ok);`);
  return elementwise(sizeOf(oShape), [
    binding(0, "X", `array<${type}>`, false),
    binding(1, "O", `array<${type}>`, true),
  ], L.join("\n"));
}

function permuteKernelSource(shape: Shape, perm: readonly number[], dtype: "f32" | "i32"): Kernel {
  const vec = vec4Inner(shape, perm.map((p) => shape[p]), perm[perm.length - 1] === perm.length - 1);
  const xShape = vec ? quarterInner(shape) : shape;
  const xs = stridesOf(xShape);
  const out = perm.map((p) => xShape[p]);
  const os = stridesOf(out);
  const terms = out.map((d, k) => (d === 1 ? "" : `((i / ${os[k]}u) % ${d}u) * ${xs[perm[k]]}u`)).filter((
    t,
  ) => t);
  const type = vec ? `vec4<${dtype}>` : dtype;
  return elementwise(sizeOf(out), [
    binding(0, "X", `array<${type}>`, false),
    binding(1, "O", `array<${type}>`, true),
  ], `  O[i] = X[${terms.length ? terms.join(" + ") : "0u"}];`);
}

function gatherRowsKernelSource(v: number, d: number, m: number): Kernel {
  return elementwise(m * d, [
    binding(0, "X", "array<f32>", false),
    binding(1, "I", "array<i32>", false),
    binding(2, "O", "array<f32>", true),
  ], `  let r = u32(clamp(I[i / ${d}u], 0i, ${v - 1}i));\n  O[i] = X[r * ${d}u + i % ${d}u];`);
}

/** One invocation per output element scanning all indices: deterministic, no float atomics. */
function scatterAddRowsKernelSource(m: number, d: number, v: number): Kernel {
  return elementwise(
    v * d,
    [
      binding(0, "G", "array<f32>", false),
      binding(1, "I", "array<i32>", false),
      binding(2, "O", "array<f32>", true),
    ],
    `  let r = i32(i / ${d}u);
  let q = i % ${d}u;
  var acc = 0.0;
  for (var j = 0u; j < ${m}u; j++) { if (I[j] == r) { acc += G[j * ${d}u + q]; } }
  O[i] = acc;`,
  );
}

export const slicePadKernel = memoized(slicePadKernelSource);
export const permuteKernel = memoized(permuteKernelSource);
export const gatherRowsKernel = memoized(gatherRowsKernelSource);
export const scatterAddRowsKernel = memoized(scatterAddRowsKernelSource);
