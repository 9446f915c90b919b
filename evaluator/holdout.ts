/**
 * The held-out split used for honest epoch selection: a fixed, class-stratified slice of the real
 * training split that methods never see and evaluators never train on.
 */
import type { Dataset, Split } from "../data/types.ts";
import { mixSeed } from "../engine/random.ts";
import type { HoldoutSplit } from "./types.ts";

/** `perClass` images of every class (fewer if a class is small), chosen by a seeded shuffle. */
export function splitHoldout(dataset: Dataset, perClass: number, seed = 0): HoldoutSplit {
  const { train } = dataset;
  const byClass: number[][] = Array.from({ length: dataset.info.numClasses }, () => []);
  for (let i = 0; i < train.count; i++) byClass[train.labels[i]].push(i);
  const hold = new Set<number>();
  byClass.forEach((pool, c) => {
    const p = pool.slice();
    let s = mixSeed(seed ^ 0x5eed, c);
    for (let i = p.length - 1; i > 0; i--) {
      s = mixSeed(s, i);
      const j = s % (i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
    // Never take more than a fifth of a class, so methods keep most of the data.
    for (const i of p.slice(0, Math.min(perClass, Math.floor(p.length / 5)))) hold.add(i);
  });
  const trainIdx: number[] = [], holdIdx: number[] = [];
  for (let i = 0; i < train.count; i++) (hold.has(i) ? holdIdx : trainIdx).push(i);
  return { train: Int32Array.from(trainIdx), holdout: Int32Array.from(holdIdx) };
}

export function subsetSplit(split: Split, idx: Int32Array): Split {
  const per = split.images.length / Math.max(split.count, 1);
  const images = new Uint8Array(idx.length * per);
  idx.forEach((i, k) => images.set(split.images.subarray(i * per, (i + 1) * per), k * per));
  return { images, labels: Int32Array.from(idx, (i) => split.labels[i]), count: idx.length };
}

/** The dataset as methods see it: the train split without the held-out images. */
export function withoutHoldout(dataset: Dataset, h: HoldoutSplit): Dataset {
  return { ...dataset, train: subsetSplit(dataset.train, h.train) };
}
