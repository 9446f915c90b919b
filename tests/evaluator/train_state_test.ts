/**
 * trainClassifier with a caller-owned optimizer (IDC's net keeps one momentum state across many short
 * training calls): two 1-epoch calls sharing the state equal one 2-epoch call; fresh states do not.
 */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { setBackend } from "../../engine/tensor.ts";
import { Rng } from "../../engine/random.ts";
import { createModel } from "../../models/registry.ts";
import { trainClassifier, type TrainOptions } from "../../evaluator/train.ts";
import { makeOptimizer } from "../../evaluator/optimizer.ts";
import type { Classifier } from "../../models/module.ts";

Deno.test("train: a caller-owned optimizer keeps its momentum across calls", async () => {
  setBackend(gpu);
  const input = { channels: 1, classes: 4, imageSize: 8 };
  const rng = new Rng(5);
  const x = rng.normal([16, 8, 8, 1]).keep();
  const y = Int32Array.from({ length: 16 }, (_, i) => i % 4);
  const spec = { kind: "sgd" as const, lr: 0.05, momentum: 0.9, weightDecay: 0 };
  // One full batch, no augmentation: the batch order cannot matter.
  const opts = (epochs: number): TrainOptions => ({
    epochs,
    batchSize: 16,
    optimizer: spec,
    decay: { kind: "none" },
    augment: { kind: "none", cutmix: null },
    digits: true,
    rng: new Rng(1),
  });
  const weights = async (m: Classifier) => Float32Array.from(await m.parameters()[0].f32());
  const fresh = () => createModel("convnet3", new Rng(9), input);

  const once = fresh();
  await trainClassifier(once, { x, y }, opts(2));
  const shared = fresh();
  const state = makeOptimizer(spec, shared.parameters());
  await trainClassifier(shared, { x, y }, { ...opts(1), optimizerState: state });
  await trainClassifier(shared, { x, y }, { ...opts(1), optimizerState: state });
  const reset = fresh();
  await trainClassifier(reset, { x, y }, opts(1));
  await trainClassifier(reset, { x, y }, opts(1));

  const [a, b, c] = [await weights(once), await weights(shared), await weights(reset)];
  const diff = (p: Float32Array, q: Float32Array) =>
    p.reduce((m, v, i) => Math.max(m, Math.abs(v - q[i])), 0);
  const scale = diff(a, new Float32Array(a.length));
  ok(diff(a, b) < 1e-5 * scale, `shared state: ${diff(a, b)} vs scale ${scale}`);
  ok(diff(a, c) > 1e-3 * scale, `fresh states should differ: ${diff(a, c)}`);
  state.dispose();
  [once, shared, reset].forEach((m) => m.dispose());
  x.dispose();
});
