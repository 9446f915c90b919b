/** Coresets: herding's and k-center's greedy rules on the same trained features, forgetting counts. */
import { ok } from "node:assert";
import { scaleConfig } from "../../experiments/budget.ts";
import { gpu } from "../engine/helpers.ts";
import { setBackend } from "../../engine/tensor.ts";
import { herdingMethod, herdingSelect } from "../../baselines/herding.ts";
import { kcenterMethod, kcenterSelect } from "../../baselines/kcenter.ts";
import {
  type ForgettingConfig,
  forgettingCounts,
  forgettingMethod,
  mostForgotten,
} from "../../baselines/forgetting.ts";
import {
  candidatesByClass,
  type CoresetFeatureConfig,
  embedRows,
  featureNet,
} from "../../baselines/coreset_features.ts";
import type { DistillResult, MethodDef } from "../../methods/types.ts";
import { silentProgress } from "../../data/progress.ts";
import { tinyDataset } from "../runner/_fixtures.ts";

setBackend(gpu);
// The feature network is trained once into a throw-away cache.
Deno.env.set("DD_CACHE", await Deno.makeTempDir({ prefix: "dd-coreset-test-" }));

const dist2 = (f: Float32Array, i: number, v: ArrayLike<number>, d: number) => {
  let s = 0;
  for (let k = 0; k < d; k++) s += (f[i * d + k] - v[k]) ** 2;
  return s;
};

Deno.test("herding: picks follow the closest-to-(k+1)μ − Σ rule (hand example)", () => {
  // 1-D features 0, 1, 2, 10: μ = 3.25 → first 2 (|2 − 3.25| smallest); then 6.5 − 2 = 4.5 → 2 is
  // taken, so 1 (3.5 away) vs 10 (5.5) → 1; then 9.75 − 3 = 6.75 → 10.
  const f = Float32Array.from([0, 1, 2, 10]);
  ok(herdingSelect(f, 4, 1, 3).join() === "2,1,3", `herding ${herdingSelect(f, 4, 1, 3)}`);
});

Deno.test("k-center: each pick maximises the minimum distance to the picks so far (hand example)", () => {
  const f = Float32Array.from([0, 0, 1, 0, 10, 0, 5, 5, 9, 1]); // 5 points in 2-D
  // From point 0: farthest is (10,0) = 2; then min distances: (1,0) 1, (5,5) 50 vs 50, (9,1) 2 → 3.
  ok(kcenterSelect(f, 5, 2, 3, 0).join() === "0,2,3", `k-center ${kcenterSelect(f, 5, 2, 3, 0)}`);
});

// One full-batch step per epoch: the fewest shapes to compile for the width-128 feature net.
const featTiny = (m: MethodDef<CoresetFeatureConfig>): CoresetFeatureConfig => ({
  ...scaleConfig(m, m.defaults("mnist", 2), "smoke", 2),
  featureBatchSize: 256,
});

async function run<C>(m: MethodDef<C>, config: C, ipc: number, seed: number): Promise<DistillResult> {
  const dataset = tinyDataset("mnist", 12, 2);
  return await m.distill({ dataset, ipc, seed, config, profile: "smoke", progress: silentProgress });
}

/** The same trained features the methods use, per class (positions = candidate order). */
async function classFeatures(cfg: CoresetFeatureConfig, seed: number) {
  const dataset = tinyDataset("mnist", 12, 2);
  const pools = candidatesByClass(dataset, cfg.candidatesPerClass, seed);
  const net = await featureNet(dataset, cfg);
  try {
    const feats = [];
    for (const p of pools) feats.push(await embedRows(net, dataset, p));
    return { pools, feats, d: net.embedDim };
  } finally {
    net.dispose();
  }
}

Deno.test("herding: the first pick of each class is its sample closest to the class mean", async () => {
  const cfg = featTiny(herdingMethod);
  const { set, metrics } = await run(herdingMethod, cfg, 2, 7);
  ok(metrics.selected === 20, `selected ${metrics.selected}`);
  const picked = set.meta.extra.indices.split(",").map(Number);
  const { pools, feats, d } = await classFeatures(cfg, 7);
  for (let c = 0; c < 10; c++) {
    const f = feats[c], n = pools[c].length;
    const mu = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mu[k] += f[i * d + k] / n;
    let best = 0;
    for (let i = 1; i < n; i++) if (dist2(f, i, mu, d) < dist2(f, best, mu, d)) best = i;
    ok(
      picked[2 * c] === pools[c][best],
      `class ${c}: first pick ${picked[2 * c]}, closest ${pools[c][best]}`,
    );
  }
});

Deno.test("kcenter: the second pick of each class is the sample farthest from the first", async () => {
  const cfg = featTiny(kcenterMethod);
  const { set } = await run(kcenterMethod, cfg, 2, 7);
  const picked = set.meta.extra.indices.split(",").map(Number);
  const { pools, feats, d } = await classFeatures(cfg, 7);
  for (let c = 0; c < 10; c++) {
    const f = feats[c], pool = Array.from(pools[c]);
    const first = pool.indexOf(picked[2 * c]);
    ok(first >= 0, `class ${c}: first pick is a class-${c} candidate`);
    const row = f.subarray(first * d, (first + 1) * d);
    let far = 0;
    for (let i = 1; i < pool.length; i++) if (dist2(f, i, row, d) > dist2(f, far, row, d)) far = i;
    ok(
      picked[2 * c + 1] === pool[far],
      `class ${c}: second pick ${picked[2 * c + 1]}, farthest ${pool[far]}`,
    );
  }
});

Deno.test("forgetting: events are correct→incorrect transitions; never-learned samples rank first", () => {
  const h = (rows: string[]) => rows.map((r) => Uint8Array.from(r, (ch) => Number(ch)));
  // Samples (columns): 0 learned and kept; 1 forgotten twice; 2 never learned; 3 forgotten once;
  // 4 learned only at the last epoch (0 events).
  const counts = forgettingCounts(h(["11010", "10010", "11000", "10010", "10011"]));
  ok(Array.from(counts).join() === "0,2,Infinity,1,0", `counts ${Array.from(counts)}`);
  const tie = Int32Array.from([4, 3, 2, 1, 0]);
  ok(mostForgotten(counts, 3, tie).join() === "2,1,3", `most forgotten ${mostForgotten(counts, 3, tie)}`);
  // Ties (samples 0 and 4 have 0 events) follow the seeded order.
  ok(mostForgotten(counts, 5, tie).join() === "2,1,3,4,0", "ties in the given order");
});

const forgetTiny = (): ForgettingConfig => ({
  ...scaleConfig(forgettingMethod, forgettingMethod.defaults("mnist", 2), "smoke", 2),
  width: 4,
  epochs: 3,
  batchSize: 16,
});

for (
  const [name, m, cfg] of [
    ["herding", herdingMethod, () => featTiny(herdingMethod)],
    ["kcenter", kcenterMethod, () => featTiny(kcenterMethod)],
    ["forgetting", forgettingMethod, forgetTiny],
  ] as const
) {
  Deno.test(`${name}: distill returns a labelled, class-balanced, deterministic set of real images`, async () => {
    const mm = m as MethodDef<unknown>;
    const a = await run(mm, cfg(), 2, 4);
    const b = await run(mm, cfg(), 2, 4);
    ok(a.set.shape.join() === "20,1,8,8", `shape ${a.set.shape}`);
    ok(a.set.labels.join() === "0,0,1,1,2,2,3,3,4,4,5,5,6,6,7,7,8,8,9,9", `labels ${a.set.labels}`);
    const idx = a.set.meta.extra.indices.split(",").map(Number);
    ok(new Set(idx).size === 20, "distinct images");
    const dataset = tinyDataset("mnist", 12, 2);
    ok(
      idx.every((i, k) => dataset.train.labels[i] === a.set.labels[k]),
      "labels are the images' classes",
    );
    ok(a.set.meta.extra.indices === b.set.meta.extra.indices, "same seed gives the same selection");
    ok(a.set.images.every((v, i) => v === b.set.images[i]), "same images");
    ok(a.set.meta.method === name, "meta");
    ok(mm.schema.safeParse(mm.defaults("mnist", 10)).success, "defaults validate");
    ok(
      mm.schema.safeParse(scaleConfig(mm, mm.defaults("mnist", 10), "quick", 10)).success,
      "quick validates",
    );
  });
}
