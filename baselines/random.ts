/**
 * The `random` coreset: a class-balanced uniform sample of real training images (the tables' floor). It
 * is the seed's `realDraw`, the very images the real-initialised matching methods start from.
 */
import { z } from "zod";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { indicesByClass, realDraw, realDrawRng, realSubset } from "./real_images.ts";

export const RandomConfig = z.object({}).strict();
export type RandomConfig = z.infer<typeof RandomConfig>;

export const randomMethod: MethodDef<RandomConfig> = {
  id: "random",
  description: "Random real images, class-balanced",
  reference: "coreset baseline (DC, Zhao et al. 2021)",
  implemented: true,
  schema: RandomConfig,
  defaults: () => ({}),
  distill(ctx: DistillContext<RandomConfig>): Promise<DistillResult> {
    const { dataset, ipc, seed } = ctx;
    const byClass = indicesByClass(dataset.train.labels, dataset.info.numClasses);
    byClass.forEach((pool, c) => {
      if (pool.length < ipc) {
        throw new Error(`IPC ${ipc} is larger than class ${c}, which has ${pool.length} training images`);
      }
    });
    const idx = realDraw(byClass, ipc, realDrawRng(seed));
    return Promise.resolve({ set: realSubset(ctx, idx, "random"), metrics: { selected: idx.length } });
  },
};
