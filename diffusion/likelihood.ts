/**
 * Gaussian KL and the discretized Gaussian log-likelihood of the variational bound, as elementwise
 * expressions (improved-diffusion's `normal_kl`, `discretized_gaussian_log_likelihood`), so a loss
 * fuses them into one reduction kernel whose derivative the engine derives symbolically.
 */
import * as E from "../engine/expr.ts";
import type { Expr } from "../engine/expr.ts";

const { add, sub, mul, cst } = E;
const exp = (a: Expr) => E.un("exp", a);
const log = (a: Expr) => E.un("log", a);

/** KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)) per element, in nats. */
export function normalKl(mean1: Expr, logvar1: Expr, mean2: Expr, logvar2: Expr): Expr {
  const d = sub(mean1, mean2);
  return mul(
    cst(0.5),
    add(
      add(sub(sub(cst(-1), logvar1), E.un("neg", logvar2)), exp(sub(logvar1, logvar2))),
      mul(E.un("square", d), exp(E.un("neg", logvar2))),
    ),
  );
}

/** The tanh approximation of the standard normal CDF the reference uses (not erf). */
export function approxStandardNormalCdf(x: Expr): Expr {
  const inner = mul(cst(Math.sqrt(2 / Math.PI)), add(x, mul(cst(0.044715), mul(x, mul(x, x)))));
  return mul(cst(0.5), add(cst(1), E.un("tanh", inner)));
}

/**
 * log P(x) for x quantised to 256 levels in [-1, 1] (bins of width 2/255), under N(means, e^{2·logScales});
 * the edge bins take the whole tails. In nats, per element.
 */
export function discretizedGaussianLogLikelihood(x: Expr, means: Expr, logScales: Expr): Expr {
  const centered = sub(x, means);
  const invStd = exp(E.un("neg", logScales));
  const cdfPlus = approxStandardNormalCdf(mul(invStd, add(centered, cst(1 / 255))));
  const cdfMin = approxStandardNormalCdf(mul(invStd, sub(centered, cst(1 / 255))));
  const floor = cst(1e-12);
  const logCdfPlus = log(E.bin("max", cdfPlus, floor));
  const logOneMinusCdfMin = log(E.bin("max", sub(cst(1), cdfMin), floor));
  const logCdfDelta = log(E.bin("max", sub(cdfPlus, cdfMin), floor));
  return E.where(
    E.bin("lt", x, cst(-0.999)),
    logCdfPlus,
    E.where(E.bin("gt", x, cst(0.999)), logOneMinusCdfMin, logCdfDelta),
  );
}
