/**
 * Convolution: every WGSL kernel against the CPU reference on awkward shapes, the reference against
 * a direct definition, and first/second-order gradient checks of the differentiable wrappers.
 */
import { assertClose, cpu, gpu, gradCheck, gradGradCheck, randn } from "./helpers.ts";
import type { Backend, ConvParams } from "../../engine/backend.ts";
import { type Conv2dOptions, convParams } from "../../engine/ops/conv.ts";
import * as T from "../../engine/ops/mod.ts";
import { type Tensor, tensor } from "../../engine/tensor.ts";
import { CONV_GPU, CONV_SOFTWARE, setConvTuning } from "../../engine/webgpu/extended.ts";

interface Case {
  x: number[];
  w: number[];
  o: Conv2dOptions;
}

const CASES: Case[] = [
  { x: [2, 7, 6, 8], w: [12, 3, 3, 8], o: { padding: 1 } },
  { x: [2, 28, 28, 1], w: [5, 3, 3, 1], o: { padding: 3 } }, // ConvNet on MNIST: 1 channel, pad 3
  { x: [3, 9, 10, 3], w: [7, 3, 3, 3], o: { padding: 1 } }, // RGB input, scalar path
  { x: [2, 9, 11, 6], w: [10, 3, 3, 6], o: { stride: 2, padding: 1 } },
  { x: [2, 8, 9, 8], w: [9, 1, 1, 8], o: {} },
  { x: [2, 11, 10, 4], w: [8, 5, 5, 4], o: { padding: 2, stride: [2, 1] } },
  { x: [1, 13, 12, 5], w: [6, 7, 7, 5], o: { padding: 3, stride: 2 } },
  { x: [2, 10, 9, 8], w: [8, 3, 3, 8], o: { padding: 2, dilation: 2 } },
  { x: [2, 10, 9, 6], w: [10, 3, 3, 3], o: { padding: 1, groups: 2 } },
  { x: [2, 9, 9, 16], w: [24, 3, 3, 8], o: { padding: 1, groups: 2, stride: 2 } },
  { x: [2, 9, 8, 8], w: [8, 3, 3, 1], o: { padding: 1, groups: 8 } }, // depthwise, vec4
  { x: [2, 9, 8, 6], w: [6, 5, 5, 1], o: { padding: 2, groups: 6, stride: 2 } }, // depthwise, scalar
  { x: [1, 8, 8, 4], w: [8, 3, 3, 1], o: { padding: 1, groups: 4 } }, // channel multiplier 2
  { x: [2, 6, 7, 8], w: [20, 3, 2, 8], o: { padding: [4, 0], dilation: [1, 2] } }, // padding > k−1
  { x: [3, 7, 7, 40], w: [36, 3, 3, 40], o: { padding: 1 } }, // several tiles, ragged column tile
  { x: [2, 9, 11, 2], w: [36, 3, 3, 2], o: { padding: 1, stride: 2 } }, // thin: vec4 stores, ragged block
  { x: [2, 10, 9, 1], w: [8, 5, 5, 1], o: { padding: 4, dilation: 2 } }, // thin: 25 taps, padding > k−1
  { x: [1, 9, 8, 3], w: [6, 5, 5, 3], o: { padding: 2 } }, // 75 tap-channels: too many for thin, padded
];

const name = (c: Case) => `x[${c.x}] w[${c.w}] ${JSON.stringify(c.o)}`;

async function run(b: Backend, f: (b: Backend) => ReturnType<Backend["conv2d"]>): Promise<Float32Array> {
  const s = f(b);
  const d = (await b.read(s)) as Float32Array;
  b.free(s);
  return d;
}

function upload(b: Backend, d: Float32Array[]) {
  return d.map((a) => b.upload(a));
}

/** The three conv primitives on one backend. */
async function primitives(b: Backend, p: ConvParams, x: Float32Array, w: Float32Array, gy: Float32Array) {
  const [xs, ws, gs] = upload(b, [x, w, gy]);
  const y = await run(b, (b) => b.conv2d(xs, ws, p));
  const gx = await run(b, (b) => b.conv2dInputGrad(gs, ws, p));
  const gw = await run(b, (b) => b.conv2dWeightGrad(xs, gs, p));
  [xs, ws, gs].forEach((s) => b.free(s));
  return { y, gx, gw };
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

Deno.test("conv reference matches the definition on a hand example", async () => {
  // 1 image 3×3×1, 2×2 kernel of ones, stride 1, no padding: sums of 2×2 blocks.
  const p = convParams([1, 3, 3, 1], [1, 2, 2, 1]);
  const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const r = await primitives(cpu, p, x, new Float32Array(4).fill(1), Float32Array.from([1, 0, 0, 1]));
  assertClose(r.y, [12, 16, 24, 28], 1e-7, "y");
  assertClose(r.gx, [1, 1, 0, 1, 2, 1, 0, 1, 1], 1e-7, "gx");
  assertClose(r.gw, [6, 8, 12, 14], 1e-7, "gw");
});

for (const c of CASES) {
  Deno.test(`conv webgpu vs cpu: ${name(c)}`, async () => {
    const p = convParams(c.x, c.w, c.o);
    const x = randn(size(c.x), 1), w = randn(size(c.w), 2);
    const gy = randn(p.n * p.oh * p.ow * p.cout, 3);
    const r = await primitives(cpu, p, x, w, gy);
    const g = await primitives(gpu, p, x, w, gy);
    assertClose(g.y, r.y, 1e-4, "conv2d");
    assertClose(g.gx, r.gx, 1e-4, "conv2dInputGrad");
    assertClose(g.gw, r.gw, 1e-4, "conv2dWeightGrad");
  });
}

Deno.test("conv webgpu vs cpu with the real-GPU tiling (4×4 tiles, 64-lane workgroups)", async () => {
  setConvTuning(CONV_GPU);
  try {
    for (const c of CASES) {
      const p = convParams(c.x, c.w, c.o);
      const x = randn(size(c.x), 1), w = randn(size(c.w), 2);
      const gy = randn(p.n * p.oh * p.ow * p.cout, 3);
      const r = await primitives(cpu, p, x, w, gy);
      const g = await primitives(gpu, p, x, w, gy);
      assertClose(g.y, r.y, 1e-4, `conv2d ${name(c)}`);
      assertClose(g.gx, r.gx, 1e-4, `conv2dInputGrad ${name(c)}`);
      assertClose(g.gw, r.gw, 1e-4, `conv2dWeightGrad ${name(c)}`);
    }
  } finally {
    setConvTuning(null);
  }
});

Deno.test("conv webgpu vs cpu with the large llvmpipe tile (32×32, used for big passes)", async () => {
  // Ragged rows and columns (40 channels: a full and a partial 32-column block), the padded RGB
  // path with a strided (phased) adjoint, and dilation with a stride-1 adjoint.
  const cases: Case[] = [CASES[14], CASES[3], CASES[7]];
  setConvTuning({ ...CONV_SOFTWARE, gemm: CONV_SOFTWARE.gemmLarge });
  try {
    for (const c of cases) {
      const p = convParams(c.x, c.w, c.o);
      const x = randn(size(c.x), 1), w = randn(size(c.w), 2);
      const gy = randn(p.n * p.oh * p.ow * p.cout, 3);
      const r = await primitives(cpu, p, x, w, gy);
      const g = await primitives(gpu, p, x, w, gy);
      assertClose(g.y, r.y, 1e-4, `conv2d ${name(c)}`);
      assertClose(g.gx, r.gx, 1e-4, `conv2dInputGrad ${name(c)}`);
    }
  } finally {
    setConvTuning(null);
  }
});

Deno.test("conv webgpu vs cpu: long weight-gradient reduction (many chunks)", async () => {
  const p = convParams([16, 24, 24, 8], [8, 3, 3, 8], { padding: 1 });
  const x = randn(16 * 24 * 24 * 8, 4), w = randn(8 * 9 * 8, 5), gy = randn(16 * 24 * 24 * 8, 6);
  const r = await primitives(cpu, p, x, w, gy);
  const g = await primitives(gpu, p, x, w, gy);
  assertClose(g.gw, r.gw, 1e-4, "conv2dWeightGrad");
  assertClose(g.y, r.y, 1e-4, "conv2d");
});

const GRAD_CASES: Case[] = [
  { x: [2, 5, 5, 3], w: [4, 3, 3, 3], o: { padding: 1 } },
  { x: [2, 5, 4, 1], w: [4, 3, 3, 1], o: { padding: 2 } }, // thin kernels in both orders (MNIST-like)
  { x: [1, 7, 6, 4], w: [4, 3, 3, 2], o: { padding: 1, stride: 2, groups: 2 } },
  { x: [1, 6, 6, 4], w: [4, 3, 3, 1], o: { padding: 2, dilation: 2, groups: 4 } },
];

for (const [bn, b] of [["cpu", cpu], ["webgpu", gpu]] as const) {
  for (const c of GRAD_CASES) {
    Deno.test(`conv grad ${bn}: ${name(c)}`, async () => {
      const p = convParams(c.x, c.w, c.o);
      const v = randn(p.n * p.oh * p.ow * p.cout, 7);
      // A non-linear scalar so the second-order terms are non-trivial.
      const f = ([x, w]: Tensor[]) =>
        T.sum(T.square(T.mul(T.conv2d(x, w, c.o), tensor(v, [p.n, p.oh, p.ow, p.cout]))));
      const ins = [{ data: randn(size(c.x), 8), shape: c.x }, { data: randn(size(c.w), 9, 0.5), shape: c.w }];
      await gradCheck(b, f, ins, { what: "conv2d" });
      await gradGradCheck(b, f, ins, { what: "conv2d" });
    });
  }
}
