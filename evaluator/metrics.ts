/**
 * What the evaluator measures (accuracies in percent): the numbers every stored repeat carries
 * (results/types.ts).
 */
import { z } from "zod";

const Percent = z.number().min(0).max(100);

/** Evaluator accuracies, in percent. */
export const Metrics = z.object({
  /** Test accuracy after the last training epoch (the standard DD protocol). */
  lastTestAcc: Percent,
  /** Best accuracy on a held-out split of the training data, over epochs. */
  bestHoldoutAcc: Percent,
  /** Test accuracy at the epoch picked by `bestHoldoutAcc`: an honest "best epoch" number. */
  testAccAtBestHoldout: Percent,
  /**
   * Max test accuracy over epochs. Optimistic; only "as published" for papers that report the max.
   * Present only when the protocol tested every evaluation point (`testCurve`).
   */
  bestTestAcc: Percent.optional(),
}).strict();
export type Metrics = z.infer<typeof Metrics>;
export type MetricName = keyof Metrics;
/**
 * The values of `metric` over `results`, skipping results that did not measure it (`bestTestAcc` exists
 * only where the protocol tested every evaluation point).
 */
export function metricValues(results: readonly { metrics: Metrics }[], metric: MetricName): number[] {
  return results.flatMap((r) => r.metrics[metric] ?? []);
}

export const METRIC_NAMES: readonly MetricName[] = [
  "lastTestAcc",
  "bestHoldoutAcc",
  "testAccAtBestHoldout",
  "bestTestAcc",
];
