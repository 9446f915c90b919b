/**
 * The bench's IGDS figure: the sampling time of IGDS against Minimax's for the same images (IGDS App. D,
 * Table 6: sampling 100 images on one V100 took 57 vs 44 min on ImageNette and 53 vs 46 min on ImageWoof,
 * ratios 1.30 and 1.15). Minimax samples its fine-tuned DiT without guidance, so its sampling costs what an
 * unguided run of the same DiT costs; IGDS adds, at every step, the VAE decode of x̂₀, the VE's forward
 * and the backward through both. Both on the quick-recipe DiT and VAE and the quick profile's VE
 * (randomly initialised: time does not depend on the weights), DDIM-10 with CFG 4, one image per class.
 * The ratio guides every step, as the paper does; `igds_quick_*` guides the quick profile's
 * `guidedSteps` of the 10 (what `deno task table1` runs).
 */
import { Rng } from "../engine/random.ts";
import type { WebGpuBackend } from "../engine/webgpu/backend.ts";
import { DiT } from "../models/dit.ts";
import { AutoencoderKL } from "../models/vae.ts";
import { ditRecipe, IMAGE_SIZE, vaeRecipe } from "../models/foundation.ts";
import { sampleLatents } from "../models/latent_sampling.ts";
import { VariationalEstimator } from "../models/variational_estimator.ts";
import { igdsDefaults, igdsGuidance, igdsMethod } from "../methods/igds.ts";
import { scaleConfig } from "../experiments/budget.ts";
import { classCentroids } from "../methods/igds_objective.ts";

/** Paper Table 6: IGDS minutes / Minimax minutes for 100 images. */
export const IGDS_PAPER_TIME_RATIO = { imagenette: 57 / 44, imagewoof: 53 / 46 };

export interface IgdsBench {
  igds_bench_config: string;
  minimax_sampling_s: number;
  igds_sampling_s: number;
  igds_vs_minimax_time_ratio: number;
  igds_quick_guided_steps: number | null;
  igds_quick_sampling_s: number;
  igds_quick_vs_minimax_time_ratio: number;
  igds_paper_time_ratio: typeof IGDS_PAPER_TIME_RATIO;
}

export async function igdsBench(b: WebGpuBackend): Promise<IgdsBench> {
  const rng = new Rng(11);
  const dcfg = ditRecipe("fashion-mnist", "quick").model;
  const dit = new DiT(rng.fork(1), dcfg).eval();
  const vae = new AutoencoderKL(rng.fork(2), vaeRecipe("fashion-mnist", "quick").model).eval();
  const side = IMAGE_SIZE;
  const classes = dcfg.numClasses;
  const ve = new VariationalEstimator(rng.fork(3), {
    channels: vae.cfg.outChannels,
    imageSize: side,
    classes,
    width: 32,
    depth: 3,
    featureDim: 128,
  }).eval();
  ve.encoder.activation = { kind: "softplus", beta: 5 };
  const centroids = classCentroids(
    rng.fork(4).normal([classes * 2, 128]),
    0.07,
    Int32Array.from({ length: classes * 2 }, (_, i) => i % classes),
    classes,
  ).keep();
  const est = { ve, centroids, tau: 0.07, beta: 0.1 };
  const labels = Array.from({ length: classes }, (_, i) => i);
  const quickGuided = scaleConfig(igdsMethod, igdsDefaults("fashion-mnist", 1), "quick", 1).guidedSteps;
  const run = async (guided: boolean, guidedSteps: number | null = null) => {
    const t0 = performance.now();
    await sampleLatents(dit, [dcfg.inputSize, dcfg.inputSize, dcfg.inChannels], labels, {
      method: "ddim",
      steps: "ddim10",
      cfgScale: 4,
      seed: 1,
      ...(guided
        ? { guidance: (c) => igdsGuidance(vae, est, c.labels, { scale: 1, on: "x0", guidedSteps }) }
        : {}),
    });
    await b.rt.sync();
    return (performance.now() - t0) / 1000;
  };
  try {
    await run(false); // compiles the pipelines
    await run(true);
    const plain = Math.min(await run(false), await run(false));
    const guided = Math.min(await run(true), await run(true));
    const quick = Math.min(await run(true, quickGuided), await run(true, quickGuided));
    return {
      igds_bench_config: `${classes} images (one per class), DDIM-10 CFG 4, quick-recipe DiT + VAE ` +
        `(${side} px), VE ConvNet-3 w32 D128 with SoftPlus; IGDS guides on x̂₀`,
      minimax_sampling_s: plain,
      igds_sampling_s: guided,
      igds_vs_minimax_time_ratio: guided / plain,
      igds_quick_guided_steps: quickGuided,
      igds_quick_sampling_s: quick,
      igds_quick_vs_minimax_time_ratio: quick / plain,
      igds_paper_time_ratio: IGDS_PAPER_TIME_RATIO,
    };
  } finally {
    centroids.dispose();
    ve.dispose();
    vae.dispose();
    dit.dispose();
  }
}
