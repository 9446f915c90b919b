/**
 * Pooling, resize and affine grid sampling: WGSL kernels against the CPU reference (awkward shapes,
 * vec4 and scalar channel paths), hand-computed PyTorch values, and first/second-order gradient
 * checks of the differentiable wrappers.
 */
import { assertClose, cpu, gpu, gradCheck, gradGradCheck, randn, rng } from "./helpers.ts";
import type { Backend, GridSampleParams, PoolParams, ResizeParams, Storage } from "../../engine/backend.ts";
import * as T from "../../engine/ops/mod.ts";
import { type Tensor, tensor } from "../../engine/tensor.ts";

type Data = Float32Array | Int32Array;

/** Uploads inputs, runs a primitive, reads every result back and frees everything. */
async function prim(b: Backend, inputs: Data[], f: (s: Storage[]) => Storage | Storage[]): Promise<Data[]> {
  const ins = inputs.map((d) => b.upload(d));
  const r = f(ins);
  const outs = Array.isArray(r) ? r : [r];
  const data = await Promise.all(outs.map((s) => b.read(s)));
  [...ins, ...outs].forEach((s) => b.free(s));
  return data;
}

/** Runs the same primitive on both backends and compares every output. */
async function agree(
  what: string,
  inputs: Data[],
  f: (b: Backend, s: Storage[]) => Storage | Storage[],
  tol = 1e-5,
) {
  const r = await prim(cpu, inputs, (s) => f(cpu, s));
  const g = await prim(gpu, inputs, (s) => f(gpu, s));
  r.forEach((x, i) => assertClose(g[i], x, tol, `${what} output ${i}`));
}

function pool(shape: number[], k: number, s: number, pad: number): PoolParams {
  const [n, h, w, c] = shape;
  const oh = Math.floor((h + 2 * pad - k) / s) + 1, ow = Math.floor((w + 2 * pad - k) / s) + 1;
  return { n, h, w, c, kh: k, kw: k, sh: s, sw: s, ph: pad, pw: pad, oh, ow };
}

/** Distinct values in shuffled order (max pooling is not differentiable at ties). */
function distinct(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return Float32Array.from(v);
}

const POOLS: [number[], number, number, number][] = [
  [[2, 8, 8, 4], 2, 2, 0],
  [[2, 9, 7, 3], 2, 2, 0], // odd sizes: the last row/column is dropped
  [[1, 10, 9, 8], 3, 2, 1],
  [[2, 7, 7, 5], 3, 1, 1], // overlapping windows
  [[1, 11, 13, 12], 5, 3, 2],
  [[2, 6, 6, 1], 3, 3, 1],
];

for (const [shape, k, s, pad] of POOLS) {
  Deno.test(`pool webgpu vs cpu: x[${shape}] k${k} s${s} p${pad}`, async () => {
    const p = pool(shape, k, s, pad);
    const nx = shape.reduce((a, b) => a * b, 1), ny = p.n * p.oh * p.ow * p.c;
    const x = randn(nx, 1), gy = randn(ny, 2);
    // Integer-valued input: many ties, which must resolve to the first maximum on both backends.
    const ties = Float32Array.from(x, (v) => Math.round(v * 2));
    await agree("avgPool2d", [x], (b, [xs]) => b.avgPool2d(xs, p));
    await agree("avgPool2dGrad", [gy], (b, [g]) => b.avgPool2dGrad(g, p));
    for (const input of [x, ties]) {
      await agree("maxPool2d", [input], (b, [xs]) => {
        const r = b.maxPool2d(xs, p);
        return [r.y, r.idx];
      }, 0);
      const [, idx] = await prim(cpu, [input], ([xs]) => {
        const r = cpu.maxPool2d(xs, p);
        return [r.y, r.idx];
      });
      await agree("maxPool2dGrad", [gy, idx], (b, [g, i]) => b.maxPool2dGrad(g, i, p));
      await agree("maxPool2dGather", [x, idx], (b, [xs, i]) => b.maxPool2dGather(xs, i, p), 0);
    }
  });
}

Deno.test("avg pool counts padding (count_include_pad) and max pool never picks padding", async () => {
  const p = pool([1, 2, 2, 1], 2, 1, 1); // 3×3 output, corners see one real pixel
  const x = Float32Array.from([-1, -2, -3, -4]);
  for (const b of [cpu, gpu]) {
    const [avg] = await prim(b, [x], ([s]) => b.avgPool2d(s, p));
    assertClose(avg, [-0.25, -0.75, -0.5, -1, -2.5, -1.5, -0.75, -1.75, -1], 1e-6, `${b.name} avg`);
    const [y, idx] = await prim(b, [x], ([s]) => {
      const r = b.maxPool2d(s, p);
      return [r.y, r.idx];
    });
    assertClose(y, [-1, -1, -2, -1, -1, -2, -3, -3, -4], 0, `${b.name} max`);
    assertClose(idx, [0, 0, 1, 0, 0, 1, 2, 2, 3], 0, `${b.name} idx`);
  }
});

// ------------------------------------------------------------------ resize

function rp(shape: number[], oh: number, ow: number, mode: ResizeParams["mode"], ac = false): ResizeParams {
  const [n, h, w, c] = shape;
  return { n, h, w, c, oh, ow, mode, alignCorners: ac };
}

const RESIZES: ResizeParams[] = [
  rp([2, 5, 7, 3], 11, 4, "nearest"),
  rp([1, 6, 6, 4], 12, 12, "nearest"),
  rp([1, 9, 13, 4], 5, 3, "nearest"),
  rp([2, 5, 7, 3], 11, 4, "bilinear"),
  rp([2, 5, 7, 3], 11, 4, "bilinear", true),
  rp([1, 8, 8, 8], 32, 32, "bilinear"),
  rp([1, 32, 30, 4], 7, 9, "bilinear"),
  rp([1, 32, 30, 4], 7, 9, "bilinear", true),
  rp([1, 4, 5, 2], 1, 1, "bilinear", true),
  rp([1, 1, 1, 4], 3, 2, "bilinear"),
  rp([1, 7, 6, 1], 7, 6, "bilinear"),
];

for (const p of RESIZES) {
  Deno.test(`resize webgpu vs cpu: ${p.mode}${p.alignCorners ? " ac" : ""} [${p.n},${p.h},${p.w},${p.c}] → ${p.oh}×${p.ow}`, async () => {
    const x = randn(p.n * p.h * p.w * p.c, 3), gy = randn(p.n * p.oh * p.ow * p.c, 4);
    await agree("resize", [x], (b, [s]) => b.resize(s, p));
    await agree("resizeGrad", [gy], (b, [s]) => b.resizeGrad(s, p));
  });
}

Deno.test("resize matches PyTorch on hand-computed cases", async () => {
  const x = Float32Array.from([1, 2, 3, 4]);
  for (const b of [cpu, gpu]) {
    const [up] = await prim(b, [x], ([s]) => b.resize(s, rp([1, 2, 2, 1], 4, 4, "bilinear")));
    // F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    const want = [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4];
    assertClose(up, want, 1e-6, `${b.name} bilinear 2×`);
    const [ac] = await prim(b, [x], ([s]) => b.resize(s, rp([1, 2, 2, 1], 3, 3, "bilinear", true)));
    assertClose(ac, [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4], 1e-6, `${b.name} bilinear align_corners`);
    const [nn] = await prim(b, [x], ([s]) => b.resize(s, rp([1, 2, 2, 1], 3, 5, "nearest")));
    // src = floor(dst·in/out): rows 0,0,1; columns 0,0,0,1,1
    assertClose(nn, [1, 1, 1, 2, 2, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4], 0, `${b.name} nearest`);
  }
});

// ------------------------------------------------------------------ affine grid sample

function gp(shape: number[], oh?: number, ow?: number): GridSampleParams {
  const [n, h, w, c] = shape;
  return { n, h, w, c, oh: oh ?? h, ow: ow ?? w };
}

/** Per-image rotation/scale/shear/translation, some pushing samples far outside the image. */
function thetas(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = (r() - 0.5) * 2, s = 0.6 + r() * 0.9;
    t.push(s * Math.cos(a), -s * Math.sin(a) + (r() - 0.5) * 0.3, (r() - 0.5) * 1.2);
    t.push(s * Math.sin(a), s * Math.cos(a), (r() - 0.5) * 1.2);
  }
  return Float32Array.from(t);
}

const GRIDS: [GridSampleParams, Float32Array | null][] = [
  [gp([3, 9, 7, 3]), null],
  [gp([2, 8, 8, 4]), null],
  [gp([2, 10, 6, 8], 7, 9), null],
  [gp([1, 6, 6, 1], 12, 12), null],
  [gp([2, 5, 5, 4]), Float32Array.from([0, 0, 0.3, 0, 0, -0.2, 1, 0.5, 0, 2, 1, 0])], // singular maps
  [gp([1, 7, 7, 2]), Float32Array.from([0.05, 0, 0, 0, 3, 0.1])], // strong zoom in x, zoom out in y
];

for (const [p, th] of GRIDS) {
  Deno.test(`grid sample webgpu vs cpu: [${p.n},${p.h},${p.w},${p.c}] → ${p.oh}×${p.ow}${th ? " (special theta)" : ""}`, async () => {
    const x = randn(p.n * p.h * p.w * p.c, 5), gy = randn(p.n * p.oh * p.ow * p.c, 6);
    const t = th ?? thetas(p.n, 7);
    await agree("gridSample", [x, t], (b, [xs, ts]) => b.gridSample(xs, ts, p));
    await agree("gridSampleGrad", [gy, t], (b, [g, ts]) => b.gridSampleGrad(g, ts, p));
  });
}

Deno.test("grid sample: identity is exact; zoom and zero padding match PyTorch by hand", async () => {
  const p = gp([2, 5, 7, 3]);
  const x = randn(2 * 5 * 7 * 3, 8);
  const id = Float32Array.from([1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0]);
  const img = Float32Array.from([1, 2, 3, 4]);
  for (const b of [cpu, gpu]) {
    const [y] = await prim(b, [x, id], ([xs, ts]) => b.gridSample(xs, ts, p));
    assertClose(y, x, 1e-7, `${b.name} identity`);
    if (y.some((v, i) => v !== x[i])) throw new Error(`${b.name}: identity theta is not bit-exact`);
    const q = gp([1, 2, 2, 1]);
    // F.grid_sample(x, F.affine_grid(0.5·I, ...), align_corners=False): samples at (0.25|0.75)²
    const [zin] = await prim(
      b,
      [img, Float32Array.from([0.5, 0, 0, 0, 0.5, 0])],
      ([xs, ts]) => b.gridSample(xs, ts, q),
    );
    assertClose(zin, [1.75, 2.25, 2.75, 3.25], 1e-6, `${b.name} zoom in`);
    // theta = 2·I samples at (−0.5|1.5)²: half of each weight falls on the zero padding.
    const [zout] = await prim(
      b,
      [img, Float32Array.from([2, 0, 0, 0, 2, 0])],
      ([xs, ts]) => b.gridSample(xs, ts, q),
    );
    assertClose(zout, [0.25, 0.5, 0.75, 1], 1e-6, `${b.name} zoom out`);
    // Shift by one pixel to the left (tx = 2/w): column j reads j + 1, the last column reads padding.
    const [sh] = await prim(
      b,
      [img, Float32Array.from([1, 0, 1, 0, 1, 0])],
      ([xs, ts]) => b.gridSample(xs, ts, q),
    );
    assertClose(sh, [2, 0, 4, 0], 1e-6, `${b.name} shift`);
  }
});

// ------------------------------------------------------------------ gradients

for (const [bn, b] of [["cpu", cpu], ["webgpu", gpu]] as const) {
  const v = (n: number) => tensor(randn(n, 11), [n]);
  /** ⟨y², v⟩ for a fixed v: non-linear in x so second-order terms are non-trivial. */
  const score = (y: Tensor) => T.sum(T.mul(T.square(T.reshape(y, [y.size])), v(y.size)));

  Deno.test(`pool grads ${bn}: avgPool2d and maxPool2d, first and second order`, async () => {
    const ins = [{ data: randn(2 * 7 * 6 * 3, 12), shape: [2, 7, 6, 3] }];
    const avg = ([x]: Tensor[]) => score(T.avgPool2d(x, { kernel: 3, stride: 2, padding: 1 }));
    await gradCheck(b, avg, ins, { what: "avgPool2d" });
    await gradGradCheck(b, avg, ins, { what: "avgPool2d" });
    const dins = [{ data: distinct(2 * 7 * 6 * 4, 13), shape: [2, 7, 6, 4] }];
    const mx = ([x]: Tensor[]) => score(T.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }));
    await gradCheck(b, mx, dins, { what: "maxPool2d", eps: 1e-2 });
    await gradGradCheck(b, mx, dins, { what: "maxPool2d", eps: 1e-2 });
  });

  Deno.test(`resize grads ${bn}: nearest and bilinear, first and second order`, async () => {
    const ins = [{ data: randn(2 * 5 * 4 * 3, 14), shape: [2, 5, 4, 3] }];
    for (const [mode, ac] of [["nearest", false], ["bilinear", false], ["bilinear", true]] as const) {
      const f = ([x]: Tensor[]) => score(T.resize(x, 7, 3, mode, ac));
      await gradCheck(b, f, ins, { what: `resize ${mode} ${ac}` });
      await gradGradCheck(b, f, ins, { what: `resize ${mode} ${ac}` });
    }
  });

  Deno.test(`grid sample grads ${bn}: affineGridSample w.r.t. x, first and second order`, async () => {
    const theta = thetas(2, 15);
    const ins = [{ data: randn(2 * 6 * 5 * 4, 16), shape: [2, 6, 5, 4] }];
    const f = ([x]: Tensor[]) => score(T.affineGridSample(x, tensor(theta, [2, 2, 3]), 7, 4));
    await gradCheck(b, f, ins, { what: "affineGridSample" });
    await gradGradCheck(b, f, ins, { what: "affineGridSample" });
  });
}
