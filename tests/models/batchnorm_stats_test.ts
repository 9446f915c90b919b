/** Batch-norm input statistics: what the forward reports, and the gradient of a loss on them. */
import { ok } from "node:assert";
import { cpu, gpu, gradCheck, randn } from "../engine/helpers.ts";
import { backend, noGrad, setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { Rng } from "../../engine/random.ts";
import * as T from "../../engine/ops/mod.ts";
import { ConvNet } from "../../models/convnet.ts";
import { batchNormLayers, forwardWithBatchNormStats } from "../../models/batchnorm_stats.ts";
import type { Module } from "../../models/module.ts";

const tinyNet = () =>
  new ConvNet(new Rng(3), {
    channels: 1,
    classes: 3,
    imageSize: 8,
    width: 4,
    depth: 2,
    norm: "batchnorm",
    act: "relu",
    pool: "avgpooling",
  });

/** Gives the running statistics values away from 0/1 so the loss is not trivially symmetric. */
function perturbRunning(net: ConvNet): void {
  noGrad(() => {
    for (const [name, t] of net.namedBuffers()) {
      const v = randn(t.size, name.length, 0.5);
      const src = tensor(name.endsWith("running_var") ? v.map((x) => 1 + x) : v, t.shape);
      backend().map(
        [{ k: "in", i: 0 }],
        [{ s: src.storage, shape: t.shape }],
        t.shape,
        { into: [t.storage] },
      );
      src.dispose();
    }
  });
}

Deno.test("batch-norm stats: one entry per BN layer, in forward order, equal to the input's mean and variance", async () => {
  setBackend(gpu);
  const net = tinyNet().eval();
  try {
    ok(batchNormLayers(net).length === 2, `2 BN layers, got ${batchNormLayers(net).length}`);
    const x = tensor(randn(2 * 8 * 8, 5), [2, 8, 8, 1]);
    const conv0 = net.namedModules().find(([n]) => n === "features.0.conv")![1] as Module;
    const [mine, want] = tidy(() => {
      const { stats } = forwardWithBatchNormStats(net, x);
      ok(stats[0].name === "features.0.norm" && stats[1].name === "features.1.norm", "forward order");
      const h = conv0.forward(x);
      return [
        T.concat([stats[0].mean, stats[0].variance], 0),
        T.concat([T.mean(h, [0, 1, 2]), T.variance(h, [0, 1, 2])], 0),
      ];
    });
    const [a, b] = [await mine.f32(), await want.f32()];
    for (let i = 0; i < a.length; i++) ok(Math.abs(a[i] - b[i]) < 1e-5, `stat ${i}: ${a[i]} vs ${b[i]}`);
    // The taps are removed afterwards: a plain forward collects nothing and returns the same logits.
    ok(batchNormLayers(net).every(([, l]) => l.tap === null), "taps cleared");
  } finally {
    net.dispose();
  }
});

Deno.test("batch-norm stats: gradient of ‖σ² − σ²_run‖ + ‖μ − μ_run‖ w.r.t. the images matches finite differences", async () => {
  setBackend(cpu);
  const net = tinyNet().eval();
  perturbRunning(net);
  try {
    const loss = (xs: Tensor[]) => {
      const { logits, stats } = forwardWithBatchNormStats(net, xs[0]);
      let l: Tensor = T.mul(T.sum(logits), 0.1);
      for (const s of stats) {
        l = T.add(l, T.sqrt(T.sum(T.square(T.sub(s.runningVar, s.variance)))));
        l = T.add(l, T.sqrt(T.sum(T.square(T.sub(s.runningMean, s.mean)))));
      }
      return l;
    };
    await gradCheck(cpu, loss, [{ data: randn(3 * 8 * 8, 11), shape: [3, 8, 8, 1] }], {
      eps: 1e-2,
      tol: 3e-2,
      samples: 16,
      what: "BN statistics loss",
    });
  } finally {
    net.dispose();
  }
});
