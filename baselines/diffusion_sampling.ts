/**
 * `diffusion` — the "DiT" column of the generative tables: IPC class-conditional samples per class from the
 * pre-trained DiT, decoded by its VAE. Sampler settings as Minimax's sample.py (the baseline Minimax and
 * IGDS compare with): DDPM over 50 respaced steps with the learned variance, classifier-free guidance 4.
 */
import { z } from "zod";
import type { MethodBudget } from "../methods/budget.ts";
import type { NoisePredictor } from "../diffusion/mod.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import type { ProgressReporter } from "../data/progress.ts";
import { decodeLatents, type HostBatch, sampleLatents } from "../models/latent_sampling.ts";
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
} from "./latent_foundation.ts";

export const DiffusionConfig = z.object(SamplerFields).strict();
export type DiffusionConfig = z.infer<typeof DiffusionConfig>;

export const diffusionDefaults = (): DiffusionConfig => ({
  sampler: "ddpm",
  steps: "50",
  cfgScale: 4,
  foundation: "shipped",
  resolution: 256,
});

/**
 * Sampling costs IPC × classes × steps model evaluations (twice with CFG): IGDS Table 1 asks for 1810
 * samples per seed, and 10 steps of 64 CFG samples of the small DiT took ~35 s on the shared 2-core
 * machine, so quick samples with 10 DDIM steps, smoke with 5 (the profiles' sampler knobs). Below `paper`
 * the shipped small foundation generates at its own side (resolution null).
 */
export const DIFFUSION_BUDGET: MethodBudget<DiffusionConfig> = { family: "diffusion", ...samplerBudget() };

/** `perClass` latent samples of every class, class-major. */
export async function sampleClassLatents(
  f: { dit: NoisePredictor; latentShape: readonly [number, number, number] },
  perClass: number,
  cfg: DiffusionConfig,
  seed: number,
  o: { signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<{ latents: HostBatch; labels: number[] }> {
  const labels = classMajor(f.dit.numClasses, perClass);
  const latents = await sampleLatents(f.dit, f.latentShape, labels, {
    method: cfg.sampler,
    steps: cfg.steps,
    cfgScale: cfg.cfgScale,
    seed,
    signal: o.signal,
    progress: o.progress,
  });
  return { latents, labels };
}

/** `perClass` decoded samples of every class, class-major, [0, 1] NHWC at the dataset's native side. */
export async function sampleClasses(
  f: Foundation,
  perClass: number,
  cfg: DiffusionConfig,
  seed: number,
  o: { signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<{ images: HostBatch; labels: number[] }> {
  const { latents, labels } = await sampleClassLatents(f, perClass, cfg, seed, o);
  const images = await decodeLatents(f.vae, latents, { native: f.images.native, signal: o.signal });
  return { images, labels };
}

export const diffusionMethod: MethodDef<DiffusionConfig> = {
  id: "diffusion",
  description: "DiT: class-conditional samples of the pre-trained DiT (DDPM-50, CFG 4), IPC per class",
  reference: "Peebles & Xie, ICCV 2023; sampler settings of Minimax (Gu et al., CVPR 2024) sample.py",
  implemented: true,
  schema: DiffusionConfig,
  defaults: diffusionDefaults,
  budget: DIFFUSION_BUDGET,
  scaleNotes: SAMPLER_SCALE_NOTES,
  async distill(ctx: DistillContext<DiffusionConfig>): Promise<DistillResult> {
    const t0 = performance.now();
    const f = await loadFoundation(ctx.dataset, ctx.config.foundation);
    try {
      checkResolution(f, ctx.config.resolution, "diffusion");
      const { images, labels } = await sampleClasses(f, ctx.ipc, ctx.config, ctx.seed, ctx);
      return {
        set: unitImagesToSet(ctx, "diffusion", images, labels, { foundation: f.source }),
        metrics: { samples: labels.length, seconds: (performance.now() - t0) / 1000 },
      };
    } finally {
      disposeFoundation(f);
    }
  },
};
