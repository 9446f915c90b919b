/**
 * D³HR's configuration: the paper's defaults (Sec. 5.1, App. B), every switch its ablations turn (Table 3,
 * Fig. 5, Tables A5, A9–A11), and how profiles shrink the cost.
 */
import { z } from "zod";
import type { Profile } from "../../results/types.ts";
import { PAPER_WEIGHTS, type ScoreWeights } from "./group_sampling.ts";
import { NATIVE_RESOLUTION_NOTE } from "../../baselines/latent_foundation.ts";

export const D3hrConfig = z.object({
  /**
   * How class latents reach the noise domain: deterministic DDIM inversion (Eq. 3, D³HR) or one draw of
   * the DDPM forward process (Eq. 1, Table 3's Base-DDPM).
   */
  domainMapping: z.enum(["ddim-inversion", "ddpm-forward"]),
  /** Group sampling (Sec. 4.4); false keeps the first random subset (Table 3's Base-RS, the same as m = 1). */
  groupSampling: z.boolean(),
  /** Candidate subsets per class (App. B: 5e6 CIFAR, 1e6 Tiny-ImageNet, 1e5 ImageNet-1K; Tables A9–A10). */
  m: z.number().int().min(1),
  /**
   * The subsets' score: the paper's Eqs. 5–8, or the released code's norms of the sample mean / std /
   * per-latent skewness differences (with its weights 1, 1, 0.1 set through the λ keys).
   */
  score: z.enum(["paper", "reference"]),
  /** Weights of Eq. 5 (App. B: 1, 1, 0.5; Table A11); 0 drops a term (Table 3). */
  lambdaMu: z.number().min(0),
  lambdaSigma: z.number().min(0),
  lambdaSkew: z.number().min(0),
  /** Relative change of the fitted variance before sampling: σ² → (1 + δ)σ² (Table A5). */
  varianceDelta: z.number().gt(-1),
  /** The DDIM respacing shared by inversion and sampling ("ddim50": DiT's 50 steps, as the reference). */
  sampleSteps: z.string().regex(/^ddim\d+$/, 'expected "ddim<N>", e.g. "ddim50"'),
  /** The schedule index the latents are inverted to and sampled back from (31 of ddim50; Fig. 5's sweep). */
  inversionStep: z.number().int().min(1),
  /**
   * Where inversion evaluates ε̂: at the current step (exact DDIM inversion) or at the target step (the
   * diffusers-style loop of the reference script).
   */
  inversionEps: z.enum(["current", "target"]),
  /** Classifier-free guidance scale in inversion and sampling (the reference: 4; 1 = none). */
  cfgScale: z.number().min(1),
  /** Latents of the real images: a posterior sample (the reference's latent_dist.sample()) or its mean. */
  encode: z.enum(["sample", "mean"]),
  /** Real images per class mapped and fitted (null: the whole class, as the paper). */
  inversionImages: z.number().int().min(2).nullable(),
  /**
   * A statistics file of an earlier run (its set's `extra.statistics`) to generate from instead of mapping
   * the data again: Sec. 6.7's storage of (μ, σ²) only. Null: map the data (cached).
   */
  statistics: z.string().min(1).nullable(),
  /** Side of the generated images (Table 5: 224); null: the dataset's own. */
  resolution: z.number().int().positive().nullable(),
}).strict();
export type D3hrConfig = z.infer<typeof D3hrConfig>;

/** App. B's m per dataset; the 28 px stand-ins (10 classes of 6000) follow CIFAR-10. */
function paperM(dataset: string): number {
  switch (dataset) {
    case "imagenet-1k":
    case "imagenet-100":
    case "imagewoof":
    case "imagenette":
    case "imageidc":
      return 100_000;
    case "tiny-imagenet":
      return 1_000_000;
    default:
      return 5_000_000;
  }
}

/** The paper's setting; m follows the dataset the table's cell names (a stand-in runs its m). */
export function d3hrDefaults(datasetId: string, _ipc: number, requestedDataset?: string): D3hrConfig {
  return {
    domainMapping: "ddim-inversion",
    groupSampling: true,
    m: paperM(requestedDataset ?? datasetId),
    score: "paper",
    lambdaMu: PAPER_WEIGHTS.mu,
    lambdaSigma: PAPER_WEIGHTS.sigma,
    lambdaSkew: PAPER_WEIGHTS.skew,
    varianceDelta: 0,
    sampleSteps: "ddim50",
    inversionStep: 31,
    inversionEps: "current",
    cfgScale: 4,
    encode: "sample",
    inversionImages: null,
    statistics: null,
    resolution: null,
  };
}

export function scoreWeights(c: D3hrConfig): ScoreWeights {
  return { mu: c.lambdaMu, sigma: c.lambdaSigma, skew: c.lambdaSkew };
}

/** Steps of a "ddimN" respacing. */
export function respacedSteps(spec: string): number {
  const n = Number(spec.slice(4));
  if (!/^ddim\d+$/.test(spec) || !Number.isInteger(n) || n < 2) {
    throw new Error(`d3hr: sampleSteps "${spec}" is not "ddim<N>" with N ≥ 2`);
  }
  return n;
}

/** The index of a coarser respacing at the same noise level (31 of ddim50 → 6 of ddim10). */
function sameNoiseLevel(step: number, from: string, to: string): number {
  const a = respacedSteps(from), b = respacedSteps(to);
  return Math.max(1, Math.min(b - 1, Math.round((step * b) / a)));
}

/**
 * Profiles bound the three costs: inversion (images per class × steps, a DiT forward of 2 rows with CFG
 * each), group sampling (m·IPC·d normal draws per class) and sampling back (IPC per class × steps). m is
 * divided, not capped, so a sweep over m (Tables A9–A10) keeps its shape: quick's 5e6 / 500 = 1e4 costs
 * ~2.5 s per class at IPC 10 on a loaded 2-core llvmpipe machine (bench: d3hr_group_sampling_s), and the
 * small DiT inverts ~40 images·steps/s there, so quick maps 100 images per class on ddim25 (~7 min, once:
 * the statistics are cached). The noise level of the inversion step is kept when the respacing is
 * coarser. What follows a pinned key is derived from the pin.
 */
export function d3hrScale(
  c: D3hrConfig,
  profile: Profile,
  _ipc = 0,
  pinned: Partial<D3hrConfig> = {},
): D3hrConfig {
  const cap = (v: number | null, k: number) => (v === null ? k : Math.min(v, k));
  const fewer = (divisor: number) => pinned.m ?? Math.max(1, Math.round(c.m / divisor));
  const coarser = (steps: string): Pick<D3hrConfig, "sampleSteps" | "inversionStep" | "resolution"> => {
    const sampleSteps = pinned.sampleSteps ?? steps;
    return {
      sampleSteps,
      inversionStep: pinned.inversionStep ?? sameNoiseLevel(c.inversionStep, c.sampleSteps, sampleSteps),
      resolution: null,
    };
  };
  switch (profile) {
    case "smoke":
      return { ...c, ...coarser("ddim10"), m: fewer(100_000), inversionImages: cap(c.inversionImages, 16) };
    case "quick":
      return { ...c, ...coarser("ddim25"), m: fewer(500), inversionImages: cap(c.inversionImages, 100) };
    case "proxy":
      return { ...c, m: fewer(50), inversionImages: cap(c.inversionImages, 1000), resolution: null };
    case "paper":
      return c;
  }
}

export const D3HR_SCALE_NOTES: Readonly<Record<string, string>> = {
  m: "fewer candidate subsets per class (m divided by a fixed factor, so a sweep keeps its shape) fit the " +
    "profile's time budget",
  inversionImages:
    "a subset of each class is inverted (one DiT forward per image and step) to fit the time budget",
  sampleSteps: "a coarser DDIM respacing for inversion and sampling fits the time budget",
  inversionStep: "the same noise level on the coarser respacing",
  resolution: NATIVE_RESOLUTION_NOTE,
};
