/**
 * Code versions that go into every result's content key. Bump a number when a change alters the
 * numbers that code produces (a kernel's arithmetic, the evaluator's schedule, a method's update
 * rule): every affected cell then gets a new key and is recomputed, and old rows stay as they were.
 * Refactors that leave results bit-identical need no bump.
 */
import type { MethodDef } from "../methods/types.ts";

export const CODE_VERSION = {
  /** engine/ + kernels/: tensor ops, autodiff, WGSL kernels, RNG streams. */
  engine: 1,
  /** evaluator/: training loop, augmentations, metrics. */
  evaluator: 1,
  /** runner/: holdout policy, seeds, what is passed to methods. */
  runner: 1,
} as const;

/** Per-method versions; a method may also carry its own `version` field, which wins. */
export const METHOD_VERSIONS: Readonly<Record<string, number>> = {
  // 2: the seed's realDraw, the images the real-initialised methods start from (was its own shuffle).
  random: 2,
  "full-dataset": 1,
  // 2: cmiStart covers every class (it was class 0's images only for IDC's per-class loop).
  "idc+cmi": 2,
};

/** e.g. "random@1 engine@1 evaluator@1 runner@1". */
export function codeVersionFor(method: Pick<MethodDef, "id">): string {
  const own = (method as { version?: unknown }).version;
  const v = typeof own === "string" || typeof own === "number" ? own : METHOD_VERSIONS[method.id] ?? 1;
  return `${method.id}@${v} engine@${CODE_VERSION.engine} evaluator@${CODE_VERSION.evaluator} ` +
    `runner@${CODE_VERSION.runner}`;
}
