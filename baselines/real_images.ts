/** Turning real uint8 NHWC images into a normalised NCHW distilled set (shared by all coreset methods). */
import type { Dataset } from "../data/types.ts";
import type { DistillContext, DistilledSet } from "../methods/types.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";

/** Images `idx` of the train split as normalised NCHW floats. */
export function normalisedNchw(dataset: Dataset, idx: Int32Array): Float32Array {
  const { channels: c, height: h, width: w } = datasetShape(dataset);
  const out = new Float32Array(idx.length * c * h * w);
  const { mean, std } = dataset.info;
  const src = dataset.train.images;
  for (let k = 0; k < idx.length; k++) {
    const base = idx[k] * h * w * c;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          out[((k * c + ch) * h + y) * w + x] = (src[base + (y * w + x) * c + ch] / 255 - mean[ch]) / std[ch];
        }
      }
    }
  }
  return out;
}

/** The shape of the loaded images (the loader may have resized them). */
export function datasetShape(dataset: Dataset): { channels: number; height: number; width: number } {
  const c = dataset.info.shape.channels;
  const hw = dataset.train.images.length / Math.max(dataset.train.count, 1) / c;
  const side = Math.round(Math.sqrt(hw));
  return { channels: c, height: side, width: side };
}

export function realSubset<C>(ctx: DistillContext<C>, idx: Int32Array, method: string): DistilledSet {
  const { dataset } = ctx;
  const { channels: c, height: h, width: w } = datasetShape(dataset);
  const labels = Int32Array.from(idx, (i) => dataset.train.labels[i]);
  return {
    images: normalisedNchw(dataset, idx),
    shape: [idx.length, c, h, w],
    labels,
    meta: {
      method,
      dataset: dataset.info.id,
      ipc: ctx.ipc,
      seed: ctx.seed,
      configHash: sha256Hex(canonicalJson(ctx.config)),
      profile: ctx.profile,
      mean: dataset.info.mean,
      std: dataset.info.std,
      createdAt: new Date().toISOString(),
      extra: { indices: Array.from(idx).join(",") },
    },
  };
}
