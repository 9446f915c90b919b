/**
 * Deterministic DDIM inversion: x_0 → x at schedule index k, the reverse of DDIM (η = 0) sampling
 * (guided-diffusion's ddim_reverse_sample). x_0 is taken as the state at index 0; step i maps the
 * state at index i to index i + 1:
 *   ε̂ = ε(x_i, t_i),  x̂₀ = x_i/√ᾱ_i − √(1/ᾱ_i − 1) ε̂,  x_{i+1} = √ᾱ_{i+1} x̂₀ + √(1 − ᾱ_{i+1}) ε̂.
 * `sample({ method: "ddim", start: { x, index: k } })` maps it back (D³HR: k = 31 of "ddim50").
 *
 * `epsAt: "target"` evaluates ε̂ at (x_i, t_{i+1}) instead, with x̂₀ still taken at ᾱ_i: the
 * inversion loop of diffusers-based code (D³HR's released script), kept for reproducing it.
 */
import { noGrad, type Tensor } from "../engine/tensor.ts";
import type { NoisePredictor } from "./types.ts";
import { disposeLabels, makeLabels, predictEps, validateCfg } from "./predict.ts";
import { ddimReverseStep, epsFromX0, predictX0 } from "./steps.ts";
import type { DenoiseOptions } from "./sample.ts";
import { runChain } from "./chain.ts";
import * as T from "../engine/ops/mod.ts";

export interface InvertOptions extends Omit<DenoiseOptions, "guidance"> {
  /** The schedule index to invert to (1 … length − 1); 0 returns a view of x_0. */
  toIndex: number;
  /** Where ε̂ is evaluated: at the current step (default, the reference) or at the target step. */
  epsAt?: "current" | "target";
  /** Also keep the state at these indices (each ≤ toIndex), e.g. to fit statistics at several levels. */
  snapshots?: readonly number[];
}

export interface InversionResult {
  /** The state at `toIndex`, owned by the caller. */
  x: Tensor;
  /** The states at the requested snapshot indices, owned by the caller. */
  snapshots: Map<number, Tensor>;
}

export async function ddimInvert(
  model: NoisePredictor,
  x0: Tensor,
  o: InvertOptions,
): Promise<InversionResult> {
  const s = o.schedule, k = o.toIndex, n = x0.shape[0];
  if (!Number.isInteger(k) || k < 0 || k >= s.length) {
    throw new Error(`ddimInvert: toIndex ${k} is outside the schedule's [0, ${s.length})`);
  }
  if (o.labels.length !== n) throw new Error(`ddimInvert: ${o.labels.length} labels for ${n} latents`);
  const wanted = new Set(o.snapshots ?? []);
  for (const w of wanted) {
    if (!Number.isInteger(w) || w < 0 || w > k) {
      throw new Error(`ddimInvert: snapshot index ${w} is not in [0, ${k}]`);
    }
  }
  const epsAt = o.epsAt ?? "current";
  if (epsAt !== "current" && epsAt !== "target") throw new Error(`ddimInvert: unknown epsAt "${epsAt}"`);
  validateCfg(o.cfg, x0.shape[x0.rank - 1]);
  const labels = makeLabels(model, o.labels, o.cfg);
  const snapshots = new Map<number, Tensor>();
  const keep = (index: number, x: Tensor) => {
    if (wanted.has(index)) snapshots.set(index, noGrad(() => T.mul(x, 1)).keep());
  };
  try {
    keep(0, x0);
    const x = await runChain(
      "ddim inversion",
      x0,
      false,
      k,
      (xi, step) =>
        noGrad(() => {
          const a = s.alphasCumprod[step], aNext = s.alphasCumprodNext[step];
          const { eps: raw } = predictEps(
            model,
            xi,
            s.timesteps[epsAt === "current" ? step : step + 1],
            labels,
            o.cfg,
          );
          let x0Hat = predictX0(xi, raw, a), eps = raw;
          if (o.clipDenoised) {
            x0Hat = T.clamp(x0Hat, o.clipDenoised[0], o.clipDenoised[1]);
            eps = epsFromX0(xi, x0Hat, a);
          }
          const next = ddimReverseStep(aNext, { x0: x0Hat, eps });
          keep(step + 1, next);
          return next;
        }),
      o,
      (step) => `step ${step + 1} (index ${step} → ${step + 1})`,
    );
    return { x, snapshots };
  } catch (e) {
    for (const t of snapshots.values()) t.dispose();
    throw e;
  } finally {
    disposeLabels(labels);
  }
}
