/** IDC / IDC-I on a tiny dataset: conv-only matching, [0, 1] storage, decoded sets, determinism. */
import { ok } from "node:assert";
import { scaleConfig } from "../../experiments/budget.ts";
import { gpu } from "../engine/helpers.ts";
import { noGrad, setBackend, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import { Rng } from "../../engine/random.ts";
import { SGD } from "../../engine/optim.ts";
import { buildNet, inputSpec, RealPool } from "../../baselines/gradient_matching.ts";
import * as T from "../../engine/ops/mod.ts";
import {
  distillIdc,
  idc1Method,
  idcClassLoss,
  type IdcConfig,
  idcDefaults,
  idcMethod,
  idcNetAugment,
  initMix,
  matchedParams,
} from "../../baselines/idc.ts";
import { idcCmiMethod } from "../../methods/cmi.ts";
import { augmentBatch } from "../../evaluator/train.ts";
import { getProtocol } from "../../evaluator/protocols.ts";
import { dsa } from "../../data/augment.ts";
import { tensor } from "../../engine/tensor.ts";
import { silentProgress } from "../../data/progress.ts";
import type { Dataset } from "../../data/types.ts";
import { tinyDataset } from "../runner/_fixtures.ts";

setBackend(gpu);

const tiny = (over: Partial<IdcConfig> = {}): IdcConfig => ({
  ...scaleConfig(idcMethod, idcMethod.defaults("mnist", 2), "smoke", 2),
  width: 4,
  batchReal: 8,
  netSamples: 16,
  batchNet: 16,
  ...over,
});

async function run(dataset: Dataset, ipc: number, seed: number, over: Partial<IdcConfig> = {}, one = false) {
  const m = one ? idc1Method : idcMethod;
  return await m.distill({
    dataset,
    ipc,
    seed,
    config: { ...tiny(over), factor: one ? 1 : tiny(over).factor },
    profile: "smoke",
    progress: silentProgress,
  });
}

Deno.test("idc: defaults follow protocols §6.2 (factor, distance, lr × IPC/10, strategy)", () => {
  const c = idcDefaults("cifar10", 10, null);
  ok(c.factor === 2 && c.distance === "mse" && Math.abs(c.lrImg - 5e-3) < 1e-12, "cifar10");
  ok(c.matchStrategy.join() === "color,crop,cutout" && c.netSamples === 2000, "cifar10 strategy/net");
  const m = idcDefaults("mnist", 50, null);
  ok(m.distance === "l1" && Math.abs(m.lrImg - 5e-4) < 1e-12, "mnist lr");
  ok(m.matchStrategy.join() === "color,crop", "mnist f>1 strategy");
  ok(idcDefaults("mnist", 10, 1).matchStrategy.includes("cutout"), "mnist f=1 keeps cutout");
  ok(idcDefaults("imagenette", 10, null).factor === 3, "imagenet-style factor 3");
  ok(idc1Method.defaults("svhn", 10).factor === 1, "idc-1 factor 1");
});

Deno.test("idc: quick narrows to width 32 and raises the image lr by the distance's measured width law", () => {
  for (const [id, exponent] of [["cifar10", 0.75], ["mnist", 1.25]] as const) {
    const p = idcDefaults(id, 10, null), q = scaleConfig(idcMethod, p, "quick", 10);
    ok(q.width === 32, `${id}: width`);
    ok(Math.abs(q.lrImg / p.lrImg - 4 ** exponent) < 1e-9, `${id}: lr × ${q.lrImg / p.lrImg}`);
  }
  const p = idcDefaults("mnist", 10, null);
  ok(JSON.stringify(scaleConfig(idcMethod, p, "paper", 10)) === JSON.stringify(p), "paper untouched");
});

Deno.test("idc: matching uses only the conv weights (rank 4)", () => {
  const dataset = tinyDataset("mnist", 8, 1);
  const net = buildNet("convnet3", 4, new Rng(3), inputSpec(dataset));
  try {
    const all = net.parameters(), sel = matchedParams(net);
    ok(sel.length === 3, `ConvNet-3 has 3 conv weights, selected ${sel.length}`);
    ok(sel.every((p) => p.rank === 4), "selected a non-conv tensor");
    ok(all.filter((p) => p.rank === 4).length === 3 && all.length > sel.length, "biases/norm/FC skipped");
  } finally {
    net.dispose();
  }
});

Deno.test("idc: the matching loss decreases over a few image steps on a fixed net", async () => {
  const dataset = tinyDataset("mnist", 8, 1);
  const cfg = tiny({ distance: "mse" });
  const pool = new RealPool(dataset);
  const net = buildNet("convnet3", 4, new Rng(5), inputSpec(dataset));
  const img = initMix(pool, dataset.info, 1, 2, new Rng(6)).keep().requireGrad();
  const opt = new SGD([img], { lr: 0.01, momentum: 0.5 });
  const params = matchedParams(net);
  const losses: number[] = [];
  try {
    for (let s = 0; s < 6; s++) {
      const l = tidy(() => {
        // Same seed every step: the same real batch and augmentation, so only the images change.
        const loss = idcClassLoss(net, params, pool, img, 3, 1, cfg, dataset.info, 42);
        const [g] = grad(loss, [img]);
        noGrad(() => opt.step([g]));
        return loss.detach();
      });
      losses.push(await l.item());
      l.dispose();
    }
  } finally {
    opt.dispose();
    img.dispose();
    net.dispose();
    pool.dispose();
  }
  ok(losses.every(Number.isFinite), `losses ${losses}`);
  ok(losses[5] < 0.8 * losses[0], `loss did not decrease: ${losses.map((v) => v.toExponential(2))}`);
});

Deno.test("idc: decoded set (f²·IPC per class), images in [0, 1], deterministic; idc-1 gives IPC", async () => {
  const dataset = tinyDataset("mnist", 8, 1);
  // A large image lr pushes pixels out of [0, 1]; the per-iteration clamp brings them back.
  const over = { lrImg: 50 };
  const a = await run(dataset, 2, 7, over);
  const { mean, std } = dataset.info;
  ok(a.set.shape.join() === "80,1,8,8", `shape ${a.set.shape}`);
  ok(a.set.labels.every((y, i) => y === Math.floor(i / 8)), "labels not class-major, 8 per class");
  ok(a.set.meta.method === "idc" && a.set.meta.extra?.factor === "2", "meta");
  ok(typeof a.set.meta.extra?.decoded === "string", "meta.extra.decoded");
  let lo = Infinity, hi = -Infinity;
  for (const v of a.set.images) {
    const u = v * std[0] + mean[0];
    lo = Math.min(lo, u);
    hi = Math.max(hi, u);
  }
  // The clamp is active: the tiny images start below 0.96 and end with pixels at exactly 1.
  ok(lo >= -1e-4 && hi <= 1 + 1e-4 && hi > 1 - 1e-4, `unnormalised range [${lo}, ${hi}]`);
  ok(Number.isFinite(a.metrics.firstMatchLoss) && Number.isFinite(a.metrics.finalMatchLoss), "losses");
  ok(a.metrics.imageShift > 0 && Number.isFinite(a.metrics.imageShift), `shift ${a.metrics.imageShift}`);

  const b = await run(dataset, 2, 7, over);
  ok(a.set.images.every((v, i) => v === b.set.images[i]), "not deterministic for a seed");
  const c = await run(dataset, 2, 8, over);
  ok(a.set.images.some((v, i) => v !== c.set.images[i]), "seed has no effect");

  const one = await run(dataset, 2, 7, {}, true);
  ok(one.set.shape.join() === "20,1,8,8", `idc-1 shape ${one.set.shape}`);
  ok(one.set.meta.method === "idc-1" && one.set.labels.every((y, i) => y === Math.floor(i / 2)), "idc-1");
});

Deno.test("idc: a regularizer is prepared every inner step and joins every per-class update (idc+cmi's plug-in)", async () => {
  const dataset = tinyDataset("mnist", 8, 1);
  const prepared: number[] = [];
  const seen: string[] = [];
  await distillIdc(
    {
      dataset,
      ipc: 1,
      seed: 3,
      config: tiny({ iterations: 1, innerSteps: 2 }),
      profile: "smoke",
      progress: silentProgress,
      regularizer: {
        name: "probe",
        prepare: (it) => {
          prepared.push(it);
          return Promise.resolve();
        },
        loss: (images, labels, it) => {
          seen.push(`${it}:${images.shape[0]}:${labels[0]}`);
          return T.mul(T.sum(images), 0);
        },
      },
    },
    "idc",
  );
  ok(prepared.join() === "0,1", `prepare calls ${prepared}`);
  ok(seen.length === 20 && seen[0] === "0:4:0" && seen[19] === "1:4:9", `regularizer calls ${seen}`);
  ok(idcCmiMethod.id === "idc+cmi" && idcMethod.regularizable === true, "idc+cmi wiring");
});

Deno.test("idc: every matching step draws a fresh random subset of the decoded images (Synthesizer.sample)", async () => {
  // IPC 2, factor 2: 8 decoded images per class (4 grid cells × 2 stored), 2 of them per step. A decoded
  // image depends on its cell's pixels only, so the cells whose quadrant gets gradient are the ones drawn.
  const dataset = tinyDataset("mnist", 8, 1);
  const cfg = tiny({ distance: "mse", batchSynMax: 2, matchStrategy: [] });
  const pool = new RealPool(dataset);
  const net = buildNet("convnet3", 4, new Rng(5), inputSpec(dataset));
  const img = initMix(pool, dataset.info, 2, 2, new Rng(6)).keep().requireGrad();
  const params = matchedParams(net);
  const c = 3, half = 4;
  const drawn: string[] = [];
  try {
    for (let seed = 0; seed < 20; seed++) {
      const g = tidy(() => {
        const [g] = grad(idcClassLoss(net, params, pool, img, c, 2, cfg, dataset.info, seed), [img]);
        return g.detach();
      });
      const v = await g.f32();
      g.dispose();
      const cells: string[] = [];
      for (let s = 0; s < 2; s++) {
        for (let q = 0; q < 4; q++) {
          const [qi, qj] = [Math.floor(q / 2), q % 2];
          let any = false;
          for (let i = 0; i < half; i++) {
            for (let j = 0; j < half; j++) {
              const r = (c * 2 + s) * 64 + (qi * half + i) * 8 + qj * half + j;
              if (v[r] !== 0) any = true;
            }
          }
          if (any) cells.push(`${s}:${q}`);
        }
      }
      ok(cells.length >= 1 && cells.length <= 2, `seed ${seed}: ${cells.length} cells got gradient`);
      drawn.push(cells.join(" "));
    }
  } finally {
    img.dispose();
    net.dispose();
    pool.dispose();
  }
  const covered = new Set(drawn.flatMap((d) => d.split(" ")));
  ok(covered.size === 8, `decoded images never matched over 20 steps: ${8 - covered.size} (${drawn})`);
  ok(new Set(drawn).size > 3, `subsets repeat across steps: ${drawn}`);
});

Deno.test("idc: network update as the reference's — per-sample color+crop DiffAug, CutMix p 0.5 (none for MNIST f > 1)", () => {
  const cifar = idcNetAugment(idcDefaults("cifar10", 10, null));
  ok(
    JSON.stringify(cifar) ===
      JSON.stringify({ kind: "idc", strategy: ["color", "crop"], cutmix: { prob: 0.5, beta: 1 } }),
    `cifar10 ${JSON.stringify(cifar)}`,
  );
  const mnist = idcNetAugment(idcDefaults("mnist", 10, null));
  ok(
    mnist.kind === "idc" && mnist.strategy?.join() === "color,crop" && mnist.cutmix === null,
    "mnist f=2",
  );
  const mnist1 = idcNetAugment(idcDefaults("mnist", 10, 1));
  ok(
    mnist1.strategy?.join() === "color,crop" && mnist1.cutmix?.prob === 0.5,
    "mnist f=1 (CutMix, no cutout)",
  );
  ok(
    idcNetAugment(idcDefaults("imagenette", 10, null)).cutmix?.prob === 1,
    "ImageNet: the reference's mix_p 1",
  );
  // Without CutMix the net update keeps cutout.
  const noMix = idcNetAugment({ ...idcDefaults("cifar10", 10, null), cutmix: null });
  ok(noMix.strategy?.join() === "color,crop,cutout", `no CutMix: ${noMix.strategy}`);
});

Deno.test("idc: the idc evaluation protocol augments with DiffAug (flip, color, one geometric group; CutMix for cutout)", async () => {
  const p = getProtocol("idc");
  ok(p.augment.kind === "idc" && p.augment.cutmix?.prob === 0.5, `augment ${JSON.stringify(p.augment)}`);
  const x = new Float32Array(4 * 8 * 8 * 3).map((_, i) => Math.sin(i * 0.37) + (i % 7) * 0.1);
  for (let seed = 0; seed < 4; seed++) {
    const got = await noGrad(() =>
      tidy(() => augmentBatch(tensor(x, [4, 8, 8, 3]), p.augment, new Rng(seed), false))
    )
      .f32();
    let matches = 0;
    for (const g of ["crop", "scale", "rotate"] as const) {
      const ref = await noGrad(() =>
        tidy(() =>
          dsa(tensor(x, [4, 8, 8, 3]), new Rng(seed), {
            siamese: false,
            mode: "M",
            strategy: ["flip", "color", g],
          })
        )
      ).f32();
      if (ref.every((v, i) => Math.abs(v - got[i]) <= 1e-5)) matches++;
    }
    ok(matches === 1, `seed ${seed}: the evaluation augmentation matched ${matches} compositions`);
  }
});
