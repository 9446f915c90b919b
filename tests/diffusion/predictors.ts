/**
 * Noise predictors for the diffusion tests: an analytic one (the exact E[ε | x_t, y] for Gaussian
 * classes, so samplers can be checked without a trained network) and a small linear one with trainable
 * parameters (for the loss and its gradients).
 */
import type { NoisePredictor } from "../../diffusion/types.ts";
import type { Schedule } from "../../diffusion/schedule.ts";
import * as E from "../../engine/expr.ts";
import { inp } from "../../engine/expr.ts";
import { type Tensor, tensor } from "../../engine/tensor.ts";
import * as T from "../../engine/ops/mod.ts";

/**
 * ᾱ at the model's (original-schedule) timesteps t f32 [n], as [n, 1, 1, 1], on the device: a table
 * lookup by one-hot rows, split as t = 32·hi + lo (two 32-wide one-hots instead of one 1000-wide).
 */
export function alphaBarAt(s: Schedule, t: Tensor): Tensor {
  const n = t.shape[0], w = 32, rows = Math.ceil(s.alphasCumprod.length / w);
  const table = new Float32Array(rows * w);
  table.set(s.alphasCumprod);
  const tc = T.reshape(t, [n, 1]);
  const hi = T.map(E.un("floor", E.mul(inp(0), E.cst(1 / w))), [tc]);
  const lo = T.map(E.sub(inp(0), E.mul(inp(1), E.cst(w))), [tc, hi]);
  const oneHot = (v: Tensor, k: number) =>
    T.map(E.bin("eq", inp(0), inp(1)), [v, T.reshape(T.iota(k), [1, k])]);
  const row = T.matmul(oneHot(hi, rows), tensor(table, [rows, w]));
  return T.reshape(T.sum(T.mul(row, oneHot(lo, w)), 1), [n, 1, 1, 1]);
}

/**
 * Data x_0 ~ N(μ_y, diag σ_y²) per class (per channel, the same at every pixel); the null class
 * `numClasses` is its own Gaussian (μ_null, σ_null). For x_t = √ᾱ x_0 + √(1−ᾱ) ε,
 * E[ε | x_t, y] = √(1−ᾱ) (x_t − √ᾱ μ_y) / (ᾱ σ_y² + 1 − ᾱ): the optimal ε-prediction, exactly.
 * With `learnSigma`, the variance channels carry `v` (a constant, or one value per class row).
 */
export class GaussianPredictor implements NoisePredictor {
  readonly numClasses: number;
  calls = 0;
  constructor(
    readonly original: Schedule,
    readonly mu: number[][],
    readonly sigma: number[][],
    readonly learnSigma = false,
    readonly v: number | number[] = 0,
  ) {
    this.numClasses = mu.length - 1;
  }

  predict(xt: Tensor, t: Tensor, y: Tensor): Tensor {
    this.calls++;
    const [n, , , c] = xt.shape;
    const a = alphaBarAt(this.original, t);
    const row = (table: number[][]) =>
      T.reshape(T.gather(tensor(table.flat(), [table.length, c]), y), [n, 1, 1, c]);
    const eps = T.map(
      E.div(
        E.mul(E.un("sqrt", E.sub(E.cst(1), inp(1))), E.sub(inp(0), E.mul(E.un("sqrt", inp(1)), inp(2)))),
        E.add(E.mul(inp(1), E.un("square", inp(3))), E.sub(E.cst(1), inp(1))),
      ),
      [xt, a, row(this.mu), row(this.sigma)],
    );
    if (!this.learnSigma) return eps;
    const vs = typeof this.v === "number" ? this.mu.map(() => this.v as number) : this.v;
    const vRow = T.reshape(T.gather(tensor(vs, [vs.length, 1]), y), [n, 1, 1, 1]);
    // ε's shape with the row's v everywhere (ε·0 folds away; ε only sets the broadcast shape).
    return T.concat([eps, T.map(E.add(E.mul(inp(0), E.cst(0)), inp(1)), [eps, vRow])], 3);
  }
}

/** Host-side twin of GaussianPredictor's ε for one element (float64). */
export function optimalEps(x: number, alphaBar: number, mu: number, sigma: number): number {
  return Math.sqrt(1 - alphaBar) * (x - Math.sqrt(alphaBar) * mu) / (alphaBar * sigma * sigma + 1 - alphaBar);
}

/**
 * ε = x·W_ε + E_ε[y] + (t/1000)·s_ε and (with learnSigma) v = x·W_v + E_v[y] + (t/1000)·s_v, per pixel.
 * The parameters are leaves the test passes in (so it can differentiate w.r.t. them).
 */
export class LinearPredictor implements NoisePredictor {
  constructor(
    readonly numClasses: number,
    readonly learnSigma: boolean,
    readonly p: { wEps: Tensor; eEps: Tensor; sEps: Tensor; wV?: Tensor; eV?: Tensor; sV?: Tensor },
  ) {}

  predict(xt: Tensor, t: Tensor, y: Tensor): Tensor {
    const [n, h, w, c] = xt.shape;
    const head = (wm: Tensor, em: Tensor, sv: Tensor) => {
      const lin = T.reshape(T.matmul(T.reshape(xt, [n * h * w, c]), wm), [n, h, w, c]);
      const emb = T.reshape(T.gather(em, y), [n, 1, 1, c]);
      const ts = T.mul(T.reshape(t, [n, 1, 1, 1]), T.mul(T.reshape(sv, [1, 1, 1, c]), 1 / 1000));
      return T.add(T.add(lin, emb), ts);
    };
    const eps = head(this.p.wEps, this.p.eEps, this.p.sEps);
    if (!this.learnSigma) return eps;
    return T.concat([eps, head(this.p.wV!, this.p.eV!, this.p.sV!)], 3);
  }
}
