/**
 * D³HR's defining properties on tiny inputs: the device score equals the float64 reference; the chosen
 * group scores no worse than random groups; the DDIM inversion / sampling round trip is near-lossless at
 * the chosen step; a run is deterministic given its seed, and the stored (μ, σ²) regenerate it exactly.
 */
import { assertClose, cpu, gpu } from "../engine/helpers.ts";
import { setBackend, tensor } from "../../engine/tensor.ts";
import { Rng } from "../../engine/random.ts";
import { linearBetas, makeSchedule } from "../../diffusion/mod.ts";
import { GaussianPredictor } from "../diffusion/predictors.ts";
import { tinyDataset } from "../runner/_fixtures.ts";
import { silentProgress } from "../../data/progress.ts";
import {
  groupSample,
  PAPER_WEIGHTS,
  referenceSubsetScore,
  scoreCandidates,
  scoreCandidatesReference,
  subsetScore,
} from "../../methods/d3hr/group_sampling.ts";
import { type D3hrConfig, d3hrDefaults } from "../../methods/d3hr/config.ts";
import { scaleConfig } from "../../experiments/budget.ts";
import { type D3hrModels, mapLatents, sampleBack } from "../../methods/d3hr/pipeline.ts";
import { classStatistics, distillD3hr, regenerate } from "../../methods/d3hr/distill.ts";
import { loadClassStats, saveClassStats, storageComparison } from "../../methods/d3hr/stats.ts";
import { fromFoundation } from "../../methods/d3hr/models.ts";
import { disposeFoundation, untrainedFoundation } from "../../baselines/latent_foundation.ts";
import { d3hrMethod } from "../../methods/d3hr/method.ts";
import { getMethod } from "../../methods/registry.ts";
import { deepStrictEqual as eq, notDeepStrictEqual, ok, rejects } from "node:assert";

setBackend(gpu);

const W = PAPER_WEIGHTS;

/** Standard draws of the whole candidate pool, as groupSample draws them (one stream, in order). */
async function pool(seed: number, m: number, n: number, d: number): Promise<Float32Array> {
  const t = new Rng(seed).normal([m, n, d]);
  const v = await t.f32();
  t.dispose();
  return v;
}

for (const [name, backend] of [["cpu", cpu], ["webgpu", gpu]] as const) {
  Deno.test(`d3hr score (${name}): every candidate's score equals the float64 reference of Eqs. 5–8`, async () => {
    setBackend(backend);
    try {
      const m = 7, d = 5;
      const s2 = Float32Array.from({ length: d }, (_, j) => 0.3 + 0.4 * j);
      for (const n of [1, 2, 3, 10]) {
        const eps = await pool(11 + n, m, n, d);
        const got = await scoreCandidates(tensor(eps, [m, n, d]), tensor(s2, [d]), W).f32();
        const mean = new Float32Array(d).fill(0.7);
        const want = Array.from({ length: m }, (_, k) => {
          const z = Float64Array.from(
            { length: n * d },
            (_, i) => mean[i % d] + Math.sqrt(s2[i % d]) * eps[k * n * d + i],
          );
          return subsetScore(z, n, mean, s2, W).score;
        });
        assertClose(got, want, 1e-4, `n = ${n}`);
      }
    } finally {
      setBackend(gpu);
    }
  });
}

for (const [name, backend] of [["cpu", cpu], ["webgpu", gpu]] as const) {
  Deno.test(`d3hr reference score (${name}): equals the released code's formula in float64`, async () => {
    setBackend(backend);
    try {
      const m = 5, d = 6, w = { mu: 1, sigma: 1, skew: 0.1 };
      const s2 = Float32Array.from({ length: d }, (_, j) => 0.5 + 0.3 * j);
      for (const n of [2, 3, 10]) {
        const eps = await pool(31 + n, m, n, d);
        const got = await scoreCandidatesReference(tensor(eps, [m, n, d]), tensor(s2, [d]), w).f32();
        const mean = Float64Array.from({ length: d }, (_, j) => j - 2);
        const want = Array.from({ length: m }, (_, k) => {
          const z = Float64Array.from(
            { length: n * d },
            (_, i) => mean[i % d] + Math.sqrt(s2[i % d]) * eps[k * n * d + i],
          );
          return referenceSubsetScore(z, n, mean, s2, w);
        });
        assertClose(got, want, 1e-3, `n = ${n}`);
      }
    } finally {
      setBackend(gpu);
    }
  });
}

Deno.test("d3hr group sampling: the chosen group is the argmin of all m candidates, candidate 0 is random sampling", async () => {
  const m = 40, n = 4, d = 6;
  const s2 = Float32Array.from({ length: d }, (_, j) => 0.5 + 0.1 * j);
  const r = await groupSample(s2, new Rng(5), { n, m, weights: W });
  const eps = await pool(5, m, n, d);
  const zero = new Float64Array(d);
  const scores = Array.from({ length: m }, (_, k) => {
    const z = Float64Array.from({ length: n * d }, (_, i) => Math.sqrt(s2[i % d]) * eps[k * n * d + i]);
    return subsetScore(z, n, zero, s2, W).score;
  });
  const argmin = scores.indexOf(Math.min(...scores));
  eq(r.index, argmin);
  assertClose(r.eps, eps.subarray(argmin * n * d, (argmin + 1) * n * d), 0, "chosen draws");
  ok(Math.abs(r.firstScore - scores[0]) < 1e-4 * Math.max(1, scores[0]));
  ok(r.score <= r.firstScore && r.score <= r.meanScore);
  // m = 1 keeps candidate 0: plain random sampling (Base-RS).
  const single = await groupSample(s2, new Rng(5), { n, m: 1, weights: W });
  eq(single.index, 0);
  assertClose(single.eps, eps.subarray(0, n * d), 0, "m = 1");
});

Deno.test("d3hr group sampling: the chunking does not change the choice; the seed does", async () => {
  const s2 = Float32Array.from({ length: 8 }, () => 1);
  const o = { n: 3, m: 25, weights: W };
  const a = await groupSample(s2, new Rng(9), o);
  const b = await groupSample(s2, new Rng(9), { ...o, chunk: 4 });
  const c = await groupSample(s2, new Rng(10), o);
  eq(a.index, b.index);
  eq(a.eps, b.eps);
  notDeepStrictEqual(a.eps, c.eps);
});

Deno.test("d3hr group sampling: chosen groups score no worse than random groups, and match μ, σ better", async () => {
  // Over 12 classes × seeds: the chosen subset (m = 256) against an independent random subset of the same
  // Gaussian, each term by the float64 reference.
  const n = 10, d = 16, trials = 12;
  const mean = Float64Array.from({ length: d }, (_, j) => Math.sin(j));
  const s2 = Float32Array.from({ length: d }, (_, j) => 0.5 + (j % 4) * 0.25);
  let chosen = { score: 0, mu: 0, sigma: 0 }, random = { score: 0, mu: 0, sigma: 0 };
  for (let t = 0; t < trials; t++) {
    const r = await groupSample(s2, new Rng(100 + t), { n, m: 256, weights: W });
    const other = await pool(9000 + t, 1, n, d);
    const toZ = (e: Float32Array) => Float64Array.from(e, (v, i) => mean[i % d] + Math.sqrt(s2[i % d]) * v);
    const a = subsetScore(toZ(r.eps), n, mean, s2, W), b = subsetScore(toZ(other), n, mean, s2, W);
    ok(
      a.score <= r.firstScore + 1e-6,
      `trial ${t}: chosen ${a.score} > its random candidate ${r.firstScore}`,
    );
    chosen = { score: chosen.score + a.score, mu: chosen.mu + a.mu, sigma: chosen.sigma + a.sigma };
    random = { score: random.score + b.score, mu: random.mu + b.mu, sigma: random.sigma + b.sigma };
  }
  ok(
    chosen.score < 0.5 * random.score,
    `mean score chosen ${chosen.score / trials} vs random ${random.score / trials}`,
  );
  ok(chosen.mu < random.mu && chosen.sigma < random.sigma, JSON.stringify({ chosen, random }));
});

Deno.test("d3hr group sampling: invalid options are refused with the reason", async () => {
  const s2 = new Float32Array(4).fill(1);
  await rejects(
    () => groupSample(s2, new Rng(0), { n: 0, m: 3, weights: W }),
    /n must be a positive integer/,
  );
  await rejects(
    () => groupSample(s2, new Rng(0), { n: 2, m: 1.5, weights: W }),
    /m must be a positive integer/,
  );
  await rejects(
    () => groupSample(s2, new Rng(0), { n: 2, m: 2, weights: { ...W, skew: -1 } }),
    /weight skew must be ≥ 0/,
  );
});

// ---------------------------------------------------------------- inversion round trip

const BASE = makeSchedule(linearBetas(1000));
/** Two Gaussian classes per channel (2 channels) and the null class: the exact ε̂ of their data. */
const MU = [[1.0, -0.5], [-1.0, 0.8], [0.0, 0.15]];
const SIGMA = [[0.5, 0.8], [0.7, 1.3], [1.1, 1.0]];

function gaussianDit(): D3hrModels["dit"] {
  return Object.assign(new GaussianPredictor(BASE, MU, SIGMA), { cfg: { inputSize: 2, inChannels: 2 } });
}

async function roundTrip(c: D3hrConfig): Promise<{ rel: number; moved: number }> {
  const n = 32, labels = Array.from({ length: n }, (_, i) => i % 2);
  const e = await pool(77, 1, n * 8, 1);
  const z = Float32Array.from(e, (v, i) => {
    const y = labels[Math.floor(i / 8)], ch = i % 2;
    return MU[y][ch] + SIGMA[y][ch] * v;
  });
  const z0 = tensor(z, [n, 2, 2, 2]);
  const zk = await mapLatents(gaussianDit(), z0, labels, c, new Rng(1));
  const mapped = await zk.f32();
  const back = (await sampleBack({ dit: gaussianDit() }, mapped, labels, c, silentProgress)).data;
  zk.dispose();
  z0.dispose();
  let err = 0, ref = 0, moved = 0;
  for (let i = 0; i < z.length; i++) {
    err += (back[i] - z[i]) ** 2;
    ref += (z[i] - MU[labels[Math.floor(i / 8)]][i % 2]) ** 2;
    moved += (mapped[i] - z[i]) ** 2;
  }
  return { rel: Math.sqrt(err / ref), moved: Math.sqrt(moved / ref) };
}

Deno.test("d3hr round trip: DDIM inversion to the chosen step and sampling back is near-lossless", async () => {
  const paper = { ...d3hrDefaults("cifar10", 10), cfgScale: 1 };
  // ddim50 → index 31 (the paper's step) and back: the latents moved by ~85 % of their spread (ᾱ ≈ 0.18)
  // and return within 10 % of it (measured 7.3 %: DDIM steps are first-order, so the round trip is not
  // exact); DDPM forward noising (Base-DDPM) does not return them.
  const ddim = await roundTrip(paper);
  ok(ddim.moved > 0.5, `inversion barely moved the latents (${ddim.moved})`);
  ok(ddim.rel < 0.1, `DDIM round trip relative error ${ddim.rel}`);
  const ddpm = await roundTrip({ ...paper, domainMapping: "ddpm-forward" });
  ok(ddpm.rel > 10 * ddim.rel, `DDPM round trip ${ddpm.rel} vs DDIM ${ddim.rel}`);
  // A finer respacing to the same noise level is closer still (measured 1.5 %).
  const fine = await roundTrip({ ...paper, sampleSteps: "ddim250", inversionStep: 155 });
  ok(fine.rel < 0.03 && fine.rel < ddim.rel, `ddim250 ${fine.rel} vs ddim50 ${ddim.rel}`);
});

// ---------------------------------------------------------------- whole runs

const tinyConfig = (over: Partial<D3hrConfig> = {}): D3hrConfig => ({
  ...scaleConfig(d3hrMethod, d3hrDefaults("mnist", 2), "smoke", 2),
  m: 16,
  inversionImages: 6,
  ...over,
});

Deno.test("d3hr run: deterministic given the seed, statistics cached across runs, regenerated from the file", async () => {
  const cache = await Deno.makeTempDir();
  const prev = Deno.env.get("DD_CACHE");
  Deno.env.set("DD_CACHE", cache);
  const dataset = tinyDataset("mnist", 8, 1);
  // Random-init smoke VAE and DiT on the tiny dataset's 8 px images (padded to 32 px).
  const foundation = untrainedFoundation(dataset, 3);
  const models = await fromFoundation(foundation);
  try {
    const ctx = (seed: number, over: Partial<D3hrConfig> = {}) => ({
      dataset,
      ipc: 2,
      seed,
      config: tinyConfig(over),
      profile: "smoke" as const,
      progress: silentProgress,
    });
    const a = await distillD3hr(ctx(0), models);
    const b = await distillD3hr(ctx(0), models);
    const c = await distillD3hr(ctx(1), models);
    eq(a.set.shape, [20, 1, 8, 8]);
    eq(Array.from(a.set.labels), Array.from({ length: 20 }, (_, i) => Math.floor(i / 2)));
    ok(a.set.images.every(Number.isFinite));
    eq(a.metrics.statisticsCached, 0);
    eq(b.metrics.statisticsCached, 1);
    eq(b.set.images, a.set.images);
    notDeepStrictEqual(c.set.images, a.set.images);
    ok(a.metrics.chosenScore <= a.metrics.randomScore);
    // The statistics file alone (plus the models) regenerates the set.
    const { stats } = await loadClassStats(a.set.meta.extra.statistics);
    const again = await regenerate(ctx(0), models, stats);
    eq(again.set.images, a.set.images);
    // …also as a run configured with the file (no mapping), at another IPC.
    const stored = await distillD3hr(
      { ...ctx(0, { statistics: a.set.meta.extra.statistics }), ipc: 3 },
      models,
    );
    eq(stored.set.shape[0], 30);
    eq(stored.metrics.mappingSeconds, 0);
    // Another domain mapping is another statistics file.
    const ddpm = await distillD3hr(ctx(0, { domainMapping: "ddpm-forward" }), models);
    eq(ddpm.metrics.statisticsCached, 0);
    notDeepStrictEqual(ddpm.set.images, a.set.images);
    // Without group sampling the first random subset is kept.
    const rs = await distillD3hr(ctx(0, { groupSampling: false }), models);
    eq(rs.metrics.candidates, 1);
    eq(rs.metrics.chosenScore, rs.metrics.randomScore);
  } finally {
    disposeFoundation(foundation);
    if (prev === undefined) Deno.env.delete("DD_CACHE");
    else Deno.env.set("DD_CACHE", prev);
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("d3hr statistics: one inversion caches every step on its path, equal to inverting to that step", async () => {
  const caches = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const prev = Deno.env.get("DD_CACHE");
  const dataset = tinyDataset("mnist", 8, 1);
  const foundation = untrainedFoundation(dataset, 3);
  const models = await fromFoundation(foundation);
  try {
    const c = tinyConfig();
    const k = c.inversionStep, j = Math.max(1, k - 2);
    ok(j < k, `the smoke step ${k} leaves no earlier step`);
    Deno.env.set("DD_CACHE", caches[0]);
    const far = await classStatistics(models, dataset, c, silentProgress);
    const onPath = await classStatistics(models, dataset, { ...c, inversionStep: j }, silentProgress);
    eq([far.cached, onPath.cached], [false, true]);
    notDeepStrictEqual(onPath.stats.mean, far.stats.mean);
    // Another cache: the same step computed by an inversion that ends there.
    Deno.env.set("DD_CACHE", caches[1]);
    const direct = await classStatistics(models, dataset, { ...c, inversionStep: j }, silentProgress);
    eq(direct.cached, false);
    eq(onPath.stats.mean, direct.stats.mean);
    eq(onPath.stats.variance, direct.stats.variance);
    // Stochastic noising has no path: its steps are separate draws, computed when asked for.
    const ddpm = { ...c, domainMapping: "ddpm-forward" as const };
    eq((await classStatistics(models, dataset, ddpm, silentProgress)).cached, false);
    eq((await classStatistics(models, dataset, { ...ddpm, inversionStep: j }, silentProgress)).cached, false);
  } finally {
    disposeFoundation(foundation);
    if (prev === undefined) Deno.env.delete("DD_CACHE");
    else Deno.env.set("DD_CACHE", prev);
    for (const d of caches) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("d3hr statistics file: round trip, and a malformed file is refused naming the problem", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stats = {
      mean: Float32Array.from({ length: 12 }, (_, i) => i / 10),
      variance: Float32Array.from({ length: 12 }, (_, i) => 1 + i),
      classes: 2,
      latentShape: [1, 2, 3] as [number, number, number],
      counts: Int32Array.from([5, 7]),
    };
    await saveClassStats(`${dir}/s.safetensors`, stats);
    const back = await loadClassStats(`${dir}/s.safetensors`);
    eq(back.stats, stats);
    await saveClassStats(`${dir}/bad.safetensors`, { ...stats, variance: stats.variance.map((v) => -v) });
    await rejects(() => loadClassStats(`${dir}/bad.safetensors`), /variance must be finite and ≥ 0/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("d3hr storage: statistics + weights stop growing with the IPC, a stored set does not", () => {
  const s = { classes: 10, latentShape: [8, 8, 4] as [number, number, number] };
  const at = (ipc: number) => storageComparison(s, 1_000_000, ipc, [1, 28, 28]);
  eq(at(10).statistics, 2 * 10 * 256 * 4);
  eq(at(10).setUint8, 10 * 10 * 784);
  eq(at(50).statistics, at(10).statistics);
  const k = at(1).breakEvenIpc;
  ok(
    at(k).setUint8 >= at(k).statistics + at(k).weights &&
      at(k - 1).setUint8 < at(k).statistics + at(k).weights,
  );
});

Deno.test("d3hr config: registered; the tables' switches validate; profiles keep the inversion noise level", () => {
  eq(getMethod("d3hr"), d3hrMethod);
  const paper = d3hrDefaults("fashion-mnist", 10, "imagenet-1k");
  eq(paper.m, 100_000);
  eq([paper.lambdaMu, paper.lambdaSigma, paper.lambdaSkew], [1, 1, 0.5]);
  eq(d3hrDefaults("cifar10", 10).m, 5_000_000);
  for (
    const over of [{ domainMapping: "ddpm-forward", groupSampling: false }, { varianceDelta: -0.5 }, { m: 1 }]
  ) {
    ok(d3hrMethod.schema.safeParse({ ...paper, ...over }).success, JSON.stringify(over));
  }
  ok(!d3hrMethod.schema.safeParse({ ...paper, varianceDelta: -1 }).success);
  ok(!d3hrMethod.schema.safeParse({ ...paper, sampleSteps: "250" }).success);
  const scale = (c: D3hrConfig, profile: "smoke" | "quick" | "paper", pinned: Partial<D3hrConfig> = {}) =>
    scaleConfig(d3hrMethod, c, profile, 10, pinned);
  const quick = scale(paper, "quick");
  eq(quick.sampleSteps, "ddim50");
  eq(quick.inversionStep, 31);
  eq(quick.inversionImages, 100);
  eq(quick.resolution, null);
  eq(quick.foundation, "shipped");
  // m shrinks by one factor (5e6 → 1e4 at quick), so Table A9's sweep keeps its order and ratios.
  const ms = [1, 1e3, 1e4, 1e5, 5e5, 1e6, 5e6].map((m) => scale({ ...paper, m }, "quick").m);
  eq(ms, [1, 2, 20, 200, 1000, 2000, 10_000]);
  // A pinned key is kept; what follows it is derived from it.
  eq(scale(paper, "quick", { inversionStep: 12 }).inversionStep, 12);
  eq(scale(paper, "quick", { m: 7 }).m, 7);
  eq(scale(paper, "quick", { sampleSteps: "ddim10" }).inversionStep, 6); // 31/50 → 6/10
  // Fig. 5's inversion-step sweep keeps each step's noise level on a coarser respacing.
  const smoke = scale({ ...paper, inversionStep: 40 }, "smoke");
  eq([smoke.sampleSteps, smoke.inversionStep, smoke.foundation], ["ddim5", 4, "untrained"]);
  eq(scale(paper, "paper"), paper);
});
