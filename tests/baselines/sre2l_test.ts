/** SRe²L: recovered images match the teacher's batch-norm statistics better and are classified as their class. */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { setBackend, tensor, tidy } from "../../engine/tensor.ts";
import { roll, type Sre2lConfig, sre2lMethod } from "../../baselines/sre2l.ts";
import { silentProgress } from "../../data/progress.ts";
import { scaleConfig } from "../../experiments/budget.ts";
import { tinyDataset } from "../runner/_fixtures.ts";

setBackend(gpu);
Deno.env.set("DD_CACHE", await Deno.makeTempDir({ prefix: "dd-sre2l-test-" }));

Deno.test("sre2l: roll is torch.roll over height and width", async () => {
  // 1 × 3 × 4 × 1 with values 0..11 (row-major): a shift (1, 2) moves row r to r+1 and column c to c+2.
  const x = tensor(Float32Array.from({ length: 12 }, (_, i) => i), [1, 3, 4, 1]);
  const y = tidy(() => roll(x, 1, -2));
  const got = Array.from(await y.f32());
  const want = Array.from({ length: 12 }, (_, i) => {
    const r = Math.floor(i / 4), c = i % 4;
    return ((r - 1 + 3) % 3) * 4 + ((c + 2) % 4);
  });
  ok(got.join() === want.join(), `roll: ${got} vs ${want}`);
});

Deno.test("sre2l: the BN term moves the images' statistics to the teacher's; the teacher classifies them as their class", async () => {
  const dataset = tinyDataset("mnist", 12, 2);
  // The paper's CIFAR recipe with a 1 px shift (the tiny images' classes are rows, which a 4 px roll
  // would wrap away) and a teacher trained long enough to be confident.
  const config: Sre2lConfig = {
    ...scaleConfig(sre2lMethod, sre2lMethod.defaults("mnist", 2), "smoke", 2),
    teacherEpochs: 10,
    teacherBatchSize: 16,
    iterations: 30,
    jitter: 1,
  };
  ok(config.teacherModel === "convnet3-bn-w32", `smoke teacher ${config.teacherModel}`);
  ok(config.rBn === 0.01 && config.firstBnMultiplier === 10 && config.lr === 0.25, "CIFAR recipe");
  const run = (c: Sre2lConfig) =>
    sre2lMethod.distill({ dataset, ipc: 2, seed: 0, config: c, profile: "smoke", progress: silentProgress });
  const { set, metrics } = await run(config);
  const control = (await run({ ...config, rBn: 0 })).metrics;
  ok(set.shape.join() === "20,1,8,8", `shape ${set.shape}`);
  ok(
    set.labels.join() === Array.from({ length: 20 }, (_, i) => Math.floor(i / 2)).join(),
    "class-major labels",
  );
  ok(set.softLabels?.length === 200, "teacher soft labels per image");
  ok(metrics.firstBnLoss === control.firstBnLoss, "same start with and without the BN term");
  ok(
    metrics.finalBnLoss < 0.7 * metrics.firstBnLoss,
    `BN loss ${metrics.firstBnLoss} → ${metrics.finalBnLoss}`,
  );
  ok(
    metrics.finalBnLoss < 0.7 * control.finalBnLoss,
    `BN loss with the term ${metrics.finalBnLoss}, without ${control.finalBnLoss}`,
  );
  ok(metrics.teacherAccuracy >= 90, `teacher accuracy on recovered images ${metrics.teacherAccuracy}%`);
  // Pixels stay in the valid range of the normalised space.
  const { mean, std } = dataset.info;
  const lo = -mean[0] / std[0] - 1e-4, hi = (1 - mean[0]) / std[0] + 1e-4;
  ok(set.images.every((v) => v >= lo && v <= hi), "pixels clipped to [0, 1] before normalisation");
});
