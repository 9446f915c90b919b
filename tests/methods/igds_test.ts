/**
 * IGDS on tiny shapes. The VE objective: with λ = 0 it is MoCo's InfoNCE (checked against a plain float64
 * reference), the entropy term against a plain reference and its gradient against finite differences; the
 * estimates Î and Ĥ against plain references. The defining property: at the same seed, guidance raises
 * Î + β·Ĥ of the samples over unguided sampling (untrained smoke-recipe DiT + VAE, a random VE). The method
 * runs end to end at `smoke`, deterministic, with its VE cached and reused.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { cpu, gpu, gradCheck } from "../engine/helpers.ts";
import { setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { Rng } from "../../engine/random.ts";
import { randomResizedCrop } from "../../data/augment.ts";
import * as T from "../../engine/ops/mod.ts";
import {
  centroidKl,
  classCentroids,
  infoNce,
  informationEstimates,
  labelEntropy,
  veLoss,
} from "../../methods/igds_objective.ts";
import { VariationalEstimator } from "../../models/variational_estimator.ts";
import {
  dataCentroids,
  loadVariationalEstimator,
  trainVariationalEstimator,
  type VeRecipe,
} from "../../methods/igds_estimator.ts";
import {
  guidedCount,
  IGDS_BUDGET,
  igdsDefaults,
  type IgdsEstimator,
  igdsGuidance,
  igdsMethod,
  isGuidedStep,
  measureInformation,
  minimaxIgdsMethod,
} from "../../methods/igds.ts";
import { disposeFoundation, untrainedFoundation } from "../../baselines/latent_foundation.ts";
import { sampleLatents } from "../../models/latent_sampling.ts";
import { PaddedImages } from "../../models/generative_data.ts";
import { scaleConfig } from "../../experiments/budget.ts";
import { silentProgress } from "../../data/progress.ts";
import { tinyDataset } from "../runner/_fixtures.ts";
import { getMethod, PLANNED } from "../../methods/registry.ts";
import type { AnyMethod } from "../../methods/types.ts";

setBackend(gpu);

const unitRows = (rng: Rng, n: number, d: number): Float32Array => {
  const u = rng.hostUniform(n * d).map((v) => v - 0.5);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += u[i * d + j] ** 2;
    for (let j = 0; j < d; j++) u[i * d + j] /= Math.sqrt(s);
  }
  return u;
};

/** Plain float64 MoCo InfoNCE: mean_i −log(exp(q·k/τ) / (exp(q·k/τ) + Σ_j exp(q·queue_j/τ))). */
function refInfoNce(
  q: Float32Array,
  k: Float32Array,
  queue: Float32Array,
  n: number,
  kq: number,
  d: number,
  tau: number,
) {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const dot = (a: Float32Array, ai: number) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += q[i * d + j] * a[ai * d + j];
      return s / tau;
    };
    const logits = [dot(k, i), ...Array.from({ length: kq }, (_, j) => dot(queue, j))];
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, l) => s + Math.exp(l - m), 0));
    total += lse - logits[0];
  }
  return total / n;
}

const softmaxRow = (z: ArrayLike<number>, at: number, d: number, tau: number) => {
  const row = Array.from({ length: d }, (_, j) => z[at * d + j] / tau);
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** Plain KL(P_i ‖ Q_{y_i}) rows. */
function refKl(z: Float32Array, cent: Float32Array, labels: Int32Array, d: number, tau: number): number[] {
  return Array.from(labels, (y, i) => {
    const p = softmaxRow(z, i, d, tau);
    return p.reduce((s, pj, j) => s + pj * (Math.log(pj) - Math.log(cent[y * d + j])), 0);
  });
}

Deno.test("igds VE objective: λ = 0 is MoCo's InfoNCE (plain float64 reference), on CPU and WebGPU", async () => {
  const rng = new Rng(3);
  const n = 6, kq = 10, d = 8, tau = 0.07;
  const q = unitRows(rng.fork(1), n, d),
    k = unitRows(rng.fork(2), n, d),
    queue = unitRows(rng.fork(3), kq, d);
  const want = refInfoNce(q, k, queue, n, kq, d, tau);
  for (const b of [cpu, gpu]) {
    setBackend(b);
    const got = tidy(() => {
      const args = { q: tensor(q, [n, d]), k: tensor(k, [n, d]), queue: tensor(queue, [kq, d]) };
      const l = veLoss({
        ...args,
        labels: new Int32Array(n),
        centroids: tensor(new Float32Array(2 * d).fill(1 / d), [2, d]),
      }, {
        tau,
        lambda: 0,
      });
      ok(l.entropy === null, "λ = 0 has no entropy term");
      return [l.loss, infoNce(args.q, args.k, args.queue, tau)];
    });
    const [a, c] = [await got[0].item(), await got[1].item()];
    got.forEach((t) => t.dispose());
    ok(Math.abs(a - want) < 1e-3 * (1 + want), `${b.name}: veLoss(λ=0) ${a} vs reference ${want}`);
    ok(Math.abs(c - want) < 1e-3 * (1 + want), `${b.name}: infoNce ${c} vs reference ${want}`);
  }
  setBackend(gpu);
});

Deno.test("igds VE objective: λ > 0 subtracts λ·mean KL(P_q ‖ Q_y) (plain reference)", async () => {
  const rng = new Rng(4);
  const n = 6, kq = 5, d = 4, tau = 0.5, lambda = 0.3;
  const q = unitRows(rng.fork(1), n, d),
    k = unitRows(rng.fork(2), n, d),
    queue = unitRows(rng.fork(3), kq, d);
  const labels = Int32Array.from([0, 1, 0, 1, 1, 0]);
  const cent = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.4, 0.1]);
  const kl = refKl(q, cent, labels, d, tau);
  const want = refInfoNce(q, k, queue, n, kq, d, tau) - lambda * kl.reduce((a, b) => a + b, 0) / n;
  const t = tidy(() =>
    veLoss({
      q: tensor(q, [n, d]),
      k: tensor(k, [n, d]),
      queue: tensor(queue, [kq, d]),
      labels,
      centroids: tensor(cent, [2, d]),
    }, { tau, lambda }).loss
  );
  const got = await t.item();
  t.dispose();
  ok(Math.abs(got - want) < 1e-4 * (1 + Math.abs(want)), `veLoss ${got} vs reference ${want}`);
});

Deno.test("igds: the entropy term's and the batch-centroid Ĥ's gradients match finite differences", async () => {
  const rng = new Rng(5);
  const n = 5, d = 4, tau = 0.5;
  const labels = Int32Array.from([0, 1, 1, 0, 1]);
  const cent = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.4, 0.1]);
  const z = { data: rng.hostUniform(n * d).map((v) => 2 * v - 1), shape: [n, d] };
  await gradCheck(cpu, ([x]) => T.sum(centroidKl(x, tau, tensor(cent, [2, d]), labels)), [z], {
    eps: 1e-2,
    tol: 2e-2,
    what: "centroidKl",
  });
  const logits = { data: rng.fork(2).hostUniform(n * 2), shape: [n, 2] };
  await gradCheck(
    cpu,
    ([x, l]) => {
      const e = informationEstimates(x, l, labels, { tau, centroids: "batch", labelEntropy: Math.log(2) });
      return T.add(e.mi, T.mul(e.condEntropy, 0.7));
    },
    [z, logits],
    { eps: 1e-2, tol: 2e-2, what: "Î + 0.7·Ĥ (batch centroids)" },
  );
  setBackend(gpu);
});

Deno.test("igds: Î = H(Y) − mean CE and Ĥ = mean KL(P ‖ Q_y), data and batch centroids (plain references)", async () => {
  const rng = new Rng(6);
  const n = 6, d = 4, c = 3, tau = 0.3;
  const labels = Int32Array.from([0, 1, 2, 0, 1, 1]);
  const z = rng.hostUniform(n * d).map((v) => 2 * v - 1),
    lg = rng.fork(1).hostUniform(n * c).map((v) => 3 * v);
  const cent = Float32Array.from({ length: c * d }, (_, i) => (1 + (i % d)) / 10);
  const hy = labelEntropy([2, 3, 1]);
  const ce = Array.from(labels, (y, i) => -Math.log(softmaxRow(lg, i, c, 1)[y]));
  const wantMi = hy - ce.reduce((a, b) => a + b, 0) / n;
  const wantH = refKl(z, cent, labels, d, tau).reduce((a, b) => a + b, 0) / n;
  // Batch centroids: Q_y = mean of the batch's P rows of class y.
  const bc = new Float32Array(c * d), counts = [0, 0, 0];
  labels.forEach((y, i) => {
    counts[y]++;
    softmaxRow(z, i, d, tau).forEach((p, j) => (bc[y * d + j] += p));
  });
  bc.forEach((_, k) => (bc[k] /= counts[Math.floor(k / d)]));
  const wantHb = refKl(z, bc, labels, d, tau).reduce((a, b) => a + b, 0) / n;
  const [mi, h, hb, cc] = tidy(() => {
    const zt = tensor(z, [n, d]), lt = tensor(lg, [n, c]);
    const e = informationEstimates(zt, lt, labels, {
      tau,
      centroids: tensor(cent, [c, d]),
      labelEntropy: hy,
    });
    const eb = informationEstimates(zt, lt, labels, { tau, centroids: "batch", labelEntropy: hy });
    return [e.mi, e.condEntropy, eb.condEntropy, classCentroids(zt, tau, labels, c)];
  });
  const near = (a: number, b: number, what: string) =>
    ok(Math.abs(a - b) < 1e-4 * (1 + Math.abs(b)), `${what}: ${a} vs ${b}`);
  near(await mi.item(), wantMi, "Î");
  near(await h.item(), wantH, "Ĥ (data centroids)");
  near(await hb.item(), wantHb, "Ĥ (batch centroids)");
  const got = await cc.f32();
  bc.forEach((v, k) => near(got[k], v, `centroid ${k}`));
  for (const t of [mi, h, hb, cc]) t.dispose();
  near(labelEntropy([5, 5, 5, 5]), Math.log(4), "H(Y) of a uniform prior");
});

const tinyRecipe = (o: Partial<VeRecipe> = {}): VeRecipe => ({
  width: 8,
  depth: 2,
  featureDim: 16,
  epochs: 3,
  images: null,
  batch: 8,
  lr: 0.03,
  momentum: 0.9,
  queue: 16,
  tau: 0.2,
  lambda: 0.5,
  centroidMomentum: 0.9,
  classifierEpochs: 100,
  seed: 0,
  ...o,
});

Deno.test("igds VE: training improves instance discrimination and fits the classifier; the cache reloads the same weights", async () => {
  const dir = await Deno.makeTempDir();
  const prev = Deno.env.get("DD_CACHE");
  Deno.env.set("DD_CACHE", dir);
  const dataset = tinyDataset("mnist", 4, 1);
  const f = untrainedFoundation(dataset, 0);
  try {
    const a = await loadVariationalEstimator(dataset, f.images, tinyRecipe());
    ok(!a.cached, "first load trains");
    ok(a.log.steps === 3 * Math.floor(40 / 8), `steps ${a.log.steps}`);
    ok(Number.isFinite(a.log.lastEntropy) && a.log.lastEntropy > 0, `entropy term ${a.log.lastEntropy}`);
    // Ten classes (chance 0.1) of four images each, after 15 encoder steps.
    ok(a.log.classifierAccuracy > 0.3, `classifier accuracy on its features ${a.log.classifierAccuracy}`);
    const b = await loadVariationalEstimator(dataset, f.images, tinyRecipe());
    ok(b.cached, "second load reads the cache");
    eq(b.log, a.log);
    const wa = await Promise.all(a.ve.parameters().map((p) => p.f32()));
    const wb = await Promise.all(b.ve.parameters().map((p) => p.f32()));
    wa.forEach((w, i) => ok(w.every((v, j) => v === wb[i][j]), `parameter ${i} reloaded exactly`));
    // A corrupted entry is retrained, not trusted.
    await Deno.writeFile(a.path, new TextEncoder().encode("not a safetensors file"));
    const c = await loadVariationalEstimator(dataset, f.images, tinyRecipe());
    ok(!c.cached, "a corrupt cache entry is retrained");
    for (const x of [a, b, c]) x.ve.dispose();
    // Training teaches instance discrimination: on fixed views of the 40 images, each query finds its own
    // key among all keys better than before training (λ = 0). (The logged InfoNCE itself may rise while
    // the queue's random initial keys are replaced by harder real ones.)
    // Distinct instances (random 8 px patterns; the fixture's images of a class are near copies).
    const u = new Rng(21).hostUniform(40 * 64);
    const images = new PaddedImages(
      {
        images: Uint8Array.from(u, (v) => Math.floor(v * 256)),
        labels: Int32Array.from({ length: 40 }, (_, i) => i % 10),
        count: 40,
      },
      1,
      f.images.size,
    );
    const ve = new VariationalEstimator(new Rng(0), a.ve.cfg);
    const idx = Int32Array.from({ length: 40 }, (_, i) => i);
    const discrimination = async () => {
      const t = tidy(() => {
        const x = images.batch(idx), r = new Rng(77);
        const q = ve.encoder.forward(randomResizedCrop(x, r.fork(1), [0.4, 1], false));
        const k = ve.encoder.forward(randomResizedCrop(x, r.fork(2), [0.4, 1], false));
        return infoNce(q, k, k, 0.2);
      });
      const v = await t.item();
      t.dispose();
      return v;
    };
    ve.eval();
    const before = await discrimination();
    await trainVariationalEstimator(ve, images, idx, tinyRecipe({ epochs: 12, lambda: 0 }), true);
    const after = await discrimination();
    ok(after < before - 0.1, `instance discrimination InfoNCE falls: ${before} → ${after}`);
    ve.dispose();
  } finally {
    disposeFoundation(f);
    if (prev === undefined) Deno.env.delete("DD_CACHE");
    else Deno.env.set("DD_CACHE", prev);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("igds: guidance raises Î + β·Ĥ of the samples over unguided sampling at the same seed", async () => {
  const dataset = tinyDataset("mnist", 4, 1);
  const f = untrainedFoundation(dataset, 0);
  const ve = new VariationalEstimator(new Rng(9), {
    channels: 1,
    imageSize: f.images.size,
    classes: 10,
    width: 8,
    depth: 2,
    featureDim: 8,
  }).eval();
  ve.encoder.activation = { kind: "softplus", beta: 5 };
  const idx = Int32Array.from({ length: f.images.count }, (_, i) => i);
  const beta = 0.5;
  try {
    for (const centroids of ["data", "batch"] as const) {
      const cent: Tensor | "batch" = centroids === "data"
        ? dataCentroids(ve.encoder, f.images, idx, 0.5, 10)
        : "batch";
      const est: IgdsEstimator = { ve, centroids: cent, tau: 0.5, beta };
      const labels = [0, 0, 1, 1, 2, 2];
      const run = (scale: number, on: "x0" | "model", guidedSteps: number | null = null) =>
        sampleLatents(f.dit, f.latentShape, labels, {
          method: "ddim",
          steps: "ddim3",
          cfgScale: 1,
          seed: 4,
          ...(scale === 0 ? {} : {
            guidance: (c: { labels: number[] }) =>
              igdsGuidance(f.vae, est, c.labels, { scale, on, guidedSteps }),
          }),
        });
      const y = Int32Array.from(labels);
      const score = async (s: number, on: "x0" | "model", guidedSteps: number | null = null) => {
        const m = await measureInformation(f.vae, est, await run(s, on, guidedSteps), y);
        return { ...m, j: m.mi + beta * m.condEntropy };
      };
      const plain = await score(0, "x0");
      const guided = await score(3, "x0");
      const throughModel = centroids === "data" ? await score(3, "model") : guided;
      // quick's schedule: guidance at some steps only (here the last of the three).
      const lastOnly = await score(3, "x0", 1);
      ok(Number.isFinite(plain.j) && Number.isFinite(guided.j), `${centroids}: finite estimates`);
      ok(guided.j > plain.j, `${centroids}: guided on x̂₀ Î+βĤ ${guided.j} > unguided ${plain.j}`);
      ok(lastOnly.j > plain.j, `${centroids}: guided at the last step ${lastOnly.j} > unguided ${plain.j}`);
      ok(
        throughModel.j > plain.j,
        `${centroids}: guided through the DiT ${throughModel.j} > unguided ${plain.j}`,
      );
      if (cent !== "batch") cent.dispose();
    }
  } finally {
    ve.dispose();
    disposeFoundation(f);
  }
});

Deno.test("igds: guidedSteps guides evenly spaced steps back from the last; quick guides 2 of its 10, the others all", () => {
  const at = (g: number | null) =>
    Array.from({ length: 10 }, (_, k) => k).filter((k) => isGuidedStep(k, 10, g));
  eq(at(null), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  eq(at(10), at(null));
  eq(at(12), at(null));
  eq(at(1), [9]);
  eq(at(2), [4, 9]);
  eq(at(3), [1, 5, 9]);
  eq(at(5), [1, 3, 5, 7, 9]);
  for (const g of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) ok(guidedCount(10, g) <= g && guidedCount(10, g) >= 1);
  eq(guidedCount(10, null), 10);
  eq(igdsDefaults("fashion-mnist", 10).guidedSteps, null);
  for (const m of [igdsMethod, minimaxIgdsMethod] as AnyMethod[]) {
    const quick = scaleConfig(m, m.defaults("fashion-mnist", 10), "quick", 10);
    eq([quick.guidedSteps, quick.steps], [2, "ddim10"]);
    for (const p of ["smoke", "proxy", "paper"] as const) {
      eq(scaleConfig(m, m.defaults("fashion-mnist", 10), p, 10).guidedSteps, null, `${m.id} at ${p}`);
    }
  }
});

Deno.test("igds, minimax+igds: registered, not planned; the smoke profile scales the VE; the method runs deterministically", async () => {
  ok(!("igds" in PLANNED), "igds is no longer planned");
  eq(getMethod("igds").implemented, true);
  eq(getMethod("minimax+igds").implemented, true);
  eq(igdsDefaults("mnist", 1).beta < igdsDefaults("mnist", 50).beta, true);
  ok(IGDS_BUDGET.keys.veEpochs === "trainEpochs");
  const dir = await Deno.makeTempDir();
  const prev = Deno.env.get("DD_CACHE");
  Deno.env.set("DD_CACHE", dir);
  try {
    const dataset = tinyDataset("mnist", 4, 1);
    for (const m of [igdsMethod, minimaxIgdsMethod] as AnyMethod[]) {
      const scaled = scaleConfig(m, m.defaults("mnist", 1), "smoke", 1);
      eq(scaled.foundation, "untrained");
      ok(
        scaled.veEpochs === 1 && scaled.veImages === 200 && scaled.veBatch === 16,
        `smoke VE budget: ${JSON.stringify(scaled)}`,
      );
      ok(
        scaled.veQueue === 200 && scaled.veMomentum < 0.999,
        `smoke VE queue/momentum: ${JSON.stringify(scaled)}`,
      );
      // A narrower VE with a shorter probe keeps the test short (smoke has no width knob).
      const config = { ...scaled, veWidth: 16, veClassifierEpochs: 2 };
      const run = (seed: number) =>
        m.distill({ dataset, ipc: 1, seed, config, profile: "smoke", progress: silentProgress });
      const a = await run(0), b = await run(0);
      eq(a.set.shape, [10, 1, 8, 8]);
      eq(a.set.meta.method, m.id);
      ok(a.set.images.every((v, i) => v === b.set.images[i]), `${m.id}: same seed, same images`);
      eq(b.metrics.veCached, 1);
      ok(Number.isFinite(a.metrics.miEstimate) && Number.isFinite(a.metrics.condEntropyEstimate));
    }
  } finally {
    if (prev === undefined) Deno.env.delete("DD_CACHE");
    else Deno.env.set("DD_CACHE", prev);
    await Deno.remove(dir, { recursive: true });
  }
});
