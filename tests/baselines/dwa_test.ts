/**
 * DWA: the weight adjustment climbs the batch's loss by exactly ρ, recovery starts from the seed's real
 * draw one image per class per batch, and the teacher comes back unchanged for relabelling.
 */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { setBackend, tensor, tidy } from "../../engine/tensor.ts";
import * as T from "../../engine/ops/mod.ts";
import { adjustWeights, type DwaConfig, dwaMethod } from "../../baselines/dwa.ts";
import { teacherNet } from "../../baselines/teacher_net.ts";
import { indicesByClass, realDraw, realDrawRng } from "../../baselines/real_images.ts";
import { splitToDevice } from "../../evaluator/device_data.ts";
import { silentProgress } from "../../data/progress.ts";
import { scaleConfig } from "../../experiments/budget.ts";
import { tinyDataset } from "../runner/_fixtures.ts";

setBackend(gpu);
Deno.env.set("DD_CACHE", await Deno.makeTempDir({ prefix: "dd-dwa-test-" }));

const dataset = tinyDataset("mnist", 12, 2);
const config: DwaConfig = {
  ...scaleConfig(dwaMethod, dwaMethod.defaults("mnist", 2), "smoke", 2),
  teacherEpochs: 10,
  teacherBatchSize: 16,
  iterations: 20,
  jitter: 1,
};
const run = (c: DwaConfig) =>
  dwaMethod.distill({ dataset, ipc: 2, seed: 3, config: c, profile: "smoke", progress: silentProgress });

Deno.test("dwa: the CIFAR recipe of the official scripts", () => {
  const d = dwaMethod.defaults("cifar10", 10) as DwaConfig;
  ok(d.rho === 0.015 && d.adjustSteps === 12 && d.rVar === 11 && d.rBn === 0.01 && d.lr === 0.25, "CIFAR");
  ok(d.iterations === 1000 && d.jitter === 4 && d.augment === "none", "CIFAR recover");
  const i = dwaMethod.defaults("imagenet-1k", 10) as DwaConfig;
  ok(i.adjustSteps === 15 && i.rVar === 2 && i.iterations === 2000 && i.augment === "rrc-flip", "ImageNet");
});

Deno.test("dwa: the adjustment moves the weights by ρ along the loss's ascent", async () => {
  const teacher = await teacherNet(dataset, config, silentProgress);
  try {
    const idx = Int32Array.from({ length: 10 }, (_, c) => indicesByClass(dataset.train.labels, 10)[c][0]);
    const { x, y } = splitToDevice(dataset, dataset.train, idx);
    const labels = tensor(y, [y.length], "i32");
    const flat = () => tidy(() => T.concat(teacher.parameters().map((p) => T.reshape(p, [p.size])), 0));
    const ce = async () => (await tidy(() => T.crossEntropy(teacher.forward(x), labels)).f32())[0];
    const before = await flat().f32(), ceBefore = await ce();
    adjustWeights(teacher, x, labels, 0.5, 1);
    const after = await flat().f32(), ceAfter = await ce();
    let d2 = 0;
    for (let i = 0; i < before.length; i++) d2 += (after[i] - before[i]) ** 2;
    ok(Math.abs(Math.sqrt(d2) - 0.5) < 1e-3, `one step moves the weights by ρ: ${Math.sqrt(d2)}`);
    ok(ceAfter > ceBefore, `the batch's CE rises: ${ceBefore} → ${ceAfter}`);
    adjustWeights(teacher, x, labels, 0.5, 4);
    const more = await flat().f32();
    let e2 = 0;
    for (let i = 0; i < after.length; i++) e2 += (more[i] - after[i]) ** 2;
    ok(Math.sqrt(e2) <= 0.5 + 1e-3 && Math.sqrt(e2) > 0.25, `four steps of ρ/4: ${Math.sqrt(e2)}`);
  } finally {
    teacher.dispose();
  }
});

Deno.test("dwa: recovery starts from the seed's real draw and leaves the teacher as trained", async () => {
  // No iterations: the set is its starting images (real pixels stay inside the clip range).
  const start = await run({ ...config, iterations: 0 });
  const byClass = indicesByClass(dataset.train.labels, 10);
  const drawn = realDraw(byClass, 2, realDrawRng(3));
  const want = await tidy(() => splitToDevice(dataset, dataset.train, drawn).x).f32();
  // The set is NCHW; these images have one channel, so NCHW and NHWC coincide.
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(start.set.images[i] - want[i]));
  ok(maxDiff < 1e-5, `iterations 0 returns the real draw (max diff ${maxDiff})`);
  ok(start.set.labels.join() === Array.from({ length: 20 }, (_, i) => Math.floor(i / 2)).join(), "labels");

  // The teacher relabels with its trained weights: the soft labels equal those of a run without adjustment.
  const adjusted = await run(config);
  const plain = await run({ ...config, rho: 0 });
  ok(adjusted.metrics.batches === 2, `one image per class per batch: ${adjusted.metrics.batches} batches`);
  ok(Number.isFinite(adjusted.metrics.finalLoss), `recover loss ${adjusted.metrics.finalLoss}`);
  let moved = 0;
  for (let i = 0; i < plain.set.images.length; i++) {
    moved = Math.max(moved, Math.abs(adjusted.set.images[i] - plain.set.images[i]));
  }
  ok(moved > 1e-3, `the adjustment changes what is recovered (max pixel change ${moved})`);
  const teacher = await teacherNet(dataset, config, silentProgress);
  try {
    const x = tensor(adjusted.set.images, [20, 8, 8, 1]);
    const soft = await tidy(() => T.softmax(teacher.forward(x), 1)).f32();
    let worst = 0;
    for (let i = 0; i < soft.length; i++) {
      worst = Math.max(worst, Math.abs(soft[i] - adjusted.set.softLabels![i]));
    }
    ok(worst < 1e-4, `soft labels come from the unadjusted teacher (max diff ${worst})`);
  } finally {
    teacher.dispose();
  }
});
