/**
 * Real training images as distilled sets: the seed's class-balanced real draw (what `random` selects and
 * the real-initialised methods start from), and uint8 NHWC images turned into a normalised NCHW set
 * (shared by all coreset methods).
 */
import { Rng } from "../engine/random.ts";
import type { Dataset } from "../data/types.ts";
import type { DistillContext } from "../methods/types.ts";
import type { DistilledSet } from "../data/distilled.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";

/** Each class's training indices in ascending order (DC's `indices_class`). */
export function indicesByClass(labels: Int32Array, numClasses: number): Int32Array[] {
  const lists: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((c, i) => lists[c].push(i));
  return lists.map((l) => Int32Array.from(l));
}

/** Positions within a class of `n` random images (without replacement, capped at the class size), as DC's get_images. */
export function drawPositions(classSize: number, n: number, rng: Rng): Int32Array {
  return rng.permutation(classSize).slice(0, Math.min(n, classSize));
}

/** The random stream of a seed's real draw (see `realDraw`). */
export const realDrawRng = (seed: number): Rng => new Rng(seed).fork(1);

/**
 * The class-balanced real draw, class-major: class c's `perClass` images come from `rng.fork(c)`. With
 * `realDrawRng(seed)` it is both the set `random` selects and the set the real-initialised methods (DC,
 * DSA, DM, IDM at factor 1, MTT) start from, so at one seed a learned set and Random differ only by what
 * distillation did, and a claim can pair them by seed.
 */
export function realDraw(byClass: readonly Int32Array[], perClass: number, rng: Rng): Int32Array {
  const out: number[] = [];
  byClass.forEach((pool, c) => {
    for (const p of drawPositions(pool.length, perClass, rng.fork(c))) out.push(pool[p]);
  });
  return Int32Array.from(out);
}

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
