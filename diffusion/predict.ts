/**
 * One evaluation of the noise predictor at a denoising step, with classifier-free guidance: the
 * conditional and the null-class rows go through one `predict` call (a batch of 2n), and
 *   ε = ε_u + s (ε_c − ε_u) = ε_c + (s − 1)(ε_c − ε_u)
 * as DiT's `forward_with_cfg` does. By default every ε channel is guided (the standard approach);
 * `channels` limits it to the first k (DiT's released sampler guides 3 of its 4 latent channels "for
 * exact reproducibility"); unguided ε channels and the learned-variance channels v are the
 * conditional rows' own, which is what DiT's sampler keeps (its first, conditional, half).
 */
import * as E from "../engine/expr.ts";
import { inp, prm } from "../engine/expr.ts";
import { type Tensor, tensor } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";
import type { NoisePredictor } from "./types.ts";
import { splitOutput } from "./loss.ts";

export interface CfgOptions {
  /** Guidance scale s (DiT samples with 4; 1 gives the conditional ε, still paying for the null rows). */
  scale: number;
  /** Guide only ε channels 0..channels-1 (default: all; DiT's sample.py uses 3). */
  channels?: number;
}

export interface Prediction {
  /** ε̂ (guided when CFG is on), x_t's shape. */
  eps: Tensor;
  /** The learned-variance output v ∈ [-1, 1] (conditional rows), or null. */
  v: Tensor | null;
}

export function validateCfg(cfg: CfgOptions | undefined, c: number): void {
  if (!cfg) return;
  if (!Number.isFinite(cfg.scale)) throw new Error(`cfg scale must be a finite number, got ${cfg.scale}`);
  const k = cfg.channels ?? c;
  if (!Number.isInteger(k) || k < 1 || k > c) {
    throw new Error(
      `cfg channels must be an integer in [1, ${c}] (the latent channels), got ${cfg.channels}`,
    );
  }
}

/** Labels uploaded once per run: y i32 [n], and [y, null…] i32 [2n] when CFG is on. */
export interface Labels {
  readonly y: Tensor;
  readonly withNull: Tensor | null;
}

/**
 * Validates class labels (0..numClasses, the last being the null class: unconditional rows) and
 * uploads them, kept: the caller disposes them with `disposeLabels`.
 */
export function makeLabels(
  model: NoisePredictor,
  labels: ArrayLike<number>,
  cfg: CfgOptions | undefined,
): Labels {
  const host = Int32Array.from(labels);
  host.forEach((v, i) => {
    if (!Number.isInteger(labels[i]) || v < 0 || v > model.numClasses) {
      throw new Error(
        `class label ${
          labels[i]
        } at row ${i} is not in [0, ${model.numClasses}] (${model.numClasses} = null class)`,
      );
    }
  });
  const n = host.length;
  const y = tensor(host, [n], "i32").keep();
  if (!cfg) return { y, withNull: null };
  const both = new Int32Array(2 * n).fill(model.numClasses);
  both.set(host);
  return { y, withNull: tensor(both, [2 * n], "i32").keep() };
}

export function disposeLabels(l: Labels): void {
  l.y.dispose();
  l.withNull?.dispose();
}

/**
 * ε̂ (and v) at original timestep `t` for every row of x_t [n, …, c]. Recorded for autodiff when grad
 * mode is on and x_t (or the model) requires grad.
 */
export function predictEps(
  model: NoisePredictor,
  xt: Tensor,
  t: number,
  labels: Labels,
  cfg?: CfgOptions,
): Prediction {
  const n = xt.shape[0];
  if (labels.y.shape[0] !== n) throw new Error(`${labels.y.shape[0]} labels for a batch of ${n}`);
  if (!cfg) {
    return splitOutput(model, model.predict(xt, tensor(new Float32Array(n).fill(t), [n]), labels.y), xt);
  }
  if (!labels.withNull) throw new Error("predictEps: labels were made without CFG");
  const both = T.concat([xt, xt], 0);
  const out = splitOutput(
    model,
    model.predict(both, tensor(new Float32Array(2 * n).fill(t), [2 * n]), labels.withNull),
    both,
  );
  const rows = (x: Tensor, from: number) => T.slice(x, x.shape.map((_, i) => (i === 0 ? from : 0)), xt.shape);
  const cond = rows(out.eps, 0), uncond = rows(out.eps, n);
  const c = xt.shape[xt.rank - 1], k = cfg.channels ?? c;
  // ε_c + (s − 1)(ε_c − ε_u), the scale a runtime parameter (one kernel for every scale).
  let eps: Tensor;
  if (k === c) {
    eps = T.map(E.add(inp(0), E.mul(prm(0), E.sub(inp(0), inp(1)))), [cond, uncond], [cfg.scale - 1]);
  } else {
    const mask = tensor(Float32Array.from({ length: c }, (_, i) => (i < k ? 1 : 0)), [c]);
    eps = T.map(E.add(inp(0), E.mul(E.mul(prm(0), inp(2)), E.sub(inp(0), inp(1)))), [cond, uncond, mask], [
      cfg.scale - 1,
    ]);
  }
  return { eps, v: out.v ? rows(out.v, 0) : null };
}
