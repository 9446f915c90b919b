/** RDED: the selection keeps the teacher's most realistic crops; stitching lays patches factor × factor. */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { setBackend } from "../../engine/tensor.ts";
import { type RdedConfig, rdedMethod, selectCrops, squareCropWindow, stitch } from "../../baselines/rded.ts";
import { silentProgress } from "../../data/progress.ts";
import { scaleConfig } from "../../experiments/budget.ts";
import { tinyDataset } from "../runner/_fixtures.ts";

setBackend(gpu);
Deno.env.set("DD_CACHE", await Deno.makeTempDir({ prefix: "dd-rded-test-" }));

Deno.test("rded: each candidate keeps its best crop; the best candidates are kept, best first", () => {
  // 3 candidates × 2 crops; scores[k·3 + j]: crop 0 = [−3, −1, −2], crop 1 = [−0.5, −4, −2.5].
  const scores = Float32Array.from([-3, -1, -2, -0.5, -4, -2.5]);
  const got = selectCrops(scores, 3, 2, 2);
  ok(
    JSON.stringify(got) ===
      JSON.stringify([{ candidate: 0, crop: 1, score: -0.5 }, { candidate: 1, crop: 0, score: -1 }]),
    `selection ${JSON.stringify(got)}`,
  );
});

Deno.test("rded: stitch puts patch k·n + i in cell k (row-major) of image i, larger cells first", () => {
  // factor 2 on a 5 px image: cells of 3 and 2 pixels; 2 images, patches of 2 px filled with their index.
  const n = 2, s = 2, f = 2, side = 5;
  const patches = new Float32Array(f * f * n * s * s);
  for (let p = 0; p < f * f * n; p++) patches.fill(p, p * s * s, (p + 1) * s * s);
  const out = stitch(patches, n, s, 1, f, side);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const k = (y < 3 ? 0 : 2) + (x < 3 ? 0 : 1);
        const v = out[(i * side + y) * side + x];
        ok(v === k * n + i, `image ${i} (${y}, ${x}): ${v}, want patch ${k * n + i}`);
      }
    }
  }
});

Deno.test("rded: square crop windows stay inside the image and span the scale range", () => {
  const w0 = squareCropWindow(32, [0.08, 1], [0, 0, 0.999]);
  const w1 = squareCropWindow(32, [0.08, 1], [0.999, 0.5, 0.5]);
  ok(w0[2] === Math.round(Math.sqrt(0.08 * 1024)) && w0[1] + w0[2] <= 32, `small window ${w0}`);
  ok(w1[2] === 32 && w1[0] === 0 && w1[1] === 0, `full window ${w1}`);
});

Deno.test("rded: selected crops score at least as high as the random crops; images are factor × factor", async () => {
  const dataset = tinyDataset("mnist", 12, 2);
  const config: RdedConfig = {
    ...scaleConfig(rdedMethod, rdedMethod.defaults("mnist", 2, "imagewoof"), "smoke", 2),
    teacherEpochs: 5,
    teacherBatchSize: 16,
  };
  ok(config.factor === 2 && config.cropsPerImage === 5, `ImageWoof recipe: factor ${config.factor}`);
  const { set, metrics } = await rdedMethod.distill({
    dataset,
    ipc: 2,
    seed: 0,
    config,
    profile: "smoke",
    progress: silentProgress,
  });
  ok(set.shape.join() === "20,1,8,8", `shape ${set.shape}`);
  ok(set.softLabels?.length === 200, "teacher soft labels per image");
  ok(
    metrics.selectedScore > metrics.candidateScore,
    `selected crops score ${metrics.selectedScore}, all crops ${metrics.candidateScore}`,
  );
  // Each 4 px cell of an image is a whole resampled crop: the cells differ from each other (4 distinct
  // patches), so the image is not one crop resized.
  const img0 = set.images.subarray(0, 64);
  const cell = (r: number, c: number) =>
    Array.from({ length: 16 }, (_, q) => img0[(r * 4 + Math.floor(q / 4)) * 8 + c * 4 + (q % 4)]).join();
  const cells = new Set([cell(0, 0), cell(0, 1), cell(1, 0), cell(1, 1)]);
  ok(cells.size === 4, `${cells.size} distinct cells in a stitched image`);
  ok(metrics.candidatesPerClass === 12, `${metrics.candidatesPerClass}: every one of a class's 12 images`);
  // A set of more patches (ipc · factor² = 8) than configured candidates (3) draws one candidate per patch.
  const large = await rdedMethod.distill({
    dataset,
    ipc: 2,
    seed: 0,
    config: { ...config, candidatesPerClass: 3 },
    profile: "smoke",
    progress: silentProgress,
  });
  ok(large.metrics.candidatesPerClass === 8, `${large.metrics.candidatesPerClass} candidates for 8 patches`);
});
