/**
 * Training and caching IGDS's variational estimator (§4.1.3, Algorithm 1): the encoder f_θ by MoCo-style
 * instance discrimination — two augmented views of each image, the query encoder against the keys of a
 * momentum encoder and a FIFO queue of earlier keys — plus λ times the class-centroid entropy term
 * (methods/igds_objective.ts); then a linear classifier on the frozen encoder, with cross-entropy.
 *
 * The VE reads images as the foundation's VAE decodes them ([-1, 1], padded to the VAE's side), so IGDS
 * differentiates decode → VE without a change of space. A trained VE is cached under a key of
 * everything that determines its weights (data, recipe, code), written atomically and verified on load.
 */
import * as T from "../engine/ops/mod.ts";
import { grad } from "../engine/autograd.ts";
import { Adam, Ema, SGD } from "../engine/optim.ts";
import { Rng } from "../engine/random.ts";
import { noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { randomResizedCrop } from "../data/augment.ts";
import { cacheRoot } from "../data/fsutil.ts";
import type { ProgressReporter } from "../data/progress.ts";
import type { Dataset } from "../data/types.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";
import { trainingCodeVersion } from "../results/source_versions.ts";
import { loadModelInto, saveModel } from "../models/checkpoint.ts";
import { EpochSampler, type PaddedImages } from "../models/generative_data.ts";
import {
  l2Normalize,
  VariationalEstimator,
  VeEncoder,
  type VeNetConfig,
} from "../models/variational_estimator.ts";
import { classCentroids, veLoss } from "./igds_objective.ts";

/** The key recipe's version; the training code itself is versioned by its sources. */
export const VE_VERSION = "1";

/** Everything that determines a VE's weights besides the data. */
export interface VeRecipe {
  width: number;
  depth: number;
  featureDim: number;
  /** Encoder epochs over `images` real images (null: the whole train split). */
  epochs: number;
  images: number | null;
  batch: number;
  /** SGD (momentum 0.9, weight decay 1e-4) learning rate of the encoder (MoCo: 0.03). */
  lr: number;
  /** Momentum m of the key encoder (MoCo: 0.999) and the queue's length K (MoCo: 65536). */
  momentum: number;
  queue: number;
  /** InfoNCE temperature τ (MoCo v1: 0.07); P_x of the entropy term uses it too. */
  tau: number;
  /** λ of the entropy term (0: MoCo). */
  lambda: number;
  /** Moving-average momentum of the class centroids Q_y between steps. */
  centroidMomentum: number;
  /** Epochs of the linear classifier on the frozen features (Adam, lr 0.05: the features are unit vectors, so the weights must grow). */
  classifierEpochs: number;
  seed: number;
}

export interface VeLog {
  steps: number;
  /** Mean InfoNCE over the first and the last tenth of the encoder's steps; last entropy term. */
  firstNce: number;
  lastNce: number;
  lastEntropy: number;
  /** The linear classifier's accuracy on its training features. */
  classifierAccuracy: number;
}

export interface LoadedVe {
  ve: VariationalEstimator;
  /** The real images (indices into the foundation's) it was trained on. */
  trainIdx: Int32Array;
  log: VeLog;
  cached: boolean;
  path: string;
}

/** The real images a VE trains on: the first `images` of a seeded permutation, or all. */
export function veTrainIndices(count: number, recipe: VeRecipe): Int32Array {
  const perm = new Rng(recipe.seed).fork(41).permutation(count);
  return recipe.images !== null && recipe.images < count ? perm.slice(0, recipe.images) : perm;
}

export function veKey(dataset: Dataset, images: PaddedImages, recipe: VeRecipe): string {
  return sha256Hex(canonicalJson({
    v: VE_VERSION,
    // The code that trains it (engine, data, models, evaluator, this module and its imports).
    code: trainingCodeVersion("methods/igds_estimator.ts"),
    dataset: dataset.manifest.hash,
    trainCount: dataset.train.count,
    labels: sha256Hex(
      new Uint8Array(images.labels.buffer, images.labels.byteOffset, images.labels.byteLength),
    ),
    side: images.size,
    recipe,
  }));
}

/** The config of a VE for a foundation's images and classes. */
export function veNetConfig(images: PaddedImages, classes: number, recipe: VeRecipe): VeNetConfig {
  return {
    channels: images.channels,
    imageSize: images.size,
    classes,
    width: recipe.width,
    depth: recipe.depth,
    featureDim: recipe.featureDim,
  };
}

/** A trained VE in eval mode: loaded from the cache, or trained now and cached. */
export async function loadVariationalEstimator(
  dataset: Dataset,
  images: PaddedImages,
  recipe: VeRecipe,
  o: { progress?: ProgressReporter; signal?: AbortSignal } = {},
): Promise<LoadedVe> {
  const classes = dataset.info.numClasses;
  const key = veKey(dataset, images, recipe);
  const path = `${cacheRoot()}/igds-ve/${dataset.info.id}-${key.slice(0, 16)}.safetensors`;
  const trainIdx = veTrainIndices(images.count, recipe);
  const ve = new VariationalEstimator(new Rng(recipe.seed), veNetConfig(images, classes, recipe));
  try {
    const meta = await loadModelInto(ve, path);
    if (meta.key === key) {
      const log = parseLog(meta.log);
      if (log) return { ve: ve.eval(), trainIdx, log, cached: true, path };
    }
    o.progress?.log(`IGDS VE cache ${path} does not match its key; retraining`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      o.progress?.log(`IGDS VE cache ${path} unusable (${e instanceof Error ? e.message : e}); retraining`);
    }
  }
  try {
    const log = await trainVariationalEstimator(ve, images, trainIdx, recipe, dataset.info.digits, o);
    await Deno.mkdir(`${cacheRoot()}/igds-ve`, { recursive: true });
    await saveModel(ve, path, { key, dataset: dataset.info.id, log: JSON.stringify(log) });
    return { ve: ve.eval(), trainIdx, log, cached: false, path };
  } catch (e) {
    ve.dispose();
    throw e;
  }
}

function parseLog(s: string | undefined): VeLog | null {
  try {
    const v = JSON.parse(s ?? "null");
    const keys = ["steps", "firstNce", "lastNce", "lastEntropy", "classifierAccuracy"] as const;
    return v && keys.every((k) => typeof v[k] === "number") ? v as VeLog : null;
  } catch {
    return null;
  }
}

/** Two augmented views' worth of one augmentation: a random resized crop (scale 0.4–1), flipped unless digits. */
function view(x: Tensor, rng: Rng, digits: boolean): Tensor {
  return randomResizedCrop(x, rng, [0.4, 1], !digits);
}

/** The MoCo queue's initial keys: random unit rows (as MoCo's normalised randn buffer). */
function initialQueue(rng: Rng, k: number, d: number): Tensor {
  return noGrad(() => l2Normalize(rng.normal([k, d]))).keep();
}

/**
 * Trains `ve` in place: the encoder by the VE objective, then the classifier on its frozen features.
 * Deterministic given the recipe's seed.
 */
export async function trainVariationalEstimator(
  ve: VariationalEstimator,
  images: PaddedImages,
  idx: Int32Array,
  recipe: VeRecipe,
  digits: boolean,
  o: { progress?: ProgressReporter; signal?: AbortSignal } = {},
): Promise<VeLog> {
  const enc = ve.encoder;
  const batch = Math.min(recipe.batch, idx.length);
  if (recipe.queue < batch) {
    throw new Error(`IGDS VE: the queue (${recipe.queue}) must hold at least one batch (${batch})`);
  }
  const sampler = new EpochSampler(idx.length, batch, new Rng(recipe.seed).fork(42).seed);
  const steps = recipe.epochs * sampler.stepsPerEpoch;
  const rng = new Rng(recipe.seed).fork(43);
  // The key encoder starts as a copy of the query encoder (same seed) and follows it by momentum.
  const keyEnc = new VeEncoder(new Rng(recipe.seed).fork(1), enc.cfg);
  const params = enc.parameters();
  const ema = new Ema(params, recipe.momentum);
  ema.copyTo(keyEnc.parameters());
  const opt = new SGD(params, { lr: recipe.lr, momentum: 0.9, weightDecay: 1e-4 });
  const d = recipe.featureDim, classes = ve.cfg.classes;
  let queue = initialQueue(rng.fork(1), recipe.queue, d);
  const centroids = new Float32Array(classes * d).fill(1 / d);
  const log: { nce: number; entropy: number }[] = [];
  enc.train();
  keyEnc.train();
  try {
    for (let step = 0; step < steps; step++) {
      o.signal?.throwIfAborted();
      const r = rng.fork(100 + step);
      const b = sampler.indices(step).map((i) => idx[i]);
      const labels = Int32Array.from(b, (i) => images.labels[i]);
      const out = tidy(() => {
        const x = noGrad(() => images.batch(b));
        const k = noGrad(() => keyEnc.forward(view(x, r.fork(2), digits)));
        const q = enc.forward(view(x, r.fork(1), digits));
        const cent = recipe.lambda === 0 ? null : tensor(centroids, [classes, d]);
        const terms = veLoss({ q, k, queue, labels, centroids: cent }, {
          tau: recipe.tau,
          lambda: recipe.lambda,
        });
        const grads = grad(terms.loss, params);
        noGrad(() => opt.step(grads));
        const newQueue = noGrad(() => T.concat([k, T.slice(queue, [0, 0], [recipe.queue - batch, d])], 0));
        const means = recipe.lambda === 0
          ? null
          : noGrad(() => classCentroids(q.detach(), recipe.tau, labels, classes));
        return { nce: terms.nce.detach(), entropy: terms.entropy?.detach() ?? null, newQueue, means };
      });
      ema.update();
      ema.copyTo(keyEnc.parameters());
      queue.dispose();
      queue = out.newQueue.keep();
      if (out.means) {
        const m = await out.means.f32();
        out.means.dispose();
        const present = new Set(labels);
        for (const c of present) {
          for (let j = 0; j < d; j++) {
            const at = c * d + j;
            centroids[at] = recipe.centroidMomentum * centroids[at] + (1 - recipe.centroidMomentum) * m[at];
          }
        }
      }
      const entry = { nce: await out.nce.item(), entropy: out.entropy ? await out.entropy.item() : 0 };
      out.nce.dispose();
      out.entropy?.dispose();
      if (!Number.isFinite(entry.nce + entry.entropy)) {
        throw new Error(`IGDS VE: the encoder's loss diverged at step ${step}`);
      }
      log.push(entry);
      o.progress?.update(step + 1, steps, `training the IGDS estimator (InfoNCE ${entry.nce.toFixed(3)})`);
    }
  } finally {
    queue.dispose();
    opt.dispose();
    ema.dispose();
    keyEnc.dispose();
    enc.eval();
  }
  const accuracy = await trainLinearClassifier(ve, images, idx, recipe, o);
  const tenth = Math.max(1, Math.round(log.length / 10));
  const avg = (xs: typeof log, k: "nce" | "entropy") => xs.reduce((a, e) => a + e[k], 0) / (xs.length || 1);
  return {
    steps,
    firstNce: avg(log.slice(0, tenth), "nce"),
    lastNce: avg(log.slice(-tenth), "nce"),
    lastEntropy: avg(log.slice(-tenth), "entropy"),
    classifierAccuracy: accuracy,
  };
}

/** Unit features of real images `idx` under the (frozen) encoder, [n, D], in chunks. */
export function encodeReal(enc: VeEncoder, images: PaddedImages, idx: Int32Array, chunk = 256): Tensor {
  return noGrad(() =>
    tidy(() => {
      const parts: Tensor[] = [];
      for (let s = 0; s < idx.length; s += chunk) {
        parts.push(enc.forward(images.batch(idx.subarray(s, s + chunk))));
      }
      return parts.length === 1 ? parts[0] : T.concat(parts, 0);
    })
  );
}

/** Trains the classifier on the frozen encoder's features; returns its training accuracy. */
async function trainLinearClassifier(
  ve: VariationalEstimator,
  images: PaddedImages,
  idx: Int32Array,
  recipe: VeRecipe,
  o: { progress?: ProgressReporter; signal?: AbortSignal },
): Promise<number> {
  const feats = encodeReal(ve.encoder, images, idx).keep();
  const labels = Int32Array.from(idx, (i) => images.labels[i]);
  const params = ve.classifier.parameters();
  const opt = new Adam(params, { lr: 0.05 });
  const rng = new Rng(recipe.seed).fork(44);
  const bs = Math.min(256, idx.length);
  try {
    for (let e = 0; e < recipe.classifierEpochs; e++) {
      o.signal?.throwIfAborted();
      const perm = rng.fork(e).permutation(idx.length);
      for (let s = 0; s + bs <= idx.length; s += bs) {
        const rows = perm.subarray(s, s + bs);
        tidy(() => {
          const x = T.gather(feats, tensor(rows, [rows.length], "i32"));
          const y = tensor(Int32Array.from(rows, (i) => labels[i]), [rows.length], "i32");
          const loss = T.crossEntropy(ve.classifier.forward(x), y);
          opt.step(grad(loss, params));
        });
      }
      o.progress?.update(e + 1, recipe.classifierEpochs, "training the IGDS estimator's classifier");
    }
    const correct = noGrad(() =>
      tidy(() => T.correctCount(ve.classifier.forward(feats), tensor(labels, [labels.length], "i32")))
    );
    const n = await correct.item();
    correct.dispose();
    return n / labels.length;
  } finally {
    feats.dispose();
    opt.dispose();
  }
}

/** Q_y: the class means of P = softmax(z/τ) over the VE's real training images, [C, D] (kept). */
export function dataCentroids(
  enc: VeEncoder,
  images: PaddedImages,
  idx: Int32Array,
  tau: number,
  classes: number,
): Tensor {
  const labels = Int32Array.from(idx, (i) => images.labels[i]);
  return noGrad(() =>
    tidy(() => {
      const z = encodeReal(enc, images, idx);
      return classCentroids(z, tau, labels, classes);
    })
  ).keep();
}
