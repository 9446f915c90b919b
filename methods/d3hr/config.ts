/**
 * D³HR's configuration: the paper's defaults (Sec. 5.1, App. B), every switch its ablations turn (Table 3,
 * Fig. 5, Tables A5, A9–A11), and how profiles shrink the cost.
 */
import { z } from "zod";
import type { Derivation, MethodBudget } from "../budget.ts";
import { PAPER_WEIGHTS, type ScoreWeights } from "./group_sampling.ts";
import { NATIVE_RESOLUTION_NOTE, SamplerFields } from "../../baselines/latent_foundation.ts";

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
  /** Side of the generated images (the paper's DiT-XL/2: 256; Table 5: 224); null: the foundation's own. */
  resolution: SamplerFields.resolution,
  /** The shipped foundation, or the untrained smoke-recipe models (CI). */
  foundation: SamplerFields.foundation,
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
    resolution: 256,
    foundation: "shipped",
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

/** The index of another respacing at the same noise level (31 of ddim50 → 16 of ddim25). */
export function sameNoiseLevel(step: number, from: string, to: string): number {
  const a = respacedSteps(from), b = respacedSteps(to);
  return Math.max(1, Math.min(b - 1, Math.round((step * b) / a)));
}

/** The largest m of the paper's settings (App. B, CIFAR): what a profile's `candidates` knob bounds. */
const LARGEST_PAPER_M = 5_000_000;

/**
 * Profiles bound the three costs: inversion (images per class × steps, a DiT forward of 2 rows with CFG
 * each; once per dataset, the statistics are cached), group sampling (m·IPC·d normal draws per class) and
 * sampling back (IPC per class × steps).
 * - m follows the `candidates` knob as a share, not a cap: the knob is the m of the paper's largest setting
 *   (5e6) and every m shrinks by the same factor, so a sweep over m (Tables A9–A10) keeps its shape. Quick's
 *   1e4 (5e6 / 500) costs ~2.5 s per class at IPC 10 on a loaded 2-core llvmpipe machine (bench:
 *   d3hr_group_sampling_s).
 * - `trainImages` caps the real images mapped per class (the small DiT inverts ~40 images·steps/s here).
 * - `samplingSteps` caps the DDIM respacing of inversion and sampling; the inversion step keeps its noise
 *   level on another respacing (31 of ddim50 → 16 of ddim25). D³HR always samples with DDIM (η = 0: the
 *   inverse of its mapping), so the `sampler` knob does not apply.
 * - below `paper` the shipped small foundation generates at its own side.
 * What follows a pinned key is derived from the pin (a pinned sampleSteps moves the inversion step).
 */
export const D3HR_BUDGET: MethodBudget<D3hrConfig> = {
  family: "d3hr",
  keys: { inversionImages: "trainImages", foundation: { knob: "foundation", rule: "set" } },
  derived: {
    m: ({ paper, knob }: Derivation<D3hrConfig>) => {
      const cap = knob("candidates");
      if (cap === undefined) return paper.m;
      if (typeof cap !== "number") {
        throw new Error(`d3hr.m: the profile's candidates knob must be a number, got ${JSON.stringify(cap)}`);
      }
      return Math.max(1, Math.round(paper.m * Math.min(1, cap / LARGEST_PAPER_M)));
    },
    sampleSteps: ({ paper, knob }) => {
      const cap = knob("samplingSteps");
      if (typeof cap !== "number") return paper.sampleSteps;
      return `ddim${Math.max(2, Math.min(respacedSteps(paper.sampleSteps), cap))}`;
    },
    inversionStep: ({ paper, run }) =>
      run.sampleSteps === paper.sampleSteps
        ? paper.inversionStep
        : sameNoiseLevel(paper.inversionStep, paper.sampleSteps, run.sampleSteps),
    resolution: () => null,
  },
};

export const D3HR_SCALE_NOTES: Readonly<Record<string, string>> = {
  m: "fewer candidate subsets per class (every m shrunk by the same factor, so a sweep keeps its shape) fit " +
    "the profile's time budget",
  inversionImages:
    "a subset of each class is inverted (one DiT forward per image and step) to fit the time budget",
  sampleSteps: "a coarser DDIM respacing for inversion and sampling fits the time budget (quick keeps the " +
    "paper's ddim50: on ddim25 the inversion round trip loses 19–30 % of the latents' spread, not 11–17 %, " +
    "and sampling back costs about twice as much, 30–51 s against 16–28 s per 100 latents)",
  inversionStep: "the same noise level on the coarser respacing",
  resolution: NATIVE_RESOLUTION_NOTE,
};
