/**
 * `deno run -A bench/conv_bench.ts [--sweep]`: GFLOPS of the three convolution primitives (forward,
 * input gradient, weight gradient) on WebGPU, by wall clock after `rt.sync()`, best of several
 * rounds (the least disturbed by other load). Default shape: 3×3 128→128, 14×14, batch 64, pad 1
 * (the figure in docs/webgpu-on-cpu.md); also ConvNet-sized layers. `--sweep` tries tiles.
 */
import { webgpuBackend } from "../engine/webgpu/backend.ts";
import { CONV_SOFTWARE, type ConvTuning, setConvTuning } from "../engine/webgpu/extended.ts";
import { convParams } from "../engine/ops/conv.ts";
import type { ConvParams, Storage } from "../engine/backend.ts";

const b = await webgpuBackend();

async function timeIt(fn: () => Storage, reps: number, rounds = 4): Promise<number> {
  b.free(fn());
  await b.rt.sync();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) b.free(fn());
    await b.rt.sync();
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  return best;
}

function rand(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
}

async function measure(label: string, p: ConvParams, reps: number): Promise<void> {
  const flops = 2 * p.n * p.oh * p.ow * p.cout * p.kh * p.kw * (p.cin / p.groups);
  const x = b.upload(rand(p.n * p.h * p.w * p.cin));
  const w = b.upload(rand(p.cout * p.kh * p.kw * (p.cin / p.groups)));
  const gy = b.upload(rand(p.n * p.oh * p.ow * p.cout));
  const tf = await timeIt(() => b.conv2d(x, w, p), reps);
  const ti = await timeIt(() => b.conv2dInputGrad(gy, w, p), reps);
  const tw = await timeIt(() => b.conv2dWeightGrad(x, gy, p), reps);
  [x, w, gy].forEach((s) => b.free(s));
  const g = (t: number) =>
    `${(flops / t / 1e9).toFixed(1).padStart(5)} GFLOPS ${(t * 1e3).toFixed(1).padStart(6)} ms`;
  console.log(`${label.padEnd(34)} fwd ${g(tf)} | dx ${g(ti)} | dw ${g(tw)}`);
}

const SHAPES: [string, ConvParams, number][] = [
  ["3x3 128→128 14×14 n64", convParams([64, 14, 14, 128], [128, 3, 3, 128], { padding: 1 }), 4],
  ["ConvNet L2 3x3 128→128 16×16 n100", convParams([100, 16, 16, 128], [128, 3, 3, 128], { padding: 1 }), 3],
  ["ConvNet L3 3x3 128→128 8×8 n100", convParams([100, 8, 8, 128], [128, 3, 3, 128], { padding: 1 }), 4],
  ["ConvNet L1 3x3 3→128 32×32 n100", convParams([100, 32, 32, 3], [128, 3, 3, 3], { padding: 1 }), 3],
  ["ConvNet-w32 L1 1→32 28×28 p3 n100", convParams([100, 28, 28, 1], [32, 3, 3, 1], { padding: 3 }), 5],
  ["ConvNet-w32 L2 3x3 32→32 16×16 n100", convParams([100, 16, 16, 32], [32, 3, 3, 32], { padding: 1 }), 5],
  ["3x3 s2 64→128 16×16 n64", convParams([64, 16, 16, 64], [128, 3, 3, 64], { padding: 1, stride: 2 }), 4],
  [
    "depthwise 3x3 128 16×16 n100",
    convParams([100, 16, 16, 128], [128, 3, 3, 1], { padding: 1, groups: 128 }),
    4,
  ],
];

console.log(`adapter: ${b.info.description} (${b.info.backend})`);
{
  // Calibration under whatever else loads the machine: the engine's own NT matmul (≈40 GFLOPS idle).
  const n = 1024;
  const a = b.upload(rand(n * n)), c = b.upload(rand(n * n));
  const mp = { batch: 1, m: n, n, k: n, transA: false, transB: true, strideA: 0, strideB: 0 };
  const t = await timeIt(() => b.matmul(a, c, mp), 3);
  console.log(`reference matmul NT ${n}³: ${(2 * n ** 3 / t / 1e9).toFixed(1)} GFLOPS`);
  b.free(a);
  b.free(c);
}
if (Deno.args.includes("--sweep")) {
  const [label, p, reps] = SHAPES[0];
  for (
    const [tm, tn, wg] of [[16, 16, 8], [8, 16, 8], [16, 8, 8], [8, 8, 8], [16, 16, 4], [32, 8, 8], [
      8,
      32,
      8,
    ]]
  ) {
    const t: ConvTuning = { ...CONV_SOFTWARE, gemm: { tm, tn, wg }, gemmLarge: { tm, tn, wg } };
    setConvTuning(t);
    await measure(`${label} tile ${tm}×${tn} wg${wg}`, p, reps);
  }
  setConvTuning(null);
} else {
  for (const [label, p, reps] of SHAPES) await measure(label, p, reps);
}
