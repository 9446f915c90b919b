/**
 * A forward pass that also returns, for every batch-norm layer, the statistics of the batch it received
 * next to the layer's running statistics: what SRe²L's recover step matches (its BNFeatureHook reads
 * the mean and the biased variance of each BatchNorm2d input per channel). The statistics are ordinary
 * differentiable tensors, so a loss on them has a gradient with respect to the input images.
 */
import type { Tensor } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";
import type { Classifier } from "./module.ts";
import { Norm } from "./layers.ts";

export interface BatchNormInputStats {
  /** The layer's dotted name in the model. */
  name: string;
  /** Per-channel mean of the layer's input over batch, height and width [C]. */
  mean: Tensor;
  /** Per-channel biased variance of the same [C]. */
  variance: Tensor;
  /** The layer's running estimates [C] (the model's own tensors: read, never dispose). */
  runningMean: Tensor;
  runningVar: Tensor;
}

/** The model's batch-norm layers with their names, in registration order. */
export function batchNormLayers(model: Classifier): [string, Norm][] {
  return model.namedModules().filter((e): e is [string, Norm] =>
    e[1] instanceof Norm && e[1].kind === "batchnorm"
  );
}

/**
 * `model.forward(x)` and the input statistics of each batch-norm layer in the order the forward pass
 * reaches them. The model's mode is the caller's: SRe²L runs the teacher in eval mode, so it normalises
 * with its running statistics and they stay untouched.
 */
export function forwardWithBatchNormStats(
  model: Classifier,
  x: Tensor,
): { logits: Tensor; stats: BatchNormInputStats[] } {
  const layers = batchNormLayers(model);
  const stats: BatchNormInputStats[] = [];
  try {
    for (const [name, layer] of layers) {
      const running = layer.runningStats()!;
      layer.tap = (input) => {
        const axes = [...Array(input.rank - 1).keys()];
        stats.push({
          name,
          mean: T.mean(input, axes),
          variance: T.variance(input, axes),
          runningMean: running.mean,
          runningVar: running.variance,
        });
      };
    }
    return { logits: model.forward(x), stats };
  } finally {
    for (const [, layer] of layers) layer.tap = null;
  }
}
