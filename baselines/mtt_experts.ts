/**
 * MTT's expert buffer (docs/protocols.md §6.3, mtt-distillation `buffer.py`): ConvNets trained on
 * the real data with SGD (no momentum, no weight decay) and per-sample DSA, with a parameter snapshot
 * at initialisation and after every epoch. Each expert is trained once and cached atomically as
 * safetensors ([epochs + 1, P] f32), keyed by everything that determines it; a buffer of `count`
 * experts is experts 0…count−1, so smaller and larger buffers share their common members.
 */
import { noGrad, type Tensor, tensor } from "../engine/tensor.ts";
import { mixSeed, Rng } from "../engine/random.ts";
import { readSafetensors, writeSafetensors } from "../engine/safetensors.ts";
import type { Dataset } from "../data/types.ts";
import type { DsaGroup } from "../data/augment.ts";
import { ConvNet } from "../models/convnet.ts";
import { cacheRoot } from "../data/fsutil.ts";
import { splitForTraining, type TrainImages, trainImages } from "../evaluator/device_data.ts";
import { loadOrFitZca, zcaSplitHost, zcaToDevice } from "../data/zca.ts";
import { trainClassifier } from "../evaluator/train.ts";
import type { ProgressReporter } from "../data/progress.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";
import { trainingCodeVersion } from "../results/source_versions.ts";
import { buildNet, inputSpec } from "./gradient_matching.ts";

/** The key recipe's version; the training code itself is versioned by its sources (`code`). */
export const EXPERT_VERSION = "1";

export interface ExpertSpec {
  dataset: Dataset;
  model: string;
  /** ConvNet width (128 in the papers; tests shrink it). */
  width: number;
  epochs: number;
  lr: number;
  batchSize: number;
  /** Per-sample DSA groups during expert training; empty: no augmentation. */
  dsaStrategy: readonly DsaGroup[];
  /** Train on the first `trainLimit` images of a seeded permutation; null: the whole split. */
  trainLimit: number | null;
  seed: number;
  /** ZCA whitening of the training images (eps), as MTT's `--zca`; null: the dataset's mean/std space. */
  zca: number | null;
}

/** One expert: parameter shapes (ConvNet.parameters() order) and a flat snapshot per epoch boundary. */
export interface Trajectory {
  shapes: number[][];
  /** snapshots[e] = parameters after e epochs (e = 0: initialisation). */
  snapshots: Float32Array[];
}

export function expertKey(s: ExpertSpec, index: number): string {
  return sha256Hex(canonicalJson({
    v: EXPERT_VERSION,
    // The code that trains an expert (engine, data, models, evaluator, this module): a change retrains it.
    code: trainingCodeVersion("baselines/mtt_experts.ts"),
    model: s.model,
    width: s.width,
    dataset: s.dataset.manifest.hash,
    trainCount: s.dataset.train.count,
    epochs: s.epochs,
    lr: s.lr,
    batchSize: s.batchSize,
    dsa: [...s.dsaStrategy],
    trainLimit: s.trainLimit,
    seed: s.seed,
    // Only present when set, so the keys of experts cached before the option existed stay valid.
    ...(s.zca === null ? {} : { zca: s.zca }),
    index,
  }));
}

export function expertPath(s: ExpertSpec, index: number): string {
  const k = expertKey(s, index).slice(0, 16);
  return `${cacheRoot()}/experts/${s.model}-w${s.width}-${s.dataset.info.id}/expert-${index}-${k}.safetensors`;
}

/** A fresh student/expert network of the spec (always a ConvNet: MTT's functional student needs one). */
export function expertNet(s: ExpertSpec, rng: Rng): ConvNet {
  const net = buildNet(s.model, s.width, rng, inputSpec(s.dataset));
  if (!(net instanceof ConvNet)) {
    net.dispose();
    throw new Error(`MTT needs a ConvNet (functional student); "${s.model}" is not one`);
  }
  return net;
}

async function flatSnapshot(params: readonly Tensor[]): Promise<Float32Array> {
  const parts = await Promise.all(params.map((p) => p.f32()));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The training split (rows `idx`) ZCA-whitened with the dataset's cached transform (data/zca.ts). */
async function whitenedForTraining(
  dataset: Dataset,
  eps: number,
  idx?: Int32Array,
): Promise<{ x: TrainImages; y: Int32Array }> {
  const z = zcaToDevice((await loadOrFitZca(dataset, { eps })).transform);
  try {
    const { data, shape, y } = await zcaSplitHost(z, dataset.train, idx);
    return { x: trainImages(data, shape), y };
  } finally {
    z.dispose();
  }
}

/** Trains expert `index` (buffer.py: SGD lr, momentum 0, wd 0, batch 256, per-sample DSA). */
export async function trainExpert(
  s: ExpertSpec,
  index: number,
  progress?: ProgressReporter,
  signal?: AbortSignal,
): Promise<Trajectory> {
  const rng = new Rng(mixSeed(s.seed, index));
  const net = expertNet(s, rng.fork(0));
  const params = net.parameters();
  const n = s.dataset.train.count;
  const idx = s.trainLimit !== null && s.trainLimit < n
    ? rng.fork(1).permutation(n).slice(0, s.trainLimit)
    : undefined;
  const { x, y } = s.zca === null
    ? splitForTraining(s.dataset, s.dataset.train, idx)
    : await whitenedForTraining(s.dataset, s.zca, idx);
  try {
    const snapshots = [await flatSnapshot(params)];
    await trainClassifier(net, { x, y }, {
      epochs: s.epochs,
      batchSize: s.batchSize,
      optimizer: { kind: "sgd", lr: s.lr, momentum: 0, weightDecay: 0 },
      decay: { kind: "none" },
      augment: { kind: s.dsaStrategy.length ? "dsa" : "none", cutmix: null },
      digits: s.dataset.info.digits,
      rng: rng.fork(2),
      signal,
      onEpochEnd: async (e, loss) => {
        snapshots.push(await flatSnapshot(params));
        progress?.update(e + 1, s.epochs, `expert ${index} (loss ${loss?.toFixed(3) ?? "…"})`);
      },
    });
    return { shapes: params.map((p) => [...p.shape]), snapshots };
  } finally {
    x.dispose();
    net.dispose();
  }
}

export async function saveExpert(path: string, t: Trajectory, key: string): Promise<void> {
  const p = t.snapshots[0].length;
  const data = new Float32Array(t.snapshots.length * p);
  t.snapshots.forEach((s, e) => data.set(s, e * p));
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await writeSafetensors(path, { trajectory: { dtype: "F32", shape: [t.snapshots.length, p], data } }, {
    key,
    shapes: JSON.stringify(t.shapes),
  });
}

/** The cached expert, or null when absent or written under another key. */
export async function loadExpert(path: string, key: string): Promise<Trajectory | null> {
  let file;
  try {
    file = await readSafetensors(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const t = file.tensors.trajectory;
  if (file.metadata.key !== key || !t || t.dtype !== "F32" || t.shape.length !== 2) return null;
  const [e, p] = t.shape;
  const shapes = JSON.parse(file.metadata.shapes) as number[][];
  return {
    shapes,
    snapshots: Array.from({ length: e }, (_, i) => t.data.slice(i * p, (i + 1) * p)),
  };
}

/** The key stored in a cached expert's header (without reading its data), or null when absent/unreadable. */
async function cachedKey(path: string): Promise<string | null> {
  const readAll = async (f: Deno.FsFile, buf: Uint8Array) => {
    for (let at = 0; at < buf.length;) {
      const r = await f.read(buf.subarray(at));
      if (r === null) return false;
      at += r;
    }
    return true;
  };
  try {
    using f = await Deno.open(path, { read: true });
    const pre = new Uint8Array(8);
    if (!await readAll(f, pre)) return null;
    const n = Number(new DataView(pre.buffer).getBigUint64(0, true));
    if (n <= 0 || n > 1_000_000) return null;
    const header = new Uint8Array(n);
    if (!await readAll(f, header)) return null;
    const meta = JSON.parse(new TextDecoder().decode(header)).__metadata__;
    return typeof meta?.key === "string" ? meta.key : null;
  } catch {
    return null;
  }
}

/** Experts 0…count−1 of a spec: trained (and cached) on first use, then read from the cache. */
export class ExpertBuffer {
  private last: { index: number; t: Trajectory } | null = null;
  private constructor(readonly spec: ExpertSpec, readonly count: number, readonly trained: number) {}

  static async open(
    s: ExpertSpec,
    count: number,
    progress?: ProgressReporter,
    signal?: AbortSignal,
  ): Promise<ExpertBuffer> {
    let trained = 0;
    for (let i = 0; i < count; i++) {
      const path = expertPath(s, i), key = expertKey(s, i);
      // A header with our key is enough here; `get` reads (and verifies) the data when it is used.
      if (await cachedKey(path) === key) continue;
      progress?.log(`MTT: training expert ${i + 1}/${count} (${s.epochs} epochs)`);
      await saveExpert(path, await trainExpert(s, i, progress, signal), key);
      trained++;
    }
    return new ExpertBuffer(s, count, trained);
  }

  async get(index: number): Promise<Trajectory> {
    if (this.last?.index === index) return this.last.t;
    const t = await loadExpert(expertPath(this.spec, index), expertKey(this.spec, index));
    if (!t) throw new Error(`MTT: expert ${index} vanished from the cache`);
    this.last = { index, t };
    return t;
  }
}

/** A flat snapshot as parameter tensors of the given shapes (on the device, in the caller's scope). */
export function unflatten(flat: Float32Array, shapes: readonly number[][]): Tensor[] {
  let at = 0;
  return noGrad(() =>
    shapes.map((s) => {
      const n = s.reduce((a, b) => a * b, 1);
      const t = tensor(flat.subarray(at, at + n), s);
      at += n;
      return t;
    })
  );
}
