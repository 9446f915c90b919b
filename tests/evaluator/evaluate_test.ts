import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { setBackend } from "../../engine/tensor.ts";
import { loadDataset } from "../../data/registry.ts";
import { lrFactor, passesFor } from "../../evaluator/train.ts";
import { evaluate, metricsFromCurve } from "../../evaluator/evaluate.ts";
import { getProtocol, optimizerFor, protocolFor, PROTOCOLS } from "../../evaluator/protocols.ts";
import { splitHoldout, withoutHoldout } from "../../evaluator/holdout.ts";
import { randomMethod } from "../../baselines/random.ts";
import { silentProgress } from "../../data/progress.ts";
import { pretrainKey } from "../../evaluator/pretrained.ts";

/** MNIST with `perClass` held-out images per class, and a random IPC-10 set drawn from the rest. */
async function randomMnistSet(perClass: number) {
  const mnist = await loadDataset("mnist");
  const holdout = splitHoldout(mnist, perClass, 0);
  const { set } = await randomMethod.distill({
    dataset: withoutHoldout(mnist, holdout),
    ipc: 10,
    seed: 3,
    config: {},
    profile: "smoke",
    progress: silentProgress,
  });
  return { mnist, holdout, set };
}

Deno.test("evaluator: lr decay rules", () => {
  const dc = { kind: "dc-half" as const, factor: 0.1, resetOptimizer: true };
  // E = 10: DC makes 11 passes and drops the lr after pass 5, so pass 6 is the first decayed one.
  ok(passesFor(dc, 10) === 11, "DC runs E+1 passes");
  ok(lrFactor(dc, 5, 11).factor === 1 && lrFactor(dc, 6, 11).factor === 0.1, "dc-half decay epoch");
  ok(lrFactor(dc, 6, 11).reset && !lrFactor(dc, 7, 11).reset, "dc-half resets once");
  const ms = { kind: "multistep" as const, fractions: [2 / 3, 5 / 6], gamma: 0.2 };
  ok(
    Math.abs(lrFactor(ms, 999, 1000).factor - 0.04) < 1e-12 && lrFactor(ms, 665, 1000).factor === 1,
    "multistep",
  );
  const hc = { kind: "half-cosine" as const };
  ok(
    lrFactor(hc, 0, 300).factor === 1 && Math.abs(lrFactor(hc, 300, 300).factor - 0.5) < 1e-12,
    "half-cosine",
  );
});

Deno.test("evaluator: metrics pick the best held-out epoch, never the test set", () => {
  const m = metricsFromCurve([
    { epoch: 1, trainLoss: 2, holdoutAcc: 50, testAcc: 60 },
    { epoch: 2, trainLoss: 1, holdoutAcc: 70, testAcc: 55 },
    { epoch: 3, trainLoss: 0.5, holdoutAcc: 65, testAcc: 58 },
  ]);
  ok(
    m.lastTestAcc === 58 && m.bestHoldoutAcc === 70 && m.testAccAtBestHoldout === 55 && m.bestTestAcc === 60,
    JSON.stringify(m),
  );
});

Deno.test("evaluator: without a tested curve, bestTestAcc is absent and the tested points are used", () => {
  const m = metricsFromCurve([
    { epoch: 1, trainLoss: 2, holdoutAcc: 50 },
    { epoch: 2, trainLoss: 1, holdoutAcc: 70, testAcc: 55 },
    { epoch: 3, trainLoss: 0.5, holdoutAcc: 65, testAcc: 58 },
  ]);
  ok(
    m.lastTestAcc === 58 && m.testAccAtBestHoldout === 55 && m.bestTestAcc === undefined,
    JSON.stringify(m),
  );
  // No holdout: nothing to select on, so the best point is the last.
  const n = metricsFromCurve([{ epoch: 1, trainLoss: 2 }, { epoch: 2, trainLoss: 1, testAcc: 40 }]);
  ok(n.testAccAtBestHoldout === 40 && n.lastTestAcc === 40, JSON.stringify(n));
  let threw = false;
  try {
    metricsFromCurve([{ epoch: 1, trainLoss: 2, holdoutAcc: 80 }, {
      epoch: 2,
      trainLoss: 1,
      holdoutAcc: 70,
      testAcc: 1,
    }]);
  } catch {
    threw = true;
  }
  ok(threw, "an untested best-holdout point is an error, not a silent 0");
});

Deno.test("evaluator: the best-holdout snapshot tests as the curve's test pass at that epoch did", async () => {
  setBackend(gpu);
  const { mnist, holdout, set } = await randomMnistSet(20);
  const protocol = protocolFor("dc", "mnist");
  // Labels shifted by one class: training drives holdout accuracy down from chance, so it peaks
  // before the last epoch and the snapshot is what gets tested.
  const wrong = { ...set, labels: set.labels.map((y) => (y + 1) % 10) };
  protocol.epochs.default = 4;
  protocol.decay = { kind: "none" };
  protocol.evalEvery = 1;
  const req = { set: wrong, dataset: mnist, holdout, model: "convnet3-w32", seed: 2, testLimit: 200 };
  const curve = await evaluate({ ...req, protocol: { ...protocol, testCurve: true } });
  const ends = await evaluate({ ...req, protocol });
  const m = ends.metrics, c = curve.metrics;
  const bestEpoch = curve.curve.find((p) => p.holdoutAcc === c.bestHoldoutAcc)!.epoch;
  ok(bestEpoch < curve.epochs, `the holdout peaked at the last epoch (${JSON.stringify(curve.curve)})`);
  ok(
    m.lastTestAcc === c.lastTestAcc && m.testAccAtBestHoldout === c.testAccAtBestHoldout &&
      m.bestHoldoutAcc === c.bestHoldoutAcc,
    `two test passes ${JSON.stringify(m)} vs every point ${JSON.stringify(c)}`,
  );
  ok(c.bestTestAcc !== undefined && m.bestTestAcc === undefined, "bestTestAcc only with testCurve");
  const tested = ends.curve.filter((p) => p.testAcc !== undefined).map((p) => p.epoch);
  ok(tested.length === 2 && tested.includes(bestEpoch), `tested epochs ${tested}`);
});

Deno.test("evaluator: protocols are complete, typed and per-dataset", () => {
  for (const id of ["dc", "dsa", "dm", "idc", "minimax", "soft-kd", "d3hr", "full", "mtt"]) {
    ok(getProtocol(id).id === id, id);
  }
  ok(
    protocolFor("dc", "mnist").augment.kind === "dc" && protocolFor("dc", "mnist").epochs.default === 1000,
    "DC on MNIST",
  );
  ok(
    protocolFor("dc", "fashion-mnist").augment.kind === "none" &&
      protocolFor("dc", "cifar10").epochs.default === 300,
    "DC elsewhere",
  );
  let threw = false;
  try {
    getProtocol("nope");
  } catch (e) {
    threw = /unknown protocol "nope"/.test(String(e));
  }
  ok(threw && Object.keys(PROTOCOLS).length >= 8, "unknown protocol error");
});

Deno.test("evaluator: MTT's protocol trains with the step size the set learned; others keep theirs", () => {
  const meta = (extra: Record<string, string>) => ({ method: "mtt", extra });
  const mtt = getProtocol("mtt");
  ok(mtt.lrFromSet === "learnedLr", "MTT reads extra.learnedLr");
  const o = optimizerFor(mtt, meta({ learnedLr: "0.0213" }));
  ok(o.kind === "sgd" && o.lr === 0.0213 && o.momentum === 0.9, JSON.stringify(o));
  ok(optimizerFor(getProtocol("dsa"), meta({ learnedLr: "0.0213" })).lr === 0.01, "DSA keeps 0.01");
  const bad: Record<string, string>[] = [{}, { learnedLr: "-0.001" }, { learnedLr: "NaN" }];
  for (const extra of bad) {
    let msg = "";
    try {
      optimizerFor(mtt, meta(extra));
    } catch (e) {
      msg = String(e);
    }
    ok(
      /extra\.learnedLr/.test(msg) && /mtt set/.test(msg),
      `no clear error for ${JSON.stringify(extra)}: ${msg}`,
    );
  }
});

Deno.test("evaluator: random MNIST IPC 10 under a short DC protocol learns well above chance", async () => {
  setBackend(gpu);
  const { mnist, holdout, set } = await randomMnistSet(20);
  const protocol = protocolFor("dc", "mnist");
  protocol.epochs.default = 30;
  protocol.evalEvery = 10;
  const r = await evaluate({
    set,
    dataset: mnist,
    holdout,
    model: "convnet3-w32", // the evaluator is model-agnostic; width 32 keeps CI fast
    protocol,
    seed: 1,
    testLimit: 500,
  });
  ok(r.curve.length === 4 && r.epochs === 31, `curve ${r.curve.length}, ${r.epochs} passes`);
  ok(r.metrics.lastTestAcc > 50, `accuracy ${r.metrics.lastTestAcc}% too low for 100 real MNIST images`);
  ok(r.metrics.bestHoldoutAcc > 40, `holdout ${r.metrics.bestHoldoutAcc}%`);
});

Deno.test("evaluator: batches too large for one device binding are split, with the same results", async () => {
  setBackend(gpu);
  const { Rng } = await import("../../engine/random.ts");
  const { createModel } = await import("../../models/registry.ts");
  const { accuracy, trainClassifier } = await import("../../evaluator/train.ts");
  const { backend } = await import("../../engine/tensor.ts");
  // 300 CIFAR-sized inputs: ConvNet-3's first activation is 300·128·32² floats, over llvmpipe's 128 MiB.
  const n = 300, rng = new Rng(5);
  const x = rng.normal([n, 32, 32, 3]).keep();
  const y = Int32Array.from({ length: n }, (_, i) => i % 10);
  const model = createModel("convnet3", new Rng(1), { channels: 3, classes: 10, imageSize: 32 });
  ok(
    n * 128 * 32 * 32 > backend().maxTensorElements || backend().name === "cpu",
    "case must exceed the limit",
  );
  const whole = await accuracy(model, x, y, n);
  const small = await accuracy(model, x, y, 50);
  ok(whole === small, `split accuracy ${whole} vs ${small}`);
  const losses = await trainClassifier(model, { x, y }, {
    epochs: 1,
    batchSize: n,
    optimizer: { kind: "sgd", lr: 0.01, momentum: 0.9, weightDecay: 0 },
    decay: { kind: "none" },
    augment: { kind: "none", cutmix: null },
    digits: false,
    rng: new Rng(2),
  });
  ok(
    losses.length === 1 && Number.isFinite(losses[0]) && Math.abs(losses[0] - Math.log(10)) < 1,
    `loss ${losses}`,
  );
  model.dispose();
  x.dispose();
});

Deno.test("evaluator: host-resident training images (too large for one binding) train exactly like device ones", async () => {
  setBackend(gpu);
  const { Rng } = await import("../../engine/random.ts");
  const { createModel } = await import("../../models/registry.ts");
  const { trainClassifier } = await import("../../evaluator/train.ts");
  const { HostImages } = await import("../../evaluator/device_data.ts");
  const { tensor } = await import("../../engine/tensor.ts");
  const n = 40, data = await new Rng(3).normal([n, 12, 12, 1]).f32();
  const y = Int32Array.from({ length: n }, (_, i) => i % 10);
  const run = async (x: import("../../evaluator/device_data.ts").TrainImages) => {
    const model = createModel("convnet3", new Rng(1), { channels: 1, classes: 10, imageSize: 12 });
    const losses = await trainClassifier(model, { x, y }, {
      epochs: 2,
      batchSize: 16,
      optimizer: { kind: "sgd", lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
      decay: { kind: "none" },
      augment: { kind: "dsa", cutmix: null },
      digits: true,
      rng: new Rng(2),
      lossEvery: 1,
    });
    model.dispose();
    return losses;
  };
  const dev = tensor(data, [n, 12, 12, 1]).keep();
  const a = await run(dev), b = await run(new HostImages(data, [n, 12, 12, 1]));
  dev.dispose();
  ok(a.length === 2 && a.every((v, i) => v === b[i]), `device ${a} vs host ${b}`);
});

Deno.test("evaluator: the d3hr protocol is D³HR's Table A1; soft-kd keeps the reference code's values", () => {
  const a1 = getProtocol("d3hr");
  ok(
    a1.optimizer.kind === "adamw" && a1.optimizer.lr === 0.01 && a1.optimizer.weightDecay === 0.01,
    `A1 optimizer ${JSON.stringify(a1.optimizer)}`,
  );
  ok(a1.batchSize === 128 && a1.decay.kind === "cosine", "A1 batch 128, cosine annealing");
  ok(a1.augment.kind === "rrc-flip" && a1.augment.cutmix === null, "A1: RRC + flip, no CutMix");
  ok(a1.labels.kind === "soft-kd" && a1.labels.temperature === 20, "A1: T = 20");
  const epochs = ["cifar10", "cifar100", "tiny-imagenet", "imagenet-1k"].map((d) =>
    protocolFor("d3hr", d).epochs.default
  );
  ok(epochs.join() === "400,400,300,300", `A1 epochs ${epochs}`);
  // The code: AdamW 0.001 (per student), half-cosine, CutMix, batch by IPC and classes, CIFAR 400.
  const code = protocolFor("soft-kd", "cifar100", { ipc: 10, classes: 100, model: "mobilenetv2" });
  ok(
    code.optimizer.lr === 2.5e-3 && code.decay.kind === "half-cosine",
    `code ${JSON.stringify(code.optimizer)}`,
  );
  ok(
    code.augment.cutmix?.prob === 1 && code.batchSize === 100 && code.epochs.default === 400,
    "code cifar100",
  );
  const small = protocolFor("soft-kd", "cifar10", { ipc: 1, classes: 10, model: "resnet18-modified" });
  ok(
    small.batchSize === 10 && small.optimizer.lr === 0.001,
    `IPC 1: batch ${small.batchSize} (≤ the set)`,
  );
});

Deno.test("evaluator: the soft-kd protocol trains its teacher once (holdout excluded), caches it and evaluates", async () => {
  setBackend(gpu);
  const cache = await Deno.makeTempDir({ prefix: "ddrepro-kd-" });
  Deno.env.set("DD_CACHE", cache);
  try {
    const { mnist, holdout, set } = await randomMnistSet(10);
    const protocol = getProtocol("soft-kd");
    ok(protocol.labels.kind === "soft-kd", "soft-kd labels");
    // Plumbing only (tests/evaluator/kd_test.ts checks that KD teaches): a 2-step teacher, 2 epochs.
    // Few batch shapes (teacher 256, student 50, evaluation 100): each new shape compiles pipelines.
    protocol.labels = {
      ...protocol.labels,
      teacher: "convnet3-w32",
      teacherEpochs: 1,
      teacherTrainLimit: 512,
    };
    protocol.epochs.default = 2;
    protocol.evalEvery = 1;
    protocol.batchSize = 50;
    const req = { set, dataset: mnist, holdout, model: "convnet3-w32", protocol, seed: 1, testLimit: 100 };
    const r = await evaluate(req);
    ok(
      r.curve.length === 2 && r.curve.every((p) => Number.isFinite(p.trainLoss)),
      JSON.stringify(r.curve),
    );
    const cached = () => [...Deno.readDirSync(`${cache}/pretrained`)].map((e) => e.name);
    ok(
      cached().length === 1 && cached()[0].startsWith("convnet3-w32-mnist-"),
      `teacher cache ${cached()}`,
    );
    await evaluate({ ...req, seed: 2 });
    ok(cached().length === 1, "the second repeat reuses the cached teacher");
    // A different holdout is a different teacher: it must never have trained on the new holdout.
    const key = (pool: Int32Array) =>
      pretrainKey({ model: "convnet3-w32", dataset: mnist, epochs: 1, seed: 0, pool });
    ok(key(holdout.train) !== key(splitHoldout(mnist, 10, 1).train), "the teacher key covers its pool");
    // An ensemble of two: teacher seeds 0 (cached) and 1 (trained now), both used.
    const two = { ...protocol, labels: { ...protocol.labels, teachers: 2 } };
    const r2 = await evaluate({ ...req, protocol: two });
    ok(cached().length === 2, `two teachers cached: ${cached()}`);
    ok(r2.curve.every((p) => Number.isFinite(p.trainLoss)), JSON.stringify(r2.curve));
  } finally {
    Deno.env.delete("DD_CACHE");
    await Deno.remove(cache, { recursive: true });
  }
});
