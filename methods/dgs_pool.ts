/**
 * DGS's image pool, cached on disk. The pool (the Minimax fine-tune, then n × IPC samples per class) depends
 * on the foundation, the Minimax settings, the pool size and the seed — not on the sampling distribution, the
 * difficulty scorer or the thresholds — so the cells of an ablation that change only those (Table 3's shapes)
 * sample from one pool per seed instead of repeating the most expensive stage. A cached pool is the bytes the
 * computation produced, so numbers do not depend on whether it was cached.
 */
import { readSafetensors, writeSafetensors } from "../engine/safetensors.ts";
import { cacheRoot } from "../data/fsutil.ts";
import type { ProgressReporter } from "../data/progress.ts";
import type { Dataset } from "../data/types.ts";
import type { HostBatch } from "../models/latent_sampling.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";
import { trainingCodeVersion } from "../results/source_versions.ts";

/** Bump when the same inputs give a different pool. */
const POOL_VERSION = "1";

export interface Pool {
  images: HostBatch;
  labels: number[];
  /** The fine-tune's steps and last loss (reported in the run's metrics). */
  tuneSteps: number;
  tuneLoss: number;
}

/**
 * Content key of a pool: the dataset's train images and labels (the fine-tune's data), the foundation, the
 * Minimax settings, images per class, the seed, and the code that generates it.
 */
export function poolKey(
  dataset: Dataset,
  inputs: {
    foundation: string;
    /** sha256 of the shipped checkpoints (none for the untrained models). */
    weights: string[];
    minimax: Record<string, unknown>;
    perClass: number;
    seed: number;
  },
): string {
  const t = dataset.train;
  return sha256Hex(canonicalJson({
    v: POOL_VERSION,
    dataset: dataset.info.id,
    images: sha256Hex(new Uint8Array(t.images.buffer, t.images.byteOffset, t.images.byteLength)),
    labels: sha256Hex(Int32Array.from(t.labels).join(",")),
    ...inputs,
    code: trainingCodeVersion("methods/dgs.ts"),
  }));
}

export function poolPath(dataset: Dataset, key: string): string {
  return `${cacheRoot()}/dgs/pool-${dataset.info.id}-${key.slice(0, 24)}.safetensors`;
}

/** Reads a pool written by savePool, validating it before use; null when the file is absent. */
export async function loadPool(
  path: string,
  expect: { key: string; classes: number; perClass: number },
): Promise<Pool | null> {
  let f;
  try {
    f = await readSafetensors(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const bad = (what: string) => new Error(`${path}: not a usable DGS pool (${what})`);
  if (f.metadata.kind !== "dgs-pool" || f.metadata.key !== expect.key) throw bad("kind or key differs");
  const { images, labels } = f.tensors;
  const n = expect.classes * expect.perClass;
  if (!images || images.dtype !== "F32" || images.shape.length !== 4 || images.shape[0] !== n) {
    throw bad(`images must be F32 [${n}, h, w, c]`);
  }
  if (!labels || labels.dtype !== "I32" || labels.shape.length !== 1 || labels.shape[0] !== n) {
    throw bad(`labels must be I32 [${n}]`);
  }
  const data = images.data as Float32Array, l = labels.data as Int32Array;
  if (!data.every(Number.isFinite)) throw bad("images have non-finite values");
  // Class-major, as sampleClasses writes it: class c is rows [c·perClass, (c+1)·perClass).
  if (!l.every((v, i) => v === Math.floor(i / expect.perClass))) throw bad("labels are not class-major");
  const tuneSteps = Number(f.metadata.tuneSteps), tuneLoss = Number(f.metadata.tuneLoss);
  if (!Number.isInteger(tuneSteps) || tuneSteps < 0) throw bad("tuneSteps");
  return {
    images: { data, shape: images.shape as [number, number, number, number] },
    labels: [...l],
    tuneSteps,
    tuneLoss,
  };
}

export async function savePool(path: string, key: string, p: Pool): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await writeSafetensors(path, {
    images: { dtype: "F32", shape: p.images.shape, data: p.images.data },
    labels: { dtype: "I32", shape: [p.labels.length], data: Int32Array.from(p.labels) },
  }, { kind: "dgs-pool", key, tuneSteps: String(p.tuneSteps), tuneLoss: String(p.tuneLoss) });
}

/** The pool from the cache when this exact computation was done before, else computed and stored. */
export async function cachedPool(
  path: string,
  expect: { key: string; classes: number; perClass: number },
  compute: () => Promise<Pool>,
  progress: ProgressReporter,
): Promise<{ pool: Pool; cached: boolean }> {
  try {
    const pool = await loadPool(path, expect);
    if (pool !== null) return { pool, cached: true };
  } catch (e) {
    progress.log(`dgs: ${e instanceof Error ? e.message : e}; sampling the pool again`);
  }
  const pool = await compute();
  await savePool(path, expect.key, pool);
  return { pool, cached: false };
}
