/**
 * K-Center greedy coreset (Sener & Savarese 2018; docs/protocols.md §6.4): per class, a random
 * first sample, then repeatedly the sample whose minimum L2 distance to the selected set is largest,
 * on the flattened embeddings of a trained ConvNet-3.
 */
import { Rng } from "../engine/random.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import {
  CORESET_BUDGET,
  CoresetFeatureConfig,
  coresetFeatureDefaults,
  selectByFeatures,
  sqDist,
} from "./coreset_features.ts";
import { realSubset } from "./real_images.ts";

/** Greedy k-center on rows `features` [n × d] from position `first`: k positions in selection order. */
export function kcenterSelect(
  features: Float32Array,
  n: number,
  d: number,
  k: number,
  first: number,
): Int32Array {
  if (k > n) throw new Error(`k-center: ${k} of ${n} samples`);
  const minD = new Float64Array(n).fill(Infinity);
  const out = new Int32Array(k);
  let cur = first;
  for (let s = 0; s < k; s++) {
    out[s] = cur;
    const row = features.subarray(cur * d, (cur + 1) * d);
    for (let i = 0; i < n; i++) minD[i] = Math.min(minD[i], sqDist(features, i, row, d));
    minD[cur] = -1; // selected: never picked again
    let best = -1, bestD = -Infinity;
    for (let i = 0; i < n; i++) if (minD[i] > bestD) [best, bestD] = [i, minD[i]];
    cur = best;
  }
  return out;
}

export const kcenterMethod: MethodDef<CoresetFeatureConfig> = {
  id: "kcenter",
  description: "K-Center greedy coreset on trained ConvNet-3 embeddings (random start, farthest point)",
  reference: "Sener & Savarese, ICLR 2018 (as the coreset baseline of DC, Zhao et al. 2021)",
  implemented: true,
  schema: CoresetFeatureConfig,
  defaults: () => coresetFeatureDefaults(),
  budget: CORESET_BUDGET,
  async distill(ctx: DistillContext<CoresetFeatureConfig>): Promise<DistillResult> {
    const t0 = performance.now();
    const idx = await selectByFeatures(
      ctx.dataset,
      ctx.ipc,
      ctx.seed,
      ctx.config,
      (f, n, d, k, seed) => {
        const first = Math.min(n - 1, Math.floor(new Rng(seed).hostUniform(1)[0] * n));
        return kcenterSelect(f, n, d, k, first);
      },
      ctx.progress,
      ctx.signal,
    );
    return {
      set: realSubset(ctx, idx, "kcenter"),
      metrics: { selected: idx.length, seconds: (performance.now() - t0) / 1000 },
    };
  },
};
