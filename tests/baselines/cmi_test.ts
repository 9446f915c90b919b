/** CMI regularizer: the empirical CMI value, its image gradient, and `dc+cmi` lowering it. */
import { ok } from "node:assert";
import { scaleConfig } from "../../experiments/budget.ts";
import { gpu } from "../engine/helpers.ts";
import { noGrad, setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import { Rng } from "../../engine/random.ts";
import { ConvNet } from "../../models/convnet.ts";
import {
  type CmiConfig,
  cmiFromOutputs,
  cmiLoss,
  cmiValue,
  dcCmiMethod,
  defaultLambda,
  dmCmiMethod,
  dsaCmiMethod,
  idcCmiMethod,
} from "../../methods/cmi.ts";
import type { DcConfig } from "../../baselines/dc.ts";
import { silentProgress } from "../../data/progress.ts";
import { tinyDataset } from "../runner/_fixtures.ts";

setBackend(gpu);

const tinyNet = (seed: number) =>
  new ConvNet(new Rng(seed), {
    channels: 1,
    classes: 10,
    imageSize: 8,
    width: 4,
    depth: 1,
    norm: "instancenorm",
    act: "relu",
    pool: "avgpooling",
  });

async function scalar(t: Tensor): Promise<number> {
  try {
    return await t.item();
  } finally {
    t.dispose();
  }
}

Deno.test("cmi: equals a hand computation (non-contiguous classes, a singleton class)", async () => {
  const rowsHost = [[1, 2, 3], [0, 0, 1], [3, 1, 0]];
  const labels = Int32Array.from([0, 1, 0]);
  const softmax = (r: number[]) => {
    const e = r.map(Math.exp), s = e.reduce((a, b) => a + b);
    return e.map((v) => v / s);
  };
  const p0 = softmax(rowsHost[0]), p2 = softmax(rowsHost[2]);
  const q = p0.map((v, i) => (v + p2[i]) / 2);
  const kl = (p: number[]) => p.reduce((s, v, i) => s + v * Math.log(v / q[i]), 0);
  const hand = (kl(p0) + kl(p2)) / 3;
  const got = await scalar(tidy(() => cmiFromOutputs(tensor(rowsHost.flat(), [3, 3]), labels)));
  ok(Math.abs(got - hand) < 1e-6, `cmi ${got} vs hand ${hand}`);
});

Deno.test("cmi: ~0 for identical images per class, positive otherwise; the gradient reaches the images", async () => {
  const net = tinyNet(3);
  const labels = Int32Array.from([0, 0, 0, 1, 1, 1]);
  const base = await noGrad(() => new Rng(9).normal([6, 8, 8, 1])).f32();
  const same = Float32Array.from(base);
  // Every class's images equal its first one.
  for (const c of [0, 3]) for (let k = 1; k < 3; k++) same.copyWithin((c + k) * 64, c * 64, c * 64 + 64);
  const xs = tensor(same, [6, 8, 8, 1]), xd = tensor(base, [6, 8, 8, 1]);
  const zero = await cmiValue(net, xs, labels, "feature");
  const pos = await cmiValue(net, xd, labels, "feature");
  const posProb = await cmiValue(net, xd, labels, "probability");
  ok(Math.abs(zero) < 1e-6, `identical images: cmi ${zero}`);
  ok(pos > 1e-6 && posProb > 0, `distinct images: cmi ${pos} / ${posProb}`);
  // Autodiff vs central differences on the largest-gradient pixels.
  const g = tidy(() => {
    const x = tensor(base, [6, 8, 8, 1]).requireGrad();
    return grad(cmiLoss(net, x, labels, "feature"), [x])[0];
  });
  const gv = await g.f32();
  g.dispose();
  ok(Math.hypot(...gv) > 1e-6, "image gradient is zero");
  const at = async (v: Float32Array) => {
    const t = tensor(v, [6, 8, 8, 1]);
    const r = await cmiValue(net, t, labels, "feature");
    t.dispose();
    return r;
  };
  const order = Array.from(gv.keys()).sort((a, b) => Math.abs(gv[b]) - Math.abs(gv[a])).slice(0, 2);
  for (const p of order) {
    const eps = 1e-2;
    const up = Float32Array.from(base), dn = Float32Array.from(base);
    up[p] += eps;
    dn[p] -= eps;
    const fd = (await at(up) - await at(dn)) / (2 * eps);
    ok(
      Math.abs(fd - gv[p]) <= 0.05 * Math.abs(gv[p]) + 1e-5,
      `pixel ${p}: autodiff ${gv[p]} vs FD ${fd}`,
    );
  }
  xs.dispose();
  xd.dispose();
  net.dispose();
});

Deno.test("cmi: λ defaults follow protocols.md §9 with documented fallbacks", () => {
  ok(defaultLambda("dsa", "cifar100", 50) === 20_000, "dsa cifar100 50");
  ok(defaultLambda("dm", "svhn", 10) === 18_000, "dm svhn 10");
  ok(defaultLambda("dc", "mnist", 10) === 50_000, "dc mnist → cifar10");
  ok(defaultLambda("dm", "tiny-imagenet", 50) === 500, "dm tiny → cifar100");
  ok(defaultLambda("idm", "cifar10", 10) === 8_000, "idm → dm");
  const d = dsaCmiMethod.defaults("cifar10", 10);
  ok(d.cmiLambda === 50_000 && d.cmiExtractor === "resnet18" && d.outerLoop === 10, "merged defaults");
  ok(dsaCmiMethod.schema.safeParse(d).success, "defaults validate");
  ok(!dsaCmiMethod.schema.safeParse({ ...d, bogus: 1 }).success, "strict");
  const q = scaleConfig(dsaCmiMethod, d, "quick", 10);
  ok(
    q.cmiExtractor === "convnet3" && q.cmiPoolSize === 2 && q.iterations === 10 && q.outerLoop === 2,
    "quick scaling",
  );
  ok(dcCmiMethod.id === "dc+cmi" && dsaCmiMethod.id === "dsa+cmi", "ids");
  // DM and DSA narrow their nets at quick and raise their image lr by k; λ falls by k so λ·lr stays the
  // paper's. The ConvNet-3 extractor replacing ResNet-18 measures CMI 0.1045/0.0016 times larger (Table
  // 10), and λ falls by that too.
  const extractorScale = 0.0016 / 0.1045;
  const lrKept = (paper: { lrImg: number; cmiLambda: number }, quick: typeof paper, what: string) => {
    ok(quick.lrImg / paper.lrImg > 2, `${what}: image lr raised`);
    const want = paper.cmiLambda * paper.lrImg * extractorScale;
    ok(Math.abs(quick.cmiLambda * quick.lrImg - want) < 1e-6 * want, what);
  };
  const dm = dmCmiMethod.defaults("cifar10", 10);
  lrKept(dm, scaleConfig(dmCmiMethod, dm, "quick", 10), "dm+cmi λ·lr");
  lrKept(d, q, "dsa+cmi λ·lr");
  ok(scaleConfig(dmCmiMethod, dm, "paper", 10).cmiLambda === dm.cmiLambda, "paper λ untouched");
  ok(scaleConfig(dsaCmiMethod, d, "paper", 10).cmiLambda === d.cmiLambda, "paper λ untouched");
  // Kept extractors, class-probability space and untrained extractors keep λ (only the lr factor).
  const k = dm.lrImg / scaleConfig(dmCmiMethod, dm, "quick", 10).lrImg;
  for (
    const c of [
      { ...dm, cmiExtractor: "convnet3" },
      { ...dm, cmiSpace: "probability" as const },
      { ...dm, cmiPretrained: false },
    ]
  ) {
    const q = scaleConfig(dmCmiMethod, c, "quick", 10).cmiLambda;
    ok(
      Math.abs(q - c.cmiLambda * k) < 1e-6 * q,
      `λ ${q} for ${c.cmiExtractor}/${c.cmiSpace}/${c.cmiPretrained}`,
    );
  }
});

Deno.test("dc+cmi: a large λ lowers the set's CMI (cmiEnd < cmiStart), deterministic", async () => {
  const cache = await Deno.makeTempDir({ prefix: "ddrepro-cmi-" });
  Deno.env.set("DD_CACHE", cache);
  try {
    const dataset = tinyDataset("mnist", 12, 2);
    const m = dcCmiMethod;
    const config: DcConfig & CmiConfig = {
      ...scaleConfig(m, m.defaults("mnist", 3), "smoke", 3),
      width: 4,
      batchReal: 8,
      iterations: 3,
      cmiLambda: 1e4,
    };
    const run = () =>
      m.distill({ dataset, ipc: 3, seed: 1, config, profile: "smoke", progress: silentProgress });
    const a = await run();
    const { cmiStart, cmiEnd } = a.metrics;
    ok(Number.isFinite(cmiStart) && cmiStart > 0, `cmiStart ${cmiStart}`);
    ok(cmiEnd < cmiStart, `cmiEnd ${cmiEnd} !< cmiStart ${cmiStart}`);
    ok(a.set.meta.method === "dc+cmi" && a.set.meta.extra.cmiExtractor === "convnet3", "meta");
    // The second run loads the pool from the cache and reproduces the set.
    const b = await run();
    ok(a.set.images.every((v, i) => v === b.set.images[i]), "same seed, same images");
    ok(b.metrics.cmiEnd === cmiEnd, "same cmiEnd");
  } finally {
    Deno.env.delete("DD_CACHE");
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("cmi: untrained-extractor ablation runs without a cache", async () => {
  const dataset = tinyDataset("mnist", 12, 2);
  const m = dsaCmiMethod;
  const config = {
    ...scaleConfig(m, m.defaults("mnist", 2), "smoke", 2),
    width: 4,
    batchReal: 8,
    iterations: 1,
    cmiPretrained: false,
    cmiSpace: "probability" as const,
  };
  const r = await m.distill({ dataset, ipc: 2, seed: 0, config, profile: "smoke", progress: silentProgress });
  ok(
    Number.isFinite(r.metrics.cmiEnd) && r.metrics.cmiFeatureDim === 10,
    "probability space over classes",
  );
});

Deno.test("idc+cmi: cmiStart is the whole initial set's CMI, though IDC updates one class at a time", async () => {
  const dataset = tinyDataset("mnist", 12, 2);
  const m = idcCmiMethod;
  const config = {
    ...scaleConfig(m, m.defaults("mnist", 2), "smoke", 2),
    factor: 1,
    width: 4,
    batchReal: 4,
    iterations: 1,
    innerSteps: 1,
    netEpochs: 0,
    // Images that do not move: the start value must then equal the end value (the whole set).
    lrImg: 1e-30,
    cmiPretrained: false,
    cmiLambda: 0,
  };
  const r = await m.distill({ dataset, ipc: 2, seed: 0, config, profile: "smoke", progress: silentProgress });
  const { cmiStart, cmiEnd } = r.metrics;
  ok(Number.isFinite(cmiStart) && cmiEnd > 0, `cmiStart ${cmiStart}, cmiEnd ${cmiEnd}`);
  ok(Math.abs(cmiStart - cmiEnd) <= 1e-5 * cmiEnd, `cmiStart ${cmiStart} vs whole set ${cmiEnd}`);
});
