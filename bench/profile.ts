/**
 * `DD_PROFILE=1 deno run -A bench/profile.ts [--steps N] [--batch B] [--model convnet3|dit]`: device
 * time per op of ConvNet-3 (or the small DiT's) training steps (the bench workloads), from GPU timestamps
 * around every dispatch. Each dispatch then runs in its own pass, so totals include per-pass overhead that
 * batched runs avoid.
 */
import { Command } from "commander";
import { webgpuBackend } from "../engine/webgpu/backend.ts";
import { setBackend, tensor, tidy } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { createModel } from "../models/registry.ts";
import { makeOptimizer } from "../evaluator/optimizer.ts";
import { AdamW } from "../engine/optim.ts";
import { DiT } from "../models/dit.ts";
import { ditRecipe } from "../models/foundation.ts";
import { diffusionLoss, linearBetas, makeSchedule } from "../diffusion/mod.ts";

const opts = new Command("profile").option("--steps <n>", "timed steps", "3").option(
  "--batch <n>",
  "batch",
  "100",
)
  .option("--model <name>", "a zoo model id, or dit (the small DiT's diffusion training step)", "convnet3")
  .parse(["deno", "profile", ...Deno.args]).opts<{ steps: string; batch: string; model: string }>();
const b = await webgpuBackend();
if (!b.rt.profile) throw new Error("run with DD_PROFILE=1 on an adapter with timestamp-query");
setBackend(b);
const rng = new Rng(3);
const batch = Number(opts.batch);
let step: () => void;
if (opts.model === "dit") {
  // The small DiT `dd pretrain dit` trains: one hybrid-loss step on 8×8×4 latents.
  const cfg = ditRecipe("fashion-mnist", "quick").model;
  const dit = new DiT(rng.fork(1), cfg);
  const opt = new AdamW(dit.parameters(), { lr: 1e-4, weightDecay: 0 });
  const s = makeSchedule(linearBetas(1000));
  const x0 = rng.normal([batch, cfg.inputSize, cfg.inputSize, cfg.inChannels]).keep();
  const y = tensor(Array.from({ length: batch }, (_, i) => i % (cfg.numClasses + 1)), [batch], "i32").keep();
  let k = 0;
  step = () =>
    tidy(() => {
      const l = diffusionLoss(dit, s, x0, y, rng.fork(k++));
      opt.step(grad(l.loss, dit.parameters()));
    });
} else {
  const model = createModel(opts.model, rng, { channels: 1, classes: 10, imageSize: 28 });
  const opt = makeOptimizer({ kind: "sgd", lr: 0.01, momentum: 0.9, weightDecay: 5e-4 }, model.parameters());
  const xb = rng.normal([batch, 28, 28, 1]).keep();
  const yb = tensor(Array.from({ length: batch }, (_, i) => i % 10), [batch], "i32").keep();
  step = () =>
    tidy(() => {
      const loss = T.crossEntropy(model.forward(xb), yb);
      opt.step(grad(loss, model.parameters()));
    });
}
step();
await b.rt.profileReport();
const t0 = performance.now();
for (let i = 0; i < Number(opts.steps); i++) step();
const rows = await b.rt.profileReport();
const wall = performance.now() - t0;
const total = rows.reduce((s, r) => s + r.ms, 0);
const steps = Number(opts.steps);
console.log(
  `${opts.model} batch ${batch}: wall ${(wall / steps).toFixed(1)} ms/step, device ${
    (total / steps).toFixed(1)
  } ms/step`,
);
for (const r of rows) {
  console.log(
    `${(r.ms / steps).toFixed(2).padStart(9)} ms ${(100 * r.ms / total).toFixed(1).padStart(5)}%  ×${
      String(r.count / steps).padEnd(4)
    } ${r.op}`,
  );
}
