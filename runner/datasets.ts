/**
 * Datasets for one run: each (dataset, resolution) is loaded once, and each holdout split is cut once,
 * however many cells use it. Decoding an ImageNet-style set can take minutes; MNIST takes a second,
 * which is still worth not repeating 150 times.
 */
import type { Dataset, ProgressFn } from "../data/types.ts";
import { loadDataset } from "../data/registry.ts";
import type { DatasetLoad } from "../experiments/resolve.ts";
import { splitHoldout, withoutHoldout } from "../evaluator/holdout.ts";
import type { HoldoutSplit } from "../evaluator/types.ts";

/** A dataset as one cell uses it: the full data (for the evaluator), its holdout, and the methods' view. */
export interface PreparedData {
  dataset: Dataset;
  holdout: HoldoutSplit;
  /** The train split without the held-out images: all a method may see. */
  methodView: Dataset;
  holdoutPerClass: number;
}

export type LoadFn = (load: DatasetLoad, onProgress?: ProgressFn) => Promise<Dataset>;

export const defaultLoad: LoadFn = (load, onProgress) =>
  loadDataset(load.id, {
    ...(load.resolution !== undefined ? { resolution: load.resolution } : {}),
    onProgress,
  });

/**
 * The holdout is drawn with a fixed seed (0), not the repeat's: every repeat and cell of a dataset
 * shares one split, so "best on holdout" means the same thing across a table.
 */
export const HOLDOUT_SEED = 0;

export class DatasetPool {
  private readonly loaded = new Map<string, Promise<Dataset>>();
  private readonly prepared = new Map<string, PreparedData>();

  constructor(private readonly load: LoadFn = defaultLoad, private readonly onProgress?: ProgressFn) {}

  dataset(load: DatasetLoad): Promise<Dataset> {
    const k = JSON.stringify([load.id, load.resolution ?? null]);
    let p = this.loaded.get(k);
    if (!p) {
      p = this.load(load, this.onProgress);
      // A failed load is not cached: the next cell retries (and reports) on its own.
      p.catch(() => this.loaded.delete(k));
      this.loaded.set(k, p);
    }
    return p;
  }

  async prepare(load: DatasetLoad, holdoutPerClass: number): Promise<PreparedData> {
    const k = JSON.stringify([load.id, load.resolution ?? null, holdoutPerClass]);
    const hit = this.prepared.get(k);
    if (hit) return hit;
    const dataset = await this.dataset(load);
    const holdout = splitHoldout(dataset, holdoutPerClass, HOLDOUT_SEED);
    const out = { dataset, holdout, methodView: withoutHoldout(dataset, holdout), holdoutPerClass };
    this.prepared.set(k, out);
    return out;
  }
}
