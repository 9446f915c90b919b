/**
 * Training the small DiT on VAE latents of an embedded dataset, as DiT's train.py: x_0 = z·scale with z drawn
 * from the VAE posterior each step, labels dropped to the null class with p = 0.1, the hybrid loss (L_simple
 * + L_vb for the learned variance), AdamW, an EMA of the weights; resumable. The train split is encoded once
 * (posterior mean and log-variance) and cached in blocks keyed by the VAE's hash.
 *
 * When training ends, the EMA weights are sampled (DDIM with classifier-free guidance), decoded by the VAE
 * into a per-class grid, and judged by a ConvNet-3 trained on real data: the fraction of samples it assigns
 * to the class they were generated for, next to its accuracy on the real test split.
 */
import type { Dataset } from "../data/types.ts";
import * as E from "../engine/expr.ts";
import * as T from "../engine/ops/mod.ts";
import { AdamW, Ema } from "../engine/optim.ts";
import { Rng } from "../engine/random.ts";
import { readSafetensors, writeSafetensors } from "../engine/safetensors.ts";
import { backend, fromStorage, noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { diffusionLoss, dropLabels, linearBetas, makeSchedule } from "../diffusion/mod.ts";
import { decodeLatents, sampleLatents } from "./latent_sampling.ts";
import { imageGridPng } from "../data/png.ts";
import { sha256Hex } from "../results/key.ts";
import { splitToDevice } from "../evaluator/device_data.ts";
import { DiT } from "./dit.ts";
import { type AutoencoderKL, vaeFactor } from "./vae.ts";
import { EpochSampler, PaddedImages } from "./generative_data.ts";
import {
  type DitRecipe,
  ditRecipe,
  type FoundationDataset,
  IMAGE_SIZE,
  lrAt,
  runKey,
  totalSteps,
} from "./foundation.ts";
import { type TrainingOutcome, trainResumable } from "./resumable_training.ts";
import { cacheRoot, isFile } from "../data/fsutil.ts";
import { pretrained } from "../evaluator/pretrained.ts";
import type { PretrainContext } from "./pretrain_vae.ts";

export interface DitContext extends PretrainContext {
  vae: AutoencoderKL;
  /** sha256 of the VAE checkpoint file: part of the run key and of the latent cache's name. */
  vaeHash: string;
  /** The state file of the first phase, when the recipe has a restart (ditFirstPhaseKey names its run). */
  firstPhaseStatePath?: string;
}

export interface DitMetrics {
  /** Mean training loss over the last 10 % of steps. */
  finalLoss: number;
  /** Accuracy (%) of the real-data classifier on class-conditional samples at the recipe's CFG scale, and unguided. */
  sampleAccuracy: number;
  sampleAccuracyNoGuidance: number;
  samplesPerClass: number;
  cfgScale: number;
  sampler: string;
  /** That classifier's accuracy (%) on the real test split. */
  classifierTestAccuracy: number;
  classifier: string;
}

export interface DitRun {
  recipe: DitRecipe;
  key: string;
  model: DiT;
  outcome: TrainingOutcome;
  metrics: DitMetrics | null;
  /** Decoded samples, one row per class (PNG), at the recipe's CFG scale. */
  grid: Uint8Array | null;
}

const BLOCK = 5000;
const CHUNK = 64;

export function ditRunRecipe(ctx: Pick<PretrainContext, "dataset" | "profile" | "steps">): DitRecipe {
  const r = ditRecipe(ctx.dataset.info.id as FoundationDataset, ctx.profile);
  return {
    ...r,
    model: { ...r.model, numClasses: ctx.dataset.info.numClasses },
    ...(ctx.steps === undefined ? {} : { steps: ctx.steps }),
  };
}

type KeyContext = Pick<DitContext, "dataset" | "profile" | "steps" | "vaeHash">;

const keyOf = (recipe: DitRecipe, ctx: KeyContext): string =>
  runKey(recipe, ctx.dataset.manifest.hash, { dataset: ctx.dataset.info.id, vae: ctx.vaeHash });

/** The recipe without its restart: the first phase, keyed as a one-schedule run of it. */
function firstPhase(recipe: DitRecipe): DitRecipe {
  const { restart: _, ...first } = recipe;
  return first;
}

export function ditRunKey(ctx: KeyContext): string {
  return keyOf(ditRunRecipe(ctx), ctx);
}

/** The key of the first phase of a recipe with a restart (null without one). */
export function ditFirstPhaseKey(ctx: KeyContext): string | null {
  const recipe = ditRunRecipe(ctx);
  return recipe.restart ? keyOf(firstPhase(recipe), ctx) : null;
}

/** Posterior means and log-variances of the whole train split, [count, h, w, c] each, on the host. */
export interface LatentCache {
  mean: Float32Array;
  logvar: Float32Array;
  shape: [number, number, number];
}

/** Encodes the train split in blocks of 5000 images, each cached on disk (a killed run keeps finished blocks). */
export async function trainLatents(ctx: DitContext, limit: number | null): Promise<LatentCache> {
  const { dataset, vae } = ctx;
  const images = new PaddedImages(dataset.train, dataset.info.shape.channels, IMAGE_SIZE);
  const count = Math.min(limit ?? images.count, images.count);
  const L = vae.cfg.latentChannels, side = IMAGE_SIZE / vaeFactor(vae.cfg);
  const per = side * side * L;
  const mean = new Float32Array(count * per), logvar = new Float32Array(count * per);
  const dir = `${cacheRoot()}/pretrain`;
  await Deno.mkdir(dir, { recursive: true });
  const tag = sha256Hex(`${dataset.manifest.hash} ${ctx.vaeHash}`).slice(0, 16);
  for (let b0 = 0; b0 < count; b0 += BLOCK) {
    const n = Math.min(BLOCK, count - b0);
    const path = `${dir}/latents-${dataset.info.id}-${tag}-${b0}-${n}.safetensors`;
    try {
      const file = await readSafetensors(path);
      const m = file.tensors.mean, v = file.tensors.logvar;
      if (file.metadata.tag === tag && m?.data.length === n * per && v?.data.length === n * per) {
        mean.set(m.data as Float32Array, b0 * per);
        logvar.set(v.data as Float32Array, b0 * per);
        continue;
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        ctx.log?.(`latent cache ${path} unusable (${e}); re-encoding`);
      }
    }
    const bm = new Float32Array(n * per), bv = new Float32Array(n * per);
    for (let c0 = 0; c0 < n; c0 += CHUNK) {
      if (ctx.signal?.aborted) throw new DOMException("interrupted", "AbortError");
      const idx = Int32Array.from({ length: Math.min(CHUNK, n - c0) }, (_, i) => b0 + c0 + i);
      const [pm, pv] = noGrad(() =>
        tidy(() => {
          const p = vae.encode(images.batch(idx));
          return [p.mean, p.logvar];
        })
      );
      bm.set(await pm.f32(), c0 * per);
      bv.set(await pv.f32(), c0 * per);
      pm.dispose();
      pv.dispose();
      ctx.status?.(
        `dit ${dataset.info.id}: encoding the train split ${b0 + c0 + idx.length}/${count}`,
      );
    }
    await writeSafetensors(path, {
      mean: { dtype: "F32", shape: [n, side, side, L], data: bm },
      logvar: { dtype: "F32", shape: [n, side, side, L], data: bv },
    }, { tag });
    mean.set(bm, b0 * per);
    logvar.set(bv, b0 * per);
  }
  return { mean, logvar, shape: [side, side, L] };
}

/** Rows `idx` of the cache as scaled posterior samples z·scale, z = μ + e^{logvar/2}·ε. */
function latentBatch(c: LatentCache, idx: Int32Array, scale: number, rng: Rng): Tensor {
  const per = c.shape[0] * c.shape[1] * c.shape[2];
  const m = new Float32Array(idx.length * per), v = new Float32Array(idx.length * per);
  idx.forEach((i, k) => {
    m.set(c.mean.subarray(i * per, (i + 1) * per), k * per);
    v.set(c.logvar.subarray(i * per, (i + 1) * per), k * per);
  });
  const shape = [idx.length, ...c.shape];
  const mt = fromStorage(backend().upload(m), shape), vt = fromStorage(backend().upload(v), shape);
  const eps = rng.normal(shape);
  return T.map(
    E.mul(E.add(E.inp(0), E.mul(E.un("exp", E.mul(E.cst(0.5), E.inp(1))), E.inp(2))), E.cst(scale)),
    [mt, vt, eps],
  );
}

/**
 * The training loss of step s (DiT's train.py): x_0 = z·scale with z drawn from the cached posterior, labels
 * dropped to the null class with the recipe's probability, the hybrid loss at t ~ U{0..999}.
 */
export function ditLoss(
  model: DiT,
  recipe: DitRecipe,
  latents: LatentCache,
  labels: Int32Array,
  scale: number,
  sampler: EpochSampler,
  noise: Rng,
): (step: number) => Tensor {
  const schedule = makeSchedule(linearBetas(1000));
  return (step) => {
    const r = noise.fork(step);
    const idx = sampler.indices(step);
    const x0 = latentBatch(latents, idx, scale, r.fork(0));
    const y = dropLabels(
      Array.from(idx, (i) => labels[i]),
      recipe.model.numClasses,
      recipe.labelDropout,
      r.fork(1),
    );
    return diffusionLoss(model, schedule, x0, tensor(y, [y.length], "i32"), r.fork(2)).loss;
  };
}

export async function pretrainDit(ctx: DitContext): Promise<DitRun> {
  const recipe = ditRunRecipe(ctx);
  const key = ditRunKey(ctx);
  const latents = await trainLatents(ctx, recipe.trainImages);
  const [h, , c] = latents.shape;
  if (h !== recipe.model.inputSize || c !== recipe.model.inChannels) {
    throw new Error(
      `the VAE's latents are ${
        latents.shape.join("×")
      }; the DiT recipe expects ${recipe.model.inputSize}² × ${recipe.model.inChannels}`,
    );
  }
  const labels = ctx.dataset.train.labels.subarray(0, latents.mean.length / (h * h * c));
  const root = new Rng(recipe.seed);
  const model = new DiT(root.fork(1), recipe.model);
  const opt = new AdamW(model.parameters(), { lr: recipe.lr, weightDecay: recipe.weightDecay });
  const ema = new Ema(model.parameters(), recipe.emaDecay);
  const sampler = new EpochSampler(labels.length, recipe.batch, root.fork(2).seed);
  const noise = root.fork(3);
  const scale = ctx.vae.cfg.scalingFactor;
  const loss = ditLoss(model, recipe, latents, labels, scale, sampler, noise);
  const phase = (key: string, steps: number, statePath: string, start?: TrainingOutcome) =>
    trainResumable({
      key,
      steps,
      statePath,
      model,
      opt,
      ema,
      lrAt: (s) => lrAt(recipe, s),
      batch: recipe.batch,
      checkpointEveryMs: ctx.checkpointEveryMs,
      status: ctx.status,
      log: ctx.log,
      signal: ctx.signal,
      label: `dit ${ctx.dataset.info.id}`,
      loss,
      ...(start
        ? { start: { step: start.step, lossCurve: start.lossCurve, trainSeconds: start.trainSeconds } }
        : {}),
    });
  try {
    let outcome: TrainingOutcome;
    if (recipe.restart) {
      if (!ctx.firstPhaseStatePath) {
        throw new Error("a DiT recipe with a restart needs the first phase's state path");
      }
      outcome = await trainWithRestart(phase, {
        first: { key: ditFirstPhaseKey(ctx)!, steps: recipe.steps, statePath: ctx.firstPhaseStatePath },
        restart: { key, steps: totalSteps(recipe), statePath: ctx.statePath },
      });
    } else {
      outcome = await phase(key, recipe.steps, ctx.statePath);
    }
    if (!outcome.done) return { recipe, key, model, outcome, metrics: null, grid: null };
    ema.copyTo();
    const metrics = await judgeSamples(ctx, recipe, model, outcome);
    return { recipe, key, model, outcome, ...metrics };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    opt.dispose();
    ema.dispose();
  }
}

/** Decoded samples in [0, 1] at the native size, NHWC on the host. */
export async function generate(
  ctx: DitContext,
  recipe: DitRecipe,
  model: DiT,
  classes: number[],
  cfgScale: number,
  seed: number,
): Promise<Float32Array> {
  const images = new PaddedImages(ctx.dataset.test, ctx.dataset.info.shape.channels, IMAGE_SIZE);
  const { inputSize: s, inChannels: c } = model.cfg;
  const z = await sampleLatents(model, [s, s, c], classes, {
    method: "ddim",
    steps: recipe.sampleSteps,
    cfgScale,
    seed,
    signal: ctx.signal,
    progress: {
      update: (done, total) =>
        ctx.status?.(`dit ${ctx.dataset.info.id}: sampling (cfg ${cfgScale}) ${done}/${total}`),
      log: () => {},
    },
  });
  return (await decodeLatents(ctx.vae, z, { native: images.native, signal: ctx.signal })).data;
}

/**
 * Images per judge forward: a width-128 ConvNet-3 activation of 500 images (250 MiB) exceeds the 128 MiB
 * a storage binding may hold on llvmpipe (and on many GPUs).
 */
const JUDGE_BATCH = 100;

async function judgeSamples(
  ctx: DitContext,
  recipe: DitRecipe,
  model: DiT,
  outcome: TrainingOutcome,
): Promise<{ metrics: DitMetrics; grid: Uint8Array }> {
  const { dataset } = ctx;
  const k = dataset.info.numClasses, ch = dataset.info.shape.channels;
  const side = dataset.info.shape.height;
  const cls = recipe.classifier;
  ctx.status?.(`dit ${dataset.info.id}: training the ${cls.model} judge on real data`);
  const judge = await pretrained(
    {
      model: cls.model,
      dataset,
      epochs: cls.epochs,
      seed: cls.seed,
      ...(cls.trainLimit ? { trainLimit: cls.trainLimit } : {}),
    },
    undefined,
    ctx.signal,
  );
  try {
    const accuracy = async (imgs: Float32Array, labels: number[]): Promise<number> => {
      const per = side * side * ch;
      let correct = 0;
      for (let b = 0; b < labels.length; b += JUDGE_BATCH) {
        const n = Math.min(JUDGE_BATCH, labels.length - b);
        const x = normalise(imgs.subarray(b * per, (b + n) * per), dataset, [n, side, side, ch]);
        const hit = noGrad(() =>
          tidy(() => T.correctCount(judge.forward(x), tensor(labels.slice(b, b + n), [n], "i32")))
        );
        correct += await hit.item();
        hit.dispose();
        x.dispose();
      }
      return (100 * correct) / labels.length;
    };
    const { x: testX, y: testY } = splitToDevice(dataset, dataset.test);
    let testCorrect = 0;
    for (let b = 0; b < testY.length; b += JUDGE_BATCH) {
      const n = Math.min(JUDGE_BATCH, testY.length - b);
      const hit = noGrad(() =>
        tidy(() =>
          T.correctCount(
            judge.forward(T.slice(testX, [b, 0, 0, 0], [n, -1, -1, -1])),
            tensor(testY.subarray(b, b + n), [n], "i32"),
          )
        )
      );
      testCorrect += await hit.item();
      hit.dispose();
    }
    testX.dispose();
    const classes = Array.from({ length: k * recipe.evalPerClass }, (_, i) => i % k);
    const guided = await generate(ctx, recipe, model, classes, recipe.cfgScale, recipe.seed + 1);
    const plain = await generate(ctx, recipe, model, classes, 1, recipe.seed + 2);
    const tail = outcome.lossCurve.slice(-Math.max(1, Math.round(outcome.lossCurve.length / 10)));
    const metrics: DitMetrics = {
      finalLoss: tail.reduce((s, p) => s + p.loss, 0) / tail.length,
      sampleAccuracy: await accuracy(guided, classes),
      sampleAccuracyNoGuidance: await accuracy(plain, classes),
      samplesPerClass: recipe.evalPerClass,
      cfgScale: recipe.cfgScale,
      sampler: recipe.sampleSteps,
      classifierTestAccuracy: (100 * testCorrect) / testY.length,
      classifier: `${cls.model}, ${cls.epochs} epochs on ${
        cls.trainLimit ?? "all"
      } real train images, seed ${cls.seed}`,
    };
    // The grid: the first (up to) 10 guided samples of every class, class-major rows.
    const show = Math.min(10, recipe.evalPerClass), per = side * side * ch;
    const gridData: number[] = [], gridLabels: number[] = [];
    for (let y = 0; y < k; y++) {
      for (let j = 0; j < show; j++) {
        const i = j * k + y;
        gridData.push(...toNchw(guided.subarray(i * per, (i + 1) * per), side, ch));
        gridLabels.push(y);
      }
    }
    const grid = imageGridPng(gridData, [gridLabels.length, ch, side, side], {
      labels: gridLabels,
      scale: 2,
    });
    return { metrics, grid };
  } finally {
    judge.dispose();
  }
}

/** [0, 1] NHWC images → the dataset's normalised classifier input. */
function normalise(imgs: Float32Array, dataset: Dataset, shape: number[]): Tensor {
  const c = shape[3], { mean, std } = dataset.info;
  const out = imgs.map((v, i) => (v - mean[i % c]) / std[i % c]);
  return fromStorage(backend().upload(out), shape);
}

function toNchw(img: Float32Array, side: number, c: number): Float32Array {
  if (c === 1) return img;
  const hw = side * side, out = new Float32Array(img.length);
  for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[ch * hw + p] = img[p * c + ch];
  return out;
}

interface Phase {
  key: string;
  /** The step the phase ends at (counted from the first phase's start). */
  steps: number;
  statePath: string;
}

/**
 * A first phase, then its restart continuing it (`phase` trains one; `start` is the outcome it continues).
 * Once the restart has saved its own state, the first phase is behind it and is not consulted: its state
 * file may be gone. Returns the first phase's outcome while that is unfinished.
 */
export async function trainWithRestart(
  phase: (key: string, steps: number, statePath: string, start?: TrainingOutcome) => Promise<TrainingOutcome>,
  p: { first: Phase; restart: Phase },
): Promise<TrainingOutcome> {
  const { first, restart } = p;
  const start = isFile(restart.statePath) ? undefined : await phase(first.key, first.steps, first.statePath);
  if (start && !start.done) return start;
  return phase(restart.key, restart.steps, restart.statePath, start);
}
