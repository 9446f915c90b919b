/** What the runner asks of the evaluator, and what it gets back. */
import type { Dataset } from "../data/types.ts";
import type { DistilledSet } from "../data/distilled.ts";
import type { ProgressReporter } from "../data/progress.ts";
import type { Metrics } from "./metrics.ts";
import type { ProtocolConfig } from "./protocols.ts";

/** Indices into the dataset's train split: `holdout` is never given to methods nor trained on. */
export interface HoldoutSplit {
  train: Int32Array;
  holdout: Int32Array;
}

export interface EvalRequest {
  set: DistilledSet;
  dataset: Dataset;
  holdout: HoldoutSplit;
  model: string;
  protocol: ProtocolConfig;
  /** One seed per repeat (network init, batch order, augmentation). */
  seed: number;
  /** Evaluate on the first `testLimit` test images only (a profile substitution; recorded by the runner). */
  testLimit?: number;
  progress?: ProgressReporter;
  signal?: AbortSignal;
}

export interface CurvePoint {
  epoch: number;
  trainLoss: number;
  holdoutAcc?: number;
  testAcc?: number;
}

export interface EvalResult {
  metrics: Metrics;
  curve: CurvePoint[];
  seconds: number;
  epochs: number;
}
