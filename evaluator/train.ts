/**
 * The training loop shared by the evaluator, teachers and methods that train networks: shuffled
 * mini-batches gathered on the device, the protocol's augmentation and CutMix, hard-label CE (soft
 * targets or a KD teacher when given), the protocol's optimizer and lr decay. Loss is read back once per epoch at
 * most; everything else stays on the device.
 */
import type { Tensor } from "../engine/tensor.ts";
import { BindingLimitError } from "../engine/backend.ts";
import { noGrad, tensor, tidy } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import type { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import * as E from "../engine/expr.ts";
import { inp } from "../engine/expr.ts";
import { cutmix, dcAugment, dsa, DSA_ALL, type DsaGroup, randomResizedCrop } from "../data/augment.ts";
import type { Classifier } from "../models/module.ts";
import { makeOptimizer } from "./optimizer.ts";
import type { Optimizer } from "../engine/optim.ts";
import { HostImages, type TrainImages } from "./device_data.ts";
import type { AugmentSpec, DecaySpec, OptimizerSpec } from "./protocols.ts";

export interface TrainData {
  /** NHWC normalised images, on the device or (too large for one binding) on the host. */
  x: TrainImages;
  /** Hard labels. */
  y: Int32Array;
  /** Soft targets [n, classes] (probabilities), used instead of `y` when present. */
  soft?: Tensor;
  /**
   * Knowledge distillation: the loss is KL(p ‖ softmax(student/T)) on each augmented (and CutMix'ed)
   * batch, instead of CE on `y`/`soft` (SRe²L/RDED/D³HR evaluation), with p = softmax(teacher/T), or
   * the mean of the teachers' softmax(teacher_i/T) for an ensemble (D3S's averaged soft labels).
   */
  teacher?: { models: readonly Classifier[]; temperature: number };
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  decay: DecaySpec;
  augment: AugmentSpec;
  /** Digits are never flipped. */
  digits: boolean;
  rng: Rng;
  /** Called after each epoch (0-based) with the epoch's mean loss when it was read back. */
  onEpochEnd?: (epoch: number, loss: number | null) => Promise<void> | void;
  /** Read the loss back every this many epochs (and at the last). */
  lossEvery?: number;
  signal?: AbortSignal;
  /**
   * An optimizer the caller owns and keeps across calls (IDC trains one net with one momentum state
   * over many short calls); `optimizer` then only sets the lr. Default: a fresh one per call.
   */
  optimizerState?: Optimizer;
}

/** Training passes a protocol makes for `epochs`: DC's loop runs passes 0…E, i.e. E+1 of them. */
export function passesFor(d: DecaySpec, epochs: number): number {
  return d.kind === "dc-half" ? epochs + 1 : epochs;
}

/** The lr multiplier for pass `epoch` (0-based) of `epochs` passes, and whether the optimizer resets now. */
export function lrFactor(d: DecaySpec, epoch: number, epochs: number): { factor: number; reset: boolean } {
  switch (d.kind) {
    case "none":
      return { factor: 1, reset: false };
    case "dc-half": {
      // DC (E+1 passes) drops the lr after pass ⌊E/2⌋, so pass ⌊E/2⌋+1 is the first decayed one.
      const at = Math.floor((epochs - 1) / 2) + 1;
      return { factor: epoch >= at ? d.factor : 1, reset: d.resetOptimizer && epoch === at };
    }
    case "multistep": {
      let f = 1;
      for (const fr of d.fractions) if (epoch >= Math.floor(fr * epochs)) f *= d.gamma;
      return { factor: f, reset: false };
    }
    case "half-cosine":
      return { factor: 0.5 * (1 + Math.cos((Math.PI * epoch) / (2 * epochs))), reset: false };
    case "cosine":
      return { factor: 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs)), reset: false };
  }
}

/** The default DSA groups of an augmentation: all six, without cutout when CutMix is on. */
function augmentGroups(spec: AugmentSpec): readonly DsaGroup[] {
  return spec.cutmix ? DSA_ALL.filter((g) => g !== "cutout") : DSA_ALL;
}

/** Applies the protocol's augmentation to a batch (sync: parameters come from host Philox draws). */
export function augmentBatch(x: Tensor, spec: AugmentSpec, rng: Rng, digits: boolean): Tensor {
  switch (spec.kind) {
    case "none":
      return x;
    case "dc":
      return dcAugment(x, rng);
    case "dsa":
    case "idc":
      // Evaluation uses per-sample parameters; CutMix replaces cutout when both are on (IDC).
      return dsa(x, rng, {
        siamese: false,
        noFlip: digits,
        strategy: spec.strategy ?? augmentGroups(spec),
        mode: spec.kind === "idc" ? "idc" : "S",
      });
    case "rrc-flip":
      return randomResizedCrop(x, rng, [0.08, 1], !digits);
  }
}

/** The protocol's loss on the samples `idx`: gather, augment, optional CutMix, CE on hard or soft targets or KD. */
function batchLoss(model: Classifier, data: TrainData, idx: Int32Array, o: TrainOptions): Tensor {
  const it = tensor(idx, [idx.length], "i32");
  const rows = data.x instanceof HostImages ? data.x.gather(idx) : T.gather(data.x, it);
  let xb = augmentBatch(rows, o.augment, o.rng, o.digits);
  let target: Tensor = data.soft
    ? T.gather(data.soft, it)
    : tensor(Int32Array.from(idx, (i) => data.y[i]), [idx.length], "i32");
  let mixed: { perm: Int32Array; lambda: number } | null = null;
  if (o.augment.cutmix) {
    const m = cutmix(xb, o.rng, o.augment.cutmix.beta, o.augment.cutmix.prob);
    if (m) {
      xb = m.images;
      mixed = m;
    }
  }
  const logits = model.forward(xb);
  if (data.teacher) {
    // The teacher labels exactly what the student sees, CutMix included; it never trains.
    const teacher = data.teacher;
    const t = noGrad(() => teacherLogits(teacher.models, xb, teacher.temperature));
    return T.klDivSoft(logits, t, teacher.temperature);
  }
  if (mixed) {
    const targetB = data.soft
      ? T.gather(target, tensor(mixed.perm, [mixed.perm.length], "i32"))
      : tensor(Int32Array.from(mixed.perm, (j) => data.y[idx[j]]), [idx.length], "i32");
    return T.add(
      T.mul(T.crossEntropy(logits, target), mixed.lambda),
      T.mul(T.crossEntropy(logits, targetB), 1 - mixed.lambda),
    );
  }
  if (data.soft) target = T.reshape(target, [idx.length, -1]);
  return T.crossEntropy(logits, target);
}

/**
 * Logits whose tempered softmax is the teachers' mean tempered softmax: T·log(mean_i softmax(t_i/T))
 * (softmax of it over T gives back the mean, which sums to 1). One teacher: its logits.
 */
export function teacherLogits(models: readonly Classifier[], x: Tensor, temperature: number): Tensor {
  if (models.length === 0) throw new Error("teacherLogits: no teacher");
  if (models.length === 1) return models[0].forward(x);
  const probs = models.map((m) => T.softmax(T.mul(m.forward(x), 1 / temperature)));
  const sum = probs.reduce((a, b) => T.add(a, b));
  // The floor keeps log finite if every teacher underflows a class to 0.
  const logMean = E.un("log", E.bin("max", E.mul(inp(0), E.cst(1 / models.length)), E.cst(1e-30)));
  return T.map(E.mul(logMean, E.cst(temperature)), [sum]);
}

/**
 * Runs `body(parts)`, doubling the number of parts while some tensor exceeds what the device can bind
 * (llvmpipe binds 128 MiB: e.g. 500 images × 128 channels × 32² floats). The failing attempt threw
 * before any optimizer step, so retrying is safe.
 */
export function fitMicroBatches<R>(parts: number, body: (parts: number) => R, limit = 4096): R {
  for (;;) {
    try {
      return body(parts);
    } catch (e) {
      if (!(e instanceof BindingLimitError) || parts >= limit) throw e;
      parts *= 2;
    }
  }
}

export async function trainClassifier(
  model: Classifier,
  data: TrainData,
  o: TrainOptions,
): Promise<number[]> {
  const n = data.x.shape[0];
  const params = model.parameters();
  const opt = o.optimizerState ?? makeOptimizer(o.optimizer, params);
  const losses: number[] = [];
  const lossEvery = o.lossEvery ?? Math.max(1, Math.floor(o.epochs / 10));
  const bs = Math.min(o.batchSize, n);
  let micro = 1;
  try {
    model.train();
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      if (o.signal?.aborted) throw new DOMException("training aborted", "AbortError");
      const { factor, reset } = lrFactor(o.decay, epoch, o.epochs);
      if (reset) opt.reset();
      opt.setLr(o.optimizer.lr * factor);
      const perm = o.rng.permutation(n);
      const readLoss = (epoch + 1) % lossEvery === 0 || epoch === o.epochs - 1;
      let lossSum: Tensor | null = null;
      let batches = 0;
      for (let b = 0; b < n; b += bs) {
        const idx = perm.subarray(b, Math.min(n, b + bs));
        const loss = fitMicroBatches(micro, (m) => {
          micro = m;
          return tidy(() => {
            // Micro-batches (only when the batch's activations exceed what the device can bind)
            // accumulate size-weighted gradients: exact for per-sample norms, ghost-batch for BN.
            const size = Math.ceil(idx.length / m);
            let total: Tensor | null = null;
            let grads: Tensor[] | null = null;
            for (let s = 0; s < idx.length; s += size) {
              const part = idx.subarray(s, Math.min(idx.length, s + size));
              const l = T.mul(batchLoss(model, data, part, o), part.length / idx.length);
              const g = grad(l, params);
              total = total ? T.add(total, l.detach()) : l.detach();
              grads = grads ? grads.map((a, i) => T.add(a, g[i])) : g;
            }
            noGrad(() => opt.step(grads!));
            return total!;
          });
        });
        if (!readLoss) loss.dispose();
        else if (!lossSum) lossSum = loss;
        else {
          const acc: Tensor = lossSum;
          lossSum = noGrad(() => T.add(acc, loss));
          acc.dispose();
          loss.dispose();
        }
        batches++;
      }
      let mean: number | null = null;
      if (readLoss && lossSum) {
        mean = (await lossSum.item()) / batches;
        lossSum.dispose();
        losses.push(mean);
        if (!Number.isFinite(mean)) throw new Error(`training diverged at epoch ${epoch} (loss ${mean})`);
      }
      await o.onEpochEnd?.(epoch, mean);
    }
  } finally {
    if (!o.optimizerState) opt.dispose();
  }
  return losses;
}

/** Top-1 accuracy (percent) of `model` on device images `x` with labels `y`, in eval mode. */
export async function accuracy(model: Classifier, x: Tensor, y: Int32Array, batch = 500): Promise<number> {
  const wasTraining = model.training;
  model.eval();
  const n = x.shape[0];
  try {
    const total = fitMicroBatches(1, (parts) => {
      const size = Math.ceil(Math.min(batch, n) / parts);
      let total: Tensor | null = null;
      try {
        for (let b = 0; b < n; b += size) {
          const end = Math.min(n, b + size);
          const prev: Tensor | null = total;
          total = noGrad(() =>
            tidy(() => {
              const xb = T.slice(x, [b, 0, 0, 0], [end - b, -1, -1, -1]);
              const c = T.correctCount(model.forward(xb), tensor(y.subarray(b, end), [end - b], "i32"));
              return prev ? T.add(prev, c) : c;
            })
          );
          prev?.dispose();
        }
      } catch (e) {
        (total as Tensor | null)?.dispose();
        throw e;
      }
      return total as Tensor | null;
    });
    const correct = total ? await total.item() : 0;
    total?.dispose();
    return (100 * correct) / Math.max(n, 1);
  } finally {
    model.train(wasTraining);
  }
}
