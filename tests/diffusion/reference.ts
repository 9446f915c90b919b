/**
 * Float64 reference for the samplers with the Gaussian predictor: its ε̂ is affine in x_t per element,
 * so every DDIM/DDPM step (with CFG and with the affine guidance objectives the tests use) maps an
 * element's value (DDIM, η = 0) or its mean and variance (DDPM) affinely. The recurrences here are
 * written from the papers' formulas independently of diffusion/.
 */
import type { Schedule } from "../../diffusion/schedule.ts";

/** One element's classes: conditional N(mu, sigma²) and null-class N(muNull, sigmaNull²). */
export interface Elem {
  mu: number;
  sigma: number;
  muNull: number;
  sigmaNull: number;
}

/** ε̂ = A x + B at ᾱ (with CFG scale `cfg` if given and this element is guided). */
export function epsAffine(ab: number, e: Elem, cfg?: number): [number, number] {
  const lin = (mu: number, sig: number): [number, number] => {
    const d = ab * sig * sig + 1 - ab, r = Math.sqrt(1 - ab) / d;
    return [r, -r * Math.sqrt(ab) * mu];
  };
  const c = lin(e.mu, e.sigma);
  if (cfg === undefined) return c;
  const u = lin(e.muNull, e.sigmaNull);
  return [u[0] + cfg * (c[0] - u[0]), u[1] + cfg * (c[1] - u[1])];
}

/** Affine maps compose: (a, b) after (p, q) = (a p, a q + b). */
type Aff = [number, number];
const after = (f: Aff, g: Aff): Aff => [f[0] * g[0], f[0] * g[1] + f[1]];

/** Guidance the tests apply: J = −w Σ (x̂₀ − target)², as an x̂₀ shift (λ ∇_{x̂₀} J) or a score (λ ∇_{x_t} J). */
export interface Guide {
  kind: "x0" | "score";
  lambda: number;
  target: number;
}

/**
 * One DDIM (η = 0) step at spaced index i as an affine map of x_t, from the DDIM update
 * x' = √ᾱ' x̂₀ + √(1 − ᾱ') ε with x̂₀ = (x − √(1 − ᾱ) ε)/√ᾱ and the guidance rules of guidance.ts.
 */
export function ddimStepAffine(s: Schedule, i: number, e: Elem, cfg?: number, guide?: Guide): Aff {
  const ab = s.alphasCumprod[i], abp = s.alphasCumprodPrev[i];
  const [A, B] = epsAffine(ab, e, cfg);
  let eps: Aff = [A, B];
  let x0: Aff = [(1 - Math.sqrt(1 - ab) * A) / Math.sqrt(ab), -Math.sqrt(1 - ab) * B / Math.sqrt(ab)];
  if (guide) {
    // ∇_{x̂₀} J = −2 (x̂₀ − target); ∇_{x_t} J = that times dx̂₀/dx_t = x0[0].
    const g0: Aff = [-2 * x0[0], -2 * (x0[1] - guide.target)];
    if (guide.kind === "x0") {
      const d: Aff = [guide.lambda * g0[0], guide.lambda * g0[1]];
      x0 = [x0[0] + d[0], x0[1] + d[1]];
      const k = Math.sqrt(ab / (1 - ab));
      eps = [eps[0] - k * d[0], eps[1] - k * d[1]];
    } else {
      const g: Aff = [guide.lambda * g0[0] * x0[0], guide.lambda * g0[1] * x0[0]];
      eps = [eps[0] - Math.sqrt(1 - ab) * g[0], eps[1] - Math.sqrt(1 - ab) * g[1]];
      x0 = [(1 - Math.sqrt(1 - ab) * eps[0]) / Math.sqrt(ab), -Math.sqrt(1 - ab) * eps[1] / Math.sqrt(ab)];
    }
  }
  return [
    Math.sqrt(abp) * x0[0] + Math.sqrt(1 - abp) * eps[0],
    Math.sqrt(abp) * x0[1] + Math.sqrt(1 - abp) * eps[1],
  ];
}

/** DDIM from index `from` down to 0: x_0 = P x_from + Q. */
export function ddimChain(s: Schedule, from: number, e: Elem, cfg?: number, guide?: Guide): Aff {
  let f: Aff = [1, 0];
  for (let i = from; i >= 0; i--) f = after(ddimStepAffine(s, i, e, cfg, guide), f);
  return f;
}

/** DDIM inversion from index 0 to `to`: x_to = P x_0 + Q (ε̂ at the current step, or at the target). */
export function inversionChain(s: Schedule, to: number, e: Elem, cfg?: number, epsAtTarget = false): Aff {
  let f: Aff = [1, 0];
  for (let i = 0; i < to; i++) {
    const ab = s.alphasCumprod[i], abn = i + 1 < s.length ? s.alphasCumprod[i + 1] : 0;
    const [A, B] = epsAffine(epsAtTarget ? abn : ab, e, cfg);
    const x0: Aff = [(1 - Math.sqrt(1 - ab) * A) / Math.sqrt(ab), -Math.sqrt(1 - ab) * B / Math.sqrt(ab)];
    f = after([
      Math.sqrt(abn) * x0[0] + Math.sqrt(1 - abn) * A,
      Math.sqrt(abn) * x0[1] + Math.sqrt(1 - abn) * B,
    ], f);
  }
  return f;
}

/** log Σ_i of DDPM step i: the learned range at v, or fixed-large / fixed-small. */
export function ddpmLogVariance(
  s: Schedule,
  i: number,
  variance: { learnedV: number } | "fixed-large" | "fixed-small",
): number {
  const minLog = s.posteriorLogVarianceClipped[i], maxLog = Math.log(s.betas[i]);
  if (typeof variance === "object") {
    const f = (variance.learnedV + 1) / 2;
    return f * maxLog + (1 - f) * minLog;
  }
  if (variance === "fixed-small") return minLog;
  return i === 0 ? Math.log(s.posteriorVariance[1]) : maxLog;
}

/** DDPM step i as x' = a x + b + σ z: the posterior mean of x̂₀(x) and the step's standard deviation. */
export function ddpmStepAffine(
  s: Schedule,
  i: number,
  e: Elem,
  variance: { learnedV: number } | "fixed-large" | "fixed-small",
  cfg?: number,
): { a: number; b: number; std: number } {
  const ab = s.alphasCumprod[i];
  const [A, B] = epsAffine(ab, e, cfg);
  const x0: Aff = [(1 - Math.sqrt(1 - ab) * A) / Math.sqrt(ab), -Math.sqrt(1 - ab) * B / Math.sqrt(ab)];
  const c1 = s.posteriorMeanCoef1[i], c2 = s.posteriorMeanCoef2[i];
  const std = i > 0 ? Math.exp(0.5 * ddpmLogVariance(s, i, variance)) : 0;
  return { a: c1 * x0[0] + c2, b: c1 * x0[1], std };
}

/**
 * Mean and variance of x_0 under ancestral DDPM sampling from x_T ~ N(0, 1):
 * x' = c1 x̂₀ + c2 x + [i > 0] σ_i z, σ_i² from the learned range at v, or fixed-large / fixed-small.
 */
export function ddpmMoments(
  s: Schedule,
  e: Elem,
  variance: { learnedV: number } | "fixed-large" | "fixed-small",
  cfg?: number,
): { mean: number; variance: number } {
  let m = 0, v = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    const { a, b, std } = ddpmStepAffine(s, i, e, variance, cfg);
    m = a * m + b;
    v = a * a * v + std * std;
  }
  return { mean: m, variance: v };
}
