/**
 * D³HR's three stages (Algorithm 1) on any VAE + class-conditional noise predictor:
 *  1. domain mapping — each class's VAE latents z_0 = E(x)·scale are mapped to schedule index k by
 *     deterministic DDIM inversion (Eq. 3) or, for Table 3's Base-DDPM, one DDPM forward draw (Eq. 1),
 *     and a per-dimension Gaussian N(μ, σ²) is fitted to them (Sec. 4.3);
 *  2. group sampling — the subset of IPC latents closest to that Gaussian among m (group_sampling.ts);
 *  3. DDIM sampling from index k back to 0 (Eq. 2) and decoding by the VAE.
 * Stage 1 does not depend on the repeat's seed (the paper's only randomness is the subsets' draw, Sec.
 * 6.6): the images it maps, the posterior samples and the DDPM noise come from fixed streams, so its
 * statistics are computed once and shared by every repeat, IPC and selection setting.
 */
import { Rng } from "../../engine/random.ts";
import { noGrad, type Tensor, tidy } from "../../engine/tensor.ts";
import type { Dataset } from "../../data/types.ts";
import {
  type CfgOptions,
  ddimInvert,
  type NoisePredictor,
  qSample,
  type Schedule,
} from "../../diffusion/mod.ts";
import type { AutoencoderKL } from "../../models/vae.ts";
import type { PaddedImages } from "../../models/generative_data.ts";
import {
  decodeLatents,
  encodeLatents,
  type HostBatch,
  sampleLatents,
  samplerSchedule,
} from "../../models/latent_sampling.ts";
import { drawPositions, indicesByClass } from "../../baselines/real_images.ts";
import type { ProgressReporter } from "../../data/progress.ts";
import { classMajor } from "../../baselines/latent_foundation.ts";
import { type D3hrConfig, scoreWeights } from "./config.ts";
import { type ClassStats, fitGaussian, latentSize } from "./stats.ts";
import { groupSample } from "./group_sampling.ts";

/** The generative models D³HR runs on, and how the dataset's images reach them. */
export interface D3hrModels {
  vae: AutoencoderKL;
  dit: NoisePredictor & { readonly cfg: { inputSize: number; inChannels: number } };
  /** The train split as the VAE sees it ([-1, 1], padded to the VAE's side; `native` is the dataset's). */
  images: PaddedImages;
  /** Bytes of the weights a regeneration needs (the storage comparison). */
  weightsBytes: number;
  /** Identifies the weights (hashes): part of the statistics cache key. */
  tag: string;
  /** Where the weights came from (recorded in the set's metadata). */
  source: string;
}

/** Images per device pass through the VAE and the DiT. */
const CHUNK = 64;

/** Fixed streams of stage 1 (independent of the repeat's seed). */
const MAPPING_SEED = 0x0d3;

export function d3hrSchedule(c: Pick<D3hrConfig, "sampleSteps" | "inversionStep">): Schedule {
  const s = samplerSchedule(c.sampleSteps);
  if (c.inversionStep >= s.length) {
    throw new Error(
      `d3hr: inversionStep ${c.inversionStep} is outside ${c.sampleSteps} (indices 1 … ${s.length - 1})`,
    );
  }
  return s;
}

const cfgOf = (c: Pick<D3hrConfig, "cfgScale">): CfgOptions | undefined =>
  c.cfgScale === 1 ? undefined : { scale: c.cfgScale };

/** The train images stage 1 maps, per class: all, or a fixed draw of `inversionImages`. */
export function mappedImages(dataset: Dataset, c: Pick<D3hrConfig, "inversionImages">): Int32Array[] {
  const byClass = indicesByClass(dataset.train.labels, dataset.info.numClasses);
  const rng = new Rng(MAPPING_SEED).fork(1);
  return byClass.map((pool, y) => {
    if (pool.length < 2) {
      throw new Error(`d3hr: class ${y} has ${pool.length} training images; at least 2 are needed`);
    }
    if (c.inversionImages === null || c.inversionImages >= pool.length) return pool;
    return Int32Array.from(drawPositions(pool.length, c.inversionImages, rng.fork(y)), (p) => pool[p]).sort();
  });
}

/**
 * Maps scaled VAE latents z_0 [n, h, w, c] of classes `labels` to schedule index k: DDIM inversion (Eq. 3)
 * or one DDPM forward draw from `noise` (Eq. 1). Returns a new tensor; z_0 stays the caller's.
 */
export async function mapLatents(
  dit: NoisePredictor,
  z0: Tensor,
  labels: number[],
  c: D3hrConfig,
  noise: Rng,
  signal?: AbortSignal,
): Promise<Tensor> {
  return (await mapLatentsAlong(dit, z0, labels, c, noise, [], signal)).x;
}

/**
 * mapLatents, also returning the DDIM inversion's states at the indices `along` (each below k): the chain
 * to k passes through them, so they are the states an inversion to each of them would end at.
 */
async function mapLatentsAlong(
  dit: NoisePredictor,
  z0: Tensor,
  labels: number[],
  c: D3hrConfig,
  noise: Rng,
  along: readonly number[],
  signal?: AbortSignal,
): Promise<{ x: Tensor; snapshots: Map<number, Tensor> }> {
  const schedule = d3hrSchedule(c);
  if (c.domainMapping === "ddim-inversion") {
    return await ddimInvert(dit, z0, {
      schedule,
      labels,
      toIndex: c.inversionStep,
      epsAt: c.inversionEps,
      cfg: cfgOf(c),
      syncEvery: 0,
      snapshots: along,
      signal,
    });
  }
  if (along.length > 0) throw new Error("d3hr: only DDIM inversion passes through earlier steps");
  const x = noGrad(() =>
    tidy(() => qSample(schedule, z0, labels.map(() => c.inversionStep), noise.normal(z0.shape)))
  );
  return { x, snapshots: new Map() };
}

/**
 * Stage 1: the per-class Gaussians of the mapped latents at `c.inversionStep`, and at each index of `along`
 * (DDIM inversion only, indices below the step: one chain yields them all, e.g. Figure 5's sweep).
 */
export async function mapDomain(
  models: D3hrModels,
  dataset: Dataset,
  c: D3hrConfig,
  progress: ProgressReporter,
  signal?: AbortSignal,
  along: readonly number[] = [],
): Promise<Map<number, ClassStats>> {
  const { vae, dit } = models;
  const images = models.images;
  for (const j of along) {
    if (!Number.isInteger(j) || j < 1 || j >= c.inversionStep) {
      throw new Error(`d3hr: index ${j} is not on the inversion's path to ${c.inversionStep}`);
    }
  }
  const perClass = mappedImages(dataset, c);
  const all = perClass.flatMap((idx, y) => Array.from(idx, (i) => [i, y] as const));
  const latentShape: [number, number, number] = [dit.cfg.inputSize, dit.cfg.inputSize, dit.cfg.inChannels];
  const d = latentShape[0] * latentShape[1] * latentShape[2];
  const steps = [c.inversionStep, ...new Set(along)];
  const mapped = new Map(steps.map((k) => [k, new Float32Array(all.length * d)]));
  const root = new Rng(MAPPING_SEED);
  for (let b = 0; b < all.length; b += CHUNK) {
    signal?.throwIfAborted();
    const rows = all.slice(b, b + CHUNK), labels = rows.map(([, y]) => y);
    const x = images.batch(rows.map(([i]) => i));
    const z0 = encodeLatents(vae, x, c.encode === "sample" ? root.fork(2).fork(b) : undefined);
    x.dispose();
    let out: { x: Tensor; snapshots: Map<number, Tensor> };
    try {
      out = await mapLatentsAlong(dit, z0, labels, c, root.fork(3).fork(b), along, signal);
    } finally {
      z0.dispose();
    }
    out.snapshots.set(c.inversionStep, out.x);
    try {
      for (const [k, zk] of out.snapshots) {
        const host = await zk.f32();
        if (!host.every(Number.isFinite)) throw new Error(`d3hr: non-finite mapped latents (images ${b}…)`);
        mapped.get(k)!.set(host, b * d);
      }
    } finally {
      for (const zk of out.snapshots.values()) zk.dispose();
    }
    progress.update(b + rows.length, all.length, `${c.domainMapping} of class latents`);
  }
  const classes = dataset.info.numClasses;
  const counts = Int32Array.from(perClass, (p) => p.length);
  const fit = (latents: Float32Array): ClassStats => {
    const mean = new Float32Array(classes * d), variance = new Float32Array(classes * d);
    let at = 0;
    perClass.forEach((idx, y) => {
      const g = fitGaussian(latents.subarray(at * d, (at + idx.length) * d), idx.length, d);
      mean.set(g.mean, y * d);
      variance.set(g.variance, y * d);
      at += idx.length;
    });
    return { mean, variance, classes, latentShape, counts };
  };
  return new Map(steps.map((k) => [k, fit(mapped.get(k)!)]));
}

/** Per-class selection outcome of stage 2. */
export interface Selection {
  /** Latents [classes·ipc, d], class-major. */
  latents: Float32Array;
  labels: Int32Array;
  /** Per class: the chosen subset's score, candidate 0's (random sampling's) and the mean over m. */
  chosenScore: Float64Array;
  firstScore: Float64Array;
  meanScore: Float64Array;
  seconds: number;
}

/** Stage 2: IPC latents per class from its (variance-scaled) Gaussian, by group sampling or at random. */
export async function selectLatents(
  stats: ClassStats,
  c: D3hrConfig,
  ipc: number,
  seed: number,
  progress: ProgressReporter,
  signal?: AbortSignal,
): Promise<Selection> {
  const t0 = performance.now();
  const d = latentSize(stats), K = stats.classes;
  const latents = new Float32Array(K * ipc * d);
  const chosenScore = new Float64Array(K), firstScore = new Float64Array(K), meanScore = new Float64Array(K);
  const rng = new Rng(seed).fork(7);
  for (let y = 0; y < K; y++) {
    const mu = stats.mean.subarray(y * d, (y + 1) * d);
    const s2 = Float32Array.from(
      stats.variance.subarray(y * d, (y + 1) * d),
      (v) => (1 + c.varianceDelta) * v,
    );
    const r = await groupSample(s2, rng.fork(y), {
      n: ipc,
      m: c.groupSampling ? c.m : 1,
      score: c.score,
      weights: scoreWeights(c),
      signal,
    });
    for (let i = 0; i < ipc; i++) {
      for (let j = 0; j < d; j++) {
        latents[(y * ipc + i) * d + j] = mu[j] + Math.sqrt(s2[j]) * r.eps[i * d + j];
      }
    }
    progress.update(y + 1, K, `group sampling (m = ${c.groupSampling ? c.m : 1})`);
    chosenScore[y] = r.score;
    firstScore[y] = r.firstScore;
    meanScore[y] = r.meanScore;
  }
  const labels = Int32Array.from(classMajor(K, ipc));
  return { latents, labels, chosenScore, firstScore, meanScore, seconds: (performance.now() - t0) / 1000 };
}

/** Stage 3: DDIM from index k back to 0, then the VAE decoder; latents [n, d] → [0, 1] images (host, NHWC). */
export async function sampleBack(
  models: Pick<D3hrModels, "dit">,
  latents: Float32Array,
  labels: ArrayLike<number>,
  c: D3hrConfig,
  progress: ProgressReporter,
  signal?: AbortSignal,
): Promise<HostBatch> {
  const { dit } = models;
  d3hrSchedule(c); // validates the step against the respacing
  const shape: [number, number, number] = [dit.cfg.inputSize, dit.cfg.inputSize, dit.cfg.inChannels];
  const n = labels.length;
  const z = await sampleLatents(dit, shape, Array.from(labels), {
    method: "ddim",
    steps: c.sampleSteps,
    cfgScale: c.cfgScale,
    seed: 0, // η = 0: deterministic, no noise is drawn
    start: { latents: { data: latents, shape: [n, ...shape] }, index: c.inversionStep },
    signal,
    progress,
  });
  if (!z.data.every(Number.isFinite)) throw new Error("d3hr: DDIM sampling produced non-finite latents");
  return z;
}

/** Decoded [0, 1] images at the dataset's native side (host, NHWC). */
export function decodeToImages(
  models: Pick<D3hrModels, "vae" | "images">,
  z0: HostBatch,
  signal?: AbortSignal,
): Promise<HostBatch> {
  return decodeLatents(models.vae, z0, { native: models.images.native, signal });
}
