/**
 * D³HR (Zhao et al., ICML 2025) as a registered method: the configuration and its budget (config.ts), the
 * generative foundation it runs on (models.ts) and the run (distill.ts).
 */
import type { MethodDef } from "../types.ts";
import { D3HR_BUDGET, D3HR_SCALE_NOTES, D3hrConfig, d3hrDefaults } from "./config.ts";
import { distillD3hr } from "./distill.ts";
import { withFoundation } from "./models.ts";

export const d3hrMethod: MethodDef<D3hrConfig> = {
  id: "d3hr",
  description: "D³HR: DDIM inversion of class latents, per-class Gaussians, group sampling, DDIM back",
  reference: "Zhao et al., Taming Diffusion for Dataset Distillation with High Representativeness, " +
    "ICML 2025 (lin-zhao-resoLve/D3HR; App. B defaults)",
  implemented: true,
  schema: D3hrConfig,
  defaults: d3hrDefaults,
  budget: D3HR_BUDGET,
  scaleNotes: D3HR_SCALE_NOTES,
  distill: (ctx) => withFoundation(ctx.dataset, ctx.config.foundation, (models) => distillD3hr(ctx, models)),
};
