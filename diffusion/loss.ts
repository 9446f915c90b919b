/**
 * The DDPM training objective as DiT trains it (`GaussianDiffusion.training_losses`, loss type MSE):
 * - L_simple: the mean squared error between the drawn noise ε and the predicted ε̂(x_t, t, y) at a
 *   uniformly drawn step t, with x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε;
 * - with a learned variance, the hybrid loss L_simple + L_vb, where L_vb is the variational-bound
 *   term for step t (KL(q(x_{t-1}|x_t,x_0) ‖ p(x_{t-1}|x_t)), or the decoder NLL at t = 0, in bits per
 *   dimension) computed with ε̂ detached: the bound trains only the variance output, not the mean.
 */
import * as E from "../engine/expr.ts";
import { inp } from "../engine/expr.ts";
import type { Rng } from "../engine/random.ts";
import { type Tensor, tensor } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";
import type { NoisePredictor } from "./types.ts";
import type { Schedule } from "./schedule.ts";
import { discretizedGaussianLogLikelihood, normalKl } from "./likelihood.ts";

export interface LossTerms {
  /** The training loss: mse, plus vb when the model learns its variance (batch means, scalars). */
  loss: Tensor;
  /** Mean over the batch and all dimensions of (ε − ε̂)². */
  mse: Tensor;
  /** Mean over the batch of the per-sample variational-bound term (bits/dim); null without learnSigma. */
  vb: Tensor | null;
  /** The noised input and the model's ε̂ (differentiable), for losses on top (e.g. on `predictX0At`). */
  xt: Tensor;
  eps: Tensor;
}

/** [n, 1, …, 1] column of per-sample values, broadcasting against a rank-`rank` batch. */
export function perSample(values: ArrayLike<number>, rank: number): Tensor {
  return tensor(Float32Array.from(values), [values.length, ...new Array(rank - 1).fill(1)]);
}

/** x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for per-sample steps `t` (indices into `s`). Differentiable. */
export function qSample(s: Schedule, x0: Tensor, t: ArrayLike<number>, noise: Tensor): Tensor {
  const ac = Array.from(t, (i) => s.alphasCumprod[i]);
  return T.map(E.add(E.mul(inp(0), inp(1)), E.mul(inp(2), inp(3))), [
    perSample(ac.map(Math.sqrt), x0.rank),
    x0,
    perSample(ac.map((a) => Math.sqrt(1 - a)), x0.rank),
    noise,
  ]);
}

/** x̂₀ = x_t/√ᾱ_t − √(1/ᾱ_t − 1) ε̂ for per-sample steps `t` (indices into `s`). Differentiable. */
export function predictX0At(s: Schedule, xt: Tensor, eps: Tensor, t: ArrayLike<number>): Tensor {
  const ac = Array.from(t, (i) => s.alphasCumprod[i]);
  return T.map(E.sub(E.mul(inp(0), inp(1)), E.mul(inp(2), inp(3))), [
    perSample(ac.map((a) => Math.sqrt(1 / a)), xt.rank),
    xt,
    perSample(ac.map((a) => Math.sqrt(1 / a - 1)), xt.rank),
    eps,
  ]);
}

/** The model's ε output and, with learnSigma, its variance output v (same shape as x). */
export function splitOutput(
  model: NoisePredictor,
  out: Tensor,
  x: Tensor,
): { eps: Tensor; v: Tensor | null } {
  const c = x.shape[x.rank - 1];
  const want = [...x.shape.slice(0, -1), model.learnSigma ? 2 * c : c];
  if (out.rank !== want.length || out.shape.some((d, i) => d !== want[i])) {
    throw new Error(
      `noise predictor returned [${out.shape}] for x_t [${x.shape}]; expected [${want}]` +
        (model.learnSigma ? " (ε then the learned-variance channels)" : ""),
    );
  }
  if (!model.learnSigma) return { eps: out, v: null };
  const begin = (k: number) => out.shape.map((_, i) => (i === out.rank - 1 ? k : 0));
  return { eps: T.slice(out, begin(0), x.shape), v: T.slice(out, begin(c), x.shape) };
}

function checkBatch(s: Schedule, x0: Tensor, y: Tensor, t: ArrayLike<number>): void {
  const n = x0.shape[0];
  if (x0.rank < 2) throw new Error(`diffusion loss: x_0 must be a batch [n, …], got [${x0.shape}]`);
  if (y.dtype !== "i32" || y.rank !== 1 || y.shape[0] !== n) {
    throw new Error(`diffusion loss: labels must be i32 [${n}], got ${y.dtype} [${y.shape}]`);
  }
  if (t.length !== n) throw new Error(`diffusion loss: ${t.length} timesteps for a batch of ${n}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(t[i]) || t[i] < 0 || t[i] >= s.length) {
      throw new Error(`diffusion loss: timestep ${t[i]} is outside [0, ${s.length})`);
    }
  }
}

/**
 * The loss for given steps `t` (indices into `s`) and noise ε (x_0's shape). Differentiable w.r.t. the
 * model's parameters (and x_0).
 */
export function trainingLosses(
  model: NoisePredictor,
  s: Schedule,
  x0: Tensor,
  y: Tensor,
  draw: { t: ArrayLike<number>; noise: Tensor },
): LossTerms {
  const { t, noise } = draw;
  checkBatch(s, x0, y, t);
  if (noise.shape.some((d, i) => d !== x0.shape[i]) || noise.rank !== x0.rank) {
    throw new Error(`diffusion loss: noise [${noise.shape}] does not match x_0 [${x0.shape}]`);
  }
  const xt = qSample(s, x0, t, noise);
  const tModel = tensor(Array.from(t, (i) => s.timesteps[i]), [t.length]);
  const { eps, v } = splitOutput(model, model.predict(xt, tModel, y), xt);
  const mse = T.sumOf(E.mul(E.cst(1 / x0.size), E.un("square", E.sub(inp(0), inp(1)))), [noise, eps]);
  if (!v) return { loss: mse, mse, vb: null, xt, eps };
  const vb = vbTerm(s, x0, xt, eps.detach(), v, t);
  return { loss: T.add(mse, vb), mse, vb, xt, eps };
}

/**
 * Batch mean of the variational-bound term of each sample's step, in bits per dimension, for the
 * "learned range" variance: log Σ = f log β_t + (1 − f) log β̃_t with f = (v + 1) / 2.
 */
export function vbTerm(
  s: Schedule,
  x0: Tensor,
  xt: Tensor,
  eps: Tensor,
  v: Tensor,
  t: ArrayLike<number>,
): Tensor {
  const r = x0.rank;
  const col = (f: (i: number) => number) => perSample(Array.from(t, f), r);
  const c1 = col((i) => s.posteriorMeanCoef1[i]), c2 = col((i) => s.posteriorMeanCoef2[i]);
  const sra = col((i) => Math.sqrt(1 / s.alphasCumprod[i]));
  const srm1 = col((i) => Math.sqrt(1 / s.alphasCumprod[i] - 1));
  const minLog = col((i) => s.posteriorLogVarianceClipped[i]);
  const maxLog = col((i) => Math.log(s.betas[i]));
  const atZero = col((i) => (i === 0 ? 1 : 0));
  // True posterior mean, and the model's mean from x̂_0 = x_t/√ᾱ − √(1/ᾱ − 1) ε̂.
  const trueMean = T.map(E.add(E.mul(inp(0), inp(1)), E.mul(inp(2), inp(3))), [c1, x0, c2, xt]);
  const x0Hat = E.sub(E.mul(inp(3), inp(1)), E.mul(inp(4), inp(2)));
  const modelMean = T.map(E.add(E.mul(inp(0), x0Hat), E.mul(inp(5), inp(1))), [c1, xt, eps, sra, srm1, c2]);
  // inputs: 0 x0, 1 trueMean, 2 modelMean, 3 v, 4 minLog, 5 maxLog, 6 atZero
  const frac = E.mul(E.cst(0.5), E.add(inp(3), E.cst(1)));
  const logVar = E.add(E.mul(frac, inp(5)), E.mul(E.sub(E.cst(1), frac), inp(4)));
  const kl = normalKl(inp(1), inp(4), inp(2), logVar);
  const nll = E.un("neg", discretizedGaussianLogLikelihood(inp(0), inp(2), E.mul(E.cst(0.5), logVar)));
  const perDim = E.where(inp(6), nll, kl);
  return T.sumOf(E.mul(E.cst(1 / (x0.size * Math.LN2)), perDim), [
    x0,
    trueMean,
    modelMean,
    v,
    minLog,
    maxLog,
    atZero,
  ]);
}

/**
 * One training batch's loss with t ~ U{0, …, T−1} and ε ~ N(0, I) drawn from `rng` (t first, on the
 * host; then ε on the device), so a step is reproducible from its seed. Returns the drawn steps too.
 */
export function diffusionLoss(
  model: NoisePredictor,
  s: Schedule,
  x0: Tensor,
  y: Tensor,
  rng: Rng,
): LossTerms & { t: Int32Array } {
  const n = x0.shape[0];
  const u = rng.hostUniform(n);
  const t = Int32Array.from(u, (v) => Math.min(s.length - 1, Math.floor(v * s.length)));
  const noise = rng.normal(x0.shape);
  return { ...trainingLosses(model, s, x0, y, { t, noise }), t };
}

/**
 * Classifier-free guidance training: each label is replaced by the null class `numClasses` with
 * probability `p` (DiT's LabelEmbedder.token_drop, p = 0.1), from `rng` on the host.
 */
export function dropLabels(labels: ArrayLike<number>, numClasses: number, p: number, rng: Rng): Int32Array {
  if (!(p >= 0 && p <= 1)) throw new Error(`label drop probability must be in [0, 1], got ${p}`);
  const u = rng.hostUniform(labels.length);
  return Int32Array.from(labels, (y, i) => (u[i] < p ? numClasses : y));
}
