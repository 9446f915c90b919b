/**
 * MTT — matching training trajectories (Cazenavette et al., CVPR 2022; docs/protocols.md §6.3,
 * mtt-distillation `distill.py`). Iteration: pick an expert and a start epoch; from θ0 = expert[start]
 * take `synSteps` unrolled SGD steps θ ← θ − α·∇CE on DSA-augmented synthetic mini-batches; loss
 * ‖θ_N − θ*‖² / ‖θ0 − θ*‖² with θ* = expert[start + expertEpochs]; its gradient (through every
 * step, second order) updates the images (SGD lr_img, m 0.5) and the learnable step α (SGD lr_lr,
 * m 0.5). The learned α is the evaluation learning rate (meta `extra.learnedLr`).
 *
 * ZCA (`--zca`): the author commands whiten CIFAR-10 at IPC 1/10 and CIFAR-100 at IPC 1/50 (kornia
 * ZCAWhitening, eps 0.1, fitted on the training split in [0, 1]; data/zca.ts). Experts, the real
 * initialisation and the synthetic images then live in whitened space, and the set says so in meta
 * `extra.zca`, so its evaluation whitens the held-out and test images with the same transform. The
 * setting follows the cell's dataset (a stand-in for CIFAR is whitened too); elsewhere images stay in
 * the dataset's mean/std space.
 */
import { z } from "zod";
import { noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import { Rng } from "../engine/random.ts";
import { SGD } from "../engine/optim.ts";
import * as T from "../engine/ops/mod.ts";
import { dsa, DSA_ALL, type DsaGroup } from "../data/augment.ts";
import { DsaStrategy } from "../evaluator/protocols.ts";
import { loadOrFitZca, ZCA_EPS, zcaRowsToDevice, zcaTag, zcaToDevice } from "../data/zca.ts";
import type { ConvNetConfig } from "../models/convnet.ts";
import type { MethodBudget } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { classMajorLabels, inputSpec, RealPool } from "./gradient_matching.ts";
import { synthesize } from "../methods/synthesis.ts";
import { realDrawRng } from "./real_images.ts";
import { convnetForward } from "./functional_convnet.ts";
import { ExpertBuffer, expertNet, type ExpertSpec, unflatten } from "./mtt_experts.ts";

export const MttConfig = z.object({
  iterations: z.number().int().min(0),
  /** Unrolled student steps per iteration. */
  synSteps: z.number().int().min(0),
  /** θ* is this many expert epochs after θ0. */
  expertEpochs: z.number().int().min(1),
  /** Start epoch ~ U{0, …, maxStartEpoch − 1}. */
  maxStartEpoch: z.number().int().min(1),
  lrImg: z.number().positive(),
  /** Step size of α's own SGD. */
  lrLr: z.number().positive(),
  /** Initial α (the reference's lr_teacher). */
  lrTeacher: z.number().positive(),
  /** Synthetic mini-batch per student step; null: the whole set. */
  batchSyn: z.number().int().positive().nullable(),
  init: z.enum(["real", "noise"]),
  model: z.string(),
  width: z.number().int().positive(),
  /** DSA on the student's batches (per-sample) and during expert training; empty: none. */
  dsaStrategy: DsaStrategy,
  // Expert buffer (buffer.py).
  numExperts: z.number().int().min(1),
  /** Epochs per expert trajectory. */
  trainEpochs: z.number().int().min(1),
  expertLr: z.number().positive(),
  expertBatch: z.number().int().positive(),
  expertTrainLimit: z.number().int().positive().nullable(),
  /** Experts are shared by every distillation seed, as the reference's buffer directory. */
  expertSeed: z.number().int().min(0),
  /** ZCA-whiten the data (MTT's `--zca`, eps 0.1): experts, initialisation, images and evaluation. */
  zca: z.boolean(),
}).strict();
export type MttConfig = z.infer<typeof MttConfig>;

type Setting = [
  synSteps: number,
  expertEpochs: number,
  maxStart: number,
  lrImg: number,
  lrLr: number,
  lrTeacher: number,
];

/**
 * Author commands by dataset and IPC (protocols.md §6.3). Datasets not listed (MNIST, Fashion-MNIST,
 * SVHN) use CIFAR-10's; an IPC not listed uses the nearest listed one. Tiny IPC 10/50 repeat IPC 1's
 * learning rates (only steps/epochs/batches are listed for them).
 */
const SETTINGS: Record<string, Record<number, Setting & { batchSyn?: number }>> = {
  cifar10: {
    1: [50, 2, 2, 100, 1e-7, 0.01],
    10: [30, 2, 20, 100, 1e-5, 0.001],
    50: [30, 2, 40, 1000, 1e-5, 0.001],
  },
  cifar100: {
    1: [20, 3, 20, 1000, 1e-5, 0.01],
    10: [20, 2, 20, 1000, 1e-5, 0.01],
    50: Object.assign([80, 2, 40, 1000, 1e-5, 0.01] as Setting, { batchSyn: 125 }),
  },
  "tiny-imagenet": {
    1: [10, 2, 10, 1e4, 1e-4, 0.01],
    10: Object.assign([20, 2, 40, 1e4, 1e-4, 0.01] as Setting, { batchSyn: 200 }),
    50: Object.assign([20, 2, 40, 1e4, 1e-4, 0.01] as Setting, { batchSyn: 300 }),
  },
};

/** The author commands with `--zca`, by dataset and IPC (an IPC not listed: the nearest listed one). */
const ZCA_COMMANDS: Record<string, readonly number[]> = { cifar10: [1, 10], cifar100: [1, 50] };

const nearest = (ipcs: readonly number[], ipc: number) =>
  ipcs.reduce((a, b) => Math.abs(b - ipc) < Math.abs(a - ipc) ? b : a);

/** Whether the author commands whiten a cell's dataset at this IPC. */
export function mttUsesZca(datasetId: string, ipc: number): boolean {
  const table = SETTINGS[datasetId];
  return table !== undefined &&
    (ZCA_COMMANDS[datasetId] ?? []).includes(nearest(Object.keys(table).map(Number), ipc));
}

export function mttDefaults(datasetId: string, ipc: number, requested = datasetId): MttConfig {
  const table = SETTINGS[datasetId] ?? SETTINGS.cifar10;
  const near = nearest(Object.keys(table).map(Number), ipc);
  const s = table[near];
  const [synSteps, expertEpochs, maxStartEpoch, lrImg, lrLr, lrTeacher] = s;
  return {
    iterations: 5000,
    synSteps,
    expertEpochs,
    maxStartEpoch,
    lrImg,
    lrLr,
    lrTeacher,
    batchSyn: s.batchSyn ?? null,
    init: "real",
    model: datasetId === "tiny-imagenet" ? "convnet4" : "convnet3",
    width: 128,
    dsaStrategy: [...DSA_ALL],
    numExperts: 100,
    trainEpochs: 50,
    expertLr: 0.01,
    expertBatch: 256,
    expertTrainLimit: null,
    expertSeed: 0,
    zca: mttUsesZca(requested, ipc),
  };
}

/**
 * How profiles bound MTT (family "mtt"; the values are in experiments/profiles.ts): iterations, the unroll
 * length, the expert buffer (experts, epochs, training images) and the width; the start window shrinks with
 * the trajectories so θ* stays inside them. A narrower network needs no lr compensation here, but the
 * create-graph unroll keeps every step's graph (~1.4 MB per image and step at width 32, 28 × 28; ~5.8 MB at
 * width 128, so a 30-step unroll of 100 images needs ~17 GB). At IPC 1, 10 iterations barely moved the set
 * from its real initialisation (Fashion-MNIST 54.1 %, 64.8 % at 100), so small IPCs get more.
 *
 * A shorter unroll also shrinks the image gradient: each student step adds its own second-order term,
 * and |∇img| grew 0.021 → 0.041 → 0.091 from 5 → 10 → 20 steps (Fashion-MNIST IPC 1, quick experts).
 * The image lr is therefore scaled by the unroll's shortening (paper steps / run steps), keeping the
 * images' step about the paper's; at quick IPC 1 (50 → 5 steps) this lifted Fashion-MNIST from
 * 58.05 ± 1.77 to 63.55 ± 3.46 (seeds 0/1). A pinned unroll (`--set mtt.synSteps=30`) gets the lr of its
 * own length; the evidence spec's 30-step arms pin quick's 6× as well (`lrImg: 600`).
 */
export const MTT_BUDGET: MethodBudget<MttConfig> = {
  family: "mtt",
  keys: {
    iterations: "iterations",
    synSteps: "innerSteps",
    numExperts: "poolSize",
    trainEpochs: "trainEpochs",
    expertTrainLimit: "trainImages",
    width: "width",
  },
  derived: {
    expertEpochs: ({ paper, run }) => Math.min(paper.expertEpochs, run.trainEpochs),
    maxStartEpoch: ({ paper, run }) => Math.min(paper.maxStartEpoch, run.trainEpochs - run.expertEpochs + 1),
    lrImg: ({ paper, run }) => run.synSteps > 0 ? paper.lrImg * (paper.synSteps / run.synSteps) : paper.lrImg,
  },
};

export function expertSpecOf(ctx: DistillContext<MttConfig>): ExpertSpec {
  const c = ctx.config;
  return {
    dataset: ctx.dataset,
    model: c.model,
    width: c.width,
    epochs: c.trainEpochs,
    lr: c.expertLr,
    batchSize: c.expertBatch,
    dsaStrategy: c.dsaStrategy,
    trainLimit: c.expertTrainLimit,
    seed: c.expertSeed,
    zca: c.zca ? ZCA_EPS : null,
  };
}

export interface StudentOptions {
  synSteps: number;
  /** null: all synthetic images per step. */
  batchSyn: number | null;
  /** Per-sample DSA on each student batch; null: none. */
  dsa: { strategy: readonly DsaGroup[]; digits: boolean } | null;
  rng: Rng;
}

/**
 * MTT's loss for one iteration: unrolled student SGD from θ0 with step α on synthetic mini-batches
 * (random chunks of a permutation, redrawn when used up), then ‖θ_N − θ*‖² / ‖θ0 − θ*‖² summed over
 * all parameter tensors. Differentiable w.r.t. the images and α (second order through each step).
 */
export function trajectoryLoss(
  net: ConvNetConfig,
  theta0: readonly Tensor[],
  target: readonly Tensor[],
  images: Tensor,
  labels: Int32Array,
  alpha: Tensor,
  o: StudentOptions,
): Tensor {
  const n = labels.length, bs = Math.min(o.batchSyn ?? n, n);
  // Leaves (not the caller's tensors) so the first step can differentiate w.r.t. them.
  let params = theta0.map((t) => t.detach().requireGrad());
  const chunks: Int32Array[] = [];
  for (let s = 0; s < o.synSteps; s++) {
    if (chunks.length === 0) {
      const perm = o.rng.permutation(n);
      for (let b = 0; b < n; b += bs) chunks.push(perm.slice(b, Math.min(n, b + bs)));
    }
    const idx = chunks.pop()!;
    let x = T.gather(images, tensor(idx, [idx.length], "i32"));
    if (o.dsa) x = dsa(x, o.rng, { siamese: false, noFlip: o.dsa.digits, strategy: o.dsa.strategy });
    const y = tensor(Int32Array.from(idx, (i) => labels[i]), [idx.length], "i32");
    const ce = T.crossEntropy(convnetForward(net, params, x), y);
    const g = grad(ce, params, { createGraph: true });
    params = params.map((p, i) => T.sub(p, T.mul(alpha, g[i])));
  }
  let num: Tensor = T.fill([], 0), den: Tensor = T.fill([], 0);
  params.forEach((p, i) => {
    num = T.add(num, T.sum(T.square(T.sub(p, target[i]))));
    den = T.add(den, T.sum(T.square(T.sub(theta0[i], target[i]))));
  });
  return T.div(num, den);
}

/** The real images MTT draws from: normalised, or ZCA-whitened with the dataset's cached transform. */
async function realPool(ctx: DistillContext<MttConfig>): Promise<RealPool> {
  if (!ctx.config.zca) return new RealPool(ctx.dataset);
  ctx.progress.log(`MTT: ZCA whitening (eps ${ZCA_EPS}) of ${ctx.dataset.info.id}`);
  const fit = await loadOrFitZca(ctx.dataset, { eps: ZCA_EPS });
  const z = zcaToDevice(fit.transform);
  try {
    return new RealPool(ctx.dataset, (idx) => zcaRowsToDevice(z, ctx.dataset.train, idx));
  } finally {
    z.dispose();
  }
}

function initImages(ctx: DistillContext<MttConfig>, pool: RealPool, rng: Rng): Tensor {
  const classes = ctx.dataset.info.numClasses, { imageSize: s, channels: ch } = inputSpec(ctx.dataset);
  return noGrad(() =>
    ctx.config.init === "noise" ? rng.normal([classes * ctx.ipc, s, s, ch]) : pool.realInit(ctx.ipc, rng)
  );
}

/** The MTT loop; a regularizer (`ctx.regularizer`, e.g. λ·CMI) is added to the trajectory loss. */
export function distillMtt(ctx: DistillContext<MttConfig>, method: string): Promise<DistillResult> {
  const { dataset, ipc, seed, config: cfg, regularizer } = ctx;
  const t0 = performance.now();
  const classes = dataset.info.numClasses;
  const rng = new Rng(seed);
  return synthesize(ctx, method, {
    loss: "param",
    iterations: cfg.iterations,
    optimizer: { lr: cfg.lrImg, momentum: 0.5 },
    setup: async () => {
      if (cfg.maxStartEpoch - 1 + cfg.expertEpochs > cfg.trainEpochs) {
        throw new Error(
          `${method}: start < ${cfg.maxStartEpoch} plus ${cfg.expertEpochs} expert epochs exceeds the ` +
            `${cfg.trainEpochs}-epoch trajectories`,
        );
      }
      const spec = expertSpecOf(ctx);
      const buffer = await ExpertBuffer.open(spec, cfg.numExperts, ctx.progress, ctx.signal);
      const expertSeconds = (performance.now() - t0) / 1000;
      const probe = expertNet(spec, new Rng(0));
      const netCfg = probe.cfg;
      probe.dispose();
      const pool = await realPool(ctx);
      let images: Tensor | null = null;
      try {
        images = initImages(ctx, pool, realDrawRng(seed)).keep().requireGrad();
        // The learned step α and its own SGD.
        const alpha = tensor([cfg.lrTeacher], []).keep().requireGrad();
        const optLr = new SGD([alpha], { lr: cfg.lrLr, momentum: 0.5 });
        return {
          images,
          labels: classMajorLabels(classes, ipc),
          buffer,
          netCfg,
          expertSeconds,
          alpha,
          optLr,
          dispose: () => {
            optLr.dispose();
            alpha.dispose();
            pool.dispose();
          },
        };
      } catch (e) {
        images?.dispose();
        pool.dispose();
        throw e;
      }
    },
    iterate: async ({ images: x, labels, buffer, netCfg, alpha: a, optLr: ol }, oi, it) => {
      await regularizer?.prepare(it);
      const itRng = rng.fork(1000 + it);
      const [ue, us] = itRng.hostUniform(2);
      const expert = Math.min(cfg.numExperts - 1, Math.floor(ue * cfg.numExperts));
      const start = Math.min(cfg.maxStartEpoch - 1, Math.floor(us * cfg.maxStartEpoch));
      const traj = await buffer.get(expert);
      const lossT = tidy(() => {
        const theta0 = unflatten(traj.snapshots[start], traj.shapes);
        const target = unflatten(traj.snapshots[start + cfg.expertEpochs], traj.shapes);
        const loss = trajectoryLoss(netCfg, theta0, target, x, labels, a, {
          synSteps: cfg.synSteps,
          batchSyn: cfg.batchSyn,
          dsa: cfg.dsaStrategy.length ? { strategy: cfg.dsaStrategy, digits: dataset.info.digits } : null,
          rng: itRng.fork(1),
        });
        const total = regularizer ? T.add(loss, regularizer.loss(x, labels, it)) : loss;
        const [gImg, gA] = grad(total, [x, a]);
        noGrad(() => {
          oi.step([gImg]);
          ol.step([gA]);
        });
        return loss.detach();
      });
      const loss = await lossT.item();
      lossT.dispose();
      return loss;
    },
    describe: (_, loss) => `iteration (param loss ${loss.toFixed(4)})`,
    finish: async ({ alpha, buffer, expertSeconds }) => {
      const learnedLr = await alpha.item();
      return {
        extra: {
          learnedLr: String(learnedLr),
          zca: cfg.zca ? zcaTag(ZCA_EPS) : "none",
          experts: `${cfg.numExperts} × ${cfg.trainEpochs} epochs` +
            (cfg.expertTrainLimit ? ` on ${cfg.expertTrainLimit} images` : ""),
        },
        metrics: { learnedLr, expertsTrained: buffer.trained, expertSeconds },
      };
    },
  });
}

export const mttMethod: MethodDef<MttConfig> = {
  id: "mtt",
  description: "MTT: matching expert training trajectories with unrolled student steps and a learned lr",
  reference: "Cazenavette et al., CVPR 2022 (GeorgeCazenavette/mtt-distillation distill.py, buffer.py)",
  implemented: true,
  schema: MttConfig,
  defaults: mttDefaults,
  budget: MTT_BUDGET,
  distill: (ctx) => distillMtt(ctx, "mtt"),
  regularizable: true,
};
