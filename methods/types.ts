/**
 * The one interface every distillation method (baselines/ and methods/) implements. The distilled set it
 * produces (data/distilled.ts) and the progress it reports (data/types.ts) are defined below it, so the
 * evaluator and the models read them without depending on the methods. A method receives the real training data (already without the
 * evaluator's held-out split), the IPC, a seed and its validated config, and returns images.
 */
import type { z } from "zod";
import type { Tensor } from "../engine/tensor.ts";
import type { Dataset } from "../data/types.ts";
import type { ProgressReporter } from "../data/progress.ts";
import type { DistilledSet } from "../data/distilled.ts";
import type { MethodBudget, ScaleContext } from "./budget.ts";

export interface DistillContext<C> {
  dataset: Dataset;
  ipc: number;
  seed: number;
  config: C;
  /** The profile the config was scaled under (experiments/profiles.ts), or "none"; recorded in the set. */
  profile: string;
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
