/**
 * What a method (methods/, baselines/) produces, the evaluator trains on and runner/distilled_set.ts stores.
 * It sits with the data because every layer above reads it.
 */

export interface DistilledMeta {
  method: string;
  dataset: string;
  ipc: number;
  seed: number;
  /** sha256 of the canonical resolved method config. */
  configHash: string;
  /** The profile its config was scaled under (experiments/profiles.ts), or "none". */
  profile: string;
  /** The per-channel normalisation the images are expressed in (dataset mean/std). */
  mean: number[];
  std: number[];
  createdAt: string;
  /** Anything else worth keeping (resolved config JSON, notes). */
  extra: Record<string, string>;
}

/**
 * A distilled set in memory: `images` are [n, c, h, w] (NCHW, PyTorch's layout, as on disk) in the
 * dataset's normalised space; `labels` are class ids; `softLabels` [n, classes] when the method
 * provides them (soft-label protocols relabel with a teacher instead when absent).
 */
export interface DistilledSet {
  images: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  softLabels?: Float32Array;
  meta: DistilledMeta;
}
