/** Builds the engine optimizer a protocol names. */
import { Adam, AdamW, type Optimizer, SGD } from "../engine/optim.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { OptimizerSpec } from "./protocols.ts";

export function makeOptimizer(spec: OptimizerSpec, params: readonly Tensor[]): Optimizer {
  switch (spec.kind) {
    case "sgd":
      return new SGD(params, { lr: spec.lr, momentum: spec.momentum, weightDecay: spec.weightDecay });
    case "adam":
      return new Adam(params, { lr: spec.lr, weightDecay: spec.weightDecay });
    case "adamw":
      return new AdamW(params, { lr: spec.lr, weightDecay: spec.weightDecay });
  }
}
