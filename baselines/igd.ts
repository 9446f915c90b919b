/**
 * IGD — Influence-Guided Diffusion for Dataset Distillation (Chen et al., ICLR 2025; mchen725/DD_IGD).
 *
 * Training-free guidance of DiT sampling (`igd`) or of the Minimax-fine-tuned DiT (`minimax+igd`). A
 * surrogate classifier is trained on the real data and a few checkpoints of its trajectory are kept; for
 * each class c and checkpoint θ_k, the mean cross-entropy gradient G_ck of real images of c is computed
 * once. Inside the guidance window (steps 30–45 of the 50-step chain, i.e. timesteps 612–917), every
 * step moves the next latent x_{t−1}:
 *
 *   influence   −ρ_t · k · ∇_{x_t} Σ_k (1 − cos(∇_θ CE(f_θk(D(x̂₀(x_t))), c), G_ck)) / K
 *               (through the DiT, the VAE decoder D and the surrogate's gradient: second order),
 *               ρ_t = 0.0015 · rms(ε̂) / rms(∇) · √(1 − ᾱ_t)   (a step normalised to the noise estimate)
 *   deviation   −γ · ∇_{x_t} max_j cos(x_t, m_j)   over a FIFO memory (64) of the class's generated latents
 *               (γ is for DiT-XL/2's 32×32×4 latents; other sizes get the same per-element step, deviationFor)
 *
 * with k = 5, γ = 120, DDPM-50 with CFG 4. The official code samples one image at a time, so each sees all
 * earlier ones in its memory; sampling `batch` images together, a row also counts the current x̂₀ of the
 * rows before it as generated (the best estimate of what they become). The hook applies the shift
 * through an x̂₀ update of the size that moves x_{t−1} exactly as the official post-step shift does.
 *
 * The surrogate is ddrepro's MTT expert (baselines/mtt_experts.ts: trained once and cached, snapshots
 * after every epoch), so the checkpoints are its epoch snapshots (official: ConvNet-6, 50 epochs,
 * checkpoints at epochs 0, 5, 16, 40; 200 real images per class).
 */
import { z } from "zod";
import * as T from "../engine/ops/mod.ts";
import { mixSeed, Rng } from "../engine/random.ts";
import { noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import type { GuidanceHook } from "../diffusion/mod.ts";
import type { Dataset } from "../data/types.ts";
import type { ProgressReporter } from "../data/progress.ts";
import { splitToDevice } from "../evaluator/device_data.ts";
import type { DiT } from "../models/dit.ts";
import type { AutoencoderKL } from "../models/vae.ts";
import { decodeLatents, type HostBatch, sampleLatents, samplerSchedule } from "../models/latent_sampling.ts";
import type { Derivation, MethodBudget } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
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
import { diffusionDefaults } from "./diffusion_sampling.ts";
import {
  MINIMAX_BUDGET,
  MINIMAX_SCALE_NOTES,
  MinimaxConfig,
  minimaxDefaults,
  tuneMinimaxPrior,
} from "./minimax.ts";
import { cosineMatrix } from "./minimax.ts";
import { gradientDistance } from "./gradient_matching.ts";
import { convnetForward } from "./functional_convnet.ts";
import { drawPositions, indicesByClass } from "./real_images.ts";
import { ExpertBuffer, expertNet, type ExpertSpec, unflatten } from "./mtt_experts.ts";

/** The guidance's own settings (shared by `igd` and `minimax+igd`). */
export const IgdFields = {
  /** k (--gm-scale): the influence step in units of ρ_t. */
  influenceScale: z.number().min(0),
  /** γ (--lambda-neg / --dev-scale): the deviation (diversity) step, for DiT-XL/2's 32×32×4 latents. */
  deviationScale: z.number().min(0),
  /** Guided original-schedule timesteps [lo, hi] (official: steps 30–45 of the 50-step respacing). */
  window: z.tuple([z.number().int().min(0).max(999), z.number().int().min(0).max(999)]),
  /** Generated latents per class remembered for the deviation term (--memory-size). */
  memorySize: z.number().int().positive(),
  /** Real images per class whose mean gradient is the target (--grad-ipc). */
  gradIpc: z.number().int().positive(),
  /** Images of a class sampled together (official: 1). */
  batch: z.number().int().positive(),
  /** The surrogate (an MTT expert): model, width, epochs, SGD lr and batch, training images, seed. */
  surrogateModel: z.string().regex(/^convnet\d$/, 'a ConvNet id such as "convnet6"'),
  surrogateWidth: z.number().int().positive(),
  surrogateEpochs: z.number().int().positive(),
  /** Epochs whose snapshots are the checkpoints (0: initialisation), each ≤ surrogateEpochs. */
  surrogateCheckpoints: z.array(z.number().int().min(0)).min(1),
  surrogateLr: z.number().positive(),
  surrogateBatch: z.number().int().positive(),
  surrogateImages: z.number().int().positive().nullable(),
  surrogateSeed: z.number().int().min(0),
};

export const IgdConfig = z.object({ ...SamplerFields, ...IgdFields }).strict();
export type IgdConfig = z.infer<typeof IgdConfig>;
export const MinimaxIgdConfig = MinimaxConfig.extend(IgdFields).strict();
export type MinimaxIgdConfig = z.infer<typeof MinimaxIgdConfig>;
export type IgdGuidanceConfig = Pick<IgdConfig, keyof typeof IgdFields | "sampler" | "steps" | "cfgScale">;

/** The paper's guidance window: steps 30…45 of the 50-step respacing, as original timesteps. */
function paperWindow(): [number, number] {
  const t = samplerSchedule("50").timesteps;
  return [t[30], t[45]];
}

/** The guidance's paper settings (DD_IGD's ImageWoof DiT scripts; docs/protocols.md §10). */
export const igdFieldDefaults = (): z.infer<z.ZodObject<typeof IgdFields>> => ({
  influenceScale: 5,
  deviationScale: 120,
  window: paperWindow(),
  memorySize: 64,
  gradIpc: 200,
  batch: 1,
  surrogateModel: "convnet6",
  surrogateWidth: 128,
  surrogateEpochs: 50,
  surrogateCheckpoints: [0, 5, 16, 40],
  surrogateLr: 0.01,
  surrogateBatch: 256,
  surrogateImages: null,
  surrogateSeed: 0,
});

export const igdDefaults = (): IgdConfig => ({ ...diffusionDefaults(), ...igdFieldDefaults() });
export const minimaxIgdDefaults = (): MinimaxIgdConfig => ({ ...minimaxDefaults(), ...igdFieldDefaults() });

type SurrogateKeys = {
  surrogateModel: string;
  surrogateWidth: number;
  surrogateEpochs: number;
  surrogateCheckpoints: number[];
  surrogateImages: number | null;
  surrogateBatch: number;
  batch: number;
};

/**
 * How profiles bound the guidance: the surrogate is the profile's extractor network (quick: ConvNet-3, as
 * a ConvNet-6 pools a 28 px image away), of its width, trained its epochs on its images in its batches;
 * the checkpoints keep their place in the shorter trajectory (epoch e of 50 → round(e · epochs / 50));
 * and images of a class are sampled `synBatch` at a time (the official one at a time costs a DiT call per
 * image and step).
 */
function guidanceBudget<C extends SurrogateKeys>(): Pick<MethodBudget<C>, "keys" | "derived"> {
  return {
    keys: {
      surrogateModel: { knob: "extractor", rule: "set" },
      surrogateWidth: "width",
      surrogateEpochs: "trainEpochs",
      surrogateImages: "trainImages",
      surrogateBatch: "trainBatch",
    } as MethodBudget<C>["keys"],
    derived: {
      surrogateCheckpoints: (
        { paper, run }: Derivation<SurrogateKeys>,
      ) => [
        ...new Set(
          paper.surrogateCheckpoints.map((e) => Math.round(e * run.surrogateEpochs / paper.surrogateEpochs)),
        ),
      ],
      batch: ({ paper, knob }: Derivation<SurrogateKeys>) => {
        const b = knob("synBatch");
        return typeof b === "number" ? Math.max(paper.batch, b) : paper.batch;
      },
    } as unknown as MethodBudget<C>["derived"],
  };
}

export const IGD_BUDGET: MethodBudget<IgdConfig> = {
  family: "igd",
  keys: { ...samplerBudget<IgdConfig>().keys, ...guidanceBudget<IgdConfig>().keys },
  derived: { ...samplerBudget<IgdConfig>().derived, ...guidanceBudget<IgdConfig>().derived },
};

export const MINIMAX_IGD_BUDGET: MethodBudget<MinimaxIgdConfig> = {
  family: "minimax",
  keys: {
    ...(MINIMAX_BUDGET.keys as MethodBudget<MinimaxIgdConfig>["keys"]),
    ...guidanceBudget<MinimaxIgdConfig>().keys,
  },
  derived: {
    ...(MINIMAX_BUDGET.derived as MethodBudget<MinimaxIgdConfig>["derived"]),
    ...guidanceBudget<MinimaxIgdConfig>().derived,
  },
};

const GUIDANCE_SCALE_NOTES: Readonly<Record<string, string>> = {
  surrogateModel: "the profile's smaller surrogate (a ConvNet-6 pools a 28–32 px image away)",
  surrogateWidth: "a narrower surrogate fits the profile's time budget",
  surrogateEpochs: "a shorter surrogate trajectory fits the profile's time budget",
  surrogateCheckpoints: "the checkpoints keep their place in the shorter trajectory",
  surrogateImages: "the surrogate trains on fewer real images",
  surrogateBatch: "the surrogate trains in the profile's batches",
  batch: "images of a class are sampled together, not one at a time (later rows see earlier rows' x̂₀)",
};

/** A classifier as a function of a parameter list, with the parameter lists of its checkpoints. */
export interface Surrogate {
  forward(params: readonly Tensor[], x: Tensor): Tensor;
  /** One parameter list per checkpoint (kept device tensors; `dispose` frees them). */
  checkpoints: Tensor[][];
  /** Where it came from (recorded in the set's metadata). */
  source: string;
  dispose(): void;
}

/**
 * The mean cross-entropy gradient of `images` (the surrogate's input space) labelled `label`, at every
 * checkpoint: kept tensors, one list per checkpoint. Chunks of `chunk` images are weighted by their size,
 * so the result is the mean over all images (the official averages equal chunks of 50).
 */
export function realGradients(s: Surrogate, images: Tensor, label: number, chunk = 50): Tensor[][] {
  const n = images.shape[0];
  return s.checkpoints.map((params) =>
    tidy(() => {
      const leaves = params.map((p) => p.detach().requireGrad());
      let acc: Tensor[] | null = null;
      for (let b = 0; b < n; b += chunk) {
        const m = Math.min(chunk, n - b);
        const x = T.slice(images, [b, ...images.shape.slice(1).map(() => 0)], [m, ...images.shape.slice(1)]);
        const loss = T.crossEntropy(s.forward(leaves, x), tensor(new Int32Array(m).fill(label), [m], "i32"));
        const g = grad(loss, leaves).map((t) => T.mul(t, m / n));
        acc = acc ? acc.map((a, i) => T.add(a, g[i])) : g;
      }
      return acc!.map((t) => t.detach().keep());
    })
  );
}

/**
 * Per-row influence scores: the mean over checkpoints of cos(∇_θ CE(f_θk(x_r), y_r), G_k), each row's
 * gradient on its own (batch of one, as the official samples). Differentiable w.r.t. `images`
 * (second order through the surrogate). Returns [n].
 */
export function influenceScores(
  s: Surrogate,
  images: Tensor,
  labels: Int32Array,
  real: readonly (readonly Tensor[])[],
): Tensor {
  const n = images.shape[0], rest = images.shape.slice(1);
  const rows: Tensor[] = [];
  // Fresh leaves: the checkpoints are constants, their CE gradients must still be taken (with a graph).
  const leaves = s.checkpoints.map((params) => params.map((p) => p.detach().requireGrad()));
  for (let r = 0; r < n; r++) {
    const x = T.slice(images, [r, ...rest.map(() => 0)], [1, ...rest]);
    let score: Tensor = T.fill([], 0);
    leaves.forEach((params, k) => {
      const loss = T.crossEntropy(s.forward(params, x), tensor([labels[r]], [1], "i32"));
      const g = grad(loss, params, { createGraph: true });
      // gradientDistance "cos" is 1 − cos of the concatenated gradients.
      score = T.add(score, T.sub(1, gradientDistance(real[k], g, "cos")));
    });
    rows.push(T.reshape(T.mul(score, 1 / s.checkpoints.length), [1]));
  }
  return rows.length === 1 ? rows[0] : T.concat(rows, 0);
}

/** Scaled latents → the surrogate's input: VAE-decoded, cropped to the native side, normalised NHWC. */
export function latentsToSurrogateInput(
  vae: AutoencoderKL,
  native: number,
  mean: readonly number[],
  std: readonly number[],
): (x0: Tensor) => Tensor {
  const c = mean.length;
  const scale = Float32Array.from(std, (v) => 0.5 / v);
  const shift = Float32Array.from(mean, (m, i) => (0.5 - m) / std[i]);
  return (x0) => {
    let img = vae.decode(T.mul(x0, 1 / vae.cfg.scalingFactor));
    const side = img.shape[1];
    if (native !== side) {
      const pad = (side - native) / 2;
      img = T.slice(img, [0, pad, pad, 0], [img.shape[0], native, native, img.shape[3]]);
    }
    // [-1, 1] → [0, 1] → (v − mean) / std, per channel.
    return T.add(T.mul(img, tensor(scale, [c])), tensor(shift, [c]));
  };
}

/** The latent size γ is given for (DiT-XL/2 at 256 px: 32 × 32 × 4). */
export const PAPER_LATENT_DIM = 32 * 32 * 4;

/**
 * γ for latents of `dim` elements: a step of γ along ∇cos(x_t, m) moves each element by about γ·sinθ/dim
 * (|∇cos| ≈ sinθ/|x_t|, |x_t| ≈ √dim), so the paper's per-element step needs γ · dim / 32·32·4.
 */
export function deviationFor(gamma: number, dim: number): number {
  return gamma * dim / PAPER_LATENT_DIM;
}

/**
 * The factor c with which an x̂₀ shift δ moves the step's x_{t−1} (x_t fixed, ε re-derived):
 * DDPM's posterior mean coefficient β_t √ᾱ_{t−1} / (1 − ᾱ_t); DDIM (η = 0) √ᾱ_{t−1} − √((1 − ᾱ_{t−1}) ᾱ_t / (1 − ᾱ_t)).
 */
export function x0ShiftGain(sampler: "ddpm" | "ddim", alphaBar: number, alphaBarPrev: number): number {
  if (sampler === "ddpm") return (1 - alphaBar / alphaBarPrev) * Math.sqrt(alphaBarPrev) / (1 - alphaBar);
  return Math.sqrt(alphaBarPrev) - Math.sqrt((1 - alphaBarPrev) * alphaBar / (1 - alphaBar));
}

export interface IgdHookOptions {
  cfg: IgdGuidanceConfig;
  surrogate: Surrogate;
  /** The class's real gradients (realGradients). */
  real: readonly (readonly Tensor[])[];
  /** Latents → surrogate input (latentsToSurrogateInput). */
  toInput: (x0: Tensor) => Tensor;
  labels: Int32Array;
  /** The class's generated latents so far, [m, D] (kept; null: none yet). */
  memory: Tensor | null;
  /** Called at every step inside the window (counts the guided steps). */
  onGuidedStep?: (step: number) => void;
}

/** Rows [n, D] of a latent batch. */
const flat = (x: Tensor) => T.reshape(x, [x.shape[0], x.size / x.shape[0]]);

/**
 * The deviation objective Σ_r max_j cos(x_t[r], m_j) over the memory plus, for row r, the x̂₀ of rows
 * before it; rows with nothing to compare with contribute 0.
 */
export function deviationObjective(xt: Tensor, x0: Tensor, memory: Tensor | null): Tensor | null {
  const n = xt.shape[0], m = memory?.shape[0] ?? 0;
  if (m === 0 && n === 1) return null;
  const peers = flat(x0.detach());
  const bank = memory ? T.concat([memory, peers], 0) : peers;
  // Row r may use the memory and peers j < r: others get −4 (below any cosine).
  const mask = new Float32Array(n * (m + n)), valid = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < m + n; j++) if (j >= m + r) mask[r * (m + n) + j] = -4;
    valid[r] = m + r > 0 ? 1 : 0;
  }
  const best = T.max(T.add(cosineMatrix(flat(xt), bank), tensor(mask, [n, m + n])), 1);
  return T.sum(T.mul(best, tensor(valid, [n])));
}

/**
 * The IGD hook for one batch of one class's rows: inside the window, an x̂₀ update moving x_{t−1} by
 * −ρ_t·k·∇_{x_t}(influence loss) − γ'·∇_{x_t}(deviation), per row.
 */
export function igdGuidance(o: IgdHookOptions): GuidanceHook {
  const { cfg } = o;
  const [lo, hi] = cfg.window;
  const inWindow = (t: number) => t >= lo && t <= hi;
  return {
    throughModel: (s) => inWindow(s.t) && cfg.influenceScale > 0,
    guide(ctx) {
      if (!inWindow(ctx.t)) return null;
      const n = ctx.xt.shape[0], dim = ctx.xt.size / n;
      const gain = x0ShiftGain(cfg.sampler, ctx.alphaBar, ctx.alphaBarPrev);
      let shift: Tensor | null = null;
      if (cfg.influenceScale > 0) {
        // ∇_{x_t} of the influence loss Σ_r (1 − score_r): descend it.
        const g = ctx.gradThroughModel(({ x0 }) =>
          T.sum(T.sub(1, influenceScores(o.surrogate, o.toInput(x0), o.labels, o.real)))
        );
        shift = noGrad(() => {
          const rms = (x: Tensor) => T.sqrt(T.add(T.mean(T.square(flat(x)), 1, true), 1e-30));
          const rho = T.mul(
            T.div(rms(ctx.eps), rms(g)),
            0.0015 * Math.sqrt(1 - ctx.alphaBar) * cfg.influenceScale,
          );
          return T.reshape(T.mul(T.neg(flat(g)), rho), ctx.xt.shape);
        });
      }
      if (cfg.deviationScale > 0) {
        const leaf = ctx.xt.detach().requireGrad();
        const j = deviationObjective(leaf, ctx.x0, o.memory);
        if (j) {
          const [g] = grad(j, [leaf]);
          const gamma = deviationFor(cfg.deviationScale, dim);
          const d = noGrad(() => T.mul(g, -gamma));
          shift = shift ? noGrad(() => T.add(shift!, d)) : d;
        }
      }
      o.onGuidedStep?.(ctx.step);
      if (!shift) return null;
      return { kind: "x0", delta: noGrad(() => T.mul(shift!, 1 / gain)) };
    },
  };
}

/** The surrogate of a config: the MTT expert of its spec (trained once, cached), at its checkpoints. */
export async function expertSurrogate(
  dataset: Dataset,
  cfg: SurrogateKeys & { surrogateLr: number; surrogateSeed: number },
  o: { progress?: ProgressReporter; signal?: AbortSignal } = {},
): Promise<Surrogate> {
  const spec: ExpertSpec = {
    dataset,
    model: cfg.surrogateModel,
    width: cfg.surrogateWidth,
    epochs: cfg.surrogateEpochs,
    lr: cfg.surrogateLr,
    batchSize: cfg.surrogateBatch,
    dsaStrategy: [],
    trainLimit: cfg.surrogateImages,
    seed: cfg.surrogateSeed,
    zca: null,
  };
  const buffer = await ExpertBuffer.open(spec, 1, o.progress, o.signal);
  const traj = await buffer.get(0);
  const probe = expertNet(spec, new Rng(0));
  const netCfg = probe.cfg;
  probe.dispose();
  const checkpoints = cfg.surrogateCheckpoints.map((e) => {
    if (e >= traj.snapshots.length) {
      throw new Error(`igd: checkpoint epoch ${e} beyond the ${cfg.surrogateEpochs}-epoch trajectory`);
    }
    return unflatten(traj.snapshots[e], traj.shapes).map((t) => t.keep());
  });
  return {
    forward: (params, x) => convnetForward(netCfg, params, x),
    checkpoints,
    source:
      `MTT expert cache: ${cfg.surrogateModel} width ${cfg.surrogateWidth}, ${cfg.surrogateEpochs} epochs ` +
      `(SGD lr ${cfg.surrogateLr}, batch ${cfg.surrogateBatch}, ${cfg.surrogateImages ?? "all"} images, ` +
      `seed ${cfg.surrogateSeed}); checkpoints at epochs ` +
      cfg.surrogateCheckpoints.join(", "),
    dispose: () => checkpoints.flat().forEach((t) => t.dispose()),
  };
}

/** `gradIpc` seeded real images of each class, normalised NHWC on the device (one class at a time). */
function realClassImages(dataset: Dataset, c: number, n: number, seed: number): Tensor {
  const byClass = indicesByClass(dataset.train.labels, dataset.info.numClasses)[c];
  if (byClass.length === 0) throw new Error(`igd: class ${c} of ${dataset.info.id} has no training images`);
  const pos = drawPositions(byClass.length, n, new Rng(mixSeed(seed, c)));
  return splitToDevice(dataset, dataset.train, Int32Array.from(pos, (p) => byClass[p])).x;
}

export interface IgdSampleLog {
  guidedSteps: number;
}

/**
 * `perClass` IGD-guided latents of every class, class-major: per class, its real gradients, then batches
 * of `cfg.batch` rows, each guided against the class's memory of earlier latents.
 */
export async function sampleIgdLatents(
  f: Foundation<DiT>,
  dataset: Dataset,
  surrogate: Surrogate,
  perClass: number,
  cfg: IgdGuidanceConfig,
  seed: number,
  o: { signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<{ latents: HostBatch; labels: number[]; log: IgdSampleLog }> {
  const classes = f.dit.numClasses;
  const [h, w, ch] = f.latentShape, dim = h * w * ch;
  const toInput = latentsToSurrogateInput(f.vae, f.images.native, dataset.info.mean, dataset.info.std);
  const out = new Float32Array(classes * perClass * dim);
  const labels: number[] = [];
  let guidedSteps = 0, done = 0;
  for (let c = 0; c < classes; c++) {
    const imgs = realClassImages(dataset, c, cfg.gradIpc, seed);
    const real = realGradients(surrogate, imgs, c);
    imgs.dispose();
    const memory: Float32Array[] = [];
    try {
      for (let b = 0; b < perClass; b += cfg.batch) {
        o.signal?.throwIfAborted();
        const rows = Math.min(cfg.batch, perClass - b);
        const memT = memory.length ? tensor(concatRows(memory, dim), [memory.length, dim]).keep() : null;
        try {
          const lab = new Array<number>(rows).fill(c);
          const z = await sampleLatents(f.dit, f.latentShape, lab, {
            method: cfg.sampler,
            steps: cfg.steps,
            cfgScale: cfg.cfgScale,
            seed: mixSeed(mixSeed(seed, c), b),
            chunk: rows,
            signal: o.signal,
            guidance: () =>
              igdGuidance({
                cfg,
                surrogate,
                real,
                toInput,
                labels: new Int32Array(rows).fill(c),
                memory: memT,
                onGuidedStep: () => guidedSteps++,
              }),
          });
          out.set(z.data, (c * perClass + b) * dim);
          for (let r = 0; r < rows; r++) memory.push(z.data.slice(r * dim, (r + 1) * dim));
          while (memory.length > cfg.memorySize) memory.shift();
          for (let r = 0; r < rows; r++) labels.push(c);
        } finally {
          memT?.dispose();
        }
        done += rows;
        o.progress?.update(done, classes * perClass, "guided samples");
      }
    } finally {
      real.flat().forEach((t) => t.dispose());
    }
  }
  return { latents: { data: out, shape: [classes * perClass, h, w, ch] }, labels, log: { guidedSteps } };
}

function concatRows(rows: readonly Float32Array[], dim: number): Float32Array {
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => data.set(r, i * dim));
  return data;
}

/** Refuses settings the schema cannot express: checkpoints past the trajectory, an empty window. */
export function checkGuidanceConfig(cfg: IgdGuidanceConfig, id: string): void {
  const late = cfg.surrogateCheckpoints.filter((e) => e > cfg.surrogateEpochs);
  if (late.length) {
    throw new Error(
      `${id}: surrogateCheckpoints ${late.join(", ")} lie beyond surrogateEpochs ${cfg.surrogateEpochs}`,
    );
  }
  if (cfg.window[0] > cfg.window[1]) {
    throw new Error(`${id}: window [${cfg.window}] must be [lo, hi] with lo ≤ hi`);
  }
}

/** Shared distill of both methods: the foundation (Minimax-tuned or not), the surrogate, guided sampling. */
async function distillIgd<C extends IgdConfig | MinimaxIgdConfig>(
  ctx: DistillContext<C>,
  id: string,
  prior: (f: Foundation<DiT>) => Promise<Record<string, number>>,
): Promise<DistillResult> {
  const t0 = performance.now();
  const cfg = ctx.config;
  checkGuidanceConfig(cfg, id);
  const f = await loadFoundation(ctx.dataset, cfg.foundation);
  let surrogate: Surrogate | null = null;
  try {
    checkResolution(f, cfg.resolution, id);
    const priorMetrics = await prior(f);
    const t1 = performance.now();
    surrogate = await expertSurrogate(ctx.dataset, cfg, ctx);
    const t2 = performance.now();
    const { latents, labels, log } = await sampleIgdLatents(
      f,
      ctx.dataset,
      surrogate,
      ctx.ipc,
      cfg,
      ctx.seed,
      ctx,
    );
    const images = await decodeLatents(f.vae, latents, { native: f.images.native, signal: ctx.signal });
    return {
      set: unitImagesToSet(ctx, id, images, labels, { foundation: f.source, surrogate: surrogate.source }),
      metrics: {
        ...priorMetrics,
        samples: labels.length,
        guidedSteps: log.guidedSteps,
        surrogateSeconds: (t2 - t1) / 1000,
        samplingSeconds: (performance.now() - t2) / 1000,
        seconds: (performance.now() - t0) / 1000,
      },
    };
  } finally {
    surrogate?.dispose();
    disposeFoundation(f);
  }
}

export const igdMethod: MethodDef<IgdConfig> = {
  id: "igd",
  description:
    "IGD: DiT sampling guided by the influence on a surrogate's training trajectory plus deviation",
  reference: "Chen et al., ICLR 2025 (mchen725/DD_IGD); DiT sampler settings of Minimax's sample.py",
  implemented: true,
  schema: IgdConfig,
  defaults: igdDefaults,
  budget: IGD_BUDGET,
  scaleNotes: { ...SAMPLER_SCALE_NOTES, ...GUIDANCE_SCALE_NOTES },
  distill: (ctx) => distillIgd(ctx, "igd", () => Promise.resolve({})),
};

export const minimaxIgdMethod: MethodDef<MinimaxIgdConfig> = {
  id: "minimax+igd",
  description:
    "Minimax + IGD: the Minimax-fine-tuned DiT sampled with IGD's influence and deviation guidance",
  reference: "Chen et al., ICLR 2025 (mchen725/DD_IGD) on Gu et al., CVPR 2024 (vimar-gu/MinimaxDiffusion)",
  implemented: true,
  schema: MinimaxIgdConfig,
  defaults: minimaxIgdDefaults,
  budget: MINIMAX_IGD_BUDGET,
  scaleNotes: {
    ...MINIMAX_SCALE_NOTES,
    ...GUIDANCE_SCALE_NOTES,
  },
  distill: (ctx) =>
    distillIgd(ctx, "minimax+igd", async (f) => {
      const tune = await tuneMinimaxPrior(f, ctx.config, ctx.seed, ctx);
      return { finetuneSteps: tune.steps, lastDiffusionLoss: tune.lastLoss };
    }),
};
