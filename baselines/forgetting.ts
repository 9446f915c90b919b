/**
 * Forgetting coreset (Toneva et al., ICLR 2019; docs/protocols.md §6.4): train a ConvNet on the
 * (candidate) training set, record after every epoch which samples it classifies correctly, count
 * forgetting events (correct at one epoch, incorrect at the next) per sample, and keep the most
 * forgotten samples of each class. Samples never learned count as forgotten infinitely often, as in
 * the paper. Ties are broken by a seeded shuffle, so seeds give different sets among equals.
 */
import { z } from "zod";
import { noGrad, type Tensor, tidy } from "../engine/tensor.ts";
import { mixSeed, Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import type { Classifier } from "../models/module.ts";
import { splitToDevice } from "../evaluator/device_data.ts";
import { trainClassifier } from "../evaluator/train.ts";
import type { MethodBudget } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { buildNet, inputSpec } from "./gradient_matching.ts";
import { candidatesByClass } from "./coreset_features.ts";
import { realSubset } from "./real_images.ts";

export const ForgettingConfig = z.object({
  model: z.string().min(1),
  /** ConvNet width (128 in the papers; profiles and tests shrink it). */
  width: z.number().int().positive(),
  epochs: z.number().int().min(2),
  batchSize: z.number().int().positive(),
  lr: z.number().positive(),
  momentum: z.number().min(0),
  weightDecay: z.number().min(0),
  /** Train on (and select from) this many random images per class; null: the whole split. */
  candidatesPerClass: z.number().int().positive().nullable(),
}).strict();
export type ForgettingConfig = z.infer<typeof ForgettingConfig>;

/**
 * Paper defaults: ConvNet-3 with the DC training recipe (SGD 0.01, m 0.9, wd 5e-4), batch 128 and 200
 * epochs as Toneva et al.'s CIFAR runs [UNVERIFIED for the DC coreset tables' exact schedule].
 */
export function forgettingDefaults(): ForgettingConfig {
  return {
    model: "convnet3",
    width: 128,
    epochs: 200,
    batchSize: 128,
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
    candidatesPerClass: null,
  };
}

/** How profiles bound the forgetting run (the values are in experiments/profiles.ts). */
export const FORGETTING_BUDGET: MethodBudget<ForgettingConfig> = {
  keys: {
    epochs: "trainEpochs",
    width: "width",
    batchSize: "trainBatch",
    candidatesPerClass: "candidates",
  },
};

/**
 * Forgetting events per sample from a correctness history (history[e][i] = 1 when sample i was
 * classified correctly after epoch e): the number of 1 → 0 transitions between consecutive epochs;
 * Infinity for samples never classified correctly.
 */
export function forgettingCounts(history: readonly Uint8Array[]): Float64Array {
  const n = history[0]?.length ?? 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let learned = false, events = 0;
    for (let e = 0; e < history.length; e++) {
      if (history[e][i]) learned = true;
      else if (e > 0 && history[e - 1][i]) events++;
    }
    out[i] = learned ? events : Infinity;
  }
  return out;
}

/** The k most forgotten positions of `counts` (descending; ties in the seeded order `tieOrder`). */
export function mostForgotten(counts: Float64Array, k: number, tieOrder: Int32Array): Int32Array {
  const rank = new Int32Array(counts.length);
  tieOrder.forEach((pos, r) => (rank[pos] = r));
  const order = Array.from(counts.keys()).sort((a, b) =>
    counts[b] === counts[a] ? rank[a] - rank[b] : counts[b] - counts[a]
  );
  return Int32Array.from(order.slice(0, k));
}

/** Per-sample correctness (1/0) of `net` on device images `x`, in eval mode, in chunks. */
async function correctness(net: Classifier, x: Tensor, y: Int32Array, chunk = 200): Promise<Uint8Array> {
  const n = x.shape[0];
  const out = new Uint8Array(n);
  const wasTraining = net.training;
  net.eval();
  try {
    for (let b = 0; b < n; b += chunk) {
      const len = Math.min(chunk, n - b);
      const pred = noGrad(() =>
        tidy(() => T.argmax(net.forward(T.slice(x, [b, 0, 0, 0], [len, -1, -1, -1])), -1))
      );
      const v = await pred.data();
      pred.dispose();
      for (let i = 0; i < len; i++) out[b + i] = v[i] === y[b + i] ? 1 : 0;
    }
  } finally {
    net.train(wasTraining);
  }
  return out;
}

/** Trains a fresh network on the candidates, records correctness after every epoch, selects per class. */
async function distillForgetting(ctx: DistillContext<ForgettingConfig>): Promise<DistillResult> {
  const { dataset, ipc, seed, config: cfg } = ctx;
  const t0 = performance.now();
  const pools = candidatesByClass(dataset, cfg.candidatesPerClass, seed);
  for (const [c, p] of pools.entries()) {
    if (p.length < ipc) throw new Error(`IPC ${ipc} is larger than class ${c}'s ${p.length} candidates`);
  }
  const all = Int32Array.from(pools.flatMap((p) => Array.from(p)));
  const rng = new Rng(seed);
  const net = buildNet(cfg.model, cfg.width, rng.fork(1), inputSpec(dataset));
  const { x, y } = splitToDevice(dataset, dataset.train, all);
  const history: Uint8Array[] = [];
  try {
    await trainClassifier(net, { x, y }, {
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      optimizer: { kind: "sgd", lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay },
      decay: { kind: "none" },
      augment: { kind: "none", cutmix: null },
      digits: dataset.info.digits,
      rng: rng.fork(2),
      lossEvery: Number.MAX_SAFE_INTEGER,
      signal: ctx.signal,
      onEpochEnd: async (e) => {
        history.push(await correctness(net, x, y));
        ctx.progress.update(e + 1, cfg.epochs, "epoch");
      },
    });
  } finally {
    x.dispose();
    net.dispose();
  }
  const counts = forgettingCounts(history);
  const chosen: number[] = [];
  let off = 0, neverLearned = 0, forgotten = 0;
  for (const [c, pool] of pools.entries()) {
    const cc = counts.subarray(off, off + pool.length);
    off += pool.length;
    const tie = new Rng(mixSeed(seed, 0x71e + c)).permutation(pool.length);
    for (const p of mostForgotten(cc, ipc, tie)) {
      chosen.push(pool[p]);
      if (cc[p] === Infinity) neverLearned++;
      else if (cc[p] > 0) forgotten++;
    }
  }
  const idx = Int32Array.from(chosen);
  return {
    set: realSubset(ctx, idx, "forgetting"),
    metrics: {
      selected: idx.length,
      candidates: all.length,
      finalTrainAcc: 100 * history[history.length - 1].reduce((s, v) => s + v, 0) / all.length,
      selectedNeverLearned: neverLearned,
      selectedForgotten: forgotten,
      seconds: (performance.now() - t0) / 1000,
    },
  };
}

export const forgettingMethod: MethodDef<ForgettingConfig> = {
  id: "forgetting",
  description: "Forgetting-events coreset: the most forgotten samples per class while training a ConvNet",
  reference: "Toneva et al., ICLR 2019 (as the coreset baseline of DC, Zhao et al. 2021)",
  implemented: true,
  schema: ForgettingConfig,
  defaults: () => forgettingDefaults(),
  budget: FORGETTING_BUDGET,
  distill: distillForgetting,
};
