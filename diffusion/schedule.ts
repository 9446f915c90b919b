/**
 * The Gaussian diffusion process q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I): β schedule, ᾱ and the
 * coefficients of the posterior q(x_{t-1} | x_t, x_0), computed on the host in float64 as the
 * reference (improved/guided-diffusion, DiT) does. Kernels receive them as f32 scalars.
 *
 * A schedule may be a respaced subset of an original process (respace.ts): `timesteps[i]` is then the
 * original step that spaced step i stands for, which is what the noise predictor is called with.
 */

export interface Schedule {
  /** Number of steps of this process (the original length, or the kept count after respacing). */
  readonly length: number;
  /** Length of the original process the model was trained on (1000 for DiT). */
  readonly originalLength: number;
  /** Original timestep of each step (ascending): the `t` the noise predictor receives. */
  readonly timesteps: readonly number[];
  readonly betas: Float64Array;
  /** ᾱ_i = Π_{j ≤ i} (1 − β_j). */
  readonly alphasCumprod: Float64Array;
  /** ᾱ_{i-1}, with ᾱ_{-1} = 1. */
  readonly alphasCumprodPrev: Float64Array;
  /** ᾱ_{i+1}, with ᾱ_{length} = 0 (DDIM inversion's target). */
  readonly alphasCumprodNext: Float64Array;
  /** β̃_i = β_i (1 − ᾱ_{i-1}) / (1 − ᾱ_i): the variance of q(x_{i-1} | x_i, x_0). */
  readonly posteriorVariance: Float64Array;
  /** log β̃_i with β̃_0 (= 0) replaced by β̃_1. */
  readonly posteriorLogVarianceClipped: Float64Array;
  /** Posterior mean = coef1 · x_0 + coef2 · x_t. */
  readonly posteriorMeanCoef1: Float64Array;
  readonly posteriorMeanCoef2: Float64Array;
}

/**
 * DiT's (and Ho et al.'s) linear schedule: β from 1e-4 to 0.02 over 1000 steps, both ends scaled by
 * 1000/T for other lengths; the same values as NumPy's `linspace` (start + i·step, last = stop).
 */
export function linearBetas(steps = 1000): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`linearBetas: the number of diffusion steps must be a positive integer, got ${steps}`);
  }
  const scale = 1000 / steps;
  const start = scale * 0.0001, stop = scale * 0.02;
  const out = new Float64Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (steps - 1);
  for (let i = 0; i < steps; i++) out[i] = i * step + start;
  out[steps - 1] = stop;
  return out;
}

/**
 * The process with these betas. `timesteps` (default 0..length-1) maps each step to the original
 * process's step, `originalLength` is that process's length (default: this one's).
 */
export function makeSchedule(
  betas: ArrayLike<number>,
  timesteps?: readonly number[],
  originalLength?: number,
): Schedule {
  const n = betas.length;
  if (n < 1) throw new Error("makeSchedule: a diffusion schedule needs at least one step");
  const b = Float64Array.from(betas);
  b.forEach((v, i) => {
    if (!(v > 0 && v <= 1)) throw new Error(`makeSchedule: betas[${i}] = ${v} is not in (0, 1]`);
  });
  const ts = timesteps ?? Array.from({ length: n }, (_, i) => i);
  const orig = originalLength ?? n;
  if (ts.length !== n) throw new Error(`makeSchedule: ${ts.length} timesteps for ${n} betas`);
  ts.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= orig || (i > 0 && t <= ts[i - 1])) {
      throw new Error(`makeSchedule: timesteps must be ascending integers in [0, ${orig}), got ${t} at ${i}`);
    }
  });

  const ac = new Float64Array(n), acPrev = new Float64Array(n), acNext = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    acPrev[i] = prod;
    prod *= 1 - b[i];
    ac[i] = prod;
  }
  for (let i = 0; i < n; i++) acNext[i] = i + 1 < n ? ac[i + 1] : 0;
  const pv = new Float64Array(n), plv = new Float64Array(n);
  const c1 = new Float64Array(n), c2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    pv[i] = b[i] * (1 - acPrev[i]) / (1 - ac[i]);
    c1[i] = b[i] * Math.sqrt(acPrev[i]) / (1 - ac[i]);
    c2[i] = (1 - acPrev[i]) * Math.sqrt(1 - b[i]) / (1 - ac[i]);
  }
  // β̃_0 = 0: the reference clips its log to β̃_1. A one-step process has no β̃_1; β_0 (the
  // "fixed large" choice) is the only finite value left.
  for (let i = 0; i < n; i++) plv[i] = Math.log(i === 0 ? (n > 1 ? pv[1] : b[0]) : pv[i]);
  return {
    length: n,
    originalLength: orig,
    timesteps: ts,
    betas: b,
    alphasCumprod: ac,
    alphasCumprodPrev: acPrev,
    alphasCumprodNext: acNext,
    posteriorVariance: pv,
    posteriorLogVarianceClipped: plv,
    posteriorMeanCoef1: c1,
    posteriorMeanCoef2: c2,
  };
}

/** How the reverse process's variance is chosen when the model does not learn it (DiT: "fixed-large"). */
export type FixedVariance = "fixed-large" | "fixed-small";

/**
 * log Σ_i for a fixed variance: "fixed-small" is the posterior's log β̃_i (clipped), "fixed-large" is
 * log β_i except at step 0, where the reference uses β̃_1 "to get a better decoder log likelihood".
 */
export function fixedLogVariance(s: Schedule, i: number, kind: FixedVariance): number {
  if (kind === "fixed-small") return s.posteriorLogVarianceClipped[i];
  return Math.log(i === 0 && s.length > 1 ? s.posteriorVariance[1] : s.betas[i]);
}
