/**
 * The one interface every distillation method (baselines/ and methods/) implements, and the
 * distilled-set value they produce. A method receives the real training data (already without the
 * evaluator's held-out split), the IPC, a seed and its validated config, and returns images.
 */
import type { z } from "zod";
import type { Tensor } from "../engine/tensor.ts";
import type { Dataset } from "../data/types.ts";
import type { Profile } from "../results/types.ts";
import type { MethodBudget, ScaleContext } from "./budget.ts";

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
  /**
   * A term to add to the method's loss (e.g. CMI's λ·CMI), for methods that declare `regularizable`;
   * the set is then named "<method>+<regularizer>".
   */
  regularizer?: Regularizer;
}

/** A loss term a plug-in adds to a learned-image method's loss (methods/regularizer.ts). */
export interface Regularizer {
  /** Joins the method's id in the set's name: DM with CMI's makes "dm+cmi". */
  name: string;
  /** Awaited before the image steps of `step` (e.g. loads that step's extractor). */
  prepare(step: number): Promise<void>;
  /** The term for `images` (NHWC, normalised) of classes `labels` at `step`, differentiable w.r.t. them. */
  loss(images: Tensor, labels: Int32Array, step: number): Tensor;
}

export interface DistillResult {
  set: DistilledSet;
  /** Method-specific numbers (final loss, iterations, seconds, CMI before/after, …). */
  metrics: Record<string, number>;
}

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
  /**
   * How a profile's budget knobs bound the config's keys, and which keys follow them (methods/budget.ts);
   * absent: the paper's config runs at every profile.
   */
  budget?: MethodBudget<C>;
  /**
   * Exceptions to the budget's rules (CMI's λ follows its extractor and the base's image lr; MTT + CMI
   * runs without ZCA): applied after them at every profile, to the config as it will run. Pinned keys go
   * on top afterwards.
   */
  scale?: (run: C, ctx: ScaleContext<C>) => C;
  /** Why the profile changes a config key, by key; reports give it as the substitution's reason. */
  scaleNotes?: Readonly<Record<string, string>>;
  distill(ctx: DistillContext<C>): Promise<DistillResult>;
  /** Adds `ctx.regularizer`'s term to its loss at every image step, so plug-ins can extend it. */
  regularizable?: boolean;
  /**
   * Images per class of the set it returns, when not the IPC (IDC's multi-formulation and IDM's
   * partition-and-expand decode f² images from each stored one); profiles size evaluator budgets by it.
   */
  imagesPerClass?(config: C, ipc: number): number;
}

/** Any registered method: the registry holds methods of different config types. */
// deno-lint-ignore no-explicit-any -- heterogeneous by design; each method validates its own config
export type AnyMethod = MethodDef<any>;
