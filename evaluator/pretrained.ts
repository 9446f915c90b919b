/**
 * Networks trained by ddrepro itself on real data and cached (no downloaded weights exist here):
 * herding/k-center feature extractors, CMI's extractor pool, soft-label teachers. They train with the
 * evaluator's loop (train.ts), so they live with it. A cache entry is
 * keyed by everything that determines the weights (model, dataset manifest, training recipe, seed),
 * written atomically, and verified on load.
 */
import type { Dataset } from "../data/types.ts";
import { Rng } from "../engine/random.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";
import { trainingCodeVersion } from "../results/source_versions.ts";
import type { Classifier } from "../models/module.ts";
import { createModel } from "../models/registry.ts";
import { loadModelInto, saveModel } from "../models/checkpoint.ts";
import { cacheRoot } from "../data/fsutil.ts";
import { splitForTraining } from "./device_data.ts";
import { trainClassifier } from "./train.ts";
import type { ProgressReporter } from "../data/progress.ts";

/** The key recipe's version; the training code itself is versioned by its sources (`code`). */
export const PRETRAIN_VERSION = "1";

export interface PretrainSpec {
  model: string;
  dataset: Dataset;
  epochs: number;
  seed: number;
  /** Train on the first `trainLimit` images of a seeded permutation (profiles shrink this). */
  trainLimit?: number;
  /** Train-split indices the model may see (e.g. all but the evaluator's holdout); default all. */
  pool?: Int32Array;
  lr?: number;
  batchSize?: number;
  /** SGD weight decay (default 5e-4; CMI's extractor pool uses 1e-3). */
  weightDecay?: number;
}

export function pretrainKey(s: PretrainSpec): string {
  return sha256Hex(canonicalJson({
    v: PRETRAIN_VERSION,
    // The code that trains the weights (engine, data, models, evaluator): a change retrains them.
    code: trainingCodeVersion(),
    model: s.model,
    dataset: s.dataset.manifest.hash,
    trainCount: s.dataset.train.count,
    epochs: s.epochs,
    seed: s.seed,
    trainLimit: s.trainLimit ?? null,
    lr: s.lr ?? 0.01,
    batchSize: s.batchSize ?? 256,
    // Only present when set, so keys of entries cached before the option existed stay valid.
    ...(s.weightDecay === undefined ? {} : { weightDecay: s.weightDecay }),
    ...(s.pool === undefined
      ? {}
      : { pool: sha256Hex(new Uint8Array(s.pool.buffer, s.pool.byteOffset, s.pool.byteLength)) }),
  }));
}

/** A trained network in eval mode: loaded from the cache, or trained now and cached. */
/** `signal` stops training between epochs (nothing is cached then). */
export async function pretrained(
  spec: PretrainSpec,
  progress?: ProgressReporter,
  signal?: AbortSignal,
): Promise<Classifier> {
  const { dataset } = spec;
  const info = dataset.info;
  const side = Math.round(
    Math.sqrt(dataset.train.images.length / Math.max(dataset.train.count, 1) / info.shape.channels),
  );
  const model = createModel(spec.model, new Rng(spec.seed), {
    channels: info.shape.channels,
    classes: info.numClasses,
    imageSize: side,
  });
  const key = pretrainKey(spec);
  const dir = `${cacheRoot()}/pretrained`;
  const path = `${dir}/${spec.model}-${info.id}-${key.slice(0, 16)}.safetensors`;
  try {
    const meta = await loadModelInto(model, path);
    if (meta.key === key) return model.eval();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) && !String(e).includes("No such file")) {
      progress?.log(`pretrained cache ${path} unusable (${e instanceof Error ? e.message : e}); retraining`);
    }
  }
  const rng = new Rng(spec.seed).fork(7);
  const pool = spec.pool;
  const n = pool ? pool.length : dataset.train.count;
  let idx: Int32Array | undefined = spec.trainLimit && spec.trainLimit < n
    ? rng.permutation(n).slice(0, spec.trainLimit)
    : undefined;
  if (pool) idx = idx ? idx.map((i) => pool[i]) : pool;
  const { x, y } = splitForTraining(dataset, dataset.train, idx);
  try {
    await trainClassifier(model, { x, y }, {
      epochs: spec.epochs,
      batchSize: spec.batchSize ?? 256,
      optimizer: { kind: "sgd", lr: spec.lr ?? 0.01, momentum: 0.9, weightDecay: spec.weightDecay ?? 5e-4 },
      decay: { kind: "dc-half", factor: 0.1, resetOptimizer: false },
      augment: { kind: "none", cutmix: null },
      digits: info.digits,
      rng,
      signal,
      onEpochEnd: (e, loss) =>
        progress?.update(e + 1, spec.epochs, `pretraining ${spec.model} (loss ${loss?.toFixed(3) ?? "…"})`),
    });
  } catch (e) {
    // An interrupted (or failed) pretraining hands back nothing, so its weights are freed here.
    model.dispose();
    throw e;
  } finally {
    x.dispose();
  }
  await Deno.mkdir(dir, { recursive: true });
  await saveModel(model, path, { key, model: spec.model, dataset: info.id, epochs: String(spec.epochs) });
  return model.eval();
}
