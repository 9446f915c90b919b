/** Neural-network building blocks composed from the differentiable primitives. */
import * as E from "../expr.ts";
import { inp } from "../expr.ts";
import { backend, fromStorage, needsGrad, noGrad, record, type Tensor } from "../tensor.ts";
import { iota } from "./create.ts";
import { argmax, map, max, mean, reduceExpr, reduceMany, sumOf, variance } from "./elementwise.ts";
import { reshape } from "./shape.ts";
import { matmul } from "./linalg.ts";

/** log-softmax along the last axis; the max shift is detached (its gradient cancels exactly). */
export function logSoftmax(x: Tensor): Tensor {
  const ax = x.rank - 1;
  const m = noGrad(() => max(x, ax, true));
  const lse = reduceExpr("sum", E.un("exp", E.sub(inp(0), inp(1))), [x, m], x.shape, [ax]);
  return map(E.sub(E.sub(inp(0), inp(1)), E.un("log", inp(2))), [x, m, lse]);
}

/**
 * softmax(scale·x) along the last axis (scale > 0; attention folds its 1/√d in here) as one node:
 * forward = row max, row Σexp and one map; backward = scale·y·(g − Σ g·y), one reduction and one map
 * instead of the composition's exp/log chain. The backward reads the output y, which stays in the
 * graph, so higher orders differentiate through it.
 */
export function softmax(x: Tensor, scale = 1): Tensor {
  if (!(scale > 0)) throw new Error(`softmax: scale must be > 0, got ${scale}`);
  const ax = x.rank - 1;
  const shifted = E.mul(E.cst(scale), E.sub(inp(0), inp(1)));
  const [m, s] = noGrad(() => {
    const m = max(x, ax, true);
    return [m, reduceExpr("sum", E.un("exp", shifted), [x, m], x.shape, [ax])];
  });
  const [ys] = backend().map(
    [E.div(E.un("exp", shifted), inp(2))],
    [x, m, s].map((t) => ({ s: t.storage, shape: t.shape })),
    x.shape,
  );
  m.dispose();
  s.dispose();
  const y = fromStorage(ys, x.shape);
  return record(y, "softmax", [x], (g) => {
    const dot = reduceExpr("sum", E.mul(inp(0), inp(1)), [g, y], x.shape, [ax]);
    return [map(E.mul(E.mul(E.cst(scale), inp(1)), E.sub(inp(0), inp(2))), [g, y, dot])];
  });
}

/**
 * Scaled dot-product attention softmax(q·kᵀ·scale)·v with q [b, lq, d], k [b, lk, d], v [b, lk, dv]
 * (b = batch × heads), scale 1/√d by default. Composed of batched matmuls and the fused softmax: a
 * fused kernel did not pay for the short sequences (16–64 tokens) ddrepro's models attend over.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, scale?: number): Tensor {
  const d = q.shape[q.rank - 1];
  if (k.shape[k.rank - 1] !== d || k.shape[k.rank - 2] !== v.shape[v.rank - 2]) {
    throw new Error(
      `attention: q [${q.shape}], k [${k.shape}], v [${v.shape}] do not fit ([b,lq,d], [b,lk,d], [b,lk,dv])`,
    );
  }
  return matmul(softmax(matmul(q, k, { transB: true }), scale ?? 1 / Math.sqrt(d)), v);
}

/**
 * Layer normalisation over the last axis with optional elementwise affine (PyTorch `nn.LayerNorm(d)`;
 * DiT uses it without affine, eps 1e-6). One node like groupNorm: forward = mean, variance, one map;
 * backward, with g = gy·w, x̂ = (x − μ)·r, r = 1/√(σ² + ε):
 *   dx = r·(g − mean(g) − x̂·mean(g·x̂)),  dw = Σ_rows gy·x̂,  db = Σ_rows gy,
 * built from differentiable map/reduce ops over the recorded statistics (second order for free).
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const d = x.shape[x.rank - 1];
  if ((weight && weight.size !== d) || (bias && bias.size !== d)) {
    throw new Error(`layerNorm: affine parameters must have ${d} elements (the last axis of [${x.shape}])`);
  }
  const rows = x.size / d, rs = [rows, d];
  const xr = reshape(x, rs);
  const m = mean(xr, 1, true);
  const v = reduceExpr("sum", E.mul(E.un("square", E.sub(inp(0), inp(1))), E.cst(1 / d)), [xr, m], rs, [1]);
  const wt = weight ? reshape(weight, [1, d]) : null, bt = bias ? reshape(bias, [1, d]) : null;
  // inputs: 0 x, 1 mean, 2 var, then weight and bias when present
  const xhat = E.mul(E.sub(inp(0), inp(1)), E.un("rsqrt", E.add(inp(2), E.cst(eps))));
  const ins = [xr, m, v, ...(wt ? [wt] : []), ...(bt ? [bt] : [])];
  let yExpr = wt ? E.mul(xhat, inp(3)) : xhat;
  if (bt) yExpr = E.add(yExpr, inp(wt ? 4 : 3));
  const [ys] = backend().map([yExpr], ins.map((t) => ({ s: t.storage, shape: t.shape })), rs);
  const y = record(
    fromStorage(ys, rs),
    "layer-norm",
    [xr, ...(wt ? [wt] : []), ...(bt ? [bt] : [])],
    (gy) => {
      const r = map(E.un("rsqrt", E.add(inp(0), E.cst(eps))), [v]);
      const wIn = wt ? [wt] : [];
      const wOf = (k: number) => (wt ? inp(k) : E.cst(1));
      const grads: (Tensor | null)[] = [];
      if (needsGrad(xr)) {
        // Row means of g and g·(x − μ): A, B; then dx = r·(g − A − (x − μ)·r²·B).
        const [a, bm] = reduceMany(
          "sum",
          [
            E.mul(E.mul(inp(0), wOf(3)), E.cst(1 / d)),
            E.mul(E.mul(E.mul(inp(0), wOf(3)), E.sub(inp(1), inp(2))), E.cst(1 / d)),
          ],
          [gy, xr, m, ...wIn],
          rs,
          [1],
        );
        grads.push(map(
          E.mul(
            inp(3),
            E.sub(
              E.sub(E.mul(inp(0), wOf(6)), inp(4)),
              E.mul(E.mul(E.sub(inp(1), inp(2)), E.un("square", inp(3))), inp(5)),
            ),
          ),
          [gy, xr, m, r, a, bm, ...wIn],
        ));
      } else grads.push(null);
      const wantW = wt !== null && needsGrad(wt), wantB = bt !== null && needsGrad(bt);
      const sums = wantW || wantB
        ? reduceMany(
          "sum",
          [E.mul(inp(0), E.mul(E.sub(inp(1), inp(2)), inp(3))), inp(0)].filter((_, i) =>
            i === 0 ? wantW : wantB
          ),
          [gy, xr, m, r],
          rs,
          [0],
        )
        : [];
      if (wt) grads.push(wantW ? reshape(sums[0], [1, d]) : null);
      if (bt) grads.push(wantB ? reshape(sums[wantW ? 1 : 0], [1, d]) : null);
      return grads;
    },
  );
  return reshape(y, x.shape);
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
 *
 * One node with a hand-derived backward instead of the composition's ~8 full-size passes each way
 * (they dominated ConvNet training on llvmpipe): forward = mean, variance, one fused map; backward =
 * two per-(sample, channel) reductions and one map. The backward is itself built from differentiable
 * map/reduce ops over the recorded statistics, so gradient matching still differentiates it.
 */
export function groupNorm(
  x: Tensor,
  groups: number,
  weight: Tensor | null,
  bias: Tensor | null,
  eps = 1e-5,
): Tensor {
  const [n, h, w, c] = x.shape;
  const cg = c / groups, count = h * w * cg;
  const gs = [n, h * w, groups, cg];
  const xg = reshape(x, gs);
  const m = mean(xg, [1, 3], true);
  const v = reduceExpr("sum", E.mul(E.un("square", E.sub(inp(0), inp(1))), E.cst(1 / count)), [xg, m], gs, [
    1,
    3,
  ]);
  const chan = [1, 1, groups, cg];
  const wt = weight ? reshape(weight, chan) : null, bt = bias ? reshape(bias, chan) : null;
  // inputs: 0 x, 1 mean, 2 var, then weight and bias when present
  const xhat = E.mul(E.sub(inp(0), inp(1)), E.un("rsqrt", E.add(inp(2), E.cst(eps))));
  const ins = [xg, m, v, ...(wt ? [wt] : []), ...(bt ? [bt] : [])];
  let yExpr = wt ? E.mul(xhat, inp(3)) : xhat;
  if (bt) yExpr = E.add(yExpr, inp(wt ? 4 : 3));
  const [ys] = backend().map([yExpr], ins.map((t) => ({ s: t.storage, shape: t.shape })), gs);
  const y = record(
    fromStorage(ys, gs),
    "group-norm",
    [xg, ...(wt ? [wt] : []), ...(bt ? [bt] : [])],
    (gy) => {
      // With g = gy·w and x̂ = (x − μ)·r, r = 1/√(σ² + ε):
      //   dx = r·(g − mean(g) − x̂·mean(g·x̂)),  dw = Σ_{n,hw} gy·x̂,  db = Σ_{n,hw} gy,
      // from per-(sample, channel) sums S1 = Σ_hw gy and S2 = Σ_hw gy·(x − μ).
      const r = map(E.un("rsqrt", E.add(inp(0), E.cst(eps))), [v]);
      const [s1, s2] = reduceMany("sum", [inp(0), E.mul(inp(0), E.sub(inp(1), inp(2)))], [gy, xg, m], gs, [
        1,
      ]);
      // Per-group means of g and g·(x − μ): A = Σ_cg w·S1 / count, B = Σ_cg w·S2 / count.
      const wIn = wt ? [wt] : [];
      const wOf = (k: number) => (wt ? inp(k) : E.cst(1));
      const [a, bm] = reduceMany(
        "sum",
        [0, 1].map((k) => E.mul(E.mul(inp(k), wOf(2)), E.cst(1 / count))),
        [s1, s2, ...wIn],
        s1.shape,
        [3],
      );
      // dx = r·(gy·w − A − (x − μ)·r²·B)
      const dx = !needsGrad(xg) ? null : map(
        E.mul(
          inp(3),
          E.sub(
            E.sub(E.mul(inp(0), wOf(6)), inp(4)),
            E.mul(E.mul(E.sub(inp(1), inp(2)), E.un("square", inp(3))), inp(5)),
          ),
        ),
        [gy, xg, m, r, a, bm, ...wIn],
      );
      const grads = [dx];
      if (wt) {
        grads.push(
          needsGrad(wt)
            ? reshape(reduceExpr("sum", E.mul(inp(0), inp(1)), [s2, r], s2.shape, [0]), chan)
            : null,
        );
      }
      if (bt) {
        grads.push(needsGrad(bt) ? reshape(reduceExpr("sum", inp(0), [s1], s1.shape, [0]), chan) : null);
      }
      return grads;
    },
  );
  return reshape(y, x.shape);
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
