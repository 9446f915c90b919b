/** "Full dataset" rows: the whole (non-held-out) training split, evaluated like a distilled set. */
import { z } from "zod";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { realSubset } from "./real_images.ts";

export const FullDatasetConfig = z.object({}).strict();

export const fullDatasetMethod: MethodDef<z.infer<typeof FullDatasetConfig>> = {
  id: "full-dataset",
  description: "The whole training split (upper bound rows)",
  reference: "—",
  implemented: true,
  schema: FullDatasetConfig,
  defaults: () => ({}),
  distill(ctx: DistillContext<Record<string, never>>): Promise<DistillResult> {
    const idx = Int32Array.from({ length: ctx.dataset.train.count }, (_, i) => i);
    return Promise.resolve({ set: realSubset(ctx, idx, "full-dataset"), metrics: { selected: idx.length } });
  },
};
