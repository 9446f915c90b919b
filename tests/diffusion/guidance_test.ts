/**
 * The per-step guidance hook, with the analytic Gaussian predictor and the objective
 * J(x̂₀) = −Σ (x̂₀ − τ)² (affine gradients, so the float64 reference follows guided DDIM exactly): the
 * "x0" and "score" updates against the documented formulas, gradients through the predictor, the
 * step context, a zero hook changing nothing, and DDPM's mean guidance.
 */
import { assertClose, cpu } from "../engine/helpers.ts";
import { GaussianPredictor } from "./predictors.ts";
import { ddimChain, type Elem } from "./reference.ts";
import {
  type GuidanceContext,
  type GuidanceHook,
  linearBetas,
  makeSchedule,
  modelGuidance,
  sample,
  type SampleOptions,
  spacedSchedule,
  x0Guidance,
} from "../../diffusion/mod.ts";
import * as E from "../../engine/expr.ts";
import { inp } from "../../engine/expr.ts";
import { Rng } from "../../engine/random.ts";
import { grad } from "../../engine/autograd.ts";
import { cpu as hostData } from "../../engine/cpu/storage.ts";
import { setBackend, type Tensor, tensor } from "../../engine/tensor.ts";
import * as T from "../../engine/ops/mod.ts";
import { deepStrictEqual as eq, ok, rejects } from "node:assert";

const BASE = makeSchedule(linearBetas(1000));
const K = 2, C = 2;
const MU = [[1.0, -0.5], [-1.0, 0.8], [0.0, 0.15]];
const SIGMA = [[0.5, 0.8], [0.7, 1.3], [1.1, 1.0]];
const TARGET = 0.4;
const S = spacedSchedule(BASE, "ddim20");
const N = 6, SHAPE = [2, 2, C], LABELS = Array.from({ length: N }, (_, i) => i % K);
const model = () => new GaussianPredictor(BASE, MU, SIGMA);
const elem = (y: number, k: number): Elem => ({
  mu: MU[y][k],
  sigma: SIGMA[y][k],
  muNull: MU[K][k],
  sigmaNull: SIGMA[K][k],
});

/** J = −Σ (x − τ)², a scalar. */
const pull = (x: Tensor) => T.sumOf(E.mul(E.cst(-1), E.un("square", E.sub(inp(0), E.cst(TARGET)))), [x]);

const ddim = (extra: Partial<SampleOptions> = {}): SampleOptions => ({
  method: "ddim",
  schedule: S,
  labels: LABELS,
  sampleShape: SHAPE,
  seed: 12,
  ...extra,
});

async function run(m: GaussianPredictor, o: SampleOptions): Promise<Float32Array> {
  setBackend(cpu);
  const out = await sample(m, o);
  const d = await out.f32();
  out.dispose();
  return d;
}

async function expected(guide?: { kind: "x0" | "score"; lambda: number }): Promise<Float64Array> {
  setBackend(cpu);
  const z = new Rng(12).fork(0).normal([N, ...SHAPE]);
  const xT = await z.f32();
  z.dispose();
  const per = xT.length / N;
  return Float64Array.from(xT, (v, j) => {
    const [p, q] = ddimChain(
      S,
      S.length - 1,
      elem(LABELS[Math.floor(j / per)], j % C),
      undefined,
      guide ? { ...guide, target: TARGET } : undefined,
    );
    return p * v + q;
  });
}

const meanDistance = (x: ArrayLike<number>) =>
  Array.from(x).reduce((a, v) => a + Math.abs(v - TARGET), 0) / x.length;

Deno.test("guidance: a hook returning null or a zero update changes nothing (bit-identical)", async () => {
  const plain = await run(model(), ddim());
  const none: GuidanceHook = { guide: () => null };
  eq(await run(model(), ddim({ guidance: none })), plain);
  for (const kind of ["x0", "score"] as const) {
    const zero: GuidanceHook = {
      guide: (ctx) => kind === "x0" ? { kind, delta: T.mul(ctx.x0, 0) } : { kind, grad: T.mul(ctx.x0, 0) },
    };
    eq(await run(model(), ddim({ guidance: zero })), plain, `zero ${kind} update`);
  }
  // DDPM with a zero mean update.
  const ddpm = { ...ddim(), method: "ddpm" as const, schedule: spacedSchedule(BASE, "20") };
  const plainDdpm = await run(model(), ddpm);
  eq(
    await run(model(), { ...ddpm, guidance: { guide: (ctx) => ({ kind: "mean", grad: T.mul(ctx.x0, 0) }) } }),
    plainDdpm,
  );
});

Deno.test("guidance: an x̂₀ objective's gradient shifts x̂₀ and ε as documented and pulls samples toward its optimum", async () => {
  const lambda = 0.05;
  const plain = await run(model(), ddim());
  const got = await run(model(), ddim({ guidance: x0Guidance(pull, lambda) }));
  assertClose(got, await expected({ kind: "x0", lambda }), 2e-4, "x0 guidance vs float64 reference");
  ok(meanDistance(got) < meanDistance(plain) - 0.05, `${meanDistance(got)} vs ${meanDistance(plain)}`);
  // The direction: elements that ended far from τ unguided moved toward it (those near τ can end on
  // either side: early steps pull the then-distant x̂₀ toward τ).
  got.forEach((v, j) => {
    if (Math.abs(plain[j] - TARGET) > 0.3) {
      ok(Math.sign(TARGET - plain[j]) * (v - plain[j]) > 0, `element ${j}`);
    }
  });
  // A step-dependent scale of 0 everywhere is no guidance.
  eq(await run(model(), ddim({ guidance: x0Guidance(pull, () => 0) })), plain);
});

Deno.test("guidance: score guidance with the gradient taken through the noise predictor", async () => {
  const lambda = 0.1;
  const plain = await run(model(), ddim());
  const m = model();
  const got = await run(m, ddim({ guidance: modelGuidance(({ x0 }) => pull(x0), lambda) }));
  // ∇_{x_t} J = −2 (x̂₀ − τ) · ∂x̂₀/∂x_t: the reference multiplies by the predictor's exact Jacobian.
  assertClose(got, await expected({ kind: "score", lambda }), 2e-4, "score guidance vs float64 reference");
  eq(m.calls, S.length, "throughModel: one recorded forward per step");
  ok(meanDistance(got) < meanDistance(plain) - 0.02, `${meanDistance(got)} vs ${meanDistance(plain)}`);
  // Without throughModel the hook still works, with a second forward at each step, and the same result.
  const m2 = model();
  const twice: GuidanceHook = {
    guide: (ctx) => ({ kind: "score", grad: T.mul(ctx.gradThroughModel(({ x0 }) => pull(x0)), lambda) }),
  };
  eq(await run(m2, ddim({ guidance: twice })), got);
  eq(m2.calls, 2 * S.length);
  // Guidance through the model under CFG differentiates the guided ε.
  const withCfg = await run(
    model(),
    ddim({ cfg: { scale: 2 }, guidance: modelGuidance(({ x0 }) => pull(x0), lambda) }),
  );
  const cfgOnly = await run(model(), ddim({ cfg: { scale: 2 } }));
  ok(meanDistance(withCfg) < meanDistance(cfgOnly));
});

Deno.test("guidance: the step context carries x_t, ε̂, x̂₀, labels and the schedule's values", async () => {
  const seen: { index: number; t: number; step: number; steps: number; ab: number; abPrev: number }[] = [];
  let checked = false;
  const hook: GuidanceHook = {
    guide(ctx: GuidanceContext) {
      seen.push({
        index: ctx.index,
        t: ctx.t,
        step: ctx.step,
        steps: ctx.steps,
        ab: ctx.alphaBar,
        abPrev: ctx.alphaBarPrev,
      });
      if (ctx.step === 3) {
        // x̂₀ = (x_t − √(1−ᾱ) ε̂)/√ᾱ, checked on the host for one step (synchronous CPU reads).
        const r = (t: Tensor) => Float32Array.from(hostData(t.storage));
        const xt = r(ctx.xt), eps = r(ctx.eps), x0 = r(ctx.x0);
        const want = xt.map((v, j) => (v - Math.sqrt(1 - ctx.alphaBar) * eps[j]) / Math.sqrt(ctx.alphaBar));
        assertClose(x0, want, 1e-4, "x̂₀ in the context");
        eq(Array.from(hostData(ctx.y.storage)), LABELS);
        checked = true;
      }
      return null;
    },
  };
  await run(model(), ddim({ guidance: hook }));
  ok(checked);
  eq(seen.map((s) => s.index), Array.from({ length: S.length }, (_, k) => S.length - 1 - k));
  eq(seen.map((s) => s.t), [...S.timesteps].reverse());
  ok(seen.every((s, k) => s.step === k && s.steps === S.length));
  ok(seen.every((s) => s.ab === S.alphasCumprod[s.index] && s.abPrev === S.alphasCumprodPrev[s.index]));
  // Starting part-way: the hook sees the steps of this run only.
  seen.length = 0;
  const x = tensor(new Float32Array(N * 8), [N, ...SHAPE]);
  const out = await sample(model(), { ...ddim({ guidance: hook }), start: { x, index: 4 } });
  eq(seen.map((s) => [s.index, s.step, s.steps]), [[4, 0, 5], [3, 1, 5], [2, 2, 5], [1, 3, 5], [0, 4, 5]]);
  out.dispose();
  x.dispose();
});

Deno.test("guidance: DDPM mean guidance (μ' = μ + Σ g) pulls samples; DDIM rejects it; bad updates are named", async () => {
  const ddpm = { ...ddim(), method: "ddpm" as const, schedule: spacedSchedule(BASE, "50"), seed: 3 };
  const plain = await run(model(), ddpm);
  const mean: GuidanceHook = {
    guide(ctx) {
      // g = ∇_{x̂₀} J used as the x_t gradient (x̂₀ ≈ x_t/√ᾱ up to its noise term), scaled.
      const x0 = ctx.x0.detach().requireGrad();
      const [g] = grad(pull(x0), [x0]);
      return { kind: "mean", grad: T.mul(g, 5) };
    },
  };
  const got = await run(model(), { ...ddpm, guidance: mean });
  ok(meanDistance(got) < meanDistance(plain) - 0.02, `${meanDistance(got)} vs ${meanDistance(plain)}`);
  await rejects(
    run(model(), ddim({ guidance: { guide: (ctx) => ({ kind: "mean", grad: T.mul(ctx.x0, 0) }) } })),
    /"mean" guidance update needs DDPM/,
  );
  await rejects(
    run(model(), ddim({ guidance: { guide: () => ({ kind: "x0", delta: tensor([1, 2], [2]) }) } })),
    /x0 update of shape \[2\] for x_t \[6,2,2,2\]/,
  );
  await rejects(
    run(model(), ddim({ guidance: modelGuidance(({ x0 }) => x0, 1) })),
    /objective must be a scalar/,
  );
});
