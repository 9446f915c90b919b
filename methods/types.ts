/**
 * The one interface every distillation method (baselines/ and methods/) implements, and the
 * distilled-set value they produce. A method receives the real training data (already without the
 * evaluator's held-out split), the IPC, a seed and its validated config, and returns images.
 */
import type { z } from "zod";
import type { Dataset } from "../data/types.ts";
import type { Profile } from "../results/types.ts";

export interface DistilledMeta {
  method: string;
  dataset: string;
  ipc: number;
  seed: number;
  /** sha256 of the canonical resolved method config. */
  configHash: string;
  profile: Profile | "none";
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

export interface ProgressReporter {
  /** Work units done of total, with a short label (e.g. "iteration"). */
  update(done: number, total: number, label?: string): void;
  log(message: string): void;
}

export const silentProgress: ProgressReporter = { update() {}, log() {} };

export interface DistillContext<C> {
  dataset: Dataset;
  ipc: number;
  seed: number;
  config: C;
  profile: Profile | "none";
  progress: ProgressReporter;
  signal?: AbortSignal;
}

export interface DistillResult {
  set: DistilledSet;
  /** Method-specific numbers (final loss, iterations, seconds, CMI before/after, …). */
  metrics: Record<string, number>;
}

/**
 * How a profile scales a method's paper config (iterations etc.): one rule set, no separate code paths.
 * `ipc` (0 for full-dataset rows) lets a method whose cost grows with the set size keep a profile's
 * time budget. `pinned` holds the values the user set (`dd run --set`): where the profile derives one
 * key from another it scaled (the image lr from MTT's unroll length or from the network width), it
 * derives it from the pinned value instead of its own choice. The runner applies `pinned` on top of
 * the result either way.
 */
export type ProfileScaler<C> = (paper: C, profile: Profile, ipc: number, pinned?: Readonly<Partial<C>>) => C;

export interface MethodDef<C = Record<string, unknown>> {
  id: string;
  description: string;
  /** Paper/reference citation of the defaults. */
  reference: string;
  implemented: boolean;
  /** Why it is not implemented (shown in reports), when implemented is false. */
  reason?: string;
  schema: z.ZodType<C>;
  /**
   * The paper-profile defaults for a dataset/IPC (before user overrides). `requestedDataset` is the
   * dataset the table's cell names when a stand-in (`datasetId`) replaces it: a setting of the cell's
   * own protocol (MTT's ZCA on its CIFAR cells) follows the cell, the rest the data that runs.
   */
  defaults(datasetId: string, ipc: number, requestedDataset?: string): C;
  scale: ProfileScaler<C>;
  /** Why scale() changes a config key, by key; reports give it as the substitution's reason. */
  scaleNotes?: Readonly<Record<string, string>>;
  distill(ctx: DistillContext<C>): Promise<DistillResult>;
  /**
   * Images per class of the set it returns, when not the IPC (IDC's multi-formulation and IDM's
   * partition-and-expand decode f² images from each stored one); profiles size evaluator budgets by it.
   */
  imagesPerClass?(config: C, ipc: number): number;
}
