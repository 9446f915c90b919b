/**
 * The per-step update rules as fused elementwise kernels. Step-dependent coefficients are runtime
 * parameters (`prm`), never constants, so a 50-step chain compiles each kernel once.
 *
 * Notation (step i of a possibly respaced schedule): ᾱ = ᾱ_i, ᾱ' = ᾱ_{i-1} (DDPM/DDIM) or ᾱ_{i+1}
 * (inversion).
 */
import * as E from "../engine/expr.ts";
import type { Expr } from "../engine/expr.ts";
import { inp, prm } from "../engine/expr.ts";
import type { Tensor } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";
import { fixedLogVariance, type FixedVariance, type Schedule } from "./schedule.ts";

const { add, sub, mul } = E;

/** x̂₀ = x_t / √ᾱ − √(1/ᾱ − 1) ε. */
export function predictX0(xt: Tensor, eps: Tensor, alphaBar: number): Tensor {
  return T.map(sub(mul(prm(0), inp(0)), mul(prm(1), inp(1))), [xt, eps], [
    Math.sqrt(1 / alphaBar),
    Math.sqrt(1 / alphaBar - 1),
  ]);
}

/** ε = (x_t / √ᾱ − x̂₀) / √(1/ᾱ − 1): the noise consistent with a (clipped or guided) x̂₀. */
export function epsFromX0(xt: Tensor, x0: Tensor, alphaBar: number): Tensor {
  return T.map(E.div(sub(mul(prm(0), inp(0)), inp(1)), prm(1)), [xt, x0], [
    Math.sqrt(1 / alphaBar),
    Math.sqrt(1 / alphaBar - 1),
  ]);
}

/** How the DDPM reverse variance is chosen: DiT's learned range (needs v), or fixed. */
export type VarianceChoice = "learned" | FixedVariance;

/**
 * One ancestral DDPM step (p_sample): x_{i-1} = μ + [i > 0] exp(½ log Σ) z with
 * μ = coef1_i x̂₀ + coef2_i x_t (+ Σ g for mean guidance), log Σ = f log β_i + (1 − f) log β̃_i,
 * f = (v + 1)/2 for the learned range, else the fixed choice.
 */
export function ddpmStep(
  s: Schedule,
  i: number,
  p: { xt: Tensor; x0: Tensor; v: Tensor | null; z: Tensor; variance: VarianceChoice; meanGrad?: Tensor },
): Tensor {
  const inputs = [p.xt, p.x0, p.z];
  // params: 0 coef1, 1 coef2, 2 noise on (0 at the last step), 3 log β, 4 log β̃ (clipped), 5 fixed log Σ
  const params = [
    s.posteriorMeanCoef1[i],
    s.posteriorMeanCoef2[i],
    i > 0 ? 1 : 0,
    Math.log(s.betas[i]),
    s.posteriorLogVarianceClipped[i],
    p.variance === "learned" ? 0 : fixedLogVariance(s, i, p.variance),
  ];
  let logVar: Expr;
  if (p.variance === "learned") {
    if (!p.v) throw new Error("ddpm: the learned variance needs a model with learnSigma");
    const frac = mul(E.cst(0.5), add(inp(inputs.push(p.v) - 1), E.cst(1)));
    logVar = add(mul(frac, prm(3)), mul(sub(E.cst(1), frac), prm(4)));
  } else logVar = prm(5);
  let mean = add(mul(prm(0), inp(1)), mul(prm(1), inp(0)));
  if (p.meanGrad) mean = add(mean, mul(E.un("exp", logVar), inp(inputs.push(p.meanGrad) - 1)));
  return T.map(add(mean, mul(prm(2), mul(E.un("exp", mul(E.cst(0.5), logVar)), inp(2)))), inputs, params);
}

/** DDIM's σ_i for η: η √((1 − ᾱ')/(1 − ᾱ)) √(1 − ᾱ/ᾱ'). */
export function ddimSigma(s: Schedule, i: number, eta: number): number {
  const a = s.alphasCumprod[i], ap = s.alphasCumprodPrev[i];
  return eta * Math.sqrt((1 - ap) / (1 - a)) * Math.sqrt(1 - a / ap);
}

/** One DDIM step (Song et al. eq. 12): x_{i-1} = √ᾱ' x̂₀ + √(1 − ᾱ' − σ²) ε + [i > 0] σ z. */
export function ddimStep(
  s: Schedule,
  i: number,
  eta: number,
  p: { x0: Tensor; eps: Tensor; z: Tensor | null },
): Tensor {
  const ap = s.alphasCumprodPrev[i], sigma = ddimSigma(s, i, eta);
  const dir = Math.sqrt(Math.max(0, 1 - ap - sigma * sigma));
  const det = add(mul(prm(0), inp(0)), mul(prm(1), inp(1)));
  if (!p.z) return T.map(det, [p.x0, p.eps], [Math.sqrt(ap), dir]);
  return T.map(add(det, mul(prm(2), inp(2))), [p.x0, p.eps, p.z], [Math.sqrt(ap), dir, i > 0 ? sigma : 0]);
}

/** One deterministic inversion step (ddim_reverse_sample): x_{i+1} = √ᾱ_{i+1} x̂₀ + √(1 − ᾱ_{i+1}) ε. */
export function ddimReverseStep(alphaBarNext: number, p: { x0: Tensor; eps: Tensor }): Tensor {
  return T.map(add(mul(prm(0), inp(0)), mul(prm(1), inp(1))), [p.x0, p.eps], [
    Math.sqrt(alphaBarNext),
    Math.sqrt(1 - alphaBarNext),
  ]);
}
