/**
 * The diffusion-based baselines on tiny shapes: `diffusion` samples each class from the class-conditional
 * model (an analytic noise predictor of two separated Gaussian classes, so the property does not hinge on
 * training), CFG pushes the classes apart; the method itself is deterministic and class-balanced. `d4m`'s
 * prototypes are k-means centres, and strength 0 gives them back decoded.
 */
import { scaleConfig } from "../../experiments/budget.ts";
import { deepStrictEqual as eq, ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { setBackend } from "../../engine/tensor.ts";
import { linearBetas, makeSchedule } from "../../diffusion/mod.ts";
import { silentProgress } from "../../data/progress.ts";
import { GaussianPredictor } from "../diffusion/predictors.ts";
import { tinyDataset } from "../runner/_fixtures.ts";
import {
  diffusionDefaults,
  diffusionMethod,
  sampleClassLatents,
} from "../../baselines/diffusion_sampling.ts";
import { classPrototypes, d4mImages, d4mMethod, kmeans } from "../../baselines/d4m.ts";
import { disposeFoundation, untrainedFoundation } from "../../baselines/latent_foundation.ts";
import { decodeLatents } from "../../models/latent_sampling.ts";
import { Rng } from "../../engine/random.ts";

setBackend(gpu);

const base = makeSchedule(linearBetas(1000));
/** Two classes with per-channel means ±1.5 (2 channels), σ 0.5; the null class in between. */
const twoClasses = () =>
  new GaussianPredictor(base, [[1.5, -1.5], [-1.5, 1.5], [0, 0]], [[0.5, 0.5], [0.5, 0.5], [1.6, 1.6]], true);

/** Per-sample channel means of [n, h, w, c] latents. */
function channelMeans(data: Float32Array, n: number, c: number): number[][] {
  const per = data.length / n;
  return Array.from({ length: n }, (_, i) => {
    const m = new Array(c).fill(0);
    for (let k = 0; k < per; k++) m[k % c] += data[i * per + k] / (per / c);
    return m;
  });
}

Deno.test("diffusion: each class's samples are nearest to their own class mean; CFG moves them away from the null mean", async () => {
  const f = { dit: twoClasses(), latentShape: [4, 4, 2] as [number, number, number] };
  const cfg = { ...diffusionDefaults(), steps: "20" };
  const plain = await sampleClassLatents(f, 6, { ...cfg, cfgScale: 1 }, 3);
  eq(plain.labels, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  eq(plain.latents.shape, [12, 4, 4, 2]);
  const mus = [[1.5, -1.5], [-1.5, 1.5]];
  const near = (m: number[]) => {
    const d = mus.map((mu) => (m[0] - mu[0]) ** 2 + (m[1] - mu[1]) ** 2);
    return d[0] <= d[1] ? 0 : 1;
  };
  const mPlain = channelMeans(plain.latents.data, 12, 2);
  mPlain.forEach((m, i) => eq(near(m), plain.labels[i], `sample ${i} (${m}) by nearest mean`));
  const guided = await sampleClassLatents(f, 6, { ...cfg, cfgScale: 4 }, 3);
  const spread = (ms: number[][]) => ms.reduce((s, m) => s + Math.hypot(m[0], m[1]), 0) / ms.length;
  const sp = spread(mPlain), sg = spread(channelMeans(guided.latents.data, 12, 2));
  ok(sg > sp * 1.05, `CFG 4 moves samples away from the null mean: ${sg} vs ${sp}`);
});

Deno.test("diffusion: the method gives IPC labelled images per class, deterministic in the seed", async () => {
  const dataset = tinyDataset("mnist", 4, 1);
  const config = scaleConfig(diffusionMethod, diffusionMethod.defaults("mnist", 2), "smoke", 2);
  const run = (seed: number) =>
    diffusionMethod.distill({ dataset, ipc: 2, seed, config, profile: "smoke", progress: silentProgress });
  const a = await run(0), b = await run(0), c = await run(1);
  eq(a.set.shape, [20, 1, 8, 8]);
  eq(Array.from(a.set.labels), Array.from({ length: 20 }, (_, i) => Math.floor(i / 2)));
  ok(a.set.images.every((v, i) => v === b.set.images[i]), "same seed, same images");
  ok(a.set.images.some((v, i) => v !== c.set.images[i]), "another seed, other images");
});

Deno.test("d4m: k-means from k-means++ — inertia never increases; converged centres are their clusters' means", () => {
  const rng = new Rng(5);
  const n = 90, d = 3;
  const x = new Float32Array(n * d);
  const u = rng.hostUniform(n * d);
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < d; q++) x[i * d + q] = (i % 3) * 4 * (q === i % 3 ? 1 : 0) + u[i * d + q];
  }
  const km = kmeans(x, n, d, 3, new Rng(1), 100);
  km.inertia.forEach((v, i) => i && ok(v <= km.inertia[i - 1] + 1e-9, `inertia ${km.inertia}`));
  for (let j = 0; j < 3; j++) {
    const rows = [...km.assign.keys()].filter((i) => km.assign[i] === j);
    ok(rows.length > 0, `cluster ${j} is empty`);
    for (let q = 0; q < d; q++) {
      const m = rows.reduce((s, i) => s + x[i * d + q], 0) / rows.length;
      ok(Math.abs(m - km.centres[j * d + q]) < 1e-9, `centre ${j} is its cluster's mean`);
    }
  }
  // three separated blobs: each cluster is one blob
  for (let i = 0; i < n; i++) eq(km.assign[i], km.assign[i % 3], `point ${i} with its blob`);
});

Deno.test("d4m: strength 0 returns the decoded prototypes; strength 0.7 denoises them", async () => {
  const dataset = tinyDataset("mnist", 6, 1);
  const f = untrainedFoundation(dataset, 0);
  try {
    const cfg = { ...scaleConfig(d4mMethod, d4mMethod.defaults("mnist", 2), "smoke", 2), cfgScale: 1 };
    const { prototypes } = await classPrototypes(f, cfg, 2, 0);
    eq(prototypes.shape, [20, ...f.latentShape]);
    const decoded = await decodeLatents(f.vae, prototypes, { native: f.images.native });
    const zero = await d4mImages(f, { ...cfg, strength: 0 }, 2, 0);
    eq(zero.labels, Array.from({ length: 20 }, (_, i) => Math.floor(i / 2)));
    ok(zero.images.data.every((v, i) => v === decoded.data[i]), "strength 0: the decoded prototypes");
    const a = await d4mImages(f, cfg, 2, 0);
    ok(a.images.data.some((v, i) => Math.abs(v - decoded.data[i]) > 1e-3), "strength 0.7 changes them");
  } finally {
    disposeFoundation(f);
  }
});
