/**
 * Every available model builds, has the documented feature size, and learns: a few optimizer
 * steps on real MNIST images lower the loss and fit the batch above chance.
 */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { noGrad, setBackend, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import { Rng } from "../../engine/random.ts";
import * as T from "../../engine/ops/mod.ts";
import { convnetWithWidth, createModel, findModel, models } from "../../models/registry.ts";
import { loadDataset } from "../../data/registry.ts";
import { makeOptimizer } from "../../evaluator/optimizer.ts";
import { splitToDevice } from "../../evaluator/device_data.ts";

setBackend(gpu);
const mnist = await loadDataset("mnist");

Deno.test("models: registry lists unavailable models with reasons and refuses to build them", () => {
  const missing = models.filter((m) => !m.available);
  ok(
    missing.length > 0 && missing.every((m) => (m.reason ?? "").length > 0),
    "unavailable models need reasons",
  );
  let threw = false;
  try {
    createModel("swin-t", new Rng(0), { channels: 3, classes: 10, imageSize: 32 });
  } catch (e) {
    threw = /not implemented/.test(String(e));
  }
  ok(threw, "building an unavailable model must fail clearly");
});

Deno.test("models: ConvNet-3 embed is 2048-d for 28 px and 32 px inputs", () => {
  for (const [c, s] of [[1, 28], [3, 32]]) {
    const m = createModel("convnet3", new Rng(1), { channels: c, classes: 10, imageSize: s });
    const out = tidy(() => m.embed(new Rng(2).normal([2, s, s, c])).shape);
    ok(out[1] === 2048 && m.embedDim === 2048, `embed ${out} for ${c}x${s}`);
    m.dispose();
  }
});

Deno.test("models: ConvNet width variants (<id>-w<width>) build narrowed nets; malformed ids are unknown", () => {
  const m = createModel("convnet3-w32", new Rng(1), { channels: 1, classes: 10, imageSize: 28 });
  const out = tidy(() => m.embed(new Rng(2).normal([2, 28, 28, 1])).shape);
  ok(out[1] === 32 * 16 && m.embedDim === 512, `embed ${out}`); // 4×4 maps, as at width 128
  m.dispose();
  ok(findModel("convnet3-bn-w16")?.description.includes("batchnorm") === true, "bn variant");
  ok(convnetWithWidth("convnet3-w32", 128) === "convnet3", "width 128 is the plain id");
  for (const bad of ["convnet3-w0", "convnet3-w032", "resnet18-w32", "convnet9-w32", "convnet3-w"]) {
    ok(findModel(bad) === undefined, `${bad} must be unknown`);
  }
});

// One image per class, at the smallest input each net takes (CI time is mostly these tests).
const per = 1;
const idx: number[] = [];
for (let c = 0; c < 10; c++) {
  let k = 0;
  for (let i = 0; i < mnist.train.count && k < per; i++) if (mnist.train.labels[i] === c) (idx.push(i), k++);
}
const ids = Int32Array.from(idx);

/** Input size per model: 16 px (MNIST downsampled) unless the net pools (nearly) all of it away. */
const SIZE: Record<string, number> = { convnet4: 28, convnet5: 28, convnet6: 64, vgg11: 28 };
/** The deepest nets (instance norm on 2×2 maps before their last max-pool) learn slowest: more steps. */
const STEPS: Record<string, number> = { convnet5: 24, vgg11: 30 };

for (const entry of models.filter((m) => m.available)) {
  Deno.test(`models: ${entry.id} trains on MNIST (loss decreases, fits the batch above chance)`, async () => {
    const size = SIZE[entry.id] ?? 16;
    const d = splitToDevice(mnist, mnist.train, ids);
    const x = size === 28 ? d.x : tidy(() => T.resize(d.x, size, size, "bilinear"));
    if (x !== d.x) d.x.dispose();
    const y = d.y;
    x.keep();
    const model = createModel(entry.id, new Rng(7), { channels: 1, classes: 10, imageSize: size });
    const opt = makeOptimizer({ kind: "adam", lr: 1e-3, weightDecay: 0 }, model.parameters());
    const yt = tensor(y, [y.length], "i32").keep();
    const losses: number[] = [];
    const steps = STEPS[entry.id] ?? 12;
    for (let s = 0; s < steps; s++) {
      const l = tidy(() => {
        const loss = T.crossEntropy(model.forward(x), yt);
        opt.step(grad(loss, model.parameters()));
        return loss.detach();
      });
      if (s === 0 || s === steps - 1) losses.push(await l.item());
      l.dispose();
    }
    // "Fits the batch" is judged with batch statistics (train mode): 12 steps are too few for
    // batch-norm running averages to settle, which is what eval mode would measure instead.
    const correct = tidy(() => noGrad(() => T.correctCount(model.forward(x), yt)));
    const acc = (100 * (await correct.item())) / y.length;
    correct.dispose();
    opt.dispose();
    model.dispose();
    x.dispose();
    yt.dispose();
    ok(losses[1] < losses[0], `${entry.id}: loss ${losses[0]} → ${losses[1]} did not decrease`);
    ok(acc > 20, `${entry.id}: batch accuracy ${acc}% not above chance`);
  });
}

Deno.test("models: a net too deep for its input size fails at construction, naming the size", () => {
  let msg = "";
  try {
    createModel("convnet6", new Rng(0), { channels: 1, classes: 10, imageSize: 28 });
  } catch (e) {
    msg = String(e);
  }
  ok(/at least 64 px/.test(msg), `unexpected: ${msg}`);
  for (const [id, size] of [["alexnet", 2], ["vgg11", 16]] as const) {
    let m = "";
    try {
      createModel(id, new Rng(0), { channels: 1, classes: 10, imageSize: size });
    } catch (e) {
      m = String(e);
    }
    ok(new RegExp(`${size} px input is pooled away`).test(m), `${id} at ${size} px: ${m}`);
  }
});

Deno.test("models: a snapshot restores parameters and batch-norm statistics after training moved them", async () => {
  setBackend(gpu);
  const { restoreModel, snapshotModel } = await import("../../models/checkpoint.ts");
  const m = createModel("convnet3-bn-w16", new Rng(1), { channels: 1, classes: 10, imageSize: 28 });
  const state = () => Promise.all([...m.namedParameters(), ...m.namedBuffers()].map(([, t]) => t.data()));
  const before = await state();
  const snap = snapshotModel(m);
  const opt = makeOptimizer({ kind: "sgd", lr: 0.1, momentum: 0, weightDecay: 0 }, m.parameters());
  const x = new Rng(2).normal([4, 28, 28, 1]).keep();
  tidy(() => {
    const l = T.crossEntropy(m.forward(x), tensor(new Int32Array([0, 1, 2, 3]), [4], "i32"));
    const g = grad(l, m.parameters());
    noGrad(() => opt.step(g));
  });
  const moved = await state();
  ok(moved.some((t, i) => t.some((v, j) => v !== before[i][j])), "the training step changed the state");
  restoreModel(m, snap);
  const after = await state();
  ok(after.every((t, i) => t.every((v, j) => v === before[i][j])), "restored state equals the snapshot");
  snap.dispose();
  opt.dispose();
  x.dispose();
  m.dispose();
});
