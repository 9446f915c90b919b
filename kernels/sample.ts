/**
 * Resampling kernels (NHWC): resize (PyTorch `interpolate`, nearest / bilinear) and bilinear affine
 * grid sampling (PyTorch `affine_grid` + `grid_sample`, zeros padding, align_corners=False), with
 * their adjoints. One invocation per pixel × group of V channels (vec4 when c % 4 == 0). Adjoints
 * gather: each input pixel scans a conservative range of output pixels and recomputes, with the
 * forward's own WGSL function, which of them read it and with what weight, so forward and adjoint
 * agree exactly and no atomics are needed.
 */
import type { GridSampleParams, ResizeParams } from "../engine/backend.ts";
import { binding, BUILTINS, f32Lit, type Kernel, linearGrid, memoized, WG_LINEAR } from "./kernel.ts";

const WG = 64;

function vecLayout(c: number): { V: number; CQ: number; f: string } {
  const V = c % 4 === 0 ? 4 : 1;
  return { V, CQ: c / V, f: V === 4 ? "vec4<f32>" : "f32" };
}

function kernel(total: number, decl: string[], fns: string, body: string[]): Kernel {
  const code = `${decl.join("\n")}
${fns}
@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {
  let t = ${WG_LINEAR} * ${WG}u + lid.x;
  if (t >= ${total}u) { return; }
${body.map((l) => `  ${l}`).join("\n")}
}
`;
  return { code, workgroups: linearGrid(Math.ceil(total / WG)) };
}

function decode(hh: number, ww: number, CQ: number, y: string, x: string): string[] {
  return [
    `let cq = t % ${CQ}u;`,
    `let ${x} = i32((t / ${CQ}u) % ${ww}u);`,
    `let ${y} = i32((t / ${CQ * ww}u) % ${hh}u);`,
    `let img = t / ${CQ * ww * hh}u;`,
  ];
}

// ------------------------------------------------------------------ resize

/**
 * WGSL `fn NAME(o: i32) -> Taps` along one axis: PyTorch's source index in f32 (UpSample.h), the
 * same arithmetic as resizeTaps in engine/cpu/extended.ts. `s` and `a` are the f32 scale constants.
 */
function tapsFn(name: string, inSize: number, outSize: number, p: ResizeParams): string {
  if (p.mode === "nearest") {
    return `fn ${name}(o: i32) -> Taps {
  let i = min(i32(floor(f32(o) * ${f32Lit(inSize / outSize)})), ${inSize - 1});
  return Taps(i, i, 1.0, 0.0);
}`;
  }
  const src = p.alignCorners
    ? `f32(o) * ${f32Lit(outSize > 1 ? (inSize - 1) / (outSize - 1) : 0)}`
    : `max(${f32Lit(inSize / outSize)} * (f32(o) + 0.5) - 0.5, 0.0)`;
  return `fn ${name}(o: i32) -> Taps {
  let src = ${src};
  let i0 = min(i32(floor(src)), ${inSize - 1});
  let l1 = clamp(src - f32(i0), 0.0, 1.0);
  return Taps(i0, i0 + select(0, 1, i0 < ${inSize - 1}), 1.0 - l1, l1);
}`;
}

const TAPS = "struct Taps { i0: i32, i1: i32, l0: f32, l1: f32 }";

function resizeFns(p: ResizeParams): string {
  return [TAPS, tapsFn("tapY", p.h, p.oh, p), tapsFn("tapX", p.w, p.ow, p)].join("\n");
}

function resizeKernelSource(p: ResizeParams): Kernel {
  const { CQ, f } = vecLayout(p.c);
  const at = (y: string, x: string) => `X[((img * ${p.h}u + u32(${y})) * ${p.w}u + u32(${x})) * ${CQ}u + cq]`;
  const body = [...decode(p.oh, p.ow, CQ, "oy", "ox"), "let ty = tapY(oy);", "let tx = tapX(ox);"];
  if (p.mode === "nearest") body.push(`Y[t] = ${at("ty.i0", "tx.i0")};`);
  else {
    body.push(
      `let r0 = tx.l0 * ${at("ty.i0", "tx.i0")} + tx.l1 * ${at("ty.i0", "tx.i1")};`,
      `let r1 = tx.l0 * ${at("ty.i1", "tx.i0")} + tx.l1 * ${at("ty.i1", "tx.i1")};`,
      "Y[t] = ty.l0 * r0 + ty.l1 * r1;",
    );
  }
  return kernel(
    p.n * p.oh * p.ow * CQ,
    [binding(0, "X", `array<${f}>`, false), binding(1, "Y", `array<${f}>`, true)],
    resizeFns(p),
    body,
  );
}

/**
 * Outputs o along one axis whose taps can include input i: src(o) ≈ s·o + c lies in [i − 1, i + 1],
 * widened by 2 for rounding; the ends also take every output clamped onto the first/last input.
 */
function outRange(v: string, inSize: number, outSize: number, p: ResizeParams): string[] {
  const [lo, hi] = [`${v}lo`, `${v}hi`];
  const ac = p.mode === "bilinear" && p.alignCorners;
  const s = ac ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : inSize / outSize;
  if (s === 0) return [`let ${lo} = 0;`, `let ${hi} = ${outSize - 1};`];
  const c = p.mode === "bilinear" && !p.alignCorners ? 0.5 * s - 0.5 : 0;
  const inv = f32Lit(1 / s), off = f32Lit(-c / s);
  return [
    `let ${lo} = select(clamp(i32(floor(f32(${v} - 1) * ${inv} + ${off})) - 2, 0, ${
      outSize - 1
    }), 0, ${v} == 0);`,
    `let ${hi} = select(clamp(i32(ceil(f32(${v} + 1) * ${inv} + ${off})) + 2, 0, ${outSize - 1}), ${
      outSize - 1
    }, ${v} == ${inSize - 1});`,
  ];
}

function resizeGradKernelSource(p: ResizeParams): Kernel {
  const { CQ, f } = vecLayout(p.c);
  const weight = (tp: string, i: string) =>
    `select(0.0, ${tp}.l0, ${tp}.i0 == ${i}) + select(0.0, ${tp}.l1, ${tp}.i1 == ${i})`;
  return kernel(
    p.n * p.h * p.w * CQ,
    [binding(0, "G", `array<${f}>`, false), binding(1, "O", `array<${f}>`, true)],
    resizeFns(p),
    [
      ...decode(p.h, p.w, CQ, "iy", "ix"),
      ...outRange("iy", p.h, p.oh, p),
      ...outRange("ix", p.w, p.ow, p),
      `var acc = ${f}(0.0);`,
      "for (var oy = iylo; oy <= iyhi; oy++) {",
      `  let wy = ${weight("tapY(oy)", "iy")};`,
      "  if (wy == 0.0) { continue; }",
      `  var row = ${f}(0.0);`,
      "  for (var ox = ixlo; ox <= ixhi; ox++) {",
      `    let wx = ${weight("tapX(ox)", "ix")};`,
      `    row += wx * G[((img * ${p.oh}u + u32(oy)) * ${p.ow}u + u32(ox)) * ${CQ}u + cq];`,
      "  }",
      "  acc += wy * row;",
      "}",
      "O[t] = acc;",
    ],
  );
}

// ------------------------------------------------------------------ affine grid sample

/**
 * `fn coords(img, i, j) -> vec2<f32>`: the input pixel coordinate (ix, iy) sampled by output
 * pixel (i, j). PyTorch's affine_grid + grid_sample unnormalisation (align_corners=False)
 *   xn = (2j+1)/ow − 1, gx = t0·xn + t1·yn + t2, ix = ((gx + 1)·w − 1)/2
 * rearranged as ix = (t0·w/ow)·u + (t1·w/oh)·v + (w/2)(t2 + 1) − 1/2 with u = j + ½ − ow/2 and
 * v = i + ½ − oh/2 exact in f32: the same map, but an identity theta yields exactly ix = j, so it
 * reproduces the input bit for bit. `affine(img)` gives the map's coefficients (ax, bx, cx, ay, by, cy).
 */
function gridFns(p: GridSampleParams): string {
  return `fn affine(img: u32) -> array<f32, 6> {
  let b = img * 6u;
  return array<f32, 6>(
    T[b] * ${f32Lit(p.w / p.ow)}, T[b + 1u] * ${f32Lit(p.w / p.oh)}, ${
    f32Lit(p.w / 2)
  } * (T[b + 2u] + 1.0) - 0.5,
    T[b + 3u] * ${f32Lit(p.h / p.ow)}, T[b + 4u] * ${f32Lit(p.h / p.oh)}, ${
    f32Lit(p.h / 2)
  } * (T[b + 5u] + 1.0) - 0.5);
}
fn coords(a: array<f32, 6>, i: i32, j: i32) -> vec2<f32> {
  let u = f32(j) + ${f32Lit(0.5 - p.ow / 2)};
  let v = f32(i) + ${f32Lit(0.5 - p.oh / 2)};
  return vec2<f32>(a[0] * u + a[1] * v + a[2], a[3] * u + a[4] * v + a[5]);
}`;
}

function gridSampleKernelSource(p: GridSampleParams): Kernel {
  const { CQ, f } = vecLayout(p.c);
  const corner = (dy: number, dx: number, w: string) => [
    `{ let yy = y0 + ${dy}; let xx = x0 + ${dx};`,
    `  let ok = yy >= 0 && yy < ${p.h} && xx >= 0 && xx < ${p.w};`,
    `  let k = select(0u, ((img * ${p.h}u + u32(yy)) * ${p.w}u + u32(xx)) * ${CQ}u + cq, ok);`,
    `  acc += select(${f}(0.0), ${w} * X[k], ok); }`,
  ];
  return kernel(
    p.n * p.oh * p.ow * CQ,
    [
      binding(0, "X", `array<${f}>`, false),
      binding(1, "T", "array<f32>", false),
      binding(2, "Y", `array<${f}>`, true),
    ],
    gridFns(p),
    [
      ...decode(p.oh, p.ow, CQ, "i", "j"),
      "let c = coords(affine(img), i, j);",
      "let fl = floor(c);",
      "let x0 = i32(fl.x);",
      "let y0 = i32(fl.y);",
      "let fx = c.x - fl.x;",
      "let fy = c.y - fl.y;",
      `var acc = ${f}(0.0);`,
      ...corner(0, 0, "(1.0 - fx) * (1.0 - fy)"),
      ...corner(0, 1, "fx * (1.0 - fy)"),
      ...corner(1, 0, "(1.0 - fx) * fy"),
      ...corner(1, 1, "fx * fy"),
      "Y[t] = acc;",
    ],
  );
}

/**
 * Adjoint w.r.t. x: input pixel (y, x) is read by the outputs whose sample point lies in
 * (x − 1, x + 1) × (y − 1, y + 1); their (j, i) lie in the preimage parallelogram under the affine
 * map, whose bounding box (widened by 2) is scanned. A singular or near-singular map falls back to
 * scanning all outputs of the image. Bindings: G, T, O.
 */
function gridSampleGradKernelSource(p: GridSampleParams): Kernel {
  const { CQ, f } = vecLayout(p.c);
  // Coordinates can sit anywhere; clamp in f32 before converting (f32→i32 of huge values is not portable).
  const toJ = (e: string, n: number) => `i32(clamp(${e}, -1.0, ${n}.0))`;
  return kernel(
    p.n * p.h * p.w * CQ,
    [
      binding(0, "G", `array<${f}>`, false),
      binding(1, "T", "array<f32>", false),
      binding(2, "O", `array<${f}>`, true),
    ],
    gridFns(p),
    [
      ...decode(p.h, p.w, CQ, "y", "x"),
      "let a = affine(img);",
      "let det = a[0] * a[4] - a[1] * a[3];",
      `var jlo = 0; var jhi = ${p.ow - 1}; var ilo = 0; var ihi = ${p.oh - 1};`,
      "let scale = max(max(abs(a[0]), abs(a[1])), max(abs(a[3]), abs(a[4])));",
      "if (abs(det) > 1e-6 * scale * scale) {",
      "  let inv = vec4<f32>(a[4], -a[1], -a[3], a[0]) / det;",
      "  let dx = f32(x) - a[2];",
      "  let dy = f32(y) - a[5];",
      `  let uc = inv.x * dx + inv.y * dy - ${f32Lit(0.5 - p.ow / 2)};`,
      `  let vc = inv.z * dx + inv.w * dy - ${f32Lit(0.5 - p.oh / 2)};`,
      "  let eu = abs(inv.x) + abs(inv.y) + 2.0;",
      "  let ev = abs(inv.z) + abs(inv.w) + 2.0;",
      `  jlo = max(${toJ("floor(uc - eu)", p.ow)}, 0);`,
      `  jhi = min(${toJ("ceil(uc + eu)", p.ow)}, ${p.ow - 1});`,
      `  ilo = max(${toJ("floor(vc - ev)", p.oh)}, 0);`,
      `  ihi = min(${toJ("ceil(vc + ev)", p.oh)}, ${p.oh - 1});`,
      "}",
      `var acc = ${f}(0.0);`,
      "for (var i = ilo; i <= ihi; i++) {",
      "  for (var j = jlo; j <= jhi; j++) {",
      "    let c = coords(a, i, j);",
      "    let fl = floor(c);",
      "    let ddx = x - i32(fl.x);",
      "    let ddy = y - i32(fl.y);",
      "    if (ddx < 0 || ddx > 1 || ddy < 0 || ddy > 1) { continue; }",
      "    let fx = c.x - fl.x;",
      "    let fy = c.y - fl.y;",
      "    let wx = select(1.0 - fx, fx, ddx == 1);",
      "    let wy = select(1.0 - fy, fy, ddy == 1);",
      `    acc += (wx * wy) * G[((img * ${p.oh}u + u32(i)) * ${p.ow}u + u32(j)) * ${CQ}u + cq];`,
      "  }",
      "}",
      "O[t] = acc;",
    ],
  );
}

export const resizeKernel = memoized(resizeKernelSource);
export const resizeGradKernel = memoized(resizeGradKernelSource);
export const gridSampleKernel = memoized(gridSampleKernelSource);
export const gridSampleGradKernel = memoized(gridSampleGradKernelSource);
