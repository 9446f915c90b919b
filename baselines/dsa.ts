/**
 * DSA — DC with differentiable Siamese augmentation (Zhao & Bilen 2021; docs/protocols.md §4):
 * the DC loop with the same DSA transform applied to each class's real and synthetic batch during
 * matching, per-sample DSA when training the inner network, and real-image initialisation.
 */
import type { MethodDef } from "../methods/types.ts";
import { DC_BUDGET, type DcConfig, DcConfig as DcSchema, dcDefaults, distillGradientMatching } from "./dc.ts";
import { WIDTH_SCALE_NOTES } from "../methods/budget.ts";

export const dsaMethod: MethodDef<DcConfig> = {
  id: "dsa",
  description: "DSA: DC gradient matching with Siamese differentiable augmentation",
  reference: "Zhao & Bilen, ICML 2021 (VICO-UoE/DatasetCondensation main.py --method DSA)",
  implemented: true,
  schema: DcSchema,
  defaults: (_dataset, ipc) => dcDefaults(ipc, "dsa"),
  budget: DC_BUDGET,
  scaleNotes: WIDTH_SCALE_NOTES,
  distill: (ctx) => distillGradientMatching(ctx, "dsa"),
  regularizable: true,
};
