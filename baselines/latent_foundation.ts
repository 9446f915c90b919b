/**
 * What the diffusion-based baselines share: the generative foundation (class-conditional DiT + VAE) of
 * the dataset a method runs on, the real training images as the VAE sees them, and decoded [0, 1]
 * images turned into a distilled set in the dataset's normalised space.
 */
import { z } from "zod";
import type { Dataset, Split } from "../data/types.ts";
import type { DistillContext } from "../methods/types.ts";
import type { DistilledSet } from "../data/distilled.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";
import type { Derivation, MethodBudget } from "../methods/budget.ts";
import { Rng } from "../engine/random.ts";
import { DiT } from "../models/dit.ts";
import { AutoencoderKL } from "../models/vae.ts";
import {
  ditRecipe,
  FOUNDATION_DATASETS,
  type FoundationDataset,
  IMAGE_SIZE,
  loadDit,
  loadVae,
  vaeRecipe,
} from "../models/foundation.ts";
import { PaddedImages } from "../models/generative_data.ts";
import type { HostBatch } from "../models/latent_sampling.ts";
import type { NoisePredictor } from "../diffusion/mod.ts";

/** A class-conditional noise predictor (the DiT) and the VAE whose latents it models, for one dataset's classes. */
export interface Foundation<M extends NoisePredictor = DisposablePredictor> {
  dit: M;
  vae: AutoencoderKL;
  /** The dataset's train images as the VAE's input ([-1, 1], padded to its side). */
  images: PaddedImages;
  /** The train split those images come from (content keys of what is derived from it). */
  train: Split;
  /** Latent [h, w, c] of one sample. */
  latentShape: [number, number, number];
  /** Where the weights came from (recorded in the set's metadata). */
  source: string;
}

export type DisposablePredictor = NoisePredictor & { dispose(): void };

export function foundationFrom<M extends DisposablePredictor>(
  dataset: Dataset,
  dit: M,
  latentShape: [number, number, number],
  vae: AutoencoderKL,
  source: string,
): Foundation<M> {
  if (dit.numClasses !== dataset.info.numClasses) {
    throw new Error(
      `${source}: the DiT has ${dit.numClasses} classes, ${dataset.info.id} has ${dataset.info.numClasses}`,
    );
  }
  return {
    dit,
    vae,
    images: new PaddedImages(dataset.train, dataset.info.shape.channels, IMAGE_SIZE),
    train: dataset.train,
    latentShape,
    source,
  };
}

const ditShape = (d: DiT): [number, number, number] => [d.cfg.inputSize, d.cfg.inputSize, d.cfg.inChannels];

/**
 * The shipped, hash-verified foundation of an embedded dataset (models/weights/). Other datasets need a
 * class-conditional DiT of their classes, which ddrepro does not have yet: a clear error, not a fake.
 * `which: "untrained"` (the smoke profile's choice: CI, numbers mean nothing) runs the same pipeline on the
 * untrained smoke-recipe models instead, so it needs no weights and works on any ≤ 32 px dataset.
 */
export async function loadFoundation(dataset: Dataset, which: FoundationChoice): Promise<Foundation<DiT>> {
  const id = dataset.info.id;
  if (which === "untrained") return untrainedFoundation(dataset, 0);
  if (!(FOUNDATION_DATASETS as readonly string[]).includes(id)) {
    throw new Error(
      `no class-conditional DiT for dataset "${id}": the shipped foundation covers ${
        FOUNDATION_DATASETS.join(", ")
      } (models/weights/); run the cell at a profile that substitutes one of them`,
    );
  }
  const vae = await loadVae(id as FoundationDataset);
  try {
    const dit = await loadDit(id as FoundationDataset);
    return foundationFrom(dataset, dit, ditShape(dit), vae, `shipped ${id} DiT + VAE (models/weights/)`);
  } catch (e) {
    vae.dispose();
    throw e;
  }
}

/** The smoke recipes' DiT and VAE, randomly initialised from `seed`, for the dataset's channels and classes. */
export function untrainedFoundation(dataset: Dataset, seed: number): Foundation<DiT> {
  const ch = dataset.info.shape.channels;
  const rng = new Rng(seed);
  const vae = new AutoencoderKL(rng.fork(0), {
    ...vaeRecipe("mnist", "smoke").model,
    inChannels: ch,
    outChannels: ch,
  })
    .eval();
  const r = ditRecipe("mnist", "smoke");
  const dit = new DiT(rng.fork(1), { ...r.model, numClasses: dataset.info.numClasses }).eval();
  return foundationFrom(dataset, dit, ditShape(dit), vae, `untrained smoke-recipe DiT + VAE (seed ${seed})`);
}

export function disposeFoundation(f: Foundation): void {
  f.dit.dispose();
  f.vae.dispose();
}

/** Sampler settings shared by the configs of the diffusion baselines. */
export const SamplerFields = {
  /** DDPM (ancestral, learned variance: Minimax's and DiT's sample.py) or DDIM. */
  sampler: z.enum(["ddpm", "ddim"]),
  /** Respacing of the 1000-step schedule, e.g. "50" (diffusion/respace.ts). */
  steps: z.string().regex(/^(ddim)?\d+(,\d+)*$/, 'a respacing such as "50" or "ddim50"'),
  /** Classifier-free guidance scale (1: none). */
  cfgScale: z.number().min(0).max(100),
  /**
   * Side of the generated images (the papers: 256, DiT-XL/2's); null: the foundation's own (the shipped
   * small foundation generates 32 px, cropped to the dataset's native side).
   */
  resolution: z.number().int().positive().nullable(),
  /**
   * "shipped": the hash-verified small foundation (models/weights/); "untrained": the smoke recipe's DiT
   * and VAE, randomly initialised, which exercise the pipeline without weights (CI; numbers mean nothing).
   */
  foundation: z.enum(["shipped", "untrained"]),
};

export type FoundationChoice = z.infer<typeof SamplerFields.foundation>;

/** Profiles below `paper` run the shipped small foundation, which generates at its own side. */
export const NATIVE_RESOLUTION_NOTE =
  "the shipped small foundation generates at its own (the dataset's native) side";

/** The sampler keys every diffusion baseline shares. */
type SamplerConfig = {
  sampler: "ddpm" | "ddim";
  steps: string;
  resolution: number | null;
  foundation: FoundationChoice;
};

/**
 * How profiles bound the sampler: their `sampler` knob replaces it (quick: DDIM), their `samplingSteps`
 * caps the paper's steps in the sampler's respacing ("ddim10"; a respacing that is not one number counts
 * as the cap), and below `paper` the shipped small foundation generates at its own side. Sampling costs
 * IPC × classes × steps model evaluations (twice with CFG).
 */
export function samplerBudget<C extends SamplerConfig>(): MethodBudget<C> {
  return {
    keys: {
      sampler: { knob: "sampler", rule: "set" },
      foundation: { knob: "foundation", rule: "set" },
    } as MethodBudget<C>["keys"],
    derived: {
      steps: ({ paper, run, knob }: Derivation<SamplerConfig>) => {
        const cap = knob("samplingSteps");
        if (typeof cap !== "number") return run.steps;
        const n = Number(/^(?:ddim)?(\d+)$/.exec(paper.steps)?.[1] ?? NaN);
        return `${run.sampler === "ddim" ? "ddim" : ""}${Number.isFinite(n) ? Math.min(n, cap) : cap}`;
      },
      resolution: () => null,
    } as unknown as MethodBudget<C>["derived"],
  };
}

/** Why the profiles change the sampler keys (their substitutions' reasons). */
export const SAMPLER_SCALE_NOTES: Readonly<Record<string, string>> = {
  sampler: "quick samples with DDIM (deterministic; few steps)",
  steps: "fewer sampling steps fit the profile's time budget (cost ∝ IPC × steps)",
  resolution: NATIVE_RESOLUTION_NOTE,
};

/** Refuses a configured resolution the foundation does not generate at. */
export function checkResolution(
  f: Pick<Foundation, "images" | "source">,
  resolution: number | null,
  method: string,
): void {
  if (resolution !== null && resolution !== f.images.native) {
    throw new Error(
      `${method}: resolution ${resolution} requested, but ${f.source} generates ${f.images.native} px images`,
    );
  }
}

/** Class-major labels as plain numbers: `perClass` of each class in order. */
export function classMajor(classes: number, perClass: number): number[] {
  return Array.from({ length: classes * perClass }, (_, i) => Math.floor(i / perClass));
}

/** Decoded [0, 1] NHWC images → a distilled set (NCHW, the dataset's mean/std). */
export function unitImagesToSet<C>(
  ctx: DistillContext<C>,
  method: string,
  imgs: HostBatch,
  labels: ArrayLike<number>,
  extra: Record<string, string> = {},
): DistilledSet {
  const [n, h, w, c] = imgs.shape;
  const { mean, std } = ctx.dataset.info;
  const out = new Float32Array(n * c * h * w);
  for (let k = 0; k < n; k++) {
    for (let p = 0; p < h * w; p++) {
      for (let ch = 0; ch < c; ch++) {
        const v = imgs.data[(k * h * w + p) * c + ch];
        if (!Number.isFinite(v)) throw new Error(`${method}: generated images are not finite`);
        out[(k * c + ch) * h * w + p] = (v - mean[ch]) / std[ch];
      }
    }
  }
  return {
    images: out,
    shape: [n, c, h, w],
    labels: Int32Array.from(labels),
    meta: {
      method,
      dataset: ctx.dataset.info.id,
      ipc: ctx.ipc,
      seed: ctx.seed,
      configHash: sha256Hex(canonicalJson(ctx.config)),
      profile: ctx.profile,
      mean,
      std,
      createdAt: new Date().toISOString(),
      extra: { config: canonicalJson(ctx.config), ...extra },
    },
  };
}
