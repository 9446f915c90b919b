/** Reverse-mode autodiff entry point (see tensor.ts for the graph and higher-order rules). */
import { gradImpl, type GradOptions, SUM_FAN_IN, type Tensor } from "./tensor.ts";
import { map } from "./ops/elementwise.ts";
import * as E from "./expr.ts";
import { fill } from "./ops/create.ts";

export type { GradOptions };

/** Gradients of `output` w.r.t. each of `wrt` (zeros where it does not depend on one). */
export function grad(output: Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): Tensor[] {
  return gradImpl(output, wrt, opts, sumAll, (t) => fill(t.shape, 1), (t) => fill(t.shape, 0));
}

/** Elementwise sum of 2…SUM_FAN_IN same-shape tensors in one kernel (differentiable). */
function sumAll(parts: readonly Tensor[]): Tensor {
  if (parts.length < 2 || parts.length > SUM_FAN_IN) throw new Error(`sumAll: ${parts.length} parts`);
  return map(parts.slice(1).reduce((e, _, i) => E.bin("add", e, E.inp(i + 1)), E.inp(0)), parts);
}
