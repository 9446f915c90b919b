/**
 * `deno task bench [--json]`: engine throughput on this machine — matmul and conv GFLOPS,
 * ConvNet-3 training (batch 100 images/s, batch 10 steps/s) and inference images/s, the small DiT's
 * training and DDIM sampling images/s, D³HR's group-sampling seconds per class against m and the IPC, the
 * wall time of a tenth of a paper-protocol evaluation of an MNIST IPC 1 set (bench/paper_eval_bench.ts), IGDS's
 * sampling time against Minimax's (bench/igds_bench.ts, beside the paper's ratio) —
 * and, where PyTorch is importable, the same workloads in PyTorch timed in the same run, with ratios
 * (`*_ratio_vs_torch`: throughput ratios, higher is better; `paper_eval_ipc1_time_ratio_vs_torch`: a
 * wall-time ratio, lower is better). Wall-clock timing after a device sync; each figure is the best of a few
 * repetitions (the least disturbed by other load on the machine).
 */
import { Command } from "commander";
import { webgpuBackend } from "../engine/webgpu/backend.ts";
import { setBackend, tensor, tidy } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { createModel } from "../models/registry.ts";
import { makeOptimizer } from "../evaluator/optimizer.ts";
import { fitMicroBatches } from "../evaluator/train.ts";
import type { ConvNet } from "../models/convnet.ts";
import { buildNet } from "../baselines/gradient_matching.ts";
import { trajectoryLoss } from "../baselines/mtt.ts";
import { ditBench, torchDit } from "./dit_bench.ts";
import { d3hrBench } from "./d3hr_bench.ts";
import { paperEvalBench, torchPaperEval } from "./paper_eval_bench.ts";
import { igdsBench } from "./igds_bench.ts";

const b = await webgpuBackend();
setBackend(b);

/** Seconds per call of `fn` (device work included), best of `rounds` rounds of `reps` calls. */
async function timeIt(fn: () => void, reps: number, rounds = 3): Promise<number> {
  fn();
  await b.rt.sync();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    await b.rt.sync();
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  return best;
}

async function matmulGflops(n: number, transB: boolean): Promise<number> {
  const r = new Rng(1);
  const a = r.uniform([n, n]), c = r.uniform([n, n]);
  const s = await timeIt(() => T.matmul(a, c, { transB }).dispose(), n >= 1024 ? 2 : n >= 512 ? 6 : 30);
  a.dispose();
  c.dispose();
  return (2 * n * n * n) / s / 1e9;
}

async function convGflops(): Promise<{ fwd: number; inputGrad: number; weightGrad: number }> {
  const r = new Rng(2);
  const x = r.uniform([64, 14, 14, 128]).requireGrad(),
    w = r.uniform([128, 3, 3, 128], -0.05, 0.05).requireGrad();
  const flops = 2 * 64 * 14 * 14 * 128 * 128 * 9;
  const fwd = await timeIt(() => tidy(() => void T.conv2d(x, w, { padding: 1 })), 3);
  const gy = r.uniform([64, 14, 14, 128]);
  const both = await timeIt(
    () => tidy(() => void grad(T.conv2d(x, w, { padding: 1 }), [x, w], { gradOutput: gy })),
    2,
  );
  const onlyX = await timeIt(
    () => tidy(() => void grad(T.conv2d(x, w.detach(), { padding: 1 }), [x], { gradOutput: gy })),
    2,
  );
  [x, w, gy].forEach((t) => t.dispose());
  return {
    fwd: flops / fwd / 1e9,
    inputGrad: flops / (onlyX - fwd) / 1e9,
    weightGrad: flops / (both - onlyX) / 1e9,
  };
}

async function convnet3(): Promise<{ train: number; trainB10: number; infer: number; inferChunks: number }> {
  const rng = new Rng(3);
  const model = createModel("convnet3", rng, { channels: 1, classes: 10, imageSize: 28 });
  const opt = makeOptimizer({ kind: "sgd", lr: 0.01, momentum: 0.9, weightDecay: 5e-4 }, model.parameters());
  const xb = rng.normal([100, 28, 28, 1]).keep();
  const yb = tensor(Array.from({ length: 100 }, (_, i) => i % 10), [100], "i32").keep();
  const step = () =>
    tidy(() => {
      const loss = T.crossEntropy(model.forward(xb), yb);
      opt.step(grad(loss, model.parameters()));
    });
  const tTrain = await timeIt(step, 3);
  // DD's real size: an IPC 1 set of 10 classes trains on 10 images a step.
  const x10 = rng.normal([10, 28, 28, 1]).keep();
  const y10 = tensor(Array.from({ length: 10 }, (_, i) => i), [10], "i32").keep();
  const step10 = () =>
    tidy(() => {
      const loss = T.crossEntropy(model.forward(x10), y10);
      opt.step(grad(loss, model.parameters()));
    });
  const tTrain10 = await timeIt(step10, 10);
  model.eval();
  const xi = rng.normal([500, 28, 28, 1]).keep();
  // A 500-image batch of ConvNet-3 activations (500·128·32² floats) exceeds llvmpipe's 128 MiB binding,
  // so inference runs in the fewest equal chunks the device allows, as the evaluator does.
  let chunks = 1;
  const infer = () =>
    fitMicroBatches(chunks, (parts) => {
      chunks = parts;
      const size = Math.ceil(500 / parts);
      for (let b = 0; b < 500; b += size) {
        tidy(() => void model.forward(T.slice(xi, [b, 0, 0, 0], [Math.min(size, 500 - b), -1, -1, -1])));
      }
    });
  const tInfer = await timeIt(infer, 1);
  [xb, yb, x10, y10, xi].forEach((t) => t.dispose());
  opt.dispose();
  model.dispose();
  return { train: 100 / tTrain, trainB10: 1 / tTrain10, infer: 500 / tInfer, inferChunks: chunks };
}

/**
 * A gradient-matching image update (DC / DSA / IDC inner step; MTT's unroll has the same shape): the
 * synthetic set's parameter gradients are built differentiably, matched to a real batch's, and the
 * loss is differentiated back to the images through the second-order graph. ConvNet-3 width 32 on
 * 100 synthetic and 128 real 28 × 28 images (quick's MNIST IPC-10 setting).
 */
async function matchingStep(): Promise<{ stepsPerS: number; kernelsPerStep: number }> {
  const rng = new Rng(4);
  const model = createModel("convnet3-w32", rng, { channels: 1, classes: 10, imageSize: 28 });
  const params = model.parameters();
  const xs = rng.normal([100, 28, 28, 1]).keep().requireGrad();
  const ys = tensor(Array.from({ length: 100 }, (_, i) => i % 10), [100], "i32").keep();
  const xr = rng.normal([128, 28, 28, 1]).keep();
  const yr = tensor(Array.from({ length: 128 }, (_, i) => i % 10), [128], "i32").keep();
  const step = () =>
    tidy(() => {
      const gReal = grad(T.crossEntropy(model.forward(xr), yr), params);
      const gSyn = grad(T.crossEntropy(model.forward(xs), ys), params, { createGraph: true });
      const dist = gSyn.map((g, i) => T.sum(T.square(T.sub(g, gReal[i]))));
      void grad(dist.reduce((a, d) => T.add(a, d)), [xs]);
    });
  const d0 = b.rt.stats.dispatches;
  step();
  const kernelsPerStep = b.rt.stats.dispatches - d0;
  const t = await timeIt(step, 2);
  [xs, ys, xr, yr].forEach((x) => x.dispose());
  model.dispose();
  return { stepsPerS: 1 / t, kernelsPerStep };
}

/**
 * One MTT iteration's gradient: a ConvNet-3 (width 32) student unrolled for `synSteps` SGD steps on
 * 100 synthetic 28 × 28 images (quick's IPC 10 unrolls 5), the parameter-distance loss differentiated
 * back to the images through every step. Normalisations and broadcasts make this graph heavier in
 * elementwise and reduction kernels than the matching step. Peak device memory grows linearly with the
 * unroll (each step's graph is kept for the backward pass).
 */
async function trajectoryStep(
  synSteps: number,
): Promise<{ stepsPerS: number; kernelsPerStep: number; peakMb: number }> {
  const rng = new Rng(5);
  const net = buildNet("convnet3", 32, rng, { channels: 1, classes: 10, imageSize: 28 }) as ConvNet;
  const theta0 = net.parameters().map((p) => p.detach().keep());
  const target = theta0.map((p) => T.add(p, T.mul(rng.normal(p.shape), 0.01)).keep());
  const xs = rng.normal([100, 28, 28, 1]).keep().requireGrad();
  const alpha = tensor([0.01], []).keep().requireGrad();
  const labels = Int32Array.from({ length: 100 }, (_, i) => Math.floor(i / 10));
  const step = () =>
    tidy(() => {
      const opts = { synSteps, batchSyn: null, dsa: null, rng: new Rng(6) };
      void grad(trajectoryLoss(net.cfg, theta0, target, xs, labels, alpha, opts), [xs, alpha]);
    });
  const d0 = b.rt.stats.dispatches, live0 = b.rt.stats.liveBytes;
  b.rt.stats.peakLiveBytes = live0;
  step();
  const kernelsPerStep = b.rt.stats.dispatches - d0;
  const peakMb = (b.rt.stats.peakLiveBytes - live0) / 2 ** 20;
  const t = await timeIt(step, 1, 2);
  [xs, alpha, ...theta0, ...target].forEach((x) => x.dispose());
  net.dispose();
  return { stepsPerS: 1 / t, kernelsPerStep, peakMb };
}

interface TorchNumbers {
  torch_version: string;
  threads: number;
  torch_train_img_per_s: number;
  torch_train_b10_step_per_s: number;
  torch_infer_img_per_s: number;
}

/** Runs bench/torch_convnet.py with the first Python that can import torch (Debian's python3-torch). */
async function torchBaseline(): Promise<TorchNumbers | { torch_unavailable: string }> {
  const script = new URL("./torch_convnet.py", import.meta.url).pathname;
  for (const py of ["python3", "/usr/bin/python3"]) {
    try {
      const out = await new Deno.Command(py, { args: [script, "2"], stdout: "piped", stderr: "piped" })
        .output();
      if (out.success) return JSON.parse(new TextDecoder().decode(out.stdout)) as TorchNumbers;
    } catch { /* not installed: try the next */ }
  }
  return { torch_unavailable: "no python3 with torch (Debian: apt-get install python3-torch)" };
}

const cmd = new Command("bench").option("--json", "print one JSON object").option(
  "--no-torch",
  "skip the PyTorch baseline",
)
  .option("--no-paper-eval", "skip the paper-protocol evaluation (bench/paper_eval_bench.ts)")
  .parse(["deno", "bench", ...Deno.args]);
const opts = cmd.opts<{ json?: boolean; torch: boolean; paperEval: boolean }>();

const matmul: Record<string, number> = {};
const matmulNT: Record<string, number> = {};
for (const n of [256, 512, 1024]) {
  matmul[n] = await matmulGflops(n, false);
  matmulNT[n] = await matmulGflops(n, true);
}
const conv = await convGflops();
const net = await convnet3();
const matching = await matchingStep();
const trajectory = await trajectoryStep(2);
const unroll5 = await trajectoryStep(5);
const dit = await ditBench(b, timeIt);
const d3hr = await d3hrBench();
const paperEval = opts.paperEval
  ? await paperEvalBench(b)
  : { paper_eval_unavailable: "skipped (--no-paper-eval)" };
const igds = await igdsBench(b);
const torch = opts.torch ? await torchBaseline() : { torch_unavailable: "skipped (--no-torch)" };
const torchDitNumbers = opts.torch ? await torchDit() : { torch_dit_unavailable: "skipped (--no-torch)" };
const torchEval = opts.torch && "paper_eval_ipc1_s" in paperEval
  ? await torchPaperEval(paperEval.paper_eval_ipc1_test_passes)
  : { torch_paper_eval_unavailable: opts.torch ? "no ddrepro figure to compare" : "skipped (--no-torch)" };
const result: Record<string, unknown> = {
  adapter: `${b.info.description} (${b.info.backend}${b.info.software ? ", software" : ""})`,
  matmul_gflops: matmul,
  matmul_nt_gflops: matmulNT,
  conv3x3_gflops: conv.fwd,
  conv3x3_input_grad_gflops: conv.inputGrad,
  conv3x3_weight_grad_gflops: conv.weightGrad,
  convnet3_train_img_per_s: net.train,
  convnet3_train_b10_step_per_s: net.trainB10,
  convnet3_infer_img_per_s: net.infer,
  convnet3_infer_chunks: net.inferChunks,
  matching_step_per_s: matching.stepsPerS,
  matching_step_kernels: matching.kernelsPerStep,
  trajectory_step_per_s: trajectory.stepsPerS,
  trajectory_step_kernels: trajectory.kernelsPerStep,
  trajectory_unroll5_per_s: unroll5.stepsPerS,
  trajectory_unroll5_kernels: unroll5.kernelsPerStep,
  trajectory_unroll5_peak_mb: unroll5.peakMb,
  ...dit,
  ...d3hr,
  ...paperEval,
  ...igds,
  ...torch,
  ...torchDitNumbers,
  ...torchEval,
};
if ("torch_train_img_per_s" in torch) {
  result.train_ratio_vs_torch = net.train / torch.torch_train_img_per_s;
  result.train_b10_ratio_vs_torch = net.trainB10 / torch.torch_train_b10_step_per_s;
  result.infer_ratio_vs_torch = net.infer / torch.torch_infer_img_per_s;
}
if ("torch_dit_train_img_per_s" in torchDitNumbers) {
  result.dit_train_ratio_vs_torch = dit.dit_train_img_per_s / torchDitNumbers.torch_dit_train_img_per_s;
  result.dit_ddim50_ratio_vs_torch = dit.dit_ddim50_cfg_img_per_s /
    torchDitNumbers.torch_dit_ddim50_img_per_s;
}
if ("paper_eval_ipc1_s" in paperEval && "torch_paper_eval_ipc1_s" in torchEval) {
  // ddrepro's wall time over PyTorch's (lower is better; the target is ≤ 1.5).
  result.paper_eval_ipc1_time_ratio_vs_torch = paperEval.paper_eval_ipc1_s /
    torchEval.torch_paper_eval_ipc1_s;
}
if (opts.json) console.log(JSON.stringify(result));
else {
  const f = (
    v: unknown,
  ) => (typeof v === "number"
    ? v.toFixed(2)
    : typeof v === "object"
    ? JSON.stringify(v, (_, x) => typeof x === "number" ? +x.toFixed(1) : x)
    : String(v));
  for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(30)} ${f(v)}`);
}
