/** DM and IDM on a tiny dataset: the matching objective's defining properties and the distill contracts. */
import { ok } from "node:assert";
import { scaleConfig } from "../../experiments/budget.ts";
import { gpu } from "../engine/helpers.ts";
import { noGrad, setBackend, type Tensor, tidy } from "../../engine/tensor.ts";
import { Rng } from "../../engine/random.ts";
import * as T from "../../engine/ops/mod.ts";
import { buildNet, inputSpec, RealPool } from "../../baselines/gradient_matching.ts";
import { setToDevice } from "../../evaluator/device_data.ts";
import type { DistilledSet } from "../../data/distilled.ts";
import { type DmConfig, dmMethod, embedMean } from "../../baselines/dm.ts";
import { type IdmConfig, idmMethod } from "../../baselines/idm.ts";
import { normalisedNchw } from "../../baselines/real_images.ts";
import { silentProgress } from "../../data/progress.ts";
import type { Dataset } from "../../data/types.ts";
import { tinyDataset } from "../runner/_fixtures.ts";

setBackend(gpu);

const dmTiny = (over: Partial<DmConfig> = {}): DmConfig => ({
  ...scaleConfig(dmMethod, dmMethod.defaults("mnist", 1), "smoke", 1),
  width: 4,
  batchReal: 8,
  ...over,
});

async function runDm(dataset: Dataset, ipc: number, seed: number, over: Partial<DmConfig> = {}) {
  return await dmMethod.distill({
    dataset,
    ipc,
    seed,
    config: dmTiny(over),
    profile: "smoke",
    progress: silentProgress,
  });
}

Deno.test("dm: the loss is 0 when the synthetic set is the whole real class (equal batch statistics)", async () => {
  // 6 images per class, IPC 6 and a real batch of 6: init real copies each class, so both means agree.
  const dataset = tinyDataset("mnist", 6, 2);
  for (const augment of ["none", "dsa"] as const) {
    const r = await runDm(dataset, 6, 1, { iterations: 1, batchReal: 6, augment });
    ok(Math.abs(r.metrics.firstMatchLoss) < 1e-6, `${augment}: loss ${r.metrics.firstMatchLoss}`);
  }
});

/** DM's objective for a set under fixed random nets (the whole real class as the real batch). */
async function fixedNetLoss(dataset: Dataset, set: DistilledSet, nets: number): Promise<number> {
  const pool = new RealPool(dataset);
  const x = setToDevice(set);
  const ipc = set.labels.length / 10;
  let total = 0;
  try {
    for (let k = 0; k < nets; k++) {
      const net = buildNet("convnet3", 16, new Rng(900 + k), inputSpec(dataset));
      const l = noGrad(() =>
        tidy(() => {
          let s: Tensor = T.fill([], 0);
          for (let c = 0; c < 10; c++) {
            const er = embedMean(net, pool.batch(c, 1000, new Rng(c)).x, 200);
            const es = embedMean(net, T.slice(x, [c * ipc, 0, 0, 0], [ipc, -1, -1, -1]), 200);
            s = T.add(s, T.sum(T.square(T.sub(er, es))));
          }
          return s;
        })
      );
      total += await l.item();
      l.dispose();
      net.dispose();
    }
  } finally {
    x.dispose();
    pool.dispose();
  }
  return total / nets;
}

Deno.test("dm: SGD on the images lowers the matching loss (noise init, measured on fixed nets)", async () => {
  const dataset = tinyDataset("mnist", 12, 2);
  const over = { init: "noise", augment: "none", width: 16 } as const;
  const before = await runDm(dataset, 2, 3, { ...over, iterations: 0 });
  const after = await runDm(dataset, 2, 3, { ...over, iterations: 20 });
  const l0 = await fixedNetLoss(dataset, before.set, 4), l1 = await fixedNetLoss(dataset, after.set, 4);
  ok(l1 < 0.75 * l0, `loss on fixed nets ${l0} → ${l1}`);
});

Deno.test("dm: distill returns a labelled, class-balanced, deterministic set", async () => {
  const dataset = tinyDataset("mnist", 12, 2);
  const a = await runDm(dataset, 2, 4, { iterations: 2 });
  const b = await runDm(dataset, 2, 4, { iterations: 2 });
  const c = await runDm(dataset, 2, 5, { iterations: 2 });
  ok(a.set.shape.join() === "20,1,8,8", `shape ${a.set.shape}`);
  ok(a.set.labels.join() === "0,0,1,1,2,2,3,3,4,4,5,5,6,6,7,7,8,8,9,9", `labels ${a.set.labels}`);
  ok(a.set.meta.method === "dm" && a.set.meta.ipc === 2 && a.set.meta.seed === 4, "meta");
  ok(a.set.images.every((v, i) => v === b.set.images[i]), "same seed gives the same images");
  ok(a.set.images.some((v, i) => v !== c.set.images[i]), "another seed gives other images");
  ok(dmMethod.schema.safeParse(dmMethod.defaults("mnist", 10)).success, "defaults validate");
  ok(
    dmMethod.defaults("cifar10", 100).lrImg === 10 && dmMethod.defaults("cifar10", 10).lrImg === 1,
    "lr",
  );
  const q = scaleConfig(dmMethod, dmMethod.defaults("mnist", 10), "quick", 10);
  ok(q.iterations >= 30 && dmMethod.schema.safeParse(q).success, `quick iterations ${q.iterations}`);
  ok(q.width === 32 && Math.abs(q.lrImg - 4 ** 0.75) < 1e-9, `quick width ${q.width}, lr ${q.lrImg}`);
  // Every iteration forwards the whole set: quick caps iterations × IPC (IPC 50: 7, IPC 100: 4 at least).
  const its = [1, 10, 50, 100].map((ipc) =>
    scaleConfig(dmMethod, dmMethod.defaults("mnist", ipc), "quick", ipc).iterations
  );
  ok(its.join() === "35,35,7,4", `quick iterations by IPC ${its}`);
  ok(
    scaleConfig(dmMethod, dmMethod.defaults("mnist", 100), "proxy", 100).iterations === 2000,
    "proxy unchanged",
  );
});

const idmTiny = (over: Partial<IdmConfig> = {}): IdmConfig => ({
  ...scaleConfig(idmMethod, idmMethod.defaults("mnist", 2), "smoke", 2),
  width: 4,
  batchReal: 8,
  trainBatch: 16,
  ...over,
});

async function runIdm(dataset: Dataset, ipc: number, seed: number, over: Partial<IdmConfig> = {}) {
  return await idmMethod.distill({
    dataset,
    ipc,
    seed,
    config: idmTiny(over),
    profile: "smoke",
    progress: silentProgress,
  });
}

/** Host 2×2 mean pooling then ×2 bilinear upsampling (align_corners false) of an 8×8 image at `off`. */
function halfRes(img: Float32Array, off: number): Float32Array {
  const px = (y: number, x: number) => img[off + y * 8 + x];
  const pooled = Array.from(
    { length: 4 },
    (_, y) =>
      Array.from(
        { length: 4 },
        (_, x) =>
          (px(2 * y, 2 * x) + px(2 * y, 2 * x + 1) + px(2 * y + 1, 2 * x) + px(2 * y + 1, 2 * x + 1)) / 4,
      ),
  );
  const interp = (v: number[]) =>
    Array.from({ length: 8 }, (_, d) => {
      const src = Math.max(0, (d + 0.5) / 2 - 0.5);
      const i0 = Math.min(Math.floor(src), 3), i1 = Math.min(i0 + 1, 3), t = src - i0;
      return v[i0] * (1 - t) + v[i1] * t;
    });
  const rows = pooled.map(interp);
  const out = new Float32Array(64);
  for (let x = 0; x < 8; x++) {
    const col = interp(rows.map((r) => r[x]));
    for (let y = 0; y < 8; y++) out[y * 8 + x] = col[y];
  }
  return out;
}

Deno.test("idm: the initial set decodes to real images of the right class at half resolution", async () => {
  const dataset = tinyDataset("mnist", 6, 2);
  const { set } = await runIdm(dataset, 1, 2, { iterations: 0 });
  ok(set.shape.join() === "40,1,8,8", `4 decoded images per stored image: ${set.shape}`);
  const real = normalisedNchw(dataset, Int32Array.from({ length: dataset.train.count }, (_, i) => i));
  for (let r = 0; r < set.labels.length; r++) {
    const c = set.labels[r];
    const got = set.images.subarray(r * 64, (r + 1) * 64);
    let best = Infinity;
    for (let i = 0; i < dataset.train.count; i++) {
      if (dataset.train.labels[i] !== c) continue;
      const want = halfRes(real, i * 64);
      best = Math.min(best, Math.max(...want.map((v, k) => Math.abs(v - got[k]))));
    }
    ok(best < 1e-4, `decoded image ${r} (class ${c}) is no half-resolution real image (err ${best})`);
  }
});

Deno.test("idm: distill returns a labelled, class-balanced, deterministic set; the queue grows", async () => {
  const dataset = tinyDataset("mnist", 12, 2);
  const over = { iterations: 3, pushEvery: 2, trainNets: 10, accWindow: 100, ceWeight: 0.5 };
  const a = await runIdm(dataset, 1, 4, over);
  const b = await runIdm(dataset, 1, 4, over);
  ok(a.set.shape.join() === "40,1,8,8", `shape ${a.set.shape}`);
  for (let c = 0; c < 10; c++) {
    ok(a.set.labels.subarray(4 * c, 4 * c + 4).every((l) => l === c), `labels ${a.set.labels}`);
  }
  ok(a.set.meta.extra.decoded?.includes("decoded"), "meta says the images are decoded");
  ok(a.metrics.queueSize === 3 + 2, `queue ${a.metrics.queueSize}`);
  ok(a.metrics.maxCeWeight > 0, `CE weight from the trained queue: ${a.metrics.maxCeWeight}`);
  ok(Number.isFinite(a.metrics.finalMatchLoss), "loss recorded");
  ok(a.metrics.imageShift > 0 && Number.isFinite(a.metrics.imageShift), `shift ${a.metrics.imageShift}`);
  ok(a.set.images.every((v, i) => v === b.set.images[i]), "same seed gives the same images");
  const d = idmMethod.defaults("cifar10", 50);
  ok(d.ceWeight === 0.1 && idmMethod.defaults("cifar10", 1).pushEvery === 5, "command.txt settings");
  ok(
    idmMethod.schema.safeParse(scaleConfig(idmMethod, d, "quick", 50)).success,
    "quick config validates",
  );
});
