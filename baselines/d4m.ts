/**
 * D4M — Dataset Distillation via Disentangled Diffusion Model (Su et al., CVPR 2024; suduo94/D4M).
 *
 * Per class: the real training images are encoded by the VAE (a posterior sample times the latent scale,
 * as gen_prototype.py's `latent_dist.sample()`), clustered into IPC k-means centres (the prototypes), and
 * each prototype is noised to `strength` of the sampler's steps and denoised class-conditionally
 * (gen_syn_image.py: img2img from the prototype, 50 steps, strength 0.7 → 35 denoising steps).
 *
 * Departures, both forced by the model: D4M denoises with Stable Diffusion conditioned on the class name
 * (text guidance 8); here the class-conditional DiT of the dataset denoises with its own classifier-free
 * guidance (DiT's 4; SD's text scale has no meaning for it) and DDIM (SD's img2img pipeline is
 * deterministic given the noise, as DDIM with η = 0). The official code fits scikit-learn's MiniBatchKMeans
 * in one streaming pass (batches of IPC·km_expand latents); this computes the centres that pass
 * approximates, Lloyd's k-means from a k-means++ start, to convergence.
 */
import { z } from "zod";
import { Rng } from "../engine/random.ts";
import { noGrad, tidy } from "../engine/tensor.ts";
import { qSample } from "../diffusion/mod.ts";
import type { MethodBudget } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import type { ProgressReporter } from "../data/progress.ts";
import {
  decodeLatents,
  encodeLatents,
  type HostBatch,
  LATENT_CHUNK,
  sampleLatents,
  samplerSchedule,
  upload,
} from "../models/latent_sampling.ts";
import {
  checkResolution,
  classMajor,
  disposeFoundation,
  type Foundation,
  loadFoundation,
  SAMPLER_SCALE_NOTES,
  samplerBudget,
  SamplerFields,
  unitImagesToSet,
} from "./latent_foundation.ts";
import { indicesByClass } from "./real_images.ts";

export const D4mConfig = z.object({
  ...SamplerFields,
  /** Fraction of the sampler's steps the prototype is noised to (img2img strength; 0 = the prototype itself). */
  strength: z.number().min(0).max(1),
  /** Lloyd iterations at most (stops earlier when no assignment changes). */
  kmeansIterations: z.number().int().min(1),
  /** Real images per class that are encoded and clustered (a seeded subset); null: all. */
  realPerClass: z.number().int().positive().nullable(),
}).strict();
export type D4mConfig = z.infer<typeof D4mConfig>;

export const d4mDefaults = (): D4mConfig => ({
  sampler: "ddim",
  steps: "ddim50",
  cfgScale: 4,
  foundation: "shipped",
  resolution: 256,
  strength: 0.7,
  kmeansIterations: 300,
  realPerClass: null,
});

/**
 * The sampler follows the profiles' sampler knobs (latent_foundation.ts); the real images per class that
 * are encoded and clustered follow `candidates` (quick: a seeded max(200, 3·IPC), since an encoding took
 * ~35 ms on the shared machine and all ~5700 of a Fashion-MNIST class would take minutes per class), the
 * Lloyd iterations `iterations` (family "d4m"). Below `paper` the shipped small foundation generates at
 * its own side.
 */
export const D4M_BUDGET: MethodBudget<D4mConfig> = {
  family: "d4m",
  keys: { ...samplerBudget<D4mConfig>().keys, realPerClass: "candidates", kmeansIterations: "iterations" },
  derived: samplerBudget<D4mConfig>().derived,
};

export interface KMeansResult {
  /** k × d centres. */
  centres: Float64Array;
  assign: Int32Array;
  /** Σ‖x − c(x)‖² after each assignment step (non-increasing). */
  inertia: number[];
}

/** Squared distance of row i of `x` (width d) to centre j. */
function dist2(x: Float32Array, i: number, c: Float64Array, j: number, d: number): number {
  let s = 0;
  for (let q = 0; q < d; q++) {
    const v = x[i * d + q] - c[j * d + q];
    s += v * v;
  }
  return s;
}

/**
 * Lloyd's k-means of n rows of width d from a k-means++ start (Arthur & Vassilvitskii: each next centre
 * drawn ∝ the squared distance to the nearest chosen one). An empty cluster keeps its centre.
 */
export function kmeans(
  x: Float32Array,
  n: number,
  d: number,
  k: number,
  rng: Rng,
  maxIter: number,
): KMeansResult {
  if (k > n) throw new Error(`k-means: ${k} clusters of ${n} points`);
  const centres = new Float64Array(k * d);
  const u = rng.hostUniform(k);
  const setCentre = (j: number, i: number) => {
    for (let q = 0; q < d; q++) centres[j * d + q] = x[i * d + q];
  };
  setCentre(0, Math.min(n - 1, Math.floor(u[0] * n)));
  const near = new Float64Array(n).fill(Infinity);
  for (let j = 1; j < k; j++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      near[i] = Math.min(near[i], dist2(x, i, centres, j - 1, d));
      total += near[i];
    }
    let r = u[j] * total, pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= near[i];
      if (r < 0) {
        pick = i;
        break;
      }
    }
    setCentre(j, pick);
  }
  const assign = new Int32Array(n).fill(-1);
  const inertia: number[] = [];
  for (let it = 0; it < maxIter; it++) {
    let changed = 0, sse = 0;
    for (let i = 0; i < n; i++) {
      let best = 0, bd = Infinity;
      for (let j = 0; j < k; j++) {
        const v = dist2(x, i, centres, j, d);
        if (v < bd) [bd, best] = [v, j];
      }
      if (assign[i] !== best) changed++;
      assign[i] = best;
      sse += bd;
    }
    inertia.push(sse);
    if (changed === 0) break;
    const sum = new Float64Array(k * d), count = new Int32Array(k);
    for (let i = 0; i < n; i++) {
      count[assign[i]]++;
      for (let q = 0; q < d; q++) sum[assign[i] * d + q] += x[i * d + q];
    }
    for (let j = 0; j < k; j++) {
      if (count[j]) { for (let q = 0; q < d; q++) centres[j * d + q] = sum[j * d + q] / count[j]; }
    }
  }
  return { centres, assign, inertia };
}

/** Scaled posterior samples of train images `idx`, [n, h, w, c] on the host. */
export async function encodeImages(
  f: Foundation,
  idx: Int32Array,
  rng: Rng,
  signal?: AbortSignal,
): Promise<HostBatch> {
  const [h, w, c] = f.latentShape, per = h * w * c;
  const data = new Float32Array(idx.length * per);
  for (let b = 0; b < idx.length; b += LATENT_CHUNK) {
    signal?.throwIfAborted();
    const part = idx.subarray(b, b + LATENT_CHUNK);
    const z = encodeLatents(f.vae, noGrad(() => f.images.batch(part)), rng.fork(b));
    data.set(await z.f32(), b * per);
    z.dispose();
  }
  return { data, shape: [idx.length, h, w, c] };
}

/** IPC k-means prototypes of each class's real latents, class-major; the final inertia per class. */
export async function classPrototypes(
  f: Foundation,
  cfg: D4mConfig,
  ipc: number,
  seed: number,
  o: { signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<{ prototypes: HostBatch; inertia: number[] }> {
  const classes = f.dit.numClasses;
  const byClass = indicesByClass(f.images.labels, classes);
  const [h, w, c] = f.latentShape, d = h * w * c;
  const data = new Float32Array(classes * ipc * d);
  const inertia: number[] = [];
  const rng = new Rng(seed);
  for (let y = 0; y < classes; y++) {
    const pool = byClass[y];
    if (pool.length < ipc) {
      throw new Error(`d4m: IPC ${ipc} is larger than class ${y} (${pool.length} images)`);
    }
    const take = cfg.realPerClass === null || cfg.realPerClass >= pool.length ? pool : Int32Array.from(
      rng.fork(2 * y).permutation(pool.length).slice(0, Math.max(cfg.realPerClass, ipc)),
      (p) => pool[p],
    );
    const z = await encodeImages(f, take, rng.fork(2 * y + 1), o.signal);
    const km = kmeans(z.data, take.length, d, ipc, rng.fork(10_000 + y), cfg.kmeansIterations);
    for (let j = 0; j < ipc * d; j++) data[y * ipc * d + j] = km.centres[j];
    inertia.push(km.inertia[km.inertia.length - 1] / take.length);
    o.progress?.update(y + 1, classes, "classes clustered");
  }
  return { prototypes: { data, shape: [classes * ipc, h, w, c] }, inertia };
}

/** The schedule index img2img starts from: ⌊strength · steps⌋ − 1 (−1: no denoising at all). */
export function startIndex(steps: number, strength: number): number {
  return Math.min(steps, Math.floor(steps * strength + 1e-9)) - 1;
}

/** Prototypes noised to `strength` (q(x_t | prototype), seeded) and denoised with their class labels. */
export async function denoisePrototypes(
  f: Foundation,
  prototypes: HostBatch,
  labels: number[],
  cfg: D4mConfig,
  seed: number,
  o: { signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<HostBatch> {
  const schedule = samplerSchedule(cfg.steps);
  const index = startIndex(schedule.length, cfg.strength);
  if (index < 0) return prototypes;
  const noise = new Rng(seed).fork(7);
  const noised = new Float32Array(prototypes.data.length);
  const per = prototypes.data.length / prototypes.shape[0];
  for (let b = 0; b < labels.length; b += LATENT_CHUNK) {
    const rows = Math.min(LATENT_CHUNK, labels.length - b);
    const x = noGrad(() =>
      tidy(() => {
        const z = upload(prototypes, b, rows);
        return qSample(schedule, z, new Array(rows).fill(index), noise.fork(b).normal(z.shape));
      })
    );
    noised.set(await x.f32(), b * per);
    x.dispose();
  }
  return await sampleLatents(f.dit, f.latentShape, labels, {
    method: cfg.sampler,
    steps: cfg.steps,
    cfgScale: cfg.cfgScale,
    seed,
    start: { latents: { data: noised, shape: prototypes.shape }, index },
    signal: o.signal,
    progress: o.progress,
  });
}

/** D4M on a foundation: prototypes → noised → denoised → decoded ([0, 1] NHWC), class-major labels. */
export async function d4mImages(
  f: Foundation,
  cfg: D4mConfig,
  ipc: number,
  seed: number,
  o: { signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<{ images: HostBatch; labels: number[]; inertia: number[] }> {
  const { prototypes, inertia } = await classPrototypes(f, cfg, ipc, seed, o);
  const labels = classMajor(f.dit.numClasses, ipc);
  const z = await denoisePrototypes(f, prototypes, labels, cfg, seed, o);
  const images = await decodeLatents(f.vae, z, { native: f.images.native, signal: o.signal });
  return { images, labels, inertia };
}

export const d4mMethod: MethodDef<D4mConfig> = {
  id: "d4m",
  description:
    "D4M: per-class k-means prototypes of real VAE latents, noised (strength 0.7) and denoised by the DiT",
  reference: "Su et al., CVPR 2024 (suduo94/D4M gen_prototype.py, gen_syn_image.py)",
  implemented: true,
  schema: D4mConfig,
  defaults: d4mDefaults,
  budget: D4M_BUDGET,
  scaleNotes: {
    ...SAMPLER_SCALE_NOTES,
    realPerClass: "a seeded subset of each class is encoded and clustered (encoding cost)",
    kmeansIterations: "fewer Lloyd iterations at most",
  },
  async distill(ctx: DistillContext<D4mConfig>): Promise<DistillResult> {
    const t0 = performance.now();
    const f = await loadFoundation(ctx.dataset, ctx.config.foundation);
    try {
      checkResolution(f, ctx.config.resolution, "d4m");
      const { images, labels, inertia } = await d4mImages(f, ctx.config, ctx.ipc, ctx.seed, ctx);
      return {
        set: unitImagesToSet(ctx, "d4m", images, labels, { foundation: f.source }),
        metrics: {
          samples: labels.length,
          meanInertia: inertia.reduce((s, v) => s + v, 0) / inertia.length,
          seconds: (performance.now() - t0) / 1000,
        },
      };
    } finally {
      disposeFoundation(f);
    }
  },
};
