/**
 * Herding coreset (Welling 2009, as IDC's `coreset.py`; docs/protocols.md §6.4): per class, on
 * features of a trained ConvNet-3, step k picks the unselected sample closest in L2 to
 * (k+1)·μ − Σ selected, so the running mean of the selection tracks the class mean μ. (DeepCore takes
 * the farthest sample there, which looks like a bug; this is the closest, as the reference.)
 */
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import {
  CORESET_BUDGET,
  CoresetFeatureConfig,
  coresetFeatureDefaults,
  selectByFeatures,
  sqDist,
} from "./coreset_features.ts";
import { realSubset } from "./real_images.ts";

/** Herding on rows `features` [n × d]: k positions in selection order. */
export function herdingSelect(features: Float32Array, n: number, d: number, k: number): Int32Array {
  if (k > n) throw new Error(`herding: ${k} of ${n} samples`);
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += features[i * d + j];
  for (let j = 0; j < d; j++) mu[j] /= n;
  const sum = new Float64Array(d), target = new Float64Array(d);
  const taken = new Uint8Array(n);
  const out = new Int32Array(k);
  for (let s = 0; s < k; s++) {
    for (let j = 0; j < d; j++) target[j] = (s + 1) * mu[j] - sum[j];
    let best = -1, bestD = Infinity;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      const dist = sqDist(features, i, target, d);
      if (dist < bestD) [best, bestD] = [i, dist];
    }
    taken[best] = 1;
    out[s] = best;
    for (let j = 0; j < d; j++) sum[j] += features[best * d + j];
  }
  return out;
}

export const herdingMethod: MethodDef<CoresetFeatureConfig> = {
  id: "herding",
  description: "Herding coreset on trained ConvNet-3 features (closest to the running class mean)",
  reference: "Welling, ICML 2009; as in snu-mllab/Efficient-Dataset-Condensation coreset.py",
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
      (f, n, d, k) => herdingSelect(f, n, d, k),
      ctx.progress,
      ctx.signal,
    );
    return {
      set: realSubset(ctx, idx, "herding"),
      metrics: { selected: idx.length, seconds: (performance.now() - t0) / 1000 },
    };
  },
};
