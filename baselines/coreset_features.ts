/**
 * What the feature-based coresets (herding, k-center; docs/protocols.md §6.4) share: the
 * candidate pool per class, a ConvNet trained on the real training data (evaluator/pretrained.ts's keyed
 * cache, so every run and seed reuses one network as the reference's single pretrained model), and the
 * candidates' flattened `embed` features read back to the host, where the greedy selections run.
 */
import { z } from "zod";
import { noGrad, type Tensor, tidy } from "../engine/tensor.ts";
import { mixSeed } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import type { Dataset } from "../data/types.ts";
import type { Classifier } from "../models/module.ts";
import { pretrained } from "../evaluator/pretrained.ts";
import { splitToDevice } from "../evaluator/device_data.ts";
import { fitMicroBatches } from "../evaluator/train.ts";
import type { MethodBudget } from "../methods/budget.ts";
import type { ProgressReporter } from "../data/progress.ts";
import { indicesByClass } from "./real_images.ts";

export const CoresetFeatureFields = {
  /** Model registry id of the feature network (IDC's coreset: ConvNet-3, 2048-d features). */
  featureModel: z.string().min(1),
  featureEpochs: z.number().int().min(1),
  /** Its mini-batch (the pretraining recipe's 256; small profiles take more, smaller steps). */
  featureBatchSize: z.number().int().positive(),
  /** Train it on this many real images (seeded subset); null: the whole training split. */
  featureTrainLimit: z.number().int().positive().nullable(),
  /** Fixed, not the run seed: one cached network serves every repeat. */
  featureSeed: z.number().int().min(0),
  /** Select among this many random images per class (seeded by the run); null: every image. */
  candidatesPerClass: z.number().int().positive().nullable(),
};
export const CoresetFeatureConfig = z.object(CoresetFeatureFields).strict();
export type CoresetFeatureConfig = z.infer<typeof CoresetFeatureConfig>;

/**
 * Paper defaults. The epochs of the reference's pretrained ConvNet are not stated [UNVERIFIED]: 30
 * epochs of the pretraining recipe (SGD 0.01, m 0.9, wd 5e-4, lr ×0.1 at half) reach the ConvNet's
 * usual full-data accuracy on the DC datasets.
 */
export function coresetFeatureDefaults(): CoresetFeatureConfig {
  return {
    featureModel: "convnet3",
    featureEpochs: 30,
    featureBatchSize: 256,
    featureTrainLimit: null,
    featureSeed: 0,
    candidatesPerClass: null,
  };
}

/**
 * How profiles bound herding and k-center (family "coreset"; the values are in experiments/profiles.ts):
 * the feature network's training and the candidate pool, never the selection rule.
 */
export const CORESET_BUDGET: MethodBudget<CoresetFeatureConfig> = {
  family: "coreset",
  keys: {
    featureEpochs: "trainEpochs",
    featureBatchSize: "trainBatch",
    featureTrainLimit: "trainImages",
    candidatesPerClass: "candidates",
  },
};

/** Candidate indices of each class (all of them, or a seeded class-balanced sample). */
export function candidatesByClass(dataset: Dataset, perClass: number | null, seed: number): Int32Array[] {
  const all = indicesByClass(dataset.train.labels, dataset.info.numClasses);
  if (perClass === null) return all;
  const k = Math.min(perClass, ...all.map((l) => l.length));
  return all.map((l, c) => shuffledPrefix(l, k, mixSeed(mixSeed(seed, 0xc0e5), c)));
}

/**
 * `k` distinct entries of `pool` (sorted), by a seeded Fisher–Yates shuffle. A candidate pool, not a
 * distilled set: it keeps its own stream so stored herding/k-center results stand.
 */
function shuffledPrefix(pool: Int32Array, k: number, seed: number): Int32Array {
  const p = pool.slice();
  let s = seed;
  for (let i = p.length - 1; i > 0; i--) {
    s = mixSeed(s, i);
    const j = s % (i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p.slice(0, k).sort();
}

/** The trained feature network (cached by evaluator/pretrained.ts), frozen, eval mode. */
export async function featureNet(
  dataset: Dataset,
  cfg: CoresetFeatureConfig,
  progress?: ProgressReporter,
  signal?: AbortSignal,
): Promise<Classifier> {
  const net = await pretrained(
    {
      model: cfg.featureModel,
      dataset,
      epochs: cfg.featureEpochs,
      seed: cfg.featureSeed,
      trainLimit: cfg.featureTrainLimit ?? undefined,
      batchSize: cfg.featureBatchSize,
    },
    progress,
    signal,
  );
  for (const p of net.parameters()) p.requireGrad(false);
  return net.eval();
}

/**
 * `net.embed` of training images `idx` as host rows [idx.length × embedDim], in chunks of at most
 * `chunk` images (halved further while an activation exceeds the device's binding limit).
 */
export async function embedRows(
  net: Classifier,
  dataset: Dataset,
  idx: Int32Array,
  chunk = 200,
): Promise<Float32Array> {
  const d = net.embedDim;
  const out = new Float32Array(idx.length * d);
  for (let b = 0; b < idx.length; b += chunk) {
    const part = idx.subarray(b, Math.min(idx.length, b + chunk));
    const { x } = splitToDevice(dataset, dataset.train, part);
    try {
      const f = fitMicroBatches(1, (parts) =>
        noGrad(() =>
          tidy(() => {
            const size = Math.ceil(part.length / parts);
            const pieces: Tensor[] = [];
            for (let s = 0; s < part.length; s += size) {
              const len = Math.min(size, part.length - s);
              pieces.push(net.embed(T.slice(x, [s, 0, 0, 0], [len, -1, -1, -1])));
            }
            return pieces.length === 1 ? pieces[0] : T.concat(pieces, 0);
          })
        ));
      out.set(await f.f32(), b * d);
      f.dispose();
    } finally {
      x.dispose();
    }
  }
  return out;
}

/** Squared L2 distance between row `i` of `rows` (width d) and `v`. */
export function sqDist(rows: Float32Array, i: number, v: Float32Array | Float64Array, d: number): number {
  let s = 0;
  const o = i * d;
  for (let k = 0; k < d; k++) {
    const t = rows[o + k] - v[k];
    s += t * t;
  }
  return s;
}

/**
 * Runs a per-class selection on trained features: `select(features [n × dim], n, dim, k, seed)`
 * returns k positions within the class's candidates. Returns the chosen training indices, class-major.
 */
export async function selectByFeatures(
  dataset: Dataset,
  ipc: number,
  seed: number,
  cfg: CoresetFeatureConfig,
  select: (features: Float32Array, n: number, dim: number, k: number, seed: number) => Int32Array,
  progress?: ProgressReporter,
  signal?: AbortSignal,
): Promise<Int32Array> {
  const pools = candidatesByClass(dataset, cfg.candidatesPerClass, seed);
  for (const [c, p] of pools.entries()) {
    if (p.length < ipc) throw new Error(`IPC ${ipc} is larger than class ${c}'s ${p.length} candidates`);
  }
  const net = await featureNet(dataset, cfg, progress, signal);
  try {
    const out: number[] = [];
    for (const [c, pool] of pools.entries()) {
      const f = await embedRows(net, dataset, pool);
      const pos = select(f, pool.length, net.embedDim, ipc, mixSeed(seed, c));
      if (pos.length !== ipc) throw new Error(`selection returned ${pos.length} of ${ipc} images`);
      for (const p of pos) out.push(pool[p]);
      progress?.update(c + 1, pools.length, "class");
    }
    return Int32Array.from(out);
  } finally {
    net.dispose();
  }
}
