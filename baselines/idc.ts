/**
 * IDC — Dataset Condensation via Efficient Synthetic-Data Parameterization (Kim et al., ICML 2022;
 * docs/protocols.md §6.2, snu-mllab/Efficient-Dataset-Condensation `condense.py`).
 *
 * - Stored images live unnormalised in [0, 1] and are clamped after every outer iteration; each holds
 *   f×f downsized images (multi-formulation, data/multi_formulation.ts), decoded to f² full-size
 *   images and normalised before any network sees them. `idc-1` is the same loop with f = 1.
 * - Init `mix`: f² distinct real images of the class, nearest-downsized into the grid.
 * - Each outer iteration builds a new ConvNet; each inner step, per class: real batch ‖ a fresh random
 *   subset (at most `batchSynMax`) of the class's decoded images, as the reference's
 *   `Synthesizer.sample`, under one shared (Siamese) draw of IDC's DiffAug (flip, color, cutout when
 *   listed, plus one of crop/scale/rotate), mse/l1 distance of the CE gradients on the conv weights
 *   only, one image step per class; then the network trains one epoch on a random real subset with
 *   per-sample DiffAug of the matching strategy without cutout, plus CutMix (`condense.py: diffaug`).
 * - The DistilledSet holds the DECODED images in normalised space (f²·IPC per class, class-major), so
 *   evaluation needs nothing special (as baselines/idm.ts).
 */
import { z } from "zod";
import { backend, noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import * as E from "../engine/expr.ts";
import { grad } from "../engine/autograd.ts";
import { mixSeed, Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { dsa } from "../data/augment.ts";
import { decode, encode } from "../data/multi_formulation.ts";
import type { Dataset } from "../data/types.ts";
import type { Classifier } from "../models/module.ts";
import { trainClassifier } from "../evaluator/train.ts";
import { makeOptimizer } from "../evaluator/optimizer.ts";
import { type AugmentSpec, DsaStrategy, type OptimizerSpec } from "../evaluator/protocols.ts";
import { lrFollowsWidth, type MethodBudget, WIDTH_SCALE_NOTES } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { buildNet, classMajorLabels, classMatchLoss, inputSpec, RealPool } from "./gradient_matching.ts";
import { synthesize } from "../methods/synthesis.ts";

export const IdcConfig = z.object({
  /** Outer iterations (a new network each). */
  iterations: z.number().int().min(0),
  /** Inner steps per outer iteration (one image step per class each). */
  innerSteps: z.number().int().min(1),
  /** Multi-formulation factor (1: IDC-I, plain images). */
  factor: z.number().int().min(1),
  /** Effective image lr (base × IPC/10 in the defaults). */
  lrImg: z.number().positive(),
  momentumImg: z.number().min(0),
  distance: z.enum(["mse", "l1"]),
  /** Real images per class per matching step. */
  batchReal: z.number().int().positive(),
  /** At most this many decoded synthetic images of a class per matching step (a fresh random subset). */
  batchSynMax: z.number().int().positive(),
  /** Padding value (in [0, 1] space) when the side is not a multiple of the factor. */
  padValue: z.number(),
  /** Network update after each inner step: one pass over this many random real images. */
  netSamples: z.number().int().positive(),
  netEpochs: z.number().int().min(0),
  batchNet: z.number().int().positive(),
  lrNet: z.number().positive(),
  momentumNet: z.number().min(0),
  weightDecayNet: z.number().min(0),
  /** CutMix during the network update (null disables it; the net update then keeps cutout). */
  cutmix: z.object({ prob: z.number().min(0).max(1), beta: z.number().positive() }).strict().nullable(),
  model: z.string(),
  width: z.number().int().positive(),
  /**
   * DiffAug groups of the matching step (Siamese, IDC's default mode: flip/color/cutout when listed
   * plus one of crop/scale/rotate); the network update uses them per sample, without cutout under CutMix.
   */
  matchStrategy: DsaStrategy,
}).strict();
export type IdcConfig = z.infer<typeof IdcConfig>;

const isDigitsGray = (id: string) => id === "mnist" || id === "fashion-mnist";
const isImageNetStyle = (id: string) => /^image/.test(id);

/** Paper defaults; `factor` null picks IDC's (3 for ImageNet-style sets, else 2). */
export function idcDefaults(datasetId: string, ipc: number, factor: number | null): IdcConfig {
  const f = factor ?? (isImageNetStyle(datasetId) ? 3 : 2);
  const gray = isDigitsGray(datasetId);
  const mnistMulti = datasetId === "mnist" && f > 1;
  // Base lr per distance/dataset (§6.2); ImageNet-style uses mse at 3e-3 [the 1e-3 variant: l1].
  const base = gray ? 1e-4 : isImageNetStyle(datasetId) ? 3e-3 : 5e-3;
  return {
    iterations: 2000,
    innerSteps: 100,
    factor: f,
    lrImg: base * ipc / 10,
    momentumImg: 0.5,
    distance: gray ? "l1" : "mse",
    batchReal: 64,
    batchSynMax: 128,
    padValue: 0.5,
    netSamples: datasetId.startsWith("cifar") ? 2000 : 500,
    netEpochs: 1,
    batchNet: 64,
    lrNet: 0.01,
    momentumNet: 0.9,
    weightDecayNet: 5e-4,
    // The reference's mix_p: 0.5 on the small datasets, its default 1 on ImageNet; its MNIST f > 1 run
    // trains the network without CutMix (`--mixup_net vanilla`) and matches with `color_crop`.
    cutmix: mnistMulti ? null : { prob: isImageNetStyle(datasetId) ? 1 : 0.5, beta: 1 },
    model: "convnet3",
    width: 128,
    matchStrategy: mnistMulti ? ["color", "crop"] : ["color", "crop", "cutout"],
  };
}

/**
 * How profiles bound IDC and IDC-1 (family "idc"; the values are in experiments/profiles.ts): iteration
 * counts, batches, the network update's real images and the width; the per-step algorithm is unchanged.
 * The image lr is compensated for a narrower net by the measured growth of the distance's image gradient
 * with width (widthCompensation: mse ≈ width^0.75, l1 ≈ width^1.25).
 */
export const IDC_BUDGET: MethodBudget<IdcConfig> = {
  family: "idc",
  keys: {
    iterations: "iterations",
    innerSteps: "innerSteps",
    batchReal: "realBatch",
    batchSynMax: "synBatch",
    netSamples: "trainImages",
    batchNet: "trainBatch",
    width: "width",
  },
  derived: { lrImg: lrFollowsWidth((c) => c.distance === "l1" ? 1.25 : 0.75) },
};

/** The parameters IDC matches: conv weights only (rank 4, OHWI); biases, norm affine and FC skipped. */
export function matchedParams(net: Classifier): Tensor[] {
  return net.parameters().filter((p) => p.rank === 4);
}

/** [0, 1] NHWC images → the dataset's normalised space (per-channel mean/std). */
export function normalise(x: Tensor, info: Dataset["info"]): Tensor {
  const c = info.mean.length;
  return T.div(T.sub(x, tensor(info.mean, [1, 1, 1, c])), tensor(info.std, [1, 1, 1, c]));
}

/** Normalised NHWC images → [0, 1]. */
function denormalise(x: Tensor, info: Dataset["info"]): Tensor {
  const c = info.mean.length;
  return T.add(T.mul(x, tensor(info.std, [1, 1, 1, c])), tensor(info.mean, [1, 1, 1, c]));
}

/** Clamps a device tensor to [0, 1] in place (optimizer state and references stay valid). */
function clampInPlace(x: Tensor): void {
  const ex = E.bin("min", E.bin("max", E.inp(0), E.cst(0)), E.cst(1));
  backend().map([ex], [{ s: x.storage, shape: x.shape }], x.shape, { into: [x.storage] });
}

/**
 * Init `mix`: per class f²·ipc distinct real images (cycled when the class is smaller), laid out
 * cell-major as `encode` expects and nearest-downsized into `ipc` stored images, in [0, 1].
 */
export function initMix(
  pool: RealPool,
  info: Dataset["info"],
  ipc: number,
  factor: number,
  rng: Rng,
): Tensor {
  const classes = info.numClasses, k = factor * factor;
  return noGrad(() =>
    tidy(() => {
      const draws = Array.from({ length: classes }, (_, c) => pool.batch(c, k * ipc, rng.fork(c)).x);
      const sizes = draws.map((d) => d.shape[0]);
      const starts = sizes.map((_, c) => sizes.slice(0, c).reduce((a, b) => a + b, 0));
      const order = new Int32Array(k * classes * ipc);
      let r = 0;
      for (let q = 0; q < k; q++) {
        for (let c = 0; c < classes; c++) {
          for (let t = 0; t < ipc; t++) order[r++] = starts[c] + ((q * ipc + t) % sizes[c]);
        }
      }
      const cells = T.gather(T.concat(draws, 0), tensor(order, [order.length], "i32"));
      const x01 = T.clamp(denormalise(cells, info), 0, 1);
      return factor === 1 ? x01 : encode(x01, factor, "nearest");
    })
  );
}

/** Decoded, normalised images of class c (f²·ipc of them; stored rows [c·ipc, (c+1)·ipc)). */
export function decodeClass(
  img: Tensor,
  c: number,
  ipc: number,
  cfg: IdcConfig,
  info: Dataset["info"],
): Tensor {
  const xs = T.slice(img, [c * ipc, 0, 0, 0], [ipc, -1, -1, -1]);
  return normalise(decode(xs, cfg.factor, { padValue: cfg.padValue }), info);
}

/**
 * The decoded images a matching step uses: all `n` when n ≤ batchSynMax, else a random subset of
 * batchSynMax drawn anew each call (the reference's `Synthesizer.subsample`), as row indices.
 */
export function synSubset(n: number, cfg: Pick<IdcConfig, "batchSynMax">, rng: Rng): Int32Array | null {
  return n > cfg.batchSynMax ? rng.permutation(n).slice(0, cfg.batchSynMax) : null;
}

/** The matching step's augmentation: one Siamese draw of IDC's DiffAug over [real ‖ synthetic]. */
export function idcMatchAugment(x: Tensor, rng: Rng, cfg: IdcConfig, info: Dataset["info"]): Tensor {
  if (cfg.matchStrategy.length === 0) return x;
  return dsa(x, rng, { siamese: true, noFlip: info.digits, strategy: cfg.matchStrategy, mode: "idc" });
}

/**
 * The network update's augmentation (`condense.py: diffaug`): per-sample DiffAug of the matching
 * strategy, without cutout when CutMix is on, then CutMix.
 */
export function idcNetAugment(cfg: IdcConfig): AugmentSpec {
  const strategy = cfg.matchStrategy.filter((g) => !(cfg.cutmix && g === "cutout"));
  return strategy.length === 0
    ? { kind: "none", cutmix: cfg.cutmix }
    : { kind: "idc", strategy, cutmix: cfg.cutmix };
}

/**
 * One class's matching loss: the real batch and a random subset of the class's decoded images go
 * through one Siamese DiffAug draw as a single batch, then the conv-weight gradient distance.
 */
export function idcClassLoss(
  net: Classifier,
  params: readonly Tensor[],
  pool: RealPool,
  img: Tensor,
  c: number,
  ipc: number,
  cfg: IdcConfig,
  info: Dataset["info"],
  seed: number,
): Tensor {
  const rb = pool.batch(c, cfg.batchReal, new Rng(mixSeed(seed, 1)));
  let syn = decodeClass(img, c, ipc, cfg, info);
  const pick = synSubset(syn.shape[0], cfg, new Rng(mixSeed(seed, 3)));
  if (pick) syn = T.gather(syn, tensor(pick, [pick.length], "i32"));
  const nr = rb.x.shape[0], ns = syn.shape[0];
  const both = idcMatchAugment(T.concat([rb.x, syn], 0), new Rng(mixSeed(seed, 2)), cfg, info);
  const xr = T.slice(both, [0, 0, 0, 0], [nr, -1, -1, -1]);
  const xs = T.slice(both, [nr, 0, 0, 0], [ns, -1, -1, -1]);
  return classMatchLoss(
    net,
    params,
    { x: xr.detach(), y: rb.y },
    { x: xs, y: new Int32Array(ns).fill(c) },
    cfg.distance,
  );
}

/**
 * The IDC loop; `method` names the set. A regularizer (`ctx.regularizer`) is prepared and joins every
 * inner step (CMI, §9), per class on the class's decoded images.
 */
export function distillIdc(ctx: DistillContext<IdcConfig>, method: string): Promise<DistillResult> {
  const { dataset, ipc, seed, config: cfg, regularizer } = ctx;
  const info = dataset.info;
  const classes = info.numClasses;
  const input = inputSpec(dataset);
  const rng = new Rng(seed);
  const f2 = cfg.factor * cfg.factor;
  const n = classes * ipc;
  return synthesize(ctx, method, {
    loss: "match",
    iterations: cfg.iterations,
    optimizer: { lr: cfg.lrImg, momentum: cfg.momentumImg },
    setup: () => {
      const pool = new RealPool(dataset);
      const images = initMix(pool, info, ipc, cfg.factor, rng.fork(1)).keep().requireGrad();
      return { images, labels: classMajorLabels(classes, ipc), pool, dispose: () => pool.dispose() };
    },
    iterate: async ({ images: img, pool }, opt, it) => {
      const itRng = rng.fork(1000 + it);
      const net = buildNet(cfg.model, cfg.width, itRng.fork(0), input);
      const params = matchedParams(net);
      const netOpt: OptimizerSpec = {
        kind: "sgd",
        lr: cfg.lrNet,
        momentum: cfg.momentumNet,
        weightDecay: cfg.weightDecayNet,
      };
      // As the reference: one net optimizer per outer iteration, its momentum kept across inner steps.
      const netState = makeOptimizer(netOpt, net.parameters());
      // Matching losses stay on the device; one readback per outer iteration.
      let lossSum: Tensor | null = null;
      let loss: number;
      try {
        for (let s = 0; s < cfg.innerSteps; s++) {
          // CMI reloads its extractor every inner step (§9): the regularizer's step is the inner step's index.
          const step = it * cfg.innerSteps + s;
          await regularizer?.prepare(step);
          net.train();
          const stepSeed = mixSeed(itRng.seed, s + 1);
          for (let c = 0; c < classes; c++) {
            const lossT = tidy(() => {
              const loss = idcClassLoss(net, params, pool, img, c, ipc, cfg, info, mixSeed(stepSeed, c));
              let total = loss;
              if (regularizer) {
                // Per class update, on the class's decoded images (no augmentation).
                const xc = decodeClass(img, c, ipc, cfg, info);
                total = T.add(total, regularizer.loss(xc, new Int32Array(xc.shape[0]).fill(c), step));
              }
              const [g] = grad(total, [img]);
              noGrad(() => opt.step([g]));
              return lossSum ? T.add(lossSum, loss.detach()) : loss.detach();
            });
            lossSum?.dispose();
            lossSum = lossT;
          }
          if (s === cfg.innerSteps - 1 || cfg.netEpochs === 0) continue;
          // The network learns from real data: one pass over a random subset, DiffAug per sample + CutMix.
          const real = noGrad(() => tidy(() => pool.mixed(cfg.netSamples, itRng.fork(100 + s))));
          try {
            await trainClassifier(net, { x: real.x, y: real.y }, {
              epochs: cfg.netEpochs,
              batchSize: cfg.batchNet,
              optimizer: netOpt,
              optimizerState: netState,
              decay: { kind: "none" },
              augment: idcNetAugment(cfg),
              digits: info.digits,
              rng: itRng.fork(200 + s),
              lossEvery: Number.MAX_SAFE_INTEGER,
            });
          } finally {
            real.x.dispose();
          }
        }
        loss = (lossSum ? await (lossSum as Tensor).item() : NaN) / (classes * cfg.innerSteps);
      } finally {
        (lossSum as Tensor | null)?.dispose();
        netState.dispose();
        net.dispose();
      }
      noGrad(() => clampInPlace(img));
      return loss;
    },
    describe: (_, loss) => `iteration (match loss ${loss.toExponential(3)})`,
    finish: ({ images: img }) => {
      // Decoded per class → class-major f²·ipc images per class, normalised.
      const decoded = noGrad(() =>
        tidy(() => {
          const x = img.detach();
          return T.concat(Array.from({ length: classes }, (_, c) => decodeClass(x, c, ipc, cfg, info)), 0);
        })
      );
      return Promise.resolve({
        images: decoded,
        labels: classMajorLabels(classes, ipc * f2),
        extra: {
          decoded: `stored ${n} images of factor ${cfg.factor} decoded into ${n * f2} ` +
            `(${f2} per stored image, ${ipc * f2} per class); evaluate as is`,
          storedImages: String(n),
          factor: String(cfg.factor),
        },
        metrics: { storedImages: n, decodedImages: n * f2 },
        dispose: () => decoded.dispose(),
      });
    },
  });
}

export const idcMethod: MethodDef<IdcConfig> = {
  id: "idc",
  description: "IDC: multi-formulation (f = 2, 3 for ImageNet-style) gradient matching on conv weights",
  reference: "Kim et al., ICML 2022 (snu-mllab/Efficient-Dataset-Condensation condense.py)",
  implemented: true,
  schema: IdcConfig,
  defaults: (datasetId, ipc) => idcDefaults(datasetId, ipc, null),
  budget: IDC_BUDGET,
  scaleNotes: WIDTH_SCALE_NOTES,
  distill: (ctx) => distillIdc(ctx, "idc"),
  regularizable: true,
  imagesPerClass: (c, ipc) => c.factor * c.factor * ipc,
};

export const idc1Method: MethodDef<IdcConfig> = {
  id: "idc-1",
  description: "IDC-I: IDC's gradient matching without multi-formulation (factor 1)",
  reference: "Kim et al., ICML 2022 (snu-mllab/Efficient-Dataset-Condensation, --factor 1)",
  implemented: true,
  schema: IdcConfig,
  defaults: (datasetId, ipc) => idcDefaults(datasetId, ipc, 1),
  budget: IDC_BUDGET,
  scaleNotes: WIDTH_SCALE_NOTES,
  distill: (ctx) => distillIdc(ctx, "idc-1"),
  regularizable: true,
  imagesPerClass: (c, ipc) => c.factor * c.factor * ipc,
};
