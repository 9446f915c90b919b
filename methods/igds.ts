/**
 * IGDS — Information-Guided Diffusion Sampling for dataset distillation (seed paper 000/001).
 *
 * A variational estimator (VE: encoder + linear classifier, methods/igds_estimator.ts) gives
 * differentiable estimates of prototype information Î(X;Y) and contextual information Ĥ(X|Y)
 * (methods/igds_objective.ts). At every denoising step the sampler's predicted clean latent x̂₀ is decoded
 * by the foundation's VAE, read by the VE, and the gradient of Σ_i [log p_W(y_i | x̂₀_i) + β·KL(P_i ‖ Q_yi)]
 * — n·(Î + β·Ĥ) up to the constant H(Y), so every sample gets its own term's gradient whatever the batch —
 * steers the update through the foundation's guidance hook (diffusion/guidance.ts): on x̂₀ ("x0", the
 * paper's "gradient on the predicted clean sample") or through the DiT to x_t ("model"). β grows with the
 * IPC (§5.2, §7.1: larger IPCs need more contextual information).
 *
 * `igds` guides the pre-trained DiT (the paper: a pre-trained DDPM; ddrepro's generative foundation is the
 * latent DiT, baselines/latent_foundation.ts); `minimax+igds` guides the Minimax-fine-tuned DiT (App. E).
 *
 * What the surviving text does not give (its formulas and numbers were lost in extraction) is ddrepro's
 * choice, marked "not in the text" below; the β sweep (Fig. 5) is what decides β.
 */
import { z } from "zod";
import * as T from "../engine/ops/mod.ts";
import { noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { type GuidanceHook, modelGuidance, type StepInfo, x0Guidance } from "../diffusion/mod.ts";
import type { DiT } from "../models/dit.ts";
import type { AutoencoderKL } from "../models/vae.ts";
import type { VariationalEstimator } from "../models/variational_estimator.ts";
import {
  decodeLatents,
  type HostBatch,
  sampleLatents,
  samplerSchedule,
  upload,
} from "../models/latent_sampling.ts";
import type { Derivation, MethodBudget } from "./budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "./types.ts";
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
} from "../baselines/latent_foundation.ts";
import {
  MINIMAX_BUDGET,
  MINIMAX_SCALE_NOTES,
  MinimaxConfig,
  minimaxDefaults,
  tuneMinimaxPrior,
} from "../baselines/minimax.ts";
import { dataCentroids, loadVariationalEstimator, type VeLog, type VeRecipe } from "./igds_estimator.ts";
import { informationEstimates, informationTerms, labelEntropy } from "./igds_objective.ts";

/** IGDS's own keys (guidance and the VE's recipe), shared by `igds` and `minimax+igds`. */
export const IgdsFields = {
  /** β of Î + β·Ĥ (default by IPC: `defaultBeta`). */
  beta: z.number().min(0),
  /** Scale s of the guidance gradient (δ = s·∇J on x̂₀, or the score g = s·∇_{x_t}J). */
  guidanceScale: z.number().min(0),
  /** Where the gradient enters: on the predicted clean sample x̂₀, or through the DiT to x_t. */
  guidanceOn: z.enum(["x0", "model"]),
  /**
   * Guide at this many evenly spaced steps of the chain, the last one included (null: every step, the
   * paper's Algorithm 2). A guided step decodes x̂₀ and backpropagates through the VAE decoder and the VE,
   * 4–8× an unguided CFG step of the small DiT here; the other steps run the plain sampler.
   */
  guidedSteps: z.number().int().positive().nullable(),
  /** τ of P_x = softmax(z/τ) in Ĥ while sampling. */
  temperature: z.number().positive(),
  /** SoftPlus_β in place of the VE's ReLUs while guiding (§5.1); null keeps ReLU. */
  softplusBeta: z.number().positive().nullable(),
  /**
   * Q_y of Ĥ: "data" — the class means of P_x over the VE's real images (the VE's definition); "batch"
   * — the means over the generated rows of each class in the sampler's chunk (the set's own spread).
   */
  centroids: z.enum(["data", "batch"]),
  /** The VE's backbone (ConvNet width × depth) and feature dimension D. */
  veWidth: z.number().int().positive(),
  veDepth: z.number().int().min(1).max(6),
  veFeatureDim: z.number().int().min(2),
  /** Encoder epochs over veImages real images (null: all), batch, SGD lr. */
  veEpochs: z.number().int().min(0),
  veImages: z.number().int().positive().nullable(),
  veBatch: z.number().int().positive(),
  veLr: z.number().positive(),
  /** MoCo: key-encoder momentum m, queue length K, temperature τ. */
  veMomentum: z.number().min(0).max(1),
  veQueue: z.number().int().positive(),
  veTau: z.number().positive(),
  /** λ of the VE objective's entropy term (eq. 24; 0: MoCo). */
  veLambda: z.number().min(0),
  veCentroidMomentum: z.number().min(0).max(1),
  veClassifierEpochs: z.number().int().min(1),
};

export const IgdsConfig = z.object({ ...SamplerFields, ...IgdsFields }).strict();
export type IgdsConfig = z.infer<typeof IgdsConfig>;
type IgdsKeys = z.infer<z.ZodObject<typeof IgdsFields>>;

/**
 * β by IPC. The paper chooses β per IPC (§5.2: larger for larger IPCs; Figs. 2 and 5) but no value
 * survives in the text: β = min(1, IPC/100) (IPC 1: 0.01, 10: 0.1, 50: 0.5, ≥ 100: 1) is ddrepro's
 * monotone choice, to be replaced by the β sweep's best.
 */
export function defaultBeta(ipc: number): number {
  return Math.min(1, Math.max(0, ipc) / 100);
}

/**
 * The IGDS keys' defaults. From the text: MoCo (He et al. 2020: m 0.999, τ 0.07, D 128, SGD lr 0.03,
 * batch 256, 200 epochs) as the encoder — §5.1 uses a pre-trained MoCo, i.e. λ = 0 — SoftPlus in place of
 * ReLU while guiding, β by IPC. Not in the text (values lost): the guidance scale, the sampling
 * temperature (τ of the VE), SoftPlus's β, the queue (4096, MoCo's small-data setting; 65536 is
 * ImageNet's), the VE's backbone (a ConvNet-3 of the generated side: the paper's is MoCo's ResNet-50),
 * the classifier's epochs and the centroids' momentum.
 */
export function igdsFieldDefaults(ipc: number): IgdsKeys {
  return {
    beta: defaultBeta(ipc),
    guidanceScale: 1,
    guidanceOn: "x0",
    guidedSteps: null,
    temperature: 0.07,
    softplusBeta: 5,
    centroids: "data",
    veWidth: 128,
    veDepth: 3,
    veFeatureDim: 128,
    veEpochs: 200,
    veImages: null,
    veBatch: 256,
    veLr: 0.03,
    veMomentum: 0.999,
    veQueue: 4096,
    veTau: 0.07,
    veLambda: 0,
    veCentroidMomentum: 0.9,
    veClassifierEpochs: 20,
  };
}

export const igdsDefaults = (_datasetId: string, ipc: number): IgdsConfig => ({
  sampler: "ddpm",
  steps: "50",
  cfgScale: 4,
  foundation: "shipped",
  resolution: 256,
  ...igdsFieldDefaults(ipc),
});

/**
 * How profiles bound the VE: its encoder training follows the trained-network knobs (`trainEpochs`,
 * `trainImages`, `trainBatch`, `width`). MoCo's momentum 0.999 averages over ~1000 steps, more than a
 * reduced run takes (quick: ~120), which would leave the keys at the initial encoder: it follows the
 * steps as 1 − 10/steps; the queue holds at most the images trained on.
 */
function veBudget<C extends IgdsKeys>(): MethodBudget<C> {
  return {
    keys: {
      veEpochs: "trainEpochs",
      veImages: "trainImages",
      veBatch: "trainBatch",
      veWidth: "width",
    } as MethodBudget<C>["keys"],
    derived: {
      veMomentum: ({ paper, run }: Derivation<IgdsKeys>) => {
        if (run.veImages === null) return paper.veMomentum;
        const steps = run.veEpochs * Math.floor(run.veImages / Math.min(run.veBatch, run.veImages));
        return Math.min(paper.veMomentum, 1 - 10 / Math.max(20, steps));
      },
      veQueue: ({ paper, run }: Derivation<IgdsKeys>) =>
        run.veImages === null
          ? paper.veQueue
          : Math.max(Math.min(run.veBatch, run.veImages), Math.min(paper.veQueue, run.veImages)),
    } as unknown as MethodBudget<C>["derived"],
  };
}

/**
 * The guided steps follow the sampling-steps knob of their own family ("igds-guidance"), so a profile
 * can guide fewer steps than it samples (quick's tuned value) without touching the sampler's steps.
 */
const GUIDED_STEPS_RULE = { knob: "samplingSteps", family: "igds-guidance" } as const;

export const IGDS_BUDGET: MethodBudget<IgdsConfig> = {
  family: "igds",
  keys: {
    ...samplerBudget<IgdsConfig>().keys,
    ...veBudget<IgdsConfig>().keys,
    guidedSteps: GUIDED_STEPS_RULE,
  },
  derived: { ...samplerBudget<IgdsConfig>().derived, ...veBudget<IgdsConfig>().derived },
};

const VE_SCALE_NOTES: Readonly<Record<string, string>> = {
  guidedSteps: "guidance runs at a few evenly spaced steps of the chain (the last included), not at every " +
    "step: each guided step decodes x̂₀ and backpropagates through the VAE decoder and the estimator",
  veEpochs: "the estimator's encoder trains for fewer epochs within the profile's time budget",
  veImages: "the estimator trains on a subset of the real images",
  veBatch: "the estimator trains in smaller batches",
  veWidth: "a narrower estimator fits the profile's time budget",
  veMomentum: "the key encoder's momentum follows the shorter encoder run",
  veQueue: "the negative queue holds at most the images the estimator trains on",
};

export function veRecipeOf(c: IgdsKeys): VeRecipe {
  return {
    width: c.veWidth,
    depth: c.veDepth,
    featureDim: c.veFeatureDim,
    epochs: c.veEpochs,
    images: c.veImages,
    batch: c.veBatch,
    lr: c.veLr,
    momentum: c.veMomentum,
    queue: c.veQueue,
    tau: c.veTau,
    lambda: c.veLambda,
    centroidMomentum: c.veCentroidMomentum,
    classifierEpochs: c.veClassifierEpochs,
    // One VE per data and recipe, shared by every seed's set (a pre-trained model, like the DiT).
    seed: 0,
  };
}

/** The VE as IGDS reads it: encoder + classifier, Q_y (or the batch's), τ and β. */
export interface IgdsEstimator {
  ve: VariationalEstimator;
  centroids: Tensor | "batch";
  tau: number;
  beta: number;
}

/**
 * J(x̂₀) = Σ_i [log p(y_i | x_i) + β·KL(P_{x_i} ‖ Q_{y_i})] of latents x̂₀ [n, h, w, c] decoded by the VAE
 * to images x (the VE reads [-1, 1] images at the VAE's side), differentiable w.r.t. x̂₀.
 */
export function igdsObjective(
  vae: AutoencoderKL,
  est: IgdsEstimator,
  labels: Int32Array,
  x0: Tensor,
): Tensor {
  const images = vae.decode(T.mul(x0, 1 / vae.cfg.scalingFactor));
  const zf = est.ve.encoder.forward(images);
  const { logLik, kl } = informationTerms(zf, est.ve.classifier.forward(zf), labels, {
    tau: est.tau,
    centroids: est.centroids,
  });
  return T.sum(est.beta === 0 ? logLik : T.add(logLik, T.mul(kl, est.beta)));
}

/**
 * Whether step `step` (0-based, of `steps`) is guided when `guidedSteps` of them are: every
 * ⌈steps / guidedSteps⌉-th step counted back from the last, which writes the sample (null: every step).
 */
export function isGuidedStep(step: number, steps: number, guidedSteps: number | null): boolean {
  if (guidedSteps === null || guidedSteps >= steps) return true;
  return (steps - 1 - step) % Math.ceil(steps / guidedSteps) === 0;
}

/** How many of a chain's `steps` are guided. */
export function guidedCount(steps: number, guidedSteps: number | null): number {
  return Array.from({ length: steps }, (_, k) => isGuidedStep(k, steps, guidedSteps)).filter(Boolean).length;
}

/** The guidance hook of one sampler chunk (labels of its rows). */
export function igdsGuidance(
  vae: AutoencoderKL,
  est: IgdsEstimator,
  labels: readonly number[],
  o: { scale: number; on: "x0" | "model"; guidedSteps?: number | null },
): GuidanceHook {
  const y = Int32Array.from(labels);
  const scale = (s: StepInfo) => isGuidedStep(s.step, s.steps, o.guidedSteps ?? null) ? o.scale : 0;
  return o.on === "x0"
    ? x0Guidance((x0) => igdsObjective(vae, est, y, x0), scale)
    : modelGuidance((p) => igdsObjective(vae, est, y, p.x0), scale);
}

/** Î(X;Y) and Ĥ(X|Y) of latents (decoded by the VAE) under the estimator, in chunks. */
export async function measureInformation(
  vae: AutoencoderKL,
  est: IgdsEstimator,
  latents: HostBatch,
  labels: Int32Array,
  chunk = 64,
): Promise<{ mi: number; condEntropy: number }> {
  const n = latents.shape[0];
  const feats: Tensor[] = [], logits: Tensor[] = [];
  try {
    for (let b = 0; b < n; b += chunk) {
      const rows = Math.min(chunk, n - b);
      const [zf, l] = noGrad(() =>
        tidy(() => {
          const img = vae.decode(T.mul(upload(latents, b, rows), 1 / vae.cfg.scalingFactor));
          const zf = est.ve.encoder.forward(img);
          return [zf, est.ve.classifier.forward(zf)];
        })
      );
      feats.push(zf);
      logits.push(l);
    }
    const counts = new Float32Array(est.ve.cfg.classes);
    labels.forEach((c) => counts[c]++);
    const [mi, h] = noGrad(() =>
      tidy(() => {
        const zf = feats.length === 1 ? feats[0] : T.concat(feats, 0);
        const lg = logits.length === 1 ? logits[0] : T.concat(logits, 0);
        const e = informationEstimates(zf, lg, labels, {
          tau: est.tau,
          centroids: est.centroids,
          labelEntropy: labelEntropy(counts),
        });
        return [e.mi, e.condEntropy];
      })
    );
    const out = { mi: await mi.item(), condEntropy: await h.item() };
    mi.dispose();
    h.dispose();
    return out;
  } finally {
    for (const t of [...feats, ...logits]) t.dispose();
  }
}

/**
 * Q_y of a cached VE, by its weights file, activation and τ: every repeat of a run reads the same
 * estimator, and encoding its real images (2000 at quick) cost 5–15 s per repeat here. The values are
 * the ones the computation gives (it is deterministic); only the device copy is new.
 */
const centroidMemo = new Map<string, { data: Float32Array; shape: number[] }>();

async function cachedCentroids(key: string, compute: () => Tensor): Promise<Tensor> {
  const hit = centroidMemo.get(key);
  if (hit) return tensor(hit.data, hit.shape).keep();
  const t = compute();
  centroidMemo.set(key, { data: await t.f32(), shape: [...t.shape] });
  return t;
}

/** The VE of a foundation's data, set up for guidance (SoftPlus, centroids at the sampling τ). */
export async function igdsEstimator(
  ctx: DistillContext<IgdsKeys>,
  f: Foundation<DiT>,
): Promise<{ est: IgdsEstimator; log: VeLog; cached: boolean; dispose(): void }> {
  const c = ctx.config;
  const { ve, trainIdx, log, cached, path } = await loadVariationalEstimator(
    ctx.dataset,
    f.images,
    veRecipeOf(c),
    {
      progress: ctx.progress,
      signal: ctx.signal,
    },
  );
  ve.encoder.activation = c.softplusBeta === null
    ? { kind: "relu" }
    : { kind: "softplus", beta: c.softplusBeta };
  const centroids = c.centroids === "batch" ? "batch" : await cachedCentroids(
    `${path}|${JSON.stringify(ve.encoder.activation)}|${c.temperature}`,
    () => dataCentroids(ve.encoder, f.images, trainIdx, c.temperature, ctx.dataset.info.numClasses),
  );
  return {
    est: { ve, centroids, tau: c.temperature, beta: c.beta },
    log,
    cached,
    dispose() {
      ve.dispose();
      if (centroids !== "batch") centroids.dispose();
    },
  };
}

type SamplerKeys = Pick<IgdsConfig, "sampler" | "steps" | "cfgScale">;

/**
 * IPC guided samples of every class, class-major, from the foundation's (possibly fine-tuned) DiT; the
 * decoded [0, 1] images, and the set's Î and Ĥ under the VE.
 */
export async function igdsSample(
  ctx: DistillContext<IgdsKeys & SamplerKeys>,
  f: Foundation<DiT>,
): Promise<{ images: HostBatch; labels: number[]; metrics: Record<string, number> }> {
  const c = ctx.config;
  const t0 = performance.now();
  const ve = await igdsEstimator(ctx, f);
  try {
    const t1 = performance.now();
    const labels = classMajor(f.dit.numClasses, ctx.ipc);
    const latents = await sampleLatents(f.dit, f.latentShape, labels, {
      method: c.sampler,
      steps: c.steps,
      cfgScale: c.cfgScale,
      seed: ctx.seed,
      ...(c.guidanceScale === 0 ? {} : {
        guidance: (chunk: { labels: number[] }) =>
          igdsGuidance(f.vae, ve.est, chunk.labels, {
            scale: c.guidanceScale,
            on: c.guidanceOn,
            guidedSteps: c.guidedSteps,
          }),
      }),
      signal: ctx.signal,
      progress: ctx.progress,
    });
    const t2 = performance.now();
    const info = await measureInformation(f.vae, ve.est, latents, Int32Array.from(labels));
    const images = await decodeLatents(f.vae, latents, { native: f.images.native, signal: ctx.signal });
    return {
      images,
      labels,
      metrics: {
        samples: labels.length,
        beta: c.beta,
        miEstimate: info.mi,
        condEntropyEstimate: info.condEntropy,
        veCached: ve.cached ? 1 : 0,
        veSteps: ve.log.steps,
        veFirstNce: ve.log.firstNce,
        veLastNce: ve.log.lastNce,
        veLastEntropy: ve.log.lastEntropy,
        veClassifierAccuracy: ve.log.classifierAccuracy,
        guidedStepsPerChain: c.guidanceScale === 0
          ? 0
          : guidedCount(samplerSchedule(c.steps).length, c.guidedSteps),
        veSeconds: (t1 - t0) / 1000,
        samplingSeconds: (t2 - t1) / 1000,
      },
    };
  } finally {
    ve.dispose();
  }
}

export const igdsMethod: MethodDef<IgdsConfig> = {
  id: "igds",
  description:
    "IGDS: DiT sampling guided by the gradient of Î(X;Y) + β·Ĥ(X|Y) from a MoCo-style variational " +
    "estimator, β by IPC",
  reference: "Information-Guided Diffusion Sampling for Dataset Distillation, §4, §5.1, App. E",
  implemented: true,
  schema: IgdsConfig,
  defaults: igdsDefaults,
  budget: IGDS_BUDGET,
  scaleNotes: { ...SAMPLER_SCALE_NOTES, ...VE_SCALE_NOTES },
  async distill(ctx: DistillContext<IgdsConfig>): Promise<DistillResult> {
    const t0 = performance.now();
    const f = await loadFoundation(ctx.dataset, ctx.config.foundation);
    try {
      checkResolution(f, ctx.config.resolution, "igds");
      const { images, labels, metrics } = await igdsSample(ctx, f);
      return {
        set: unitImagesToSet(ctx, "igds", images, labels, { foundation: f.source }),
        metrics: { ...metrics, seconds: (performance.now() - t0) / 1000 },
      };
    } finally {
      disposeFoundation(f);
    }
  },
};

export const MinimaxIgdsConfig = MinimaxConfig.extend(IgdsFields).strict();
export type MinimaxIgdsConfig = z.infer<typeof MinimaxIgdsConfig>;

/** Minimax's fine-tuning budget (family "minimax": its tuned fine-tuning steps) and IGDS's VE budget. */
export const MINIMAX_IGDS_BUDGET: MethodBudget<MinimaxIgdsConfig> = {
  family: "minimax",
  keys: {
    ...(MINIMAX_BUDGET.keys as MethodBudget<MinimaxIgdsConfig>["keys"]),
    ...veBudget<MinimaxIgdsConfig>().keys,
    guidedSteps: GUIDED_STEPS_RULE,
  },
  derived: {
    ...(MINIMAX_BUDGET.derived as MethodBudget<MinimaxIgdsConfig>["derived"]),
    ...veBudget<MinimaxIgdsConfig>().derived,
  },
};

export const minimaxIgdsMethod: MethodDef<MinimaxIgdsConfig> = {
  id: "minimax+igds",
  description: "IGDS guidance on the Minimax prior: the DiT fine-tuned by Minimax, then sampled with " +
    "Î(X;Y) + β·Ĥ(X|Y) guidance",
  reference: "IGDS App. E; Minimax: Gu et al., CVPR 2024",
  implemented: true,
  schema: MinimaxIgdsConfig,
  defaults: (_datasetId, ipc) => ({ ...minimaxDefaults(), ...igdsFieldDefaults(ipc) }),
  budget: MINIMAX_IGDS_BUDGET,
  scaleNotes: {
    ...MINIMAX_SCALE_NOTES,
    ...VE_SCALE_NOTES,
  },
  async distill(ctx: DistillContext<MinimaxIgdsConfig>): Promise<DistillResult> {
    const t0 = performance.now();
    const f = await loadFoundation(ctx.dataset, ctx.config.foundation);
    try {
      checkResolution(f, ctx.config.resolution, "minimax+igds");
      const tune = await tuneMinimaxPrior(f, ctx.config, ctx.seed, ctx);
      const { images, labels, metrics } = await igdsSample(ctx, f);
      return {
        set: unitImagesToSet(ctx, "minimax+igds", images, labels, { foundation: f.source }),
        metrics: {
          ...metrics,
          finetuneSteps: tune.steps,
          lastDiffusionLoss: tune.lastLoss,
          seconds: (performance.now() - t0) / 1000,
        },
      };
    } finally {
      disposeFoundation(f);
    }
  },
};
