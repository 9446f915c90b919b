/**
 * End to end with a learned predictor: a small MLP (engine ops, WebGPU) trained with `diffusionLoss`
 * (hybrid loss, learned variance) on three 2-D Gaussian classes, then sampled with DDIM and DDPM: the
 * samples land at their own class. Seconds, not minutes: 150 Adam steps on 256-point batches.
 */
import { gpu } from "../engine/helpers.ts";
import {
  diffusionLoss,
  linearBetas,
  makeSchedule,
  type NoisePredictor,
  sample,
  spacedSchedule,
} from "../../diffusion/mod.ts";
import { Adam } from "../../engine/optim.ts";
import { Rng } from "../../engine/random.ts";
import { noGrad, setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import * as T from "../../engine/ops/mod.ts";
import { ok } from "node:assert";

const K = 3, SIGMA = 0.25;
const MU = [[1.5, 0], [-0.75, 1.3], [-0.75, -1.3]];
const FREQS = [1 / 1000, 1 / 300, 1 / 100, 1 / 30, 1 / 10];

/** ε̂ and v from [x, sin/cos(t·f), one-hot(y)] through three dense layers. */
class Mlp implements NoisePredictor {
  readonly numClasses = K;
  readonly learnSigma = true;
  readonly params: Tensor[];
  constructor(rng: Rng, width = 64) {
    const din = 2 + 2 * FREQS.length + K + 1;
    const dense = (i: number, o: number) => [
      rng.normal([i, o], 0, Math.sqrt(1 / i)).keep().requireGrad(),
      tensor(new Float32Array(o), [o]).keep().requireGrad(),
    ];
    this.params = [...dense(din, width), ...dense(width, width), ...dense(width, 4)];
  }

  predict(xt: Tensor, t: Tensor, y: Tensor): Tensor {
    const n = xt.shape[0];
    const tf = T.mul(T.reshape(t, [n, 1]), tensor(FREQS, [1, FREQS.length]));
    const h0 = T.concat([T.reshape(xt, [n, 2]), T.sin(tf), T.cos(tf), T.oneHot(y, K + 1)], 1);
    const [w1, b1, w2, b2, w3, b3] = this.params;
    const h1 = T.silu(T.add(T.matmul(h0, w1), b1));
    const h2 = T.silu(T.add(T.matmul(h1, w2), b2));
    return T.reshape(T.add(T.matmul(h2, w3), b3), [n, 1, 1, 4]);
  }
}

Deno.test("learned predictor: an MLP trained with the hybrid loss samples its classes (DDIM and DDPM)", async () => {
  setBackend(gpu);
  const base = makeSchedule(linearBetas(1000));
  const rng = new Rng(2024);
  const net = new Mlp(rng.fork(0));
  const opt = new Adam(net.params, { lr: 3e-3 });
  const batch = 256, steps = 150;
  const mu = tensor(MU.flat(), [K, 2]);
  let first = NaN, last = NaN;
  for (let it = 0; it < steps; it++) {
    const r = rng.fork(1 + it);
    const labels = Int32Array.from(r.hostUniform(batch), (u) => Math.min(K - 1, Math.floor(u * K)));
    const loss = tidy(() => {
      const y = tensor(labels, [batch], "i32");
      const x0 = T.reshape(T.add(T.gather(mu, y), r.normal([batch, 2], 0, SIGMA)), [batch, 1, 1, 2]);
      const l = diffusionLoss(net, base, x0, y, r).loss;
      const g = grad(l, net.params);
      noGrad(() => opt.step(g));
      return l.detach();
    });
    if (it === 0 || it === steps - 1 || it % 50 === 0) {
      const v = await loss.item();
      if (it === 0) first = v;
      last = v;
      ok(Number.isFinite(v), `loss at step ${it}`);
    }
    loss.dispose();
  }
  ok(last < 0.6 * first, `training should lower the loss: ${first} → ${last}`);
  const labels = Array.from({ length: 150 }, (_, i) => i % K);
  for (const [method, spec] of [["ddim", "ddim50"], ["ddpm", "100"]] as const) {
    const out = await sample(net, {
      method,
      schedule: spacedSchedule(base, spec),
      labels,
      sampleShape: [1, 1, 2],
      seed: 5,
      syncEvery: 0,
    });
    const x = await out.f32();
    out.dispose();
    // Each sample's nearest class mean is its own label.
    let right = 0;
    labels.forEach((y, i) => {
      const d = MU.map(([a, b]) => (x[2 * i] - a) ** 2 + (x[2 * i + 1] - b) ** 2);
      if (d.indexOf(Math.min(...d)) === y) right++;
    });
    ok(right / labels.length >= 0.9, `${method}: ${right}/${labels.length} samples nearest their class`);
  }
  net.params.forEach((p) => p.dispose());
  opt.dispose();
  mu.dispose();
});
