/**
 * MTT with ZCA (the author commands' `--zca`): which cells whiten, what a stand-in and MTT + CMI
 * record, and that experts, the real initialisation and the evaluation all use the one transform
 * fitted on the training split the method saw.
 */
import { ok } from "node:assert";
import { scaleConfig } from "../../experiments/budget.ts";
import { gpu } from "../engine/helpers.ts";
import { setBackend, tensor } from "../../engine/tensor.ts";
import { expertKey, type ExpertSpec } from "../../baselines/mtt_experts.ts";
import { mttDefaults, mttMethod, mttUsesZca } from "../../baselines/mtt.ts";
import { mttCmiMethod } from "../../methods/cmi.ts";
import { randomMethod } from "../../baselines/random.ts";
import { applyZca, loadOrFitZca, zcaSplitToDevice, zcaTag, zcaToDevice } from "../../data/zca.ts";
import { evaluate, zcaSplits } from "../../evaluator/evaluate.ts";
import { splitHoldout, withoutHoldout } from "../../evaluator/holdout.ts";
import { getProtocol } from "../../evaluator/protocols.ts";
import { resolveCell } from "../../experiments/resolve.ts";
import { findTable } from "../../experiments/registry.ts";
import type { Availability } from "../../data/types.ts";
import { silentProgress } from "../../data/progress.ts";
import { tinyDataset } from "../runner/_fixtures.ts";

setBackend(gpu);

async function withCache<R>(fn: (dir: string) => Promise<R>): Promise<R> {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-mtt-zca-" });
  Deno.env.set("DD_CACHE", dir);
  try {
    return await fn(dir);
  } finally {
    Deno.env.delete("DD_CACHE");
    await Deno.remove(dir, { recursive: true });
  }
}

const embeddedOnly = (id: string): Availability =>
  ["mnist", "fashion-mnist"].includes(id)
    ? { available: true, location: "/x", reason: "embedded" }
    : { available: false, location: null, reason: `${id}: not found` };

Deno.test("mtt zca: the author commands whiten CIFAR-10 IPC 1/10 and CIFAR-100 IPC 1/50 only", () => {
  const on = [["cifar10", 1], ["cifar10", 10], ["cifar100", 1], ["cifar100", 50]] as const;
  const off = [["cifar10", 50], ["cifar100", 10], ["tiny-imagenet", 1], ["mnist", 10], [
    "fashion-mnist",
    1,
  ]] as const;
  for (const [d, ipc] of on) ok(mttUsesZca(d, ipc) && mttDefaults(d, ipc).zca, `${d} IPC ${ipc}: ZCA`);
  for (const [d, ipc] of off) {
    ok(!mttUsesZca(d, ipc) && !mttDefaults(d, ipc).zca, `${d} IPC ${ipc}: none`);
  }
  // A stand-in runs the cell's protocol: a CIFAR-10 IPC-10 cell on Fashion-MNIST is whitened too.
  ok(mttDefaults("fashion-mnist", 10, "cifar10").zca, "stand-in follows the cell");
  ok(
    JSON.stringify(scaleConfig(mttMethod, mttDefaults("cifar10", 10), "quick", 10)).includes('"zca":true'),
    "quick",
  );
});

Deno.test("mtt zca: resolved CIFAR cells whiten (stand-in too); MTT + CMI records running without it", () => {
  const t = findTable("cmi/table1")!;
  const mtt = t.cells.find((c) => c.method === "mtt" && c.dataset === "cifar10" && c.ipc === 10)!;
  const plan = resolveCell(t, mtt, "quick", { availability: embeddedOnly });
  ok(plan.resolved.dataset === "fashion-mnist", `stand-in ${plan.resolved.dataset}`);
  ok(plan.resolved.methodConfig.zca === true, "MTT on a CIFAR-10 IPC 10 cell whitens");
  const cmi = t.cells.find((c) => c.method === "mtt+cmi" && c.dataset === "cifar10" && c.ipc === 10)!;
  const p2 = resolveCell(t, cmi, "paper", {
    availability: () => ({ available: true, location: "/x", reason: "" }),
  });
  ok(p2.resolved.methodConfig.zca === false, "mtt+cmi runs without ZCA");
  const s = p2.resolved.substitutions.find((x) => x.field === "method.zca");
  ok(s?.from === "true" && s.to === "false", JSON.stringify(s));
  ok(/CMI/.test(s!.reason), `reason: ${s!.reason}`);
  ok(
    scaleConfig(mttCmiMethod, mttCmiMethod.defaults("cifar10", 10), "quick", 10, { zca: true }).zca,
    "a pin wins",
  );
});

Deno.test("mtt zca: experts are keyed by it; the set starts from whitened real images and is evaluated whitened", async () => {
  await withCache(async (cache) => {
    const full = tinyDataset("cifar10", 8, 3);
    const holdout = splitHoldout(full, 1, 0);
    const dataset = withoutHoldout(full, holdout);
    const base: ExpertSpec = {
      dataset,
      model: "convnet3",
      width: 4,
      epochs: 1,
      lr: 0.01,
      batchSize: 32,
      dsaStrategy: [],
      trainLimit: null,
      seed: 0,
      zca: null,
    };
    ok(expertKey(base, 0) !== expertKey({ ...base, zca: 0.1 }, 0), "the expert key covers ZCA");

    const config = {
      ...scaleConfig(mttMethod, mttDefaults("cifar10", 2), "smoke", 2),
      width: 4,
      numExperts: 1,
      trainEpochs: 2,
      expertEpochs: 1,
      maxStartEpoch: 1,
      synSteps: 2,
      batchSyn: null,
      dsaStrategy: [],
    };
    ok(config.zca, "cifar10 IPC 2 → nearest command IPC 1 whitens");
    const ctx = { dataset, ipc: 2, seed: 5, profile: "smoke" as const, progress: silentProgress };
    const start = await mttMethod.distill({ ...ctx, config: { ...config, iterations: 0 } });
    ok(start.set.meta.extra.zca === zcaTag(0.1), `meta ${start.set.meta.extra.zca}`);
    // Random's set at the seed is MTT's start in normalised space: whitening its [0, 1] pixels gives MTT's.
    const random = await randomMethod.distill({ ...ctx, config: {} });
    const { mean, std } = dataset.info;
    const unit = random.set.images.map((v) => v * std[0] + mean[0]);
    const z = zcaToDevice((await loadOrFitZca(dataset)).transform);
    const [n, , h, w] = random.set.shape; // one channel: NCHW = NHWC
    const want = await applyZca(z, tensor(unit, [n, h, w, 1])).f32();
    let worst = 0;
    want.forEach((v, i) => worst = Math.max(worst, Math.abs(v - start.set.images[i])));
    ok(worst < 1e-4, `MTT's start differs from the whitened random draw by ${worst}`);

    const r = await mttMethod.distill({ ...ctx, config: { ...config, iterations: 2 } });
    // The expert (trained on whitened data by the first call) is reused from the keyed cache.
    ok(r.metrics.expertsTrained === 0 && Number.isFinite(r.metrics.finalParamLoss), "distilled with ZCA");

    // Evaluation: held-out and test images whitened by the distillation's transform (one cached fit).
    const { hold, test } = await zcaSplits(full, holdout, 0.1, 20);
    const direct = await zcaSplitToDevice(z, full.test, Int32Array.from({ length: 20 }, (_, i) => i));
    const a = await test.x.f32(), b = await direct.x.f32();
    ok(a.every((v, i) => v === b[i]), "test images whitened with the method's transform");
    ok(hold.y.length === holdout.holdout.length, "holdout whitened");
    direct.x.dispose();
    z.dispose();
    const protocol = getProtocol("mtt");
    protocol.epochs.default = 1;
    protocol.evalEvery = 1;
    const ev = await evaluate({
      set: r.set,
      dataset: full,
      holdout,
      model: "convnet3-w4",
      protocol,
      seed: 0,
      testLimit: 20,
    });
    ok(Number.isFinite(ev.metrics.lastTestAcc), "evaluated");
    const fits = [...Deno.readDirSync(`${cache}/zca`)].map((e) => e.name);
    ok(fits.length === 1, `one ZCA transform for distillation and evaluation: ${fits}`);
    // A soft-label teacher never sees whitened images.
    let threw = "";
    try {
      await evaluate({
        set: r.set,
        dataset: full,
        holdout,
        model: "convnet3-w4",
        protocol: getProtocol("d3hr"),
        seed: 0,
        testLimit: 20,
      });
    } catch (e) {
      threw = String(e);
    }
    ok(/ZCA-whitened/.test(threw), `soft-label evaluation of a whitened set: ${threw}`);
  });
});
