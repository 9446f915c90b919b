/**
 * The training loss against a float64 hand computation of the reference formulas on a tiny batch
 * (one sample at t = 0, where the bound is the discretized decoder NLL, one at t = 500, a KL), and its
 * gradients against finite differences, including that the bound does not train the ε output.
 */
import { assertBackendsAgree, assertClose, cpu, gpu, gradCheck, randn } from "../engine/helpers.ts";
import { LinearPredictor } from "./predictors.ts";
import { diffusionLoss, dropLabels, predictX0At, trainingLosses } from "../../diffusion/loss.ts";
import { linearBetas, makeSchedule, type Schedule } from "../../diffusion/schedule.ts";
import { setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import { Rng } from "../../engine/random.ts";
import { deepStrictEqual as eq, ok, throws } from "node:assert";

const S = makeSchedule(linearBetas(1000));
const N = 2, H = 1, W = 2, C = 2, K = 3;
const X0 = Float32Array.from([1.2, -1.5, 0.3, -0.2, 0.5, -0.7, 0.1, 0.9]);
const NOISE = randn(N * H * W * C, 11);
const Y = [2, 0];
const TS = [0, 500];
const P = {
  wEps: randn(C * C, 1, 0.5),
  eEps: randn((K + 1) * C, 2, 0.5),
  sEps: randn(C, 3),
  wV: randn(C * C, 4, 0.5),
  eV: randn((K + 1) * C, 5, 0.5),
  sV: randn(C, 6),
};
const SHAPES = { wEps: [C, C], eEps: [K + 1, C], sEps: [C], wV: [C, C], eV: [K + 1, C], sV: [C] };
type Key = keyof typeof P;

function predictor(learnSigma: boolean, leaves: Partial<Record<Key, Tensor>> = {}): LinearPredictor {
  const get = (k: Key) => leaves[k] ?? tensor(P[k], SHAPES[k]);
  return new LinearPredictor(K, learnSigma, {
    wEps: get("wEps"),
    eEps: get("eEps"),
    sEps: get("sEps"),
    wV: get("wV"),
    eV: get("eV"),
    sV: get("sV"),
  });
}

function losses(learnSigma: boolean, leaves: Partial<Record<Key, Tensor>> = {}) {
  return trainingLosses(
    predictor(learnSigma, leaves),
    S,
    tensor(X0, [N, H, W, C]),
    tensor(Y, [N], "i32"),
    { t: TS, noise: tensor(NOISE, [N, H, W, C]) },
  );
}

/** The reference's formulas in float64: improved-diffusion's training_losses with MSE + learned range. */
function handLoss(s: Schedule): { mse: number; vb: number } {
  const cdf = (x: number) => 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  let mse = 0, vb = 0;
  const d = H * W * C;
  for (let r = 0; r < N; r++) {
    const t = TS[r], ab = s.alphasCumprod[t];
    for (let p = 0; p < H * W; p++) {
      const at = (k: number) => r * d + p * C + k;
      const xt = [0, 1].map((k) => Math.sqrt(ab) * X0[at(k)] + Math.sqrt(1 - ab) * NOISE[at(k)]);
      const head = (w: Float32Array, e: Float32Array, sv: Float32Array, k: number) =>
        xt[0] * w[0 * C + k] + xt[1] * w[1 * C + k] + e[Y[r] * C + k] + (t / 1000) * sv[k];
      for (let k = 0; k < C; k++) {
        const eps = head(P.wEps, P.eEps, P.sEps, k), v = head(P.wV, P.eV, P.sV, k);
        const x0 = X0[at(k)];
        mse += (NOISE[at(k)] - eps) ** 2;
        const m1 = s.posteriorMeanCoef1[t] * x0 + s.posteriorMeanCoef2[t] * xt[k];
        const x0hat = Math.sqrt(1 / ab) * xt[k] - Math.sqrt(1 / ab - 1) * eps;
        const m2 = s.posteriorMeanCoef1[t] * x0hat + s.posteriorMeanCoef2[t] * xt[k];
        const frac = (v + 1) / 2, minLog = s.posteriorLogVarianceClipped[t];
        const lv2 = frac * Math.log(s.betas[t]) + (1 - frac) * minLog;
        if (t > 0) {
          vb += 0.5 * (-1 + lv2 - minLog + Math.exp(minLog - lv2) + (m1 - m2) ** 2 * Math.exp(-lv2));
        } else {
          const inv = Math.exp(-0.5 * lv2), c = x0 - m2;
          const plus = cdf(inv * (c + 1 / 255)), minus = cdf(inv * (c - 1 / 255));
          const lp = x0 < -0.999
            ? Math.log(Math.max(plus, 1e-12))
            : x0 > 0.999
            ? Math.log(Math.max(1 - minus, 1e-12))
            : Math.log(Math.max(plus - minus, 1e-12));
          vb -= lp;
        }
      }
    }
  }
  return { mse: mse / (N * d), vb: vb / (N * d * Math.LN2) };
}

Deno.test("diffusion loss: L_simple and the hybrid VLB term equal a float64 hand computation", async () => {
  setBackend(cpu);
  const want = handLoss(S);
  ok(want.vb > 0 && want.mse > 0);
  const got = tidy(() => {
    const l = losses(true);
    return [l.loss, l.mse, l.vb!];
  });
  const [loss, mse, vb] = await Promise.all(got.map((t) => t.item()));
  got.forEach((t) => t.dispose());
  assertClose([mse], [want.mse], 1e-5, "mse");
  assertClose([vb], [want.vb], 1e-4, "vb (bits/dim)");
  assertClose([loss], [want.mse + want.vb], 1e-4, "loss = mse + vb");
  const plain = tidy(() => losses(false));
  eq(plain.vb, null);
  eq(plain.loss, plain.mse);
  assertClose([await plain.mse.item()], [want.mse], 1e-5, "mse without learnSigma");
  plain.mse.dispose();
  await assertBackendsAgree(() => losses(true).loss, 1e-4, "loss on WebGPU vs CPU");
  // x̂₀ from the true noise recovers x_0 at each sample's own step.
  setBackend(cpu);
  const x0Hat = tidy(() => {
    const l = losses(false);
    return predictX0At(S, l.xt, tensor(NOISE, [N, H, W, C]), TS);
  });
  assertClose(await x0Hat.f32(), X0, 1e-4, "predictX0At with the true noise");
  x0Hat.dispose();
});

Deno.test("diffusion loss: gradients match finite differences; the bound does not reach the ε output", async () => {
  const vKeys: Key[] = ["wV", "eV", "sV"], epsKeys: Key[] = ["wEps", "eEps", "sEps"];
  const leaves = (keys: Key[], xs: Tensor[]) => Object.fromEntries(keys.map((k, i) => [k, xs[i]]));
  const inputs = (keys: Key[]) => keys.map((k) => ({ data: P[k], shape: SHAPES[k] }));
  for (const b of [cpu, gpu]) {
    // v's parameters do not touch ε, so finite differences of the whole loss are the hybrid gradient.
    await gradCheck(b, (xs) => losses(true, leaves(vKeys, xs)).loss, inputs(vKeys), {
      what: `hybrid loss / v params (${b.name})`,
      eps: 1e-3,
    });
    await gradCheck(b, (xs) => losses(true, leaves(epsKeys, xs)).mse, inputs(epsKeys), {
      what: `mse / ε params (${b.name})`,
    });
  }
  setBackend(cpu);
  // ε's parameters get exactly the MSE's gradient from the hybrid loss (ε is detached in the bound).
  const [gl, gm] = tidy(() => {
    const xs = epsKeys.map((k) => tensor(P[k], SHAPES[k]).requireGrad());
    const l = losses(true, leaves(epsKeys, xs));
    return [grad(l.loss, xs), grad(l.mse, xs)];
  });
  for (let i = 0; i < gl.length; i++) assertClose(await gl[i].f32(), await gm[i].f32(), 0, epsKeys[i]);
  // …while the bound itself does depend on ε (so the detach is what keeps it out).
  const perturbed = { ...P, eEps: P.eEps.map((v) => v + 0.1) };
  const shifted = tidy(() => {
    const l = trainingLosses(
      new LinearPredictor(K, true, {
        wEps: tensor(perturbed.wEps, SHAPES.wEps),
        eEps: tensor(perturbed.eEps, SHAPES.eEps),
        sEps: tensor(perturbed.sEps, SHAPES.sEps),
        wV: tensor(P.wV, SHAPES.wV),
        eV: tensor(P.eV, SHAPES.eV),
        sV: tensor(P.sV, SHAPES.sV),
      }),
      S,
      tensor(X0, [N, H, W, C]),
      tensor(Y, [N], "i32"),
      { t: TS, noise: tensor(NOISE, [N, H, W, C]) },
    );
    return l.vb!;
  });
  ok(Math.abs((await shifted.item()) - handLoss(S).vb) > 1e-3, "the bound should depend on the ε output");
});

Deno.test("diffusion loss: seeded t and noise are reproducible and validated", async () => {
  setBackend(cpu);
  const run = async (seed: number) => {
    const r = tidy(() => {
      const out = diffusionLoss(
        predictor(true),
        S,
        tensor(X0, [N, H, W, C]),
        tensor(Y, [N], "i32"),
        new Rng(seed),
      );
      return { loss: out.loss, t: out.t };
    });
    return { loss: await r.loss.item(), t: [...r.t] };
  };
  // CFG label dropout: about p of the labels become the null class, reproducibly.
  const ys = Int32Array.from({ length: 4000 }, (_, i) => i % K);
  const dropped = dropLabels(ys, K, 0.1, new Rng(3));
  eq(dropped, dropLabels(ys, K, 0.1, new Rng(3)));
  const nulls = dropped.filter((y) => y === K).length;
  ok(nulls > 330 && nulls < 470, `${nulls} of 4000 dropped at p = 0.1`);
  ok(dropped.every((y, i) => y === K || y === ys[i]));
  const a = await run(5), b = await run(5), c = await run(6);
  eq(a, b);
  ok(a.t.every((t) => t >= 0 && t < 1000));
  ok(a.loss !== c.loss || a.t.join() !== c.t.join());
  throws(
    () =>
      tidy(() =>
        trainingLosses(predictor(false), S, tensor(X0, [N, H, W, C]), tensor(Y, [N], "i32"), {
          t: [0, 1000],
          noise: tensor(NOISE, [N, H, W, C]),
        })
      ),
    /timestep 1000 is outside \[0, 1000\)/,
  );
  throws(
    () =>
      tidy(() =>
        trainingLosses(predictor(false), S, tensor(X0, [N, H, W, C]), tensor([1, 2], [N]), {
          t: TS,
          noise: tensor(NOISE, [N, H, W, C]),
        })
      ),
    /labels must be i32/,
  );
  // A predictor returning the wrong number of channels is named with the expected shape.
  throws(
    () =>
      tidy(() =>
        trainingLosses(predictor(true), S, tensor(X0, [N, H, W, C]), tensor(Y, [N], "i32"), {
          t: TS,
          noise: tensor(NOISE, [N, H, W, C]),
        }) && trainingLosses(
          { numClasses: K, learnSigma: true, predict: (x) => x },
          S,
          tensor(X0, [N, H, W, C]),
          tensor(Y, [N], "i32"),
          { t: TS, noise: tensor(NOISE, [N, H, W, C]) },
        )
      ),
    /expected \[2,1,2,4\]/,
  );
});
