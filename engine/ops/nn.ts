/** Neural-network building blocks composed from the differentiable primitives. */
import * as E from "../expr.ts";
import { inp } from "../expr.ts";
import { backend, noGrad, type Tensor } from "../tensor.ts";
import { iota } from "./create.ts";
import { argmax, map, max, mean, reduceExpr, sumOf, variance } from "./elementwise.ts";
import { reshape } from "./shape.ts";

/** log-softmax along the last axis; the max shift is detached (its gradient cancels exactly). */
export function logSoftmax(x: Tensor): Tensor {
  const ax = x.rank - 1;
  const m = noGrad(() => max(x, ax, true));
  const lse = reduceExpr("sum", E.un("exp", E.sub(inp(0), inp(1))), [x, m], x.shape, [ax]);
  return map(E.sub(E.sub(inp(0), inp(1)), E.un("log", inp(2))), [x, m, lse]);
}

export function softmax(x: Tensor): Tensor {
  return map(E.un("exp", inp(0)), [logSoftmax(x)]);
}

/** One-hot f32 [n, classes] from i32 labels [n]. */
export function oneHot(labels: Tensor, classes: number): Tensor {
  return map(E.bin("eq", inp(0), inp(1)), [
    reshape(labels, [labels.size, 1]),
    reshape(iota(classes), [1, classes]),
  ]);
}

/** Mean cross-entropy of logits [n, c] against i32 labels [n] or soft targets [n, c] (rows sum to 1). */
export function crossEntropy(logits: Tensor, target: Tensor): Tensor {
  const [n, c] = logits.shape;
  const t = target.dtype === "i32" ? oneHot(target, c) : target;
  return sumOf(E.mul(E.cst(-1 / n), E.mul(inp(0), inp(1))), [t, logSoftmax(logits)]);
}

/**
 * KL(p_target ‖ softmax(student/T)) with p_target = softmax(teacher/T), batch-mean, as the
 * soft-label protocols (SRe²L, RDED, D³HR) compute it (no T² factor).
 */
export function klDivSoft(student: Tensor, teacher: Tensor, temperature: number): Tensor {
  const n = student.shape[0];
  const ls = logSoftmax(map(E.mul(inp(0), E.cst(1 / temperature)), [student]));
  const lt = noGrad(() => logSoftmax(map(E.mul(inp(0), E.cst(1 / temperature)), [teacher])));
  return sumOf(E.mul(E.cst(1 / n), E.mul(E.un("exp", inp(0)), E.sub(inp(0), inp(1)))), [lt, ls]);
}

export function mseLoss(a: Tensor, b: Tensor): Tensor {
  return sumOf(E.mul(E.cst(1 / a.size), E.un("square", E.sub(inp(0), inp(1)))), [a, b]);
}

/** Number of correct top-1 predictions, computed on the device (only the count is read back). */
export function correctCount(logits: Tensor, labels: Tensor): Tensor {
  return sumOf(E.bin("eq", inp(0), inp(1)), [argmax(logits, -1), reshape(labels, [labels.size])]);
}

/**
 * Group normalisation of NHWC x over (H, W, C/groups) per sample and group, with per-channel
 * affine weight/bias. groups = C is DC's "instancenorm"; groups = 1 normalises over (H, W, C).
 */
export function groupNorm(
  x: Tensor,
  groups: number,
  weight: Tensor | null,
  bias: Tensor | null,
  eps = 1e-5,
): Tensor {
  const [n, h, w, c] = x.shape;
  const xg = reshape(x, [n, h * w, groups, c / groups]);
  const m = mean(xg, [1, 3], true);
  const v = variance(xg, [1, 3], true);
  let y = map(E.mul(E.sub(inp(0), inp(1)), E.un("rsqrt", E.add(inp(2), E.cst(eps)))), [xg, m, v]);
  y = reshape(y, x.shape);
  return affine(y, weight, bias);
}

function affine(y: Tensor, weight: Tensor | null, bias: Tensor | null): Tensor {
  if (weight && bias) return map(E.add(E.mul(inp(0), inp(1)), inp(2)), [y, weight, bias]);
  if (weight) return map(E.mul(inp(0), inp(1)), [y, weight]);
  if (bias) return map(E.add(inp(0), inp(1)), [y, bias]);
  return y;
}

export interface BatchNormState {
  runningMean: Tensor;
  runningVar: Tensor;
  momentum: number;
}

/**
 * Batch normalisation of NHWC x per channel. Training: batch statistics (biased variance for the
 * output, unbiased for the running estimate, as PyTorch) and an in-place running-stat update.
 */
export function batchNorm(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  state: BatchNormState,
  training: boolean,
  eps = 1e-5,
): Tensor {
  const c = x.shape[x.rank - 1];
  const axes = [...Array(x.rank - 1).keys()];
  let m: Tensor, v: Tensor;
  if (training) {
    m = mean(x, axes, true);
    v = variance(x, axes, true);
    const count = x.size / c;
    const mo = state.momentum;
    noGrad(() => {
      const b = backend();
      const flat = [c];
      b.map(
        [
          E.add(E.mul(E.cst(1 - mo), inp(0)), E.mul(E.cst(mo), inp(2))),
          E.add(E.mul(E.cst(1 - mo), inp(1)), E.mul(E.cst((mo * count) / Math.max(count - 1, 1)), inp(3))),
        ],
        [
          { s: state.runningMean.storage, shape: flat },
          { s: state.runningVar.storage, shape: flat },
          { s: m.storage, shape: flat },
          { s: v.storage, shape: flat },
        ],
        flat,
        { into: [state.runningMean.storage, state.runningVar.storage] },
      );
    });
  } else {
    m = state.runningMean;
    v = state.runningVar;
  }
  const y = map(E.mul(E.sub(inp(0), inp(1)), E.un("rsqrt", E.add(inp(2), E.cst(eps)))), [x, m, v]);
  return affine(y, weight, bias);
}
