/**
 * Training the small VAE on an embedded dataset: squared error + a small KL term on [-1, 1] images padded
 * to 32 px, resumable (models/resumable_training.ts). When training ends, the latent scaling factor is set
 * to 1/std of the train latents (the diffusion model then sees unit-variance latents, as SD's 0.18215 was
 * chosen), and the reconstruction PSNR is measured on the test split.
 */
import type { Dataset } from "../data/types.ts";
import * as E from "../engine/expr.ts";
import * as T from "../engine/ops/mod.ts";
import { AdamW } from "../engine/optim.ts";
import { Rng } from "../engine/random.ts";
import { noGrad, type Tensor, tidy } from "../engine/tensor.ts";
import { imageGridPng } from "../data/png.ts";
import { AutoencoderKL, klLoss } from "./vae.ts";
import { EpochSampler, meanPsnr, PaddedImages } from "./generative_data.ts";
import {
  type FoundationDataset,
  type FoundationProfile,
  IMAGE_SIZE,
  lrAt,
  runKey,
  type VaeRecipe,
  vaeRecipe,
} from "./foundation.ts";
import { type TrainingOutcome, trainResumable } from "./resumable_training.ts";

export interface PretrainContext {
  dataset: Dataset;
  profile: FoundationProfile;
  statePath: string;
  checkpointEveryMs?: number;
  status?: (line: string) => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Overrides of the recipe's step count (tests, `--steps`). */
  steps?: number;
}

export interface VaeMetrics {
  /** Mean per-image PSNR (dB) of test reconstructions through the posterior mean, on the native 28 px. */
  testPsnr: number;
  testImages: number;
  /** Std of the train latents' posterior means, and the scaling factor 1/std. */
  latentStd: number;
  scalingFactor: number;
}

export interface VaeRun {
  recipe: VaeRecipe;
  key: string;
  model: AutoencoderKL;
  outcome: TrainingOutcome;
  /** Present once training finished. */
  metrics: VaeMetrics | null;
  /** Test originals and reconstructions side by side, one row per class (PNG). */
  grid: Uint8Array | null;
}

const CHUNK = 64;

export function vaeRunRecipe(ctx: Pick<PretrainContext, "dataset" | "profile" | "steps">): VaeRecipe {
  const r = vaeRecipe(ctx.dataset.info.id as FoundationDataset, ctx.profile);
  const c = ctx.dataset.info.shape.channels;
  return {
    ...r,
    model: { ...r.model, inChannels: c, outChannels: c },
    ...(ctx.steps === undefined ? {} : { steps: ctx.steps }),
  };
}

export async function pretrainVae(ctx: PretrainContext): Promise<VaeRun> {
  const recipe = vaeRunRecipe(ctx);
  const key = runKey(recipe, ctx.dataset.manifest.hash, { dataset: ctx.dataset.info.id });
  const c = ctx.dataset.info.shape.channels;
  const train = new PaddedImages(ctx.dataset.train, c, IMAGE_SIZE);
  const root = new Rng(recipe.seed);
  const model = new AutoencoderKL(root.fork(1), recipe.model);
  const opt = new AdamW(model.parameters(), { lr: recipe.lr, weightDecay: recipe.weightDecay });
  const sampler = new EpochSampler(train.count, recipe.batch, root.fork(2).seed);
  const noise = root.fork(3);
  try {
    const outcome = await trainResumable({
      key,
      steps: recipe.steps,
      statePath: ctx.statePath,
      model,
      opt,
      lrAt: (s) => lrAt(recipe, s),
      batch: recipe.batch,
      checkpointEveryMs: ctx.checkpointEveryMs,
      status: ctx.status,
      log: ctx.log,
      signal: ctx.signal,
      label: `vae ${ctx.dataset.info.id}`,
      loss: vaeLoss(model, recipe, train, sampler, noise),
    });
    if (!outcome.done) return { recipe, key, model, outcome, metrics: null, grid: null };
    ctx.status?.(`vae ${ctx.dataset.info.id}: measuring the latent scale and the test PSNR`);
    const latentStd = await trainLatentStd(model, train, Math.min(recipe.scaleImages, train.count));
    model.cfg.scalingFactor = 1 / latentStd;
    const evalCount = Math.min(recipe.evalImages ?? ctx.dataset.test.count, ctx.dataset.test.count);
    const { psnr, grid } = await testReconstruction(
      model,
      new PaddedImages(ctx.dataset.test, c, IMAGE_SIZE),
      evalCount,
      ctx,
    );
    return {
      recipe,
      key,
      model,
      outcome,
      metrics: { testPsnr: psnr, testImages: evalCount, latentStd, scalingFactor: 1 / latentStd },
      grid,
    };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    opt.dispose();
  }
}

/**
 * The training loss of step s: squared error of reconstructions through a posterior sample plus the KL term,
 * per pixel: (Σ (y − x)² / n + klWeight · KL) / pixels.
 */
export function vaeLoss(
  model: AutoencoderKL,
  recipe: VaeRecipe,
  images: PaddedImages,
  sampler: EpochSampler,
  noise: Rng,
): (step: number) => Tensor {
  const pixels = images.size * images.size * images.channels;
  return (step) => {
    const x = images.batch(sampler.indices(step));
    const p = model.encode(x);
    const y = model.decode(model.sample(p, noise.fork(step)));
    const rec = T.sumOf(
      E.mul(E.cst(1 / (x.shape[0] * pixels)), E.un("square", E.sub(E.inp(0), E.inp(1)))),
      [y, x],
    );
    return T.add(rec, T.mul(klLoss(p), recipe.klWeight / pixels));
  };
}

/** Std over every element of the posterior means of the first `count` train images. */
async function trainLatentStd(model: AutoencoderKL, images: PaddedImages, count: number): Promise<number> {
  let s1 = 0, s2 = 0, n = 0;
  for (let b = 0; b < count; b += CHUNK) {
    const idx = Int32Array.from({ length: Math.min(CHUNK, count - b) }, (_, i) => b + i);
    const z = await noGrad(() => tidy(() => model.encode(images.batch(idx)).mean)).f32();
    for (const v of z) {
      s1 += v;
      s2 += v * v;
    }
    n += z.length;
  }
  const mean = s1 / n;
  return Math.sqrt(Math.max(s2 / n - mean * mean, 1e-12));
}

/** Mean PSNR of the first `count` test images' reconstructions, and a grid of 8 originals/reconstructions per class. */
async function testReconstruction(
  model: AutoencoderKL,
  images: PaddedImages,
  count: number,
  ctx: PretrainContext,
): Promise<{ psnr: number; grid: Uint8Array }> {
  const per = images.native * images.native * images.channels;
  let total = 0;
  const shown = new Map<number, number[]>();
  const toUnit = (t: Tensor) =>
    T.map(E.mul(E.add(E.bin("min", E.bin("max", E.inp(0), E.cst(-1)), E.cst(1)), E.cst(1)), E.cst(0.5)), [t]);
  const gridData: number[] = [], gridLabels: number[] = [];
  for (let b = 0; b < count; b += CHUNK) {
    if (ctx.signal?.aborted) throw new DOMException("interrupted", "AbortError");
    const idx = Int32Array.from({ length: Math.min(CHUNK, count - b) }, (_, i) => b + i);
    const [orig, rec] = noGrad(() =>
      tidy(() => {
        const x = images.batch(idx);
        return [toUnit(images.crop(x)), toUnit(images.crop(model.forward(x)))];
      })
    );
    const [o, r] = [await orig.f32(), await rec.f32()];
    orig.dispose();
    rec.dispose();
    total += meanPsnr(r, o, per) * idx.length;
    idx.forEach((i, k) => {
      const y = images.labels[i], list = shown.get(y) ?? [];
      if (list.length >= 8) return;
      list.push(i);
      shown.set(y, list);
      gridData.push(
        ...nhwcToNchw(o.subarray(k * per, (k + 1) * per), images),
        ...nhwcToNchw(r.subarray(k * per, (k + 1) * per), images),
      );
      gridLabels.push(y, y);
    });
    ctx.status?.(`vae: test reconstructions ${b + idx.length}/${count}`);
  }
  const side = images.native;
  const grid = imageGridPng(gridData, [gridLabels.length, images.channels, side, side], {
    labels: gridLabels,
    scale: 2,
  });
  return { psnr: total / count, grid };
}

function nhwcToNchw(img: Float32Array, images: PaddedImages): Float32Array {
  const c = images.channels, hw = images.native * images.native;
  if (c === 1) return img;
  const out = new Float32Array(img.length);
  for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[ch * hw + p] = img[p * c + ch];
  return out;
}
