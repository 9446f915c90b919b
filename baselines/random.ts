/** The `random` coreset: a class-balanced uniform sample of real training images (the tables' floor). */
import { z } from "zod";
import { mixSeed } from "../engine/random.ts";
import type { Split } from "../data/types.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { realSubset } from "./real_images.ts";

export const RandomConfig = z.object({}).strict();
export type RandomConfig = z.infer<typeof RandomConfig>;

/** `ipc` distinct indices per class, drawn with a seeded Fisher–Yates shuffle of each class's indices. */
export function classBalancedSample(split: Split, numClasses: number, ipc: number, seed: number): Int32Array {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < split.count; i++) byClass[split.labels[i]].push(i);
  const out: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const pool = byClass[c];
    if (pool.length < ipc) {
      throw new Error(`IPC ${ipc} is larger than class ${c}, which has ${pool.length} training images`);
    }
    let s = mixSeed(seed, c);
    for (let i = pool.length - 1; i > 0; i--) {
      s = mixSeed(s, i);
      const j = s % (i + 1);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    out.push(...pool.slice(0, ipc).sort((a, b) => a - b));
  }
  return Int32Array.from(out);
}

export const randomMethod: MethodDef<RandomConfig> = {
  id: "random",
  description: "Random real images, class-balanced",
  reference: "coreset baseline (DC, Zhao et al. 2021)",
  implemented: true,
  schema: RandomConfig,
  defaults: () => ({}),
  scale: (c) => c,
  distill(ctx: DistillContext<RandomConfig>): Promise<DistillResult> {
    const { dataset, ipc, seed } = ctx;
    const idx = classBalancedSample(dataset.train, dataset.info.numClasses, ipc, seed);
    return Promise.resolve({ set: realSubset(ctx, idx, "random"), metrics: { selected: idx.length } });
  },
};
