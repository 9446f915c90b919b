/**
 * D³HR's configuration: the paper's defaults (Sec. 5.1, App. B), every switch its ablations turn (Table 3,
 * Fig. 5, Tables A5, A9–A11), and how profiles shrink the cost.
 */
import { z } from "zod";
import type { Profile } from "../../results/types.ts";
import { PAPER_WEIGHTS, type ScoreWeights } from "./group_sampling.ts";

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
 * Profiles bound the three costs: inversion (images per class × steps, a DiT forward each), group sampling
 * (m·IPC·d normal draws per class) and sampling back (steps). The noise level of the inversion step is kept
 * when the respacing is coarser. Where the user pinned a key, what follows it is derived from the pin.
 */
export function d3hrScale(
  c: D3hrConfig,
  profile: Profile,
  _ipc = 0,
  pinned: Partial<D3hrConfig> = {},
): D3hrConfig {
  const cap = (v: number | null, k: number) => (v === null ? k : Math.min(v, k));
  const coarser = (steps: string): D3hrConfig => {
    const sampleSteps = pinned.sampleSteps ?? steps;
    return {
      ...c,
      sampleSteps,
      inversionStep: pinned.inversionStep ?? sameNoiseLevel(c.inversionStep, c.sampleSteps, sampleSteps),
      resolution: null,
    };
  };
  switch (profile) {
    case "smoke":
      return { ...coarser("ddim10"), m: Math.min(c.m, 64), inversionImages: cap(c.inversionImages, 16) };
    case "quick":
      return { ...coarser("ddim25"), m: Math.min(c.m, 20_000), inversionImages: cap(c.inversionImages, 256) };
    case "proxy":
      return { ...c, m: Math.min(c.m, 200_000), inversionImages: cap(c.inversionImages, 1000), resolution: null };
    case "paper":
      return c;
  }
}

export const D3HR_SCALE_NOTES: Readonly<Record<string, string>> = {
  m: "fewer candidate subsets per class fit the profile's time budget (group sampling draws m·IPC latents)",
  inversionImages: "a subset of each class is inverted (one DiT forward per image and step) to fit the time budget",
  sampleSteps: "a coarser DDIM respacing for inversion and sampling fits the time budget",
  inversionStep: "the same noise level on the coarser respacing",
  resolution: "the stand-in dataset's own image size",
};
