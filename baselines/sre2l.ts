/**
 * SRe²L — Squeeze, Recover and Relabel (Yin, Xing & Shen, NeurIPS 2023; VILA-Lab/SRe2L).
 *
 * Squeeze: a teacher trained on the real data (baselines/teacher_net.ts). Recover: batches of synthetic
 * images, initialised N(0, 1) in the normalised space and holding every class, are optimised with Adam
 * (β 0.5, 0.9; cosine lr, no warm-up) on the frozen teacher in eval mode to minimise
 *   CE(teacher(aug(x)), y) + r_bn · Σ_l s_l (‖σ²_l − σ²_run,l‖₂ + ‖μ_l − μ_run,l‖₂),
 * μ_l, σ²_l the per-channel mean and biased variance of batch-norm layer l's input on the batch
 * (models/batchnorm_stats.ts), s_1 = the first-BN multiplier, s_l = 1 after; aug = the recipe's
 * random-resized crop + flip (Tiny-ImageNet/ImageNet) then a random circular shift (jitter); after each
 * step the pixels are clipped to the valid range. Relabel: the teacher's soft labels — per augmented
 * batch by the soft-KD evaluator protocols (FKD style); the set also carries the teacher's softmax on
 * each recovered image.
 */
import { z } from "zod";
import { backend, noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import * as E from "../engine/expr.ts";
import { grad } from "../engine/autograd.ts";
import { Rng } from "../engine/random.ts";
import { Adam } from "../engine/optim.ts";
import * as T from "../engine/ops/mod.ts";
import { randomResizedCrop } from "../data/augment.ts";
import { datasetInfo } from "../data/registry.ts";
import type { Classifier } from "../models/module.ts";
import { batchNormLayers, forwardWithBatchNormStats } from "../models/batchnorm_stats.ts";
import { restoreModel, snapshotModel } from "../models/checkpoint.ts";
import type { MethodBudget } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { inputSpec } from "./gradient_matching.ts";
import { toDistilledSet } from "../methods/synthesis.ts";
import {
  TEACHER_BUDGET_KEYS,
  TEACHER_SCALE_NOTES,
  teacherDefaults,
  TeacherFields,
  teacherNet,
  teacherSoftLabels,
} from "./teacher_net.ts";

export const Sre2lConfig = z.object({
  ...TeacherFields,
  iterations: z.number().int().min(0),
  /** Adam's base lr (cosine-annealed to 0 over `iterations`). */
  lr: z.number().positive(),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]),
  /** r_bn: weight of the batch-norm statistics loss. */
  rBn: z.number().min(0),
  /** Extra weight of the first batch-norm layer's term. */
  firstBnMultiplier: z.number().min(0),
  /** Largest circular shift in pixels (0: none). */
  jitter: z.number().int().min(0),
  /** "forward": shifts 0…jitter (CIFAR, ImageNet code); "symmetric": −jitter…jitter (Tiny code). */
  jitterMode: z.enum(["forward", "symmetric"]),
  /** "rrc-flip": RandomResizedCrop + horizontal flip before the shift (Tiny/ImageNet recover); "none". */
  augment: z.enum(["none", "rrc-flip"]),
  /** Images optimised together (class-balanced: ⌊batchSize / classes⌋ per class, at least 1). */
  batchSize: z.number().int().positive(),
}).strict();
export type Sre2lConfig = z.infer<typeof Sre2lConfig>;

/**
 * The recover recipe by the image size of the data that runs: recover_cifar.sh (32 px: lr 0.25, r_bn
 * 0.01, 1000 iterations, shift 0–4, no crop), recover_tiny.sh (64 px: lr 0.1, r_bn 1, 4000 iterations,
 * RRC + flip, shift ±4) and recover.sh (ImageNet: lr 0.25, r_bn 0.01, 4000 iterations, RRC + flip,
 * shift 0–32). First-BN multiplier 10 and batch 100 in all three.
 */
export function sre2lDefaults(datasetId: string): Sre2lConfig {
  const base = {
    ...teacherDefaults(),
    betas: [0.5, 0.9] as [number, number],
    firstBnMultiplier: 10,
    batchSize: 100,
  };
  let resizable = false;
  try {
    resizable = datasetInfo(datasetId).resizable;
  } catch {
    // An unknown id gets the small-image recipe; the runner reports the unknown dataset itself.
  }
  if (datasetId === "tiny-imagenet") {
    return {
      ...base,
      iterations: 4000,
      lr: 0.1,
      rBn: 1,
      jitter: 4,
      jitterMode: "symmetric",
      augment: "rrc-flip",
    };
  }
  if (resizable) {
    return {
      ...base,
      iterations: 4000,
      lr: 0.25,
      rBn: 0.01,
      jitter: 32,
      jitterMode: "forward",
      augment: "rrc-flip",
    };
  }
  return {
    ...base,
    iterations: 1000,
    lr: 0.25,
    rBn: 0.01,
    jitter: 4,
    jitterMode: "forward",
    augment: "none",
  };
}

/**
 * Profiles shrink the teacher (teacher_net.ts) and the recover iterations (family "sre2l": a quick
 * iteration of a 100-image batch on the width-32 ConvNet-3 costs about a third of a second here).
 */
export const SRE2L_BUDGET: MethodBudget<Sre2lConfig> = {
  family: "sre2l",
  keys: { ...TEACHER_BUDGET_KEYS, iterations: "iterations" },
};

/** torch.roll(x, (dy, dx), dims=(H, W)) for NHWC x: out[i] = x[(i − d) mod size]. Differentiable. */
export function roll(x: Tensor, dy: number, dx: number): Tensor {
  const [, h, w] = x.shape;
  const along = (t: Tensor, axis: 1 | 2, d: number, size: number): Tensor => {
    const s = ((d % size) + size) % size;
    if (s === 0) return t;
    const begin = (at: number) => axis === 1 ? [0, at, 0, 0] : [0, 0, at, 0];
    const len = (n: number) => axis === 1 ? [-1, n, -1, -1] : [-1, -1, n, -1];
    return T.concat([T.slice(t, begin(size - s), len(s)), T.slice(t, begin(0), len(size - s))], axis);
  };
  return along(along(x, 1, dy, h), 2, dx, w);
}

/** Per-channel bounds of valid pixels in the normalised space, as [1, 1, 1, C] tensors. */
function pixelBounds(mean: number[], std: number[]): { lo: Tensor; hi: Tensor } {
  const c = mean.length;
  return {
    lo: tensor(mean.map((m, i) => -m / std[i]), [1, 1, 1, c]).keep(),
    hi: tensor(mean.map((m, i) => (1 - m) / std[i]), [1, 1, 1, c]).keep(),
  };
}

/** Clips the pixels of `img` to the valid range in place (the reference's clip after each step). */
function clipInPlace(img: Tensor, bounds: { lo: Tensor; hi: Tensor }): void {
  backend().map(
    [E.bin("min", E.bin("max", E.inp(0), E.inp(1)), E.inp(2))],
    [img, bounds.lo, bounds.hi].map((t) => ({ s: t.storage, shape: t.shape })),
    img.shape,
    { into: [img.storage] },
  );
}

export interface RecoverLoss {
  total: Tensor;
  ce: Tensor;
  bn: Tensor;
}

/**
 * SRe²L's recover objective on an (augmented) batch: CE toward `labels` plus r_bn times the weighted sum
 * over batch-norm layers of ‖σ²_run − σ²‖₂ + ‖μ_run − μ‖₂.
 */
export function recoverLoss(
  teacher: Classifier,
  x: Tensor,
  labels: Tensor,
  rBn: number,
  firstBnMultiplier: number,
  varWeight = 1,
): RecoverLoss {
  const { logits, stats } = forwardWithBatchNormStats(teacher, x);
  const ce = T.crossEntropy(logits, labels);
  const norm = (a: Tensor, b: Tensor) => T.sqrt(T.sum(T.square(T.sub(a, b))));
  let bn: Tensor = T.fill([], 0);
  stats.forEach((s, l) => {
    const v = norm(s.runningVar, s.variance);
    const term = T.add(varWeight === 1 ? v : T.mul(v, varWeight), norm(s.runningMean, s.mean));
    bn = T.add(bn, T.mul(term, l === 0 ? firstBnMultiplier : 1));
  });
  return { total: T.add(ce, T.mul(bn, rBn)), ce, bn };
}

/** The recover step's augmentation: optional RRC + flip, then a random circular shift. */
function recoverAug(x: Tensor, cfg: Sre2lConfig, rng: Rng, digits: boolean): Tensor {
  let out = x;
  if (cfg.augment === "rrc-flip") out = randomResizedCrop(out, rng.fork(0), [0.08, 1], !digits);
  const j = Math.min(cfg.jitter, x.shape[1] - 1);
  if (j === 0) return out;
  const [u, v] = rng.fork(1).hostUniform(2);
  const draw = (r: number) =>
    cfg.jitterMode === "forward" ? Math.floor(r * (j + 1)) : Math.floor(r * (2 * j + 1)) - j;
  return roll(out, draw(u), draw(v));
}

/**
 * What a variant of the recover loop changes (DWA, baselines/dwa.ts); SRe²L itself uses the defaults.
 */
export interface RecoverVariant {
  /** Images per class in a batch (SRe²L: ⌊batchSize / classes⌋, at least 1). */
  perBatch?: number;
  /** Batch `b`'s starting images, `perClass` of each class, normalised NHWC, class-major (SRe²L: N(0, 1)). */
  init?: (b: number, perClass: number) => Tensor;
  /** Weight of the BN loss's variance term (SRe²L: 1). */
  varWeight?: number;
  /** Changes the teacher in place on the batch's first augmented view; undone after the batch. */
  adjustTeacher?: (teacher: Classifier, x: Tensor, y: Tensor) => void;
}

/** Recovers `perClass` images of every class in one batch; returns them NHWC, class-major. */
async function recoverBatch(
  ctx: DistillContext<Sre2lConfig>,
  teacher: Classifier,
  b: number,
  perClass: number,
  rng: Rng,
  bounds: { lo: Tensor; hi: Tensor },
  variant: RecoverVariant,
  onIteration: (it: number, loss: { total: number; ce: number; bn: number }) => void,
): Promise<{ images: Tensor; first: number[]; last: number[] }> {
  const cfg = ctx.config;
  const input = inputSpec(ctx.dataset);
  const classes = input.classes;
  const n = classes * perClass;
  const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / perClass));
  const y = tensor(labels, [n], "i32").keep();
  const img = noGrad(() =>
    variant.init
      ? variant.init(b, perClass)
      : rng.fork(0).normal([n, input.imageSize, input.imageSize, input.channels])
  ).keep().requireGrad();
  const opt = new Adam([img], { lr: cfg.lr, betas: cfg.betas, eps: 1e-8 });
  const saved = variant.adjustTeacher ? snapshotModel(teacher) : null;
  let first: number[] = [NaN, NaN, NaN], last = first;
  try {
    for (let it = 0; it < cfg.iterations; it++) {
      ctx.signal?.throwIfAborted();
      opt.setLr(0.5 * (1 + Math.cos((Math.PI * it) / cfg.iterations)) * cfg.lr);
      const itRng = rng.fork(1000 + it);
      const parts = tidy(() => {
        const xj = recoverAug(img, cfg, itRng, ctx.dataset.info.digits);
        if (it === 0 && variant.adjustTeacher) variant.adjustTeacher(teacher, xj.detach(), y);
        const l = recoverLoss(teacher, xj, y, cfg.rBn, cfg.firstBnMultiplier, variant.varWeight);
        const [g] = grad(l.total, [img]);
        noGrad(() => {
          opt.step([g]);
          clipInPlace(img, bounds);
        });
        return T.concat([T.reshape(l.total, [1]), T.reshape(l.ce, [1]), T.reshape(l.bn, [1])], 0).detach();
      });
      const v = Array.from(await parts.f32());
      parts.dispose();
      if (!v.every(Number.isFinite)) throw new Error(`sre2l: recover loss diverged at iteration ${it}`);
      if (it === 0) first = v;
      last = v;
      onIteration(it, { total: v[0], ce: v[1], bn: v[2] });
    }
    return { images: img.detach().keep(), first, last };
  } finally {
    if (saved) {
      restoreModel(teacher, saved);
      saved.dispose();
    }
    opt.dispose();
    img.dispose();
    y.dispose();
  }
}

/** Squeeze, recover and relabel: the set of `id` (SRe²L, or a variant of its recover loop). */
export async function recoverSet(
  ctx: DistillContext<Sre2lConfig>,
  id: string,
  variant: RecoverVariant = {},
): Promise<DistillResult> {
  const t0 = performance.now();
  const { dataset, ipc, config: cfg } = ctx;
  const classes = dataset.info.numClasses;
  const teacher = await teacherNet(dataset, cfg, ctx.progress, ctx.signal);
  const bounds = pixelBounds(dataset.info.mean, dataset.info.std);
  const batches: Tensor[] = [];
  try {
    if (batchNormLayers(teacher).length === 0) {
      throw new Error(
        `${id}: the teacher ${cfg.teacherModel} has no batch-norm layers to recover statistics from`,
      );
    }
    const perBatch = variant.perBatch ?? Math.max(1, Math.floor(cfg.batchSize / classes));
    const sizes: number[] = [];
    for (let done = 0; done < ipc; done += perBatch) sizes.push(Math.min(perBatch, ipc - done));
    const total = sizes.length * cfg.iterations;
    const rng = new Rng(ctx.seed);
    let firstLoss = NaN, lastLoss = NaN, lastCe = 0, lastBn = 0, firstBn = 0;
    for (let b = 0; b < sizes.length; b++) {
      const r = await recoverBatch(ctx, teacher, b, sizes[b], rng.fork(b), bounds, variant, (it, l) => {
        ctx.progress.update(
          b * cfg.iterations + it + 1,
          total,
          `recover (CE ${l.ce.toFixed(3)}, BN ${l.bn.toFixed(3)})`,
        );
      });
      batches.push(r.images);
      if (b === 0) [firstLoss, , firstBn] = r.first;
      [lastLoss, lastCe, lastBn] = r.last;
    }
    // Class-major order: batch b holds sizes[b] images of each class, class-major within the batch.
    const images = tidy(() => {
      const perClassParts: Tensor[] = [];
      for (let c = 0; c < classes; c++) {
        batches.forEach((x, b) =>
          perClassParts.push(T.slice(x, [c * sizes[b], 0, 0, 0], [sizes[b], -1, -1, -1]))
        );
      }
      return T.concat(perClassParts, 0);
    }).keep();
    try {
      const labels = Int32Array.from({ length: classes * ipc }, (_, i) => Math.floor(i / ipc));
      const { soft, acc } = await teacherSoftLabels(teacher, images, labels);
      const set = await toDistilledSet(ctx, id, images, labels, { teacher: cfg.teacherModel });
      set.softLabels = soft;
      return {
        set,
        metrics: {
          iterations: cfg.iterations,
          batches: sizes.length,
          firstLoss,
          finalLoss: lastLoss,
          finalCe: lastCe,
          firstBnLoss: firstBn,
          finalBnLoss: lastBn,
          teacherAccuracy: acc,
          seconds: (performance.now() - t0) / 1000,
        },
      };
    } finally {
      images.dispose();
    }
  } finally {
    batches.forEach((x) => x.dispose());
    bounds.lo.dispose();
    bounds.hi.dispose();
    teacher.dispose();
  }
}

export const sre2lMethod: MethodDef<Sre2lConfig> = {
  id: "sre2l",
  description:
    "SRe²L: recover images from a trained teacher's batch-norm statistics + CE, teacher soft labels",
  reference:
    "Yin, Xing & Shen, NeurIPS 2023 (VILA-Lab/SRe2L recover_cifar.py, recover_tiny.py, data_synthesis.py)",
  implemented: true,
  schema: Sre2lConfig,
  defaults: (datasetId) => sre2lDefaults(datasetId),
  budget: SRE2L_BUDGET,
  scaleNotes: {
    ...TEACHER_SCALE_NOTES,
    iterations: "fewer recover iterations fit the profile's time budget",
  },
  distill: (ctx) => recoverSet(ctx, "sre2l"),
};
