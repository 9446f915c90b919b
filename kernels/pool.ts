/**
 * Pooling kernels (NHWC). One invocation per pixel × group of V channels (V = 4 with vec4 loads
 * when c % 4 == 0, else 1). Adjoints gather: each input element loops over the few windows that
 * cover it, so they are deterministic and need no atomics.
 */
import type { PoolParams } from "../engine/backend.ts";
import { binding, BUILTINS, f32Lit, type Kernel, linearGrid, memoized, WG_LINEAR } from "./kernel.ts";

const WG = 64;

interface Layout {
  readonly V: number;
  /** Channel groups per pixel. */
  readonly CQ: number;
  readonly f: string;
  readonly i: string;
}

function layout(c: number): Layout {
  const V = c % 4 === 0 ? 4 : 1;
  return { V, CQ: c / V, f: V === 4 ? "vec4<f32>" : "f32", i: V === 4 ? "vec4<i32>" : "i32" };
}

function kernel(total: number, decl: string[], body: string[]): Kernel {
  const code = `${decl.join("\n")}
@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {
  let t = ${WG_LINEAR} * ${WG}u + lid.x;
  if (t >= ${total}u) { return; }
${body.map((l) => `  ${l}`).join("\n")}
}
`;
  return { code, workgroups: linearGrid(Math.ceil(total / WG)) };
}

/** Decodes t into (img, y, x, cq) over [n, hh, ww, CQ]. */
function decode(hh: number, ww: number, CQ: number, y: string, x: string): string[] {
  return [
    `let cq = t % ${CQ}u;`,
    `let ${x} = i32((t / ${CQ}u) % ${ww}u);`,
    `let ${y} = i32((t / ${CQ * ww}u) % ${hh}u);`,
    `let img = t / ${CQ * ww * hh}u;`,
  ];
}

/** Loops over the windows (oy, ox) that contain input pixel (iy, ix): oy·s − p ≤ iy < oy·s − p + k. */
function coveringWindows(p: PoolParams): string[] {
  const lo = (i: string, pad: number, k: number, s: number) => {
    const t = `(${i} + ${pad - k + 1})`;
    return `select(0, (${t} + ${s - 1}) / ${s}, ${t} > 0)`;
  };
  return [
    `let oy0 = ${lo("iy", p.ph, p.kh, p.sh)};`,
    `let oy1 = min((iy + ${p.ph}) / ${p.sh}, ${p.oh - 1});`,
    `let ox0 = ${lo("ix", p.pw, p.kw, p.sw)};`,
    `let ox1 = min((ix + ${p.pw}) / ${p.sw}, ${p.ow - 1});`,
  ];
}

function avgPoolKernelSource(p: PoolParams): Kernel {
  const { CQ, f } = layout(p.c);
  const total = p.n * p.oh * p.ow * CQ;
  return kernel(total, [binding(0, "X", `array<${f}>`, false), binding(1, "Y", `array<${f}>`, true)], [
    ...decode(p.oh, p.ow, CQ, "oy", "ox"),
    `var acc = ${f}(0.0);`,
    `for (var ky = 0; ky < ${p.kh}; ky++) {`,
    `  let iy = oy * ${p.sh} - ${p.ph} + ky;`,
    `  if (iy < 0 || iy >= ${p.h}) { continue; }`,
    `  for (var kx = 0; kx < ${p.kw}; kx++) {`,
    `    let ix = ox * ${p.sw} - ${p.pw} + kx;`,
    `    if (ix < 0 || ix >= ${p.w}) { continue; }`,
    `    acc += X[((img * ${p.h}u + u32(iy)) * ${p.w}u + u32(ix)) * ${CQ}u + cq];`,
    "  }",
    "}",
    // count_include_pad: every window has kh·kw taps (see the CPU reference).
    `Y[t] = acc * ${f32Lit(1 / (p.kh * p.kw))};`,
  ]);
}

function avgPoolGradKernelSource(p: PoolParams): Kernel {
  const { CQ, f } = layout(p.c);
  const total = p.n * p.h * p.w * CQ;
  return kernel(total, [binding(0, "G", `array<${f}>`, false), binding(1, "O", `array<${f}>`, true)], [
    ...decode(p.h, p.w, CQ, "iy", "ix"),
    ...coveringWindows(p),
    `var acc = ${f}(0.0);`,
    "for (var oy = oy0; oy <= oy1; oy++) {",
    "  for (var ox = ox0; ox <= ox1; ox++) {",
    `    acc += G[((img * ${p.oh}u + u32(oy)) * ${p.ow}u + u32(ox)) * ${CQ}u + cq];`,
    "  }",
    "}",
    `O[t] = acc * ${f32Lit(1 / (p.kh * p.kw))};`,
  ]);
}

/**
 * Max over in-bounds taps, first maximum on ties (strict >), padding never taken; idx is the flat
 * position within the image (y·w + x)·c + channel, −1 (with value 0) for a window with no
 * in-bounds tap. Bindings: X, Y, I.
 */
function maxPoolKernelSource(p: PoolParams): Kernel {
  const { V, CQ, f, i } = layout(p.c);
  const total = p.n * p.oh * p.ow * CQ;
  const lanes = V === 4 ? "vec4<i32>(0, 1, 2, 3)" : "0";
  const any = V === 4 ? "vec4<bool>" : "bool";
  return kernel(total, [
    binding(0, "X", `array<${f}>`, false),
    binding(1, "Y", `array<${f}>`, true),
    binding(2, "I", `array<${i}>`, true),
  ], [
    ...decode(p.oh, p.ow, CQ, "oy", "ox"),
    `var best = ${f}(0.0);`,
    `var bi = ${i}(-1);`,
    "var first = true;",
    `for (var ky = 0; ky < ${p.kh}; ky++) {`,
    `  let iy = oy * ${p.sh} - ${p.ph} + ky;`,
    `  if (iy < 0 || iy >= ${p.h}) { continue; }`,
    `  for (var kx = 0; kx < ${p.kw}; kx++) {`,
    `    let ix = ox * ${p.sw} - ${p.pw} + kx;`,
    `    if (ix < 0 || ix >= ${p.w}) { continue; }`,
    `    let pix = iy * ${p.w} + ix;`,
    `    let v = X[(img * ${p.h * p.w}u + u32(pix)) * ${CQ}u + cq];`,
    `    let better = (v > best) | ${any}(first);`,
    "    best = select(best, v, better);",
    `    bi = select(bi, ${i}(pix * ${p.c} + i32(cq) * ${V}) + ${lanes}, better);`,
    "    first = false;",
    "  }",
    "}",
    "Y[t] = best;",
    "I[t] = bi;",
  ]);
}

/** gx at each input element: Σ of gy over the windows that cover it and chose it. Bindings: G, I, O. */
function maxPoolGradKernelSource(p: PoolParams): Kernel {
  const { V, CQ, f, i } = layout(p.c);
  const total = p.n * p.h * p.w * CQ;
  const lanes = V === 4 ? "vec4<i32>(0, 1, 2, 3)" : "0";
  return kernel(total, [
    binding(0, "G", `array<${f}>`, false),
    binding(1, "I", `array<${i}>`, false),
    binding(2, "O", `array<${f}>`, true),
  ], [
    ...decode(p.h, p.w, CQ, "iy", "ix"),
    ...coveringWindows(p),
    `let pos = ${i}((iy * ${p.w} + ix) * ${p.c} + i32(cq) * ${V}) + ${lanes};`,
    `var acc = ${f}(0.0);`,
    "for (var oy = oy0; oy <= oy1; oy++) {",
    "  for (var ox = ox0; ox <= ox1; ox++) {",
    `    let j = ((img * ${p.oh}u + u32(oy)) * ${p.ow}u + u32(ox)) * ${CQ}u + cq;`,
    `    acc += select(${f}(0.0), G[j], I[j] == pos);`,
    "  }",
    "}",
    "O[t] = acc;",
  ]);
}

/** y[j] = x[image of j, idx[j]] (0 where idx = −1). Bindings: X, I, Y. */
function maxPoolGatherKernelSource(p: PoolParams): Kernel {
  const total = p.n * p.oh * p.ow * p.c;
  const img = p.h * p.w * p.c, per = p.oh * p.ow * p.c;
  return kernel(total, [
    binding(0, "X", "array<f32>", false),
    binding(1, "I", "array<i32>", false),
    binding(2, "Y", "array<f32>", true),
  ], [
    "let k = I[t];",
    `Y[t] = select(0.0, X[(t / ${per}u) * ${img}u + u32(max(k, 0))], k >= 0);`,
  ]);
}

export const avgPoolKernel = memoized(avgPoolKernelSource);
export const avgPoolGradKernel = memoized(avgPoolGradKernelSource);
export const maxPoolKernel = memoized(maxPoolKernelSource);
export const maxPoolGradKernel = memoized(maxPoolGradKernelSource);
export const maxPoolGatherKernel = memoized(maxPoolGatherKernelSource);
