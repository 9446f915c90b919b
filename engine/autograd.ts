/** Reverse-mode autodiff entry point (see tensor.ts for the graph and higher-order rules). */
import { gradImpl, type GradOptions, type Tensor } from "./tensor.ts";
import { add } from "./ops/elementwise.ts";
import { fill } from "./ops/create.ts";

export type { GradOptions };

/** Gradients of `output` w.r.t. each of `wrt` (zeros where it does not depend on one). */
export function grad(output: Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): Tensor[] {
  return gradImpl(output, wrt, opts, add, (t) => fill(t.shape, 1), (t) => fill(t.shape, 0));
}
