/**
 * Minimax — Efficient Dataset Distillation via Minimax Diffusion (Gu et al., CVPR 2024;
 * vimar-gu/MinimaxDiffusion train_dit.py, sample.py).
 *
 * The pre-trained DiT is fine-tuned DiffFit-style — only parameters whose names contain "bias", "norm",
 * "gamma" or "y_embed" train, with DiffFit's scale factors added to the first half of the blocks — on
 * the distillation classes' real latents, with the diffusion loss plus two minimax terms on the predicted
 * x̂₀ of each class c in the batch, against FIFO memories (64 per class) of real latents and of earlier
 * x̂₀:
 *   representativeness  λ_r · (1 − min_j cos(x̂₀, real_j))      (pull toward the least similar real)
 *   diversity           λ_d · max_j cos(x̂₀, pseudo_j)          (push from the most similar generated)
 * each divided by the number of classes in the batch, λ_r = 0.002, λ_d = 0.008, AdamW lr 1e-3 without
 * weight decay, batch 8, 8 epochs, labels dropped to the null class with p 0.1 (DiT's train mode), EMA
 * 0.9999 — the EMA weights are sampled (DDPM-50, CFG 4; find_model loads "ema").
 */
import { z } from "zod";
import * as T from "../engine/ops/mod.ts";
import { AdamW, Ema } from "../engine/optim.ts";
import { Rng } from "../engine/random.ts";
import { grad } from "../engine/autograd.ts";
import { noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { diffusionLoss, dropLabels, linearBetas, makeSchedule, predictX0At } from "../diffusion/mod.ts";
import type { DiT } from "../models/dit.ts";
import { EpochSampler } from "../models/generative_data.ts";
import { encodeLatents } from "../models/latent_sampling.ts";
import type { MethodBudget } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import type { ProgressReporter } from "../data/progress.ts";
import {
  checkResolution,
  disposeFoundation,
  type Foundation,
  loadFoundation,
  SAMPLER_SCALE_NOTES,
  samplerBudget,
  SamplerFields,
  unitImagesToSet,
} from "./latent_foundation.ts";
import { sampleClasses } from "./diffusion_sampling.ts";
import { keepPrior, priorKey, restorePrior } from "./tuned_priors.ts";

export const MinimaxConfig = z.object({
  ...SamplerFields,
  /** Fine-tuning epochs over the distillation classes' real images (run.sh: 8). */
  epochs: z.number().int().min(0),
  /** At most this many fine-tuning steps (null: the epochs decide). */
  maxSteps: z.number().int().min(0).nullable(),
  batch: z.number().int().positive(),
  lr: z.number().positive(),
  /** λ_r (--lambda-pos) and λ_d (--lambda-neg). */
  lambdaRepr: z.number().min(0),
  lambdaDiv: z.number().min(0),
  /** Real and generated embeddings kept per class (--memory-size). */
  memorySize: z.number().int().positive(),
  emaDecay: z.number().min(0).max(1),
  labelDropout: z.number().min(0).max(1),
}).strict();
export type MinimaxConfig = z.infer<typeof MinimaxConfig>;

export const minimaxDefaults = (): MinimaxConfig => ({
  sampler: "ddpm",
  steps: "50",
  cfgScale: 4,
  foundation: "shipped",
  resolution: 256,
  epochs: 8,
  maxSteps: null,
  batch: 8,
  lr: 1e-3,
  lambdaRepr: 0.002,
  lambdaDiv: 0.008,
  memorySize: 64,
  emaDecay: 0.9999,
  labelDropout: 0.1,
});

/**
 * The fine-tuning steps follow the profiles' `iterations` (family "minimax": smoke 3, quick 120 — the
 * official run takes 12,000 — proxy 2000), the sampler their sampler knobs (latent_foundation.ts). The
 * fine-tuning does not depend on the IPC: one run per seed serves every set (tuneMinimaxPrior). The EMA's horizon follows the steps
 * (0.9999 averages over ~10,000 steps, most of the official run; over 120 steps it would keep the un-tuned
 * weights): decay 1 − 1/(0.8·steps).
 */
export const MINIMAX_BUDGET: MethodBudget<MinimaxConfig> = {
  family: "minimax",
  keys: { ...samplerBudget<MinimaxConfig>().keys, maxSteps: "iterations" },
  derived: {
    ...samplerBudget<MinimaxConfig>().derived,
    emaDecay: ({ paper, run }) =>
      run.maxSteps === null
        ? paper.emaDecay
        : Math.min(paper.emaDecay, 1 - 1 / Math.max(1, 0.8 * run.maxSteps)),
  },
};

/** What the profiles' Minimax budget changes, for every method that fine-tunes the Minimax prior. */
export const MINIMAX_SCALE_NOTES: Readonly<Record<string, string>> = {
  maxSteps: "fewer fine-tuning steps fit the profile's time budget",
  emaDecay: "the EMA horizon shrinks with the fine-tuning run",
  ...SAMPLER_SCALE_NOTES,
};

/** A fine-tuning batch: scaled latents x_0 [n, h, w, c] and their real class labels. */
export interface LatentBatch {
  x0: Tensor;
  labels: Int32Array;
}

/**
 * DiffFit's trainable set (train_dit.py `mark_difffit_trainable`): adds the scale factors to the first
 * half of the blocks (Minimax's DiT-XL: 14 of 28), then freezes every parameter whose name contains none
 * of "bias", "norm", "gamma", "y_embed". Returns the trainable parameters with their names.
 */
export function markDiffFitTrainable(dit: DiT): [string, Tensor][] {
  dit.addDiffFitScales(Math.ceil(dit.cfg.depth / 2));
  const trainable = diffFitParameters(dit);
  const on = new Set(trainable.map(([name]) => name));
  for (const [name, p] of dit.namedParameters()) p.requireGrad(on.has(name));
  return trainable;
}

/** The parameters DiffFit trains, in the model's order: names containing "bias", "norm", "gamma" or "y_embed". */
function diffFitParameters(dit: DiT): [string, Tensor][] {
  const keys = ["bias", "norm", "gamma", "y_embed"];
  return dit.namedParameters().filter(([name]) => keys.some((k) => name.includes(k)));
}

/** Per-class FIFO memories of flattened real latents and generated x̂₀ (host rows). */
export class MinimaxMemory {
  readonly real: Float32Array[][];
  readonly pseudo: Float32Array[][];
  constructor(classes: number, readonly size: number, readonly dim: number) {
    this.real = Array.from({ length: classes }, () => []);
    this.pseudo = Array.from({ length: classes }, () => []);
  }
  push(c: number, real: Float32Array[], pseudo: Float32Array[]): void {
    this.real[c].push(...real);
    this.pseudo[c].push(...pseudo);
    while (this.real[c].length > this.size) this.real[c].shift();
    while (this.pseudo[c].length > this.size) this.pseudo[c].shift();
  }
  tensor(rows: Float32Array[]): Tensor {
    const data = new Float32Array(rows.length * this.dim);
    rows.forEach((r, i) => data.set(r, i * this.dim));
    return tensor(data, [rows.length, this.dim]);
  }
}

/** Cosine similarities of the rows of a [m, D] and b [k, D]: [m, k]. */
export function cosineMatrix(a: Tensor, b: Tensor): Tensor {
  const unit = (x: Tensor) => T.div(x, T.sqrt(T.sum(T.square(x), 1, true)));
  return T.matmul(unit(a), T.transpose(unit(b)));
}

/**
 * The two minimax terms of a batch (before its rows enter the memories), for the classes whose generated
 * memory is not empty: Σ_c λ_r(1 − min cos(x̂₀_c, real_c))/C and Σ_c λ_d max cos(x̂₀_c, pseudo_c)/C, C the
 * number of distinct classes in the batch.
 */
export function minimaxTerms(
  x0hat: Tensor,
  labels: Int32Array,
  memory: MinimaxMemory,
  cfg: Pick<MinimaxConfig, "lambdaRepr" | "lambdaDiv">,
): { repr: Tensor; div: Tensor } {
  const n = labels.length;
  const flat = T.reshape(x0hat, [n, x0hat.size / n]);
  const classes = [...new Set(labels)];
  let repr: Tensor = T.fill([], 0), div: Tensor = T.fill([], 0);
  for (const c of classes) {
    if (!memory.pseudo[c].length) continue;
    const rows = Int32Array.from(labels.keys()).filter((i) => labels[i] === c);
    const mine = T.gather(flat, tensor(rows, [rows.length], "i32"));
    const pos = T.sub(1, T.min(cosineMatrix(mine, memory.tensor(memory.real[c]))));
    const neg = T.max(cosineMatrix(mine, memory.tensor(memory.pseudo[c])));
    repr = T.add(repr, T.mul(pos, cfg.lambdaRepr / classes.length));
    div = T.add(div, T.mul(neg, cfg.lambdaDiv / classes.length));
  }
  return { repr, div };
}

export interface FinetuneLog {
  steps: number;
  /** Mean diffusion loss and minimax terms over the first and the last tenth of the steps. */
  firstLoss: number;
  lastLoss: number;
  lastRepr: number;
  lastDiv: number;
}

/**
 * Fine-tunes `dit` in place for `steps` steps on `batches(step)` with the minimax objective; leaves the EMA
 * weights in the model (what is sampled) and the model in eval mode.
 */
export async function minimaxFinetune(
  dit: DiT,
  batches: (step: number) => LatentBatch,
  steps: number,
  cfg: MinimaxConfig,
  seed: number,
  o: { signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<FinetuneLog> {
  const schedule = makeSchedule(linearBetas(1000));
  const trainable = markDiffFitTrainable(dit).map(([, p]) => p);
  const { inputSize: s, inChannels: c } = dit.cfg;
  const memory = new MinimaxMemory(dit.numClasses, cfg.memorySize, s * s * c);
  const opt = new AdamW(trainable, { lr: cfg.lr, weightDecay: 0 });
  const ema = new Ema(trainable, cfg.emaDecay);
  const rng = new Rng(seed).fork(31);
  const log: { loss: number; repr: number; div: number }[] = [];
  dit.train();
  try {
    for (let step = 0; step < steps; step++) {
      o.signal?.throwIfAborted();
      const r = rng.fork(step);
      const batch = batches(step);
      const out = tidy(() => {
        const y = dropLabels(batch.labels, dit.numClasses, cfg.labelDropout, r.fork(1));
        const terms = diffusionLoss(dit, schedule, batch.x0, tensor(y, [y.length], "i32"), r.fork(2));
        const x0hat = predictX0At(schedule, terms.xt, terms.eps, terms.t);
        const { repr, div } = minimaxTerms(x0hat, batch.labels, memory, cfg);
        const total = T.add(terms.loss, T.add(repr, div));
        const grads = grad(total, trainable);
        noGrad(() => opt.step(grads));
        ema.update();
        return [terms.loss.detach(), repr.detach(), div.detach(), x0hat.detach()];
      });
      const [lossT, reprT, divT, x0hatT] = out;
      const [real, gen] = [await batch.x0.f32(), await x0hatT.f32()];
      batch.x0.dispose();
      const dim = memory.dim;
      for (const cls of new Set(batch.labels)) {
        const rows = Array.from(batch.labels.keys()).filter((i) => batch.labels[i] === cls);
        memory.push(
          cls,
          rows.map((i) => real.slice(i * dim, (i + 1) * dim)),
          rows.map((i) => gen.slice(i * dim, (i + 1) * dim)),
        );
      }
      const entry = { loss: await lossT.item(), repr: await reprT.item(), div: await divT.item() };
      for (const t of out) t.dispose();
      if (!Number.isFinite(entry.loss + entry.repr + entry.div)) {
        throw new Error(`minimax: the fine-tuning loss diverged at step ${step}`);
      }
      log.push(entry);
      o.progress?.update(step + 1, steps, `fine-tuning (loss ${entry.loss.toFixed(3)})`);
    }
    if (steps > 0) ema.copyTo();
  } finally {
    opt.dispose();
    ema.dispose();
    dit.eval();
  }
  const tenth = Math.max(1, Math.round(log.length / 10));
  const avg = (xs: typeof log, k: "loss" | "repr" | "div") =>
    xs.reduce((a, e) => a + e[k], 0) / (xs.length || 1);
  const first = log.slice(0, tenth), last = log.slice(-tenth);
  return {
    steps,
    firstLoss: avg(first, "loss"),
    lastLoss: avg(last, "loss"),
    lastRepr: avg(last, "repr"),
    lastDiv: avg(last, "div"),
  };
}

/** Fine-tuning batches of a foundation's real images: seeded epoch permutations, posterior-sample latents. */
export function realLatentBatches(
  f: Foundation<DiT>,
  batch: number,
  seed: number,
): (step: number) => LatentBatch {
  const sampler = new EpochSampler(f.images.count, batch, new Rng(seed).fork(32).seed);
  const noise = new Rng(seed).fork(33);
  return (step) => {
    const idx = sampler.indices(step);
    const x0 = encodeLatents(f.vae, noGrad(() => f.images.batch(idx)), noise.fork(step));
    return { x0, labels: Int32Array.from(idx, (i) => f.images.labels[i]) };
  };
}

/** Fine-tuning steps of a config on `count` real images: epochs × ⌊count / batch⌋, capped by maxSteps. */
export function finetuneSteps(cfg: MinimaxConfig, count: number): number {
  const steps = cfg.epochs * Math.floor(count / cfg.batch);
  return cfg.maxSteps === null ? steps : Math.min(steps, cfg.maxSteps);
}

/**
 * The Minimax prior of a foundation: its DiT fine-tuned in place on the foundation's real images for
 * `finetuneSteps(cfg, count)` steps. Methods that sample from Minimax (minimax, and the guided methods'
 * Minimax variants) start here. A process fine-tunes a prior once per weights, data, settings and seed, and
 * reuses it for the other IPCs and methods (tuned_priors.ts).
 */
export async function tuneMinimaxPrior(
  f: Foundation<DiT>,
  cfg: MinimaxConfig,
  seed: number,
  o: { signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<FinetuneLog> {
  const steps = finetuneSteps(cfg, f.images.count);
  const { epochs, maxSteps, batch, lr, lambdaRepr, lambdaDiv, memorySize, emaDecay, labelDropout } = cfg;
  const settings = { epochs, maxSteps, batch, lr, lambdaRepr, lambdaDiv, memorySize, emaDecay, labelDropout };
  // Keyed by the un-tuned weights: before the fine-tuning adds DiffFit's scales.
  const key = await priorKey({ minimax: settings, steps, seed }, [f.dit, f.vae], f.train);
  const kept = restorePrior<FinetuneLog>(key, () => markDiffFitTrainable(f.dit));
  if (kept) {
    f.dit.eval();
    o.progress?.log(`minimax: the prior fine-tuned for seed ${seed} (${steps} steps) reused`);
    o.progress?.update(steps, steps, "fine-tuned prior reused");
    return kept;
  }
  const log = await minimaxFinetune(f.dit, realLatentBatches(f, cfg.batch, seed), steps, cfg, seed, o);
  await keepPrior(key, diffFitParameters(f.dit), log);
  return log;
}

export const minimaxMethod: MethodDef<MinimaxConfig> = {
  id: "minimax",
  description:
    "Minimax: DiffFit fine-tuning of the DiT with representativeness and diversity terms, then DiT sampling",
  reference: "Gu et al., CVPR 2024 (vimar-gu/MinimaxDiffusion train_dit.py, sample.py, run.sh)",
  implemented: true,
  schema: MinimaxConfig,
  defaults: minimaxDefaults,
  budget: MINIMAX_BUDGET,
  scaleNotes: MINIMAX_SCALE_NOTES,
  async distill(ctx: DistillContext<MinimaxConfig>): Promise<DistillResult> {
    const t0 = performance.now();
    const f = await loadFoundation(ctx.dataset, ctx.config.foundation);
    try {
      checkResolution(f, ctx.config.resolution, "minimax");
      const tune = await tuneMinimaxPrior(f, ctx.config, ctx.seed, ctx);
      const { images, labels } = await sampleClasses(f, ctx.ipc, ctx.config, ctx.seed, ctx);
      return {
        set: unitImagesToSet(ctx, "minimax", images, labels, { foundation: f.source }),
        metrics: {
          samples: labels.length,
          finetuneSteps: tune.steps,
          firstDiffusionLoss: tune.firstLoss,
          lastDiffusionLoss: tune.lastLoss,
          lastReprTerm: tune.lastRepr,
          lastDivTerm: tune.lastDiv,
          seconds: (performance.now() - t0) / 1000,
        },
      };
    } finally {
      disposeFoundation(f);
    }
  },
};
