/**
 * DDPM (ancestral) and DDIM sampling over a (respaced) schedule, with classifier-free guidance, the
 * per-step guidance hook, and starting from any step (e.g. from DDIM-inverted latents). Follows
 * guided-diffusion's p_sample / ddim_sample step for step; see steps.ts for the update rules and
 * guidance.ts for the hook's.
 *
 * Randomness: x_T and the noise of step i come from independent streams of the seed (x_T: fork 0;
 * step i: fork 1 + i, i the schedule index), so the same seed gives bit-identical samples, and a run
 * started at step k draws the same per-step noise as a full run does at those steps.
 */
import { Rng } from "../engine/random.ts";
import { noGrad, type Tensor } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import * as T from "../engine/ops/mod.ts";
import type { NoisePredictor } from "./types.ts";
import type { Schedule } from "./schedule.ts";
import {
  type CfgOptions,
  disposeLabels,
  type Labels,
  makeLabels,
  predictEps,
  validateCfg,
} from "./predict.ts";
import { ddimStep, ddpmStep, epsFromX0, predictX0, type VarianceChoice } from "./steps.ts";
import {
  applyGuidance,
  type GuidanceContext,
  type GuidanceHook,
  type GuidanceUpdate,
  scalarObjective,
  type StepInfo,
} from "./guidance.ts";
import { type ChainOptions, runChain } from "./chain.ts";

export interface DenoiseOptions extends ChainOptions {
  /** The (respaced) schedule to step through, e.g. `spacedSchedule(base, "ddim50")`. */
  schedule: Schedule;
  /** Class of each row, 0..numClasses (numClasses = the null class: unconditional rows). */
  labels: ArrayLike<number>;
  cfg?: CfgOptions;
  /** Clamp x̂₀ to [lo, hi] (pixel-space models use [-1, 1]; DiT samples latents unclipped: default off). */
  clipDenoised?: readonly [number, number];
  guidance?: GuidanceHook;
}

export interface SampleOptions extends DenoiseOptions {
  method: "ddpm" | "ddim";
  /** Shape of one sample, [h, w, c] (ignored when `start` is given). */
  sampleShape?: readonly number[];
  seed: number;
  /** DDIM's η (default 0: deterministic). */
  eta?: number;
  /** DDPM's reverse variance (default: "learned" for a learnSigma model, else DiT's "fixed-large"). */
  variance?: VarianceChoice;
  /**
   * Start from x at schedule index `index` (denoise index, index−1, …, 0) instead of from x_T ~ N(0, I)
   * at the last index. The caller keeps ownership of `x`.
   */
  start?: { x: Tensor; index: number };
}

/** Model evaluation at one step: ε̂, v and x̂₀ (clipped, with ε̂ re-derived from the clipped x̂₀). */
export interface StepPrediction {
  eps: Tensor;
  x0: Tensor;
  v: Tensor | null;
}

export function predictStep(
  model: NoisePredictor,
  xt: Tensor,
  s: Schedule,
  i: number,
  labels: Labels,
  o: Pick<DenoiseOptions, "cfg" | "clipDenoised">,
): StepPrediction {
  const a = s.alphasCumprod[i];
  const { eps, v } = predictEps(model, xt, s.timesteps[i], labels, o.cfg);
  const raw = predictX0(xt, eps, a);
  if (!o.clipDenoised) return { eps, x0: raw, v };
  const x0 = T.clamp(raw, o.clipDenoised[0], o.clipDenoised[1]);
  return { eps: epsFromX0(xt, x0, a), x0, v };
}

/**
 * Evaluates the model at step i and lets the hook guide: returns the (possibly guided) ε̂, x̂₀, v and
 * a mean-guidance gradient. Shared by the samplers; runs inside the step's tidy scope.
 */
export function guidedStep(
  model: NoisePredictor,
  xt: Tensor,
  i: number,
  info: StepInfo,
  labels: Labels,
  o: DenoiseOptions,
): StepPrediction & { meanGrad: Tensor | null } {
  const s = o.schedule, hook = o.guidance;
  const forward = (x: Tensor) => predictStep(model, x, s, i, labels, o);
  // The forward as a differentiable function of a fresh leaf x_t (for gradients through the model).
  const withGrad = () => {
    const leaf = xt.detach().requireGrad();
    return { leaf, out: forward(leaf) };
  };
  const recorded = hook?.throughModel?.(info) ? withGrad() : null;
  const out = recorded
    ? { eps: recorded.out.eps.detach(), x0: recorded.out.x0.detach(), v: recorded.out.v?.detach() ?? null }
    : noGrad(() => forward(xt));
  if (!hook) return { ...out, meanGrad: null };
  const ctx: GuidanceContext = {
    ...info,
    xt,
    y: labels.y,
    alphaBar: s.alphasCumprod[i],
    alphaBarPrev: s.alphasCumprodPrev[i],
    eps: out.eps,
    x0: out.x0,
    gradThroughModel(objective) {
      const r = recorded ?? withGrad();
      const j = scalarObjective(objective({ x0: r.out.x0, eps: r.out.eps, xt: r.leaf }));
      return grad(j, [r.leaf])[0];
    },
  };
  const u = hook.guide(ctx) ?? null;
  if (!u) return { ...out, meanGrad: null };
  checkUpdate(u, xt);
  if (u.kind === "mean") return { ...out, meanGrad: u.grad };
  return {
    ...noGrad(() => applyGuidance(u, { x0: out.x0, eps: out.eps, alphaBar: ctx.alphaBar })),
    v: out.v,
    meanGrad: null,
  };
}

function checkUpdate(u: GuidanceUpdate, xt: Tensor): void {
  if (!["x0", "score", "mean"].includes(u.kind)) {
    throw new Error(`guidance hook returned an update of unknown kind "${(u as { kind: string }).kind}"`);
  }
  const g = u.kind === "x0" ? u.delta : u.grad;
  if (g.rank !== xt.rank || g.shape.some((d, i) => d !== xt.shape[i])) {
    throw new Error(`guidance hook returned a ${u.kind} update of shape [${g.shape}] for x_t [${xt.shape}]`);
  }
}

function checkIndex(s: Schedule, index: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= s.length) {
    throw new Error(`${what}: step index ${index} is outside the schedule's [0, ${s.length})`);
  }
}

/**
 * Samples one image (latent) per label. Returns x_0 [n, h, w, c], owned by the caller. Deterministic
 * given the seed (and the model).
 */
export async function sample(model: NoisePredictor, o: SampleOptions): Promise<Tensor> {
  const s = o.schedule, n = o.labels.length;
  if (n === 0) throw new Error("sample: no labels given (one sample per label)");
  const eta = o.eta ?? 0;
  if (o.method !== "ddpm" && o.method !== "ddim") throw new Error(`sample: unknown method "${o.method}"`);
  if (!(eta >= 0)) throw new Error(`sample: DDIM's eta must be ≥ 0, got ${o.eta}`);
  if (o.method === "ddpm" && o.eta !== undefined) throw new Error("sample: eta applies to DDIM only");
  const variance = o.variance ?? (model.learnSigma ? "learned" : "fixed-large");
  if (variance === "learned" && !model.learnSigma) {
    throw new Error("sample: the learned variance needs a model with learnSigma");
  }
  const startIndex = o.start?.index ?? s.length - 1;
  checkIndex(s, startIndex, "sample");
  const rng = new Rng(o.seed);
  let x: Tensor;
  if (o.start) {
    x = o.start.x;
    if (x.shape[0] !== n) throw new Error(`sample: start has ${x.shape[0]} rows for ${n} labels`);
  } else {
    const shape = o.sampleShape;
    if (!shape || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(
        `sample: sampleShape must be the positive [h, w, c] of one sample, got [${shape ?? ""}]`,
      );
    }
    x = rng.fork(0).normal([n, ...shape]);
  }
  validateCfg(o.cfg, x.shape[x.rank - 1]);
  if (o.clipDenoised && !(o.clipDenoised[0] < o.clipDenoised[1])) {
    throw new Error(`sample: clipDenoised must be [lo, hi] with lo < hi, got [${o.clipDenoised}]`);
  }
  const labels = makeLabels(model, o.labels, o.cfg);
  const steps = startIndex + 1;
  try {
    return await runChain(
      `${o.method} sampling`,
      x,
      !o.start,
      steps,
      (xt, k) => {
        const i = startIndex - k;
        const info: StepInfo = { index: i, t: s.timesteps[i], step: k, steps };
        const p = guidedStep(model, xt, i, info, labels, o);
        const noise = () => rng.fork(1 + i).normal(xt.shape);
        return noGrad(() => {
          if (o.method === "ddpm") {
            return ddpmStep(s, i, {
              xt,
              x0: p.x0,
              v: p.v,
              z: noise(),
              variance,
              ...(p.meanGrad ? { meanGrad: p.meanGrad } : {}),
            });
          }
          if (p.meanGrad) {
            throw new Error('ddim: a "mean" guidance update needs DDPM\'s variance; use "score"');
          }
          return ddimStep(s, i, eta, { x0: p.x0, eps: p.eps, z: eta > 0 ? noise() : null });
        });
      },
      o,
      (k) => `step ${k + 1} (index ${startIndex - k}, t = ${s.timesteps[startIndex - k]})`,
    );
  } finally {
    disposeLabels(labels);
  }
}
