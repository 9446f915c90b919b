/**
 * The per-step guidance hook. At every denoising step the sampler hands the hook x_t, the model's ε̂
 * and x̂₀ (after CFG and clipping), the labels and the step's ᾱ; the hook may return an update of one
 * of three kinds, which the sampler applies before its DDPM/DDIM update (ᾱ = ᾱ_t of the step):
 *
 * - `{ kind: "x0", delta }` — a shift of x̂₀ (e.g. `scale · ∇_{x̂₀} J` of a cheap objective of x̂₀):
 *     x̂₀' = x̂₀ + δ,   ε' = ε̂ − √(ᾱ / (1 − ᾱ)) δ,
 *   the ε that keeps x_t = √ᾱ x̂₀' + √(1 − ᾱ) ε' (x_t itself is not moved). DDPM then takes its
 *   posterior mean from x̂₀', DDIM uses both. It equals a "score" update with g = √ᾱ / (1 − ᾱ) · δ.
 * - `{ kind: "score", grad }` — g ≈ ∇_{x_t} log p(y | x_t), classifier guidance on the score
 *   (guided-diffusion's `condition_score`, Song et al.):
 *     ε' = ε̂ − √(1 − ᾱ) g,   x̂₀' = x̂₀ + (1 − ᾱ)/√ᾱ · g.
 *   `ctx.gradThroughModel` gives ∇_{x_t} of any objective of (x̂₀, ε̂) differentiated through the noise
 *   predictor (and CFG), the usual source of g.
 * - `{ kind: "mean", grad }` — DDPM only: μ' = μ + Σ g, guided-diffusion's `condition_mean`
 *   (Sohl-Dickstein et al.; classifier guidance as ADM's DDPM sampler applies it), Σ the step's
 *   (learned or fixed) variance. DDIM has no Σ to scale by and rejects it.
 *
 * Every gradient is an ascent direction: the sampler moves toward larger objectives. Returning null
 * (or nothing) leaves the step unguided; a zero tensor changes nothing either.
 */
import * as E from "../engine/expr.ts";
import { inp, prm } from "../engine/expr.ts";
import { noGrad, type Tensor } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import * as T from "../engine/ops/mod.ts";

/** Where a step is in the chain. */
export interface StepInfo {
  /** Index into the (respaced) schedule; counts down to 0 while sampling. */
  readonly index: number;
  /** The original-schedule timestep the model is called with. */
  readonly t: number;
  /** 0-based position of this step in this run, and the run's step count. */
  readonly step: number;
  readonly steps: number;
}

export interface GuidanceContext extends StepInfo {
  /** x_t [n, h, w, c] (no graph). */
  readonly xt: Tensor;
  /** Class labels i32 [n] (the conditional rows). */
  readonly y: Tensor;
  /** ᾱ of this step and of the step the update goes to. */
  readonly alphaBar: number;
  readonly alphaBarPrev: number;
  /** ε̂ (after CFG) and x̂₀ (after clipping), detached. */
  readonly eps: Tensor;
  readonly x0: Tensor;
  /**
   * ∇_{x_t} objective(x̂₀(x_t), ε̂(x_t), x_t), differentiating through the noise predictor (with CFG and
   * clipping as configured). The objective returns a scalar. Reuses this step's forward when the hook's
   * `throughModel` said so for this step, else runs the model once more with grad.
   */
  gradThroughModel(objective: (p: { x0: Tensor; eps: Tensor; xt: Tensor }) => Tensor): Tensor;
}

export type GuidanceUpdate =
  | { readonly kind: "x0"; readonly delta: Tensor }
  | { readonly kind: "score"; readonly grad: Tensor }
  | { readonly kind: "mean"; readonly grad: Tensor };

export interface GuidanceHook {
  guide(ctx: GuidanceContext): GuidanceUpdate | null | undefined | void;
  /**
   * Whether this step's forward should be recorded for `gradThroughModel` (one forward instead of
   * two). Default: never (a gradThroughModel call then recomputes the forward with grad).
   */
  throughModel?(step: StepInfo): boolean;
}

/**
 * A hook from a cheap objective of x̂₀ to maximise: δ = scale · ∇_{x̂₀} J(x̂₀), an "x0" update. `scale`
 * may depend on the step (e.g. 0 outside a guidance window, or ∝ 1 − ᾱ for a Tweedie-sized shift).
 */
export function x0Guidance(
  objective: (x0: Tensor, ctx: GuidanceContext) => Tensor,
  scale: number | ((ctx: GuidanceContext) => number),
): GuidanceHook {
  return {
    guide(ctx) {
      const s = typeof scale === "number" ? scale : scale(ctx);
      if (s === 0) return null;
      const x0 = ctx.x0.detach().requireGrad();
      const [g] = grad(scalarObjective(objective(x0, ctx)), [x0]);
      return { kind: "x0", delta: noGrad(() => T.mul(g, s)) };
    },
  };
}

/**
 * A hook differentiating an objective of (x̂₀, ε̂, x_t) through the noise predictor: score guidance with
 * g = scale · ∇_{x_t} J. `scale` 0 (e.g. outside a window) skips the step without a backward pass.
 */
export function modelGuidance(
  objective: (p: { x0: Tensor; eps: Tensor; xt: Tensor }, ctx: GuidanceContext) => Tensor,
  scale: number | ((step: StepInfo) => number),
): GuidanceHook {
  const at = (s: StepInfo) => (typeof scale === "number" ? scale : scale(s));
  return {
    throughModel: (s) => at(s) !== 0,
    guide(ctx) {
      const s = at(ctx);
      if (s === 0) return null;
      const g = ctx.gradThroughModel((p) => objective(p, ctx));
      return { kind: "score", grad: noGrad(() => T.mul(g, s)) };
    },
  };
}

export function scalarObjective(j: Tensor): Tensor {
  if (j.size !== 1) throw new Error(`a guidance objective must be a scalar, got [${j.shape}]`);
  return j;
}

/** The consistent (x̂₀', ε') pair of an "x0" or "score" update (see the module comment). */
export function applyGuidance(
  u: Extract<GuidanceUpdate, { kind: "x0" | "score" }>,
  p: { x0: Tensor; eps: Tensor; alphaBar: number },
): { x0: Tensor; eps: Tensor } {
  const a = p.alphaBar;
  const g = u.kind === "x0" ? u.delta : u.grad;
  // x̂₀' = x̂₀ + p0·g, ε' = ε − p1·g
  const params = u.kind === "x0" ? [1, Math.sqrt(a / (1 - a))] : [(1 - a) / Math.sqrt(a), Math.sqrt(1 - a)];
  const [x0, eps] = T.mapMany(
    [
      E.add(inp(0), E.mul(prm(0), inp(2))),
      E.sub(inp(1), E.mul(prm(1), inp(2))),
    ],
    [p.x0, p.eps, g],
    params,
  );
  return { x0, eps };
}
