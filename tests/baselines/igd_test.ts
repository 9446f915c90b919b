/**
 * IGD on tiny shapes. The influence score (mean over checkpoints of the cosine between a sample's CE
 * gradient and the real data's mean gradient) and the real gradients against a plain TypeScript twin on a
 * linear softmax surrogate, the score's input gradient (second order) against finite differences, the
 * x̂₀ update's effect on x_{t−1}, and the defining property: at the same seed, influence guidance raises
 * the samples' influence score and deviation guidance lowers their within-class similarity, sampling the
 * analytic two-Gaussian noise predictor with an untrained ConvNet surrogate.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { setBackend, type Tensor, tensor } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import { Rng } from "../../engine/random.ts";
import * as T from "../../engine/ops/mod.ts";
import { applyGuidance, linearBetas, makeSchedule } from "../../diffusion/mod.ts";
import { ddimStep, ddpmStep } from "../../diffusion/steps.ts";
import { sampleLatents, samplerSchedule } from "../../models/latent_sampling.ts";
import { ConvNet, type ConvNetConfig } from "../../models/convnet.ts";
import { convnetForward } from "../../baselines/functional_convnet.ts";
import { scaleConfig } from "../../experiments/budget.ts";
import type { AnyMethod } from "../../methods/types.ts";
import { silentProgress } from "../../data/progress.ts";
import { tinyDataset } from "../runner/_fixtures.ts";
import { GaussianPredictor } from "../diffusion/predictors.ts";
import {
  deviationFor,
  igdDefaults,
  igdGuidance,
  igdMethod,
  influenceScores,
  minimaxIgdDefaults,
  minimaxIgdMethod,
  realGradients,
  type Surrogate,
  x0ShiftGain,
} from "../../baselines/igd.ts";

setBackend(gpu);

// ---- a linear softmax surrogate and its plain-TS twin ----------------------------------------------

const K = 3, D = 4; // classes, features
const linear = (checkpoints: Tensor[][]): Surrogate => ({
  forward: (p, x) => T.add(T.matmul(x, p[0], { transB: true }), p[1]),
  checkpoints,
  source: "test",
  dispose: () => checkpoints.flat().forEach((t) => t.dispose()),
});

/** ∇_(W, b) CE of one row under W [K, D], b [K], flattened as [W…, b…]. */
function refGrad(w: Float32Array, b: Float32Array, x: ArrayLike<number>, y: number): number[] {
  const z = Array.from(
    { length: K },
    (_, k) => b[k] + Array.from(x).reduce((s, v, d) => s + v * w[k * D + d], 0),
  );
  const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), s = e.reduce((a, v) => a + v, 0);
  const p = e.map((v) => v / s);
  const gz = p.map((v, k) => v - (k === y ? 1 : 0));
  return [...gz.flatMap((g) => Array.from(x, (v) => g * v)), ...gz];
}
const cos = (a: number[], b: number[]) => {
  const dot = a.reduce((s, v, i) => s + v * b[i], 0);
  return dot / (Math.hypot(...a) * Math.hypot(...b));
};

function linearCase(seed: number) {
  const r = new Rng(seed);
  const host = [0, 1].map((k) => ({
    w: Float32Array.from(r.fork(k).hostUniform(K * D), (v) => v * 2 - 1),
    b: Float32Array.from(r.fork(10 + k).hostUniform(K), (v) => v - 0.5),
  }));
  const surrogate = linear(host.map((h) => [tensor(h.w, [K, D]).keep(), tensor(h.b, [K]).keep()]));
  return { host, surrogate };
}

Deno.test("igd: real gradients are the mean CE gradient over all images at every checkpoint (plain TS twin)", async () => {
  const { host, surrogate } = linearCase(1);
  const xs = Float32Array.from(new Rng(2).hostUniform(5 * D), (v) => v * 2 - 1);
  const real = realGradients(surrogate, tensor(xs, [5, D]), 2, 2); // chunks 2, 2, 1
  for (const [k, h] of host.entries()) {
    const want = new Array(K * D + K).fill(0);
    for (let i = 0; i < 5; i++) {
      refGrad(h.w, h.b, xs.subarray(i * D, (i + 1) * D), 2).forEach((g, j) => (want[j] += g / 5));
    }
    const got = [...await real[k][0].f32(), ...await real[k][1].f32()];
    got.forEach((g, j) =>
      ok(Math.abs(g - want[j]) < 1e-5, `checkpoint ${k}, entry ${j}: ${g} vs ${want[j]}`)
    );
  }
  real.flat().forEach((t) => t.dispose());
  surrogate.dispose();
});

Deno.test("igd: influence scores are the mean cosine to the real gradients per row (plain TS twin); finite differences", async () => {
  const { host, surrogate } = linearCase(3);
  const r = new Rng(4);
  const G = host.map((_, k) => Array.from(r.fork(k).hostUniform(K * D + K), (v) => v - 0.5));
  const real = G.map((g) => [tensor(g.slice(0, K * D), [K, D]).keep(), tensor(g.slice(K * D), [K]).keep()]);
  const xs = Float32Array.from(r.fork(9).hostUniform(3 * D), (v) => v * 2 - 1);
  const labels = Int32Array.from([0, 2, 1]);
  const got = await influenceScores(surrogate, tensor(xs, [3, D]), labels, real).f32();
  const ref = (x: Float32Array) =>
    Array.from(
      labels,
      (y, i) =>
        host.reduce((s, h, k) => s + cos(refGrad(h.w, h.b, x.subarray(i * D, (i + 1) * D), y), G[k]), 0) /
        host.length,
    );
  const want = ref(xs);
  got.forEach((v, i) => ok(Math.abs(v - want[i]) < 1e-5, `row ${i}: ${v} vs ${want[i]}`));
  // ∇_x Σ_r score_r (second order through the surrogate's gradient) against central differences.
  const leaf = tensor(xs, [3, D]).requireGrad();
  const [g] = grad(T.sum(influenceScores(surrogate, leaf, labels, real)), [leaf]);
  const analytic = await g.f32();
  ok(analytic.every(Number.isFinite), "finite gradient");
  const h = 1e-3;
  for (let j = 0; j < xs.length; j++) {
    const up = Float32Array.from(xs), dn = Float32Array.from(xs);
    up[j] += h;
    dn[j] -= h;
    const fd = (ref(up).reduce((a, v) => a + v, 0) - ref(dn).reduce((a, v) => a + v, 0)) / (2 * h);
    ok(Math.abs(fd - analytic[j]) < 1e-3 + 1e-2 * Math.abs(fd), `∂/∂x[${j}]: ${analytic[j]} vs ${fd}`);
  }
  real.flat().forEach((t) => t.dispose());
  surrogate.dispose();
});

Deno.test("igd: an x̂₀ update of δ / gain moves x_{t−1} by δ (DDIM and DDPM)", async () => {
  const r = new Rng(5);
  const xt = r.fork(0).normal([2, 3]),
    delta = T.mul(r.fork(1).normal([2, 3]), 0.1),
    z = r.fork(2).normal([2, 3]);
  for (const [method, s] of [["ddim", samplerSchedule("ddim10")], ["ddpm", samplerSchedule("50")]] as const) {
    for (const i of [3, 7]) {
      const a = s.alphasCumprod[i];
      const eps = T.mul(r.fork(3).normal([2, 3]), 1);
      const x0 = T.div(T.sub(xt, T.mul(eps, Math.sqrt(1 - a))), Math.sqrt(a));
      const gain = x0ShiftGain(method, a, s.alphasCumprodPrev[i]);
      const u = applyGuidance({ kind: "x0", delta: T.mul(delta, 1 / gain) }, { x0, eps, alphaBar: a });
      const step = (p: { x0: Tensor; eps: Tensor }) =>
        method === "ddim"
          ? ddimStep(s, i, 0, { x0: p.x0, eps: p.eps, z: null })
          : ddpmStep(s, i, { xt, x0: p.x0, v: null, z, variance: "fixed-small" });
      const [before, after, d] = [await step({ x0, eps }).f32(), await step(u).f32(), await delta.f32()];
      after.forEach((v: number, k: number) =>
        ok(Math.abs(v - before[k] - d[k]) < 1e-4, `${method} i=${i}: ${v - before[k]} vs ${d[k]}`)
      );
    }
  }
});

// ---- the defining property --------------------------------------------------------------------------

const base = makeSchedule(linearBetas(1000));
/** Two classes with per-channel means ±1.5 (2 channels), σ 0.5; the null class in between. */
const twoClasses = () =>
  new GaussianPredictor(base, [[1.5, -1.5], [-1.5, 1.5], [0, 0]], [[0.5, 0.5], [0.5, 0.5], [1.6, 1.6]], true);
const NET: ConvNetConfig = {
  channels: 2,
  classes: 2,
  imageSize: 4,
  width: 4,
  depth: 1,
  norm: "instancenorm",
  act: "relu",
  pool: "avgpooling",
};

function convSurrogate(): Surrogate {
  const checkpoints = [0, 1].map((k) =>
    new ConvNet(new Rng(40 + k), NET).parameters().map((p) => p.detach().keep())
  );
  return {
    forward: (p, x) => convnetForward(NET, p, x),
    checkpoints,
    source: "untrained ConvNets",
    dispose: () => checkpoints.flat().forEach((t) => t.dispose()),
  };
}

/** Class-0-like latents: channel means 1.5 / −1.5, σ 0.5. */
function realLatents(n: number, seed: number): Tensor {
  const u = new Rng(seed).normal([n, 4, 4, 2]);
  return T.add(T.mul(u, 0.5), tensor([1.5, -1.5], [2]));
}

async function guidedSample(
  over: Partial<ReturnType<typeof igdDefaults>>,
  rows: number,
  memory: Tensor | null,
  surrogate: Surrogate,
  real: Tensor[][],
) {
  const cfg = {
    ...igdDefaults(),
    sampler: "ddim" as const,
    steps: "ddim20",
    cfgScale: 4,
    window: [0, 999] as [number, number],
    ...over,
  };
  return await sampleLatents(twoClasses(), [4, 4, 2], new Array(rows).fill(0), {
    method: "ddim",
    steps: cfg.steps,
    cfgScale: cfg.cfgScale,
    seed: 11,
    guidance: () =>
      igdGuidance({ cfg, surrogate, real, toInput: (x) => x, labels: new Int32Array(rows).fill(0), memory }),
  });
}

const meanScore = async (s: Surrogate, z: Float32Array, n: number, real: Tensor[][]) => {
  const v = await influenceScores(s, tensor(z, [n, 4, 4, 2]), new Int32Array(n), real).f32();
  return v.reduce((a, b) => a + b, 0) / n;
};

Deno.test("igd: influence guidance raises the samples' influence score over unguided sampling at the same seed", async () => {
  const surrogate = convSurrogate();
  // The target: class-0 gradients of latents unlike the class's samples (channel means swapped), so
  // unguided samples are far from aligned and guidance has room.
  const real = realGradients(surrogate, T.neg(realLatents(32, 7)), 0);
  const n = 6;
  const plain = await guidedSample({ influenceScale: 0, deviationScale: 0 }, n, null, surrogate, real);
  // k = 5 moves each element by 0.0075·√(1 − ᾱ)·rms(ε̂) per step: too little to see over 20 steps of a
  // toy; a larger k shows the direction.
  const guided = await guidedSample({ influenceScale: 2000, deviationScale: 0 }, n, null, surrogate, real);
  const [a, b] = [
    await meanScore(surrogate, plain.data, n, real),
    await meanScore(surrogate, guided.data, n, real),
  ];
  ok(guided.data.every(Number.isFinite), "finite samples");
  ok(b > a + 0.05, `influence score: guided ${b} vs unguided ${a}`);
  real.flat().forEach((t) => t.dispose());
  surrogate.dispose();
});

Deno.test("igd: deviation guidance lowers the samples' similarity to the class's memory and to each other", async () => {
  const surrogate = convSurrogate();
  const real = realGradients(surrogate, realLatents(8, 7), 0);
  const memory = T.reshape(realLatents(4, 8), [4, 32]).keep();
  const n = 5;
  const simOf = async (z: Float32Array) => {
    const m = await memory.f32();
    const rows = Array.from({ length: n }, (_, i) => Array.from(z.subarray(i * 32, (i + 1) * 32)));
    const bank = [...Array.from({ length: 4 }, (_, j) => Array.from(m.subarray(j * 32, (j + 1) * 32)))];
    // Each row's greatest cosine to the memory and the rows before it, averaged.
    return rows.reduce(
      (s, r, i) => s + Math.max(...[...bank, ...rows.slice(0, i)].map((b) => cos(r, b))),
      0,
    ) / n;
  };
  const plain = await guidedSample({ influenceScale: 0, deviationScale: 0 }, n, memory, surrogate, real);
  // γ is for 4096-element latents (deviationFor): 32 elements take γ·32/4096 per unit of ∇cos.
  const gamma = 4096 * 0.5;
  eq(deviationFor(gamma, 32), 16);
  const guided = await guidedSample({ influenceScale: 0, deviationScale: gamma }, n, memory, surrogate, real);
  const [a, b] = [await simOf(plain.data), await simOf(guided.data)];
  ok(b < a - 0.02, `greatest within-class cosine: guided ${b} vs unguided ${a}`);
  memory.dispose();
  real.flat().forEach((t) => t.dispose());
  surrogate.dispose();
});

Deno.test("igd / minimax+igd: the methods give IPC labelled images per class, deterministic in the seed, with the surrogate recorded", async () => {
  const dataset = tinyDataset("mnist", 4, 1);
  // Narrow surrogate, few real images, one guided step of smoke's five (timestep 800).
  const small = { surrogateWidth: 8, gradIpc: 4, surrogateImages: 20, window: [700, 900] };
  const methods: [AnyMethod, Record<string, unknown>][] = [
    [igdMethod, igdDefaults()],
    [minimaxIgdMethod, minimaxIgdDefaults()],
  ];
  for (const [method, defaults] of methods) {
    const config = { ...scaleConfig(method, defaults, "smoke", 2), ...small };
    eq(config.surrogateModel, "convnet3", "smoke's extractor");
    eq(config.surrogateCheckpoints, [0, 1], "epochs 0, 5, 16, 40 of 50 at 1 epoch");
    const run = (seed: number) =>
      method.distill({ dataset, ipc: 1, seed, config, profile: "smoke", progress: silentProgress });
    const a = await run(0);
    eq(a.set.shape, [10, 1, 8, 8]);
    eq(Array.from(a.set.labels), Array.from({ length: 10 }, (_, i) => i));
    // Determinism once (the two methods share the sampler).
    if (method === igdMethod) {
      const b = await run(0);
      ok(a.set.images.every((v: number, i: number) => v === b.set.images[i]), "same seed, same images");
    }
    ok(
      a.set.meta.extra.surrogate.startsWith("MTT expert cache: convnet3 width 8"),
      a.set.meta.extra.surrogate,
    );
    ok(a.metrics.guidedSteps > 0, `${method.id}: guided steps ${a.metrics.guidedSteps}`);
  }
});
