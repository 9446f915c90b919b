/**
 * The two steps of a repeat, shared by the runner and the `dd distill` / `dd eval` commands so a set
 * is produced and judged the same way everywhere:
 *
 * - distillStep: run a method on the methods' view of the data, save the set (safetensors + PNG
 *   grid). Sets are content-addressed (method, code version, data, holdout, IPC, seed, config,
 *   profile), so a set already on disk is reused: cells that evaluate one set under several models
 *   distill it once, and a run killed during evaluation does not distil again.
 * - evalStep: evaluate a set under a protocol with one seed.
 */
import { join } from "node:path";
import type { AnyMethod, DistillContext, DistillResult } from "../methods/types.ts";
import type { DistilledSet } from "../data/distilled.ts";
import type { ProgressReporter } from "../data/progress.ts";
import { silentProgress } from "../data/progress.ts";
import type { EvalRequest, EvalResult } from "../evaluator/types.ts";
import type { ProtocolConfig } from "../evaluator/protocols.ts";
import type { Artifact, Profile } from "../results/types.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";
import { imageGridPng } from "../data/png.ts";
import type { DatasetLoad } from "../experiments/resolve.ts";
import type { PreparedData } from "./datasets.ts";
import { checkSet, loadDistilledSet, saveDistilledSet } from "./distilled_set.ts";
import { type AtomicWriteOptions, removeStaleTemps, writeFileAtomic } from "../data/atomic.ts";

export type EvaluateFn = (req: EvalRequest) => Promise<EvalResult>;
export type DistillFn = (
  method: AnyMethod,
  ctx: DistillContext<Record<string, unknown>>,
) => Promise<DistillResult>;

export const defaultDistill: DistillFn = (method, ctx) => method.distill(ctx);

/** Sets larger than this are not written (a "full dataset" set is the training split itself). */
export const MAX_ARTIFACT_BYTES = 64 * 1024 * 1024;

export interface DistillStepInput {
  method: AnyMethod;
  codeVersion: string;
  data: PreparedData;
  datasetLoad: DatasetLoad;
  /** 0 for full-dataset rows. */
  ipc: number;
  seed: number;
  config: Record<string, unknown>;
  profile: Profile | "none";
  /** Where sets are kept; null: do not save (nor reuse). */
  artifactsDir: string | null;
  distill?: DistillFn;
  progress?: ProgressReporter;
  signal?: AbortSignal;
}

export interface DistillStepOutput {
  set: DistilledSet;
  metrics: Record<string, number>;
  /** Seconds the distillation took when the set was made (also when it was reused from disk). */
  seconds: number;
  /** Absolute path and sha256 of the saved file, null when not saved. */
  artifact: Artifact | null;
  reused: boolean;
  /** Content address of the set. */
  distillKey: string;
}

export function distillKeyOf(
  i: Pick<
    DistillStepInput,
    "method" | "codeVersion" | "datasetLoad" | "data" | "ipc" | "seed" | "config" | "profile"
  >,
): string {
  return sha256Hex(canonicalJson({
    v: 1,
    method: i.method.id,
    codeVersion: i.codeVersion,
    dataset: i.datasetLoad,
    manifest: i.data.dataset.manifest.hash,
    holdoutPerClass: i.data.holdoutPerClass,
    ipc: i.ipc,
    seed: i.seed,
    config: i.config,
    profile: i.profile,
  }));
}

export function artifactPathFor(i: DistillStepInput, key: string): string | null {
  if (i.artifactsDir === null) return null;
  const ipc = i.ipc === 0 ? "full" : `ipc${i.ipc}`;
  return join(
    i.artifactsDir,
    i.datasetLoad.id,
    i.method.id,
    `${ipc}-seed${i.seed}-${key.slice(0, 16)}.safetensors`,
  );
}

export async function distillStep(i: DistillStepInput): Promise<DistillStepOutput> {
  const distillKey = distillKeyOf(i);
  const path = artifactPathFor(i, distillKey);
  if (path !== null) {
    const reused = await tryReuse(path, distillKey);
    if (reused) return { ...reused, distillKey };
  }
  const t0 = performance.now();
  const { set, metrics } = await (i.distill ?? defaultDistill)(i.method, {
    dataset: i.data.methodView,
    ipc: i.ipc,
    seed: i.seed,
    config: i.config,
    profile: i.profile,
    progress: i.progress ?? silentProgress,
    signal: i.signal,
  });
  const seconds = (performance.now() - t0) / 1000;
  i.signal?.throwIfAborted();
  checkSet(set, `method ${i.method.id} output`);
  set.meta.extra = {
    ...set.meta.extra,
    distill_key: distillKey,
    distill_metrics: JSON.stringify(metrics),
    distill_seconds: String(seconds),
    code_version: i.codeVersion,
  };
  if (path === null || set.images.byteLength > MAX_ARTIFACT_BYTES) {
    return { set, metrics, seconds, artifact: null, reused: false, distillKey };
  }
  // Another process may have finished the same set meanwhile: its file is kept (rows may already record
  // its hash) and evaluated instead of ours. Only a damaged or foreign file under the name is replaced.
  const saved = await saveWithGrid(path, set, { replace: false });
  if (saved.written) return { set, metrics, seconds, artifact: saved.artifact, reused: false, distillKey };
  const theirs = await tryReuse(path, distillKey);
  if (theirs) return { ...theirs, seconds, reused: false, distillKey };
  const replaced = await saveWithGrid(path, set);
  return { set, metrics, seconds, artifact: replaced.artifact, reused: false, distillKey };
}

/**
 * A saved set whose recorded key matches; null for a missing, damaged or foreign file. A missing PNG
 * grid (the writer died between the set and its picture) is drawn again.
 */
async function tryReuse(path: string, key: string): Promise<Omit<DistillStepOutput, "distillKey"> | null> {
  let set: DistilledSet;
  try {
    set = await loadDistilledSet(path);
  } catch {
    return null;
  }
  if (set.meta.extra.distill_key !== key) return null;
  let metrics: Record<string, number> = {};
  try {
    const m = JSON.parse(set.meta.extra.distill_metrics ?? "{}");
    if (m && typeof m === "object") {
      metrics = Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === "number")) as Record<
        string,
        number
      >;
    }
  } catch { /* metrics are informative only */ }
  const seconds = Number(set.meta.extra.distill_seconds ?? 0);
  const png = gridPathFor(path);
  try {
    await Deno.stat(png);
  } catch {
    await writeGrid(png, set).catch(() => {}); // the picture is informative only
  }
  return {
    set,
    metrics,
    seconds: Number.isFinite(seconds) ? seconds : 0,
    artifact: { path, sha256: sha256Hex(await Deno.readFile(path)) },
    reused: true,
  };
}

/** The PNG grid beside a set file (same stem). */
export function gridPathFor(setPath: string): string {
  return setPath.replace(/\.safetensors$/, "") + ".png";
}

/**
 * The set as safetensors plus a PNG grid beside it (same stem); returns the set file's hash. The set is
 * written first: a grid never exists without its set, and a set whose grid is missing gets it on reuse.
 * Temp files that dead writers of either file left behind are removed first. `replace: false` keeps an
 * existing set file (written: false, and no grid is drawn over its picture).
 */
export async function saveWithGrid(
  path: string,
  set: DistilledSet,
  opts: AtomicWriteOptions = {},
): Promise<{ written: boolean; artifact: Artifact }> {
  const png = gridPathFor(path);
  await removeStaleTemps(path);
  await removeStaleTemps(png);
  const written = await saveDistilledSet(path, set, opts);
  if (written) await writeGrid(png, set);
  return { written, artifact: { path, sha256: sha256Hex(await Deno.readFile(path)) } };
}

export async function writeGrid(pngPath: string, set: DistilledSet): Promise<void> {
  const [, c, h] = set.shape;
  if (c !== 1 && c !== 3) return;
  const png = imageGridPng(set.images, set.shape, {
    labels: set.labels,
    normalization: { mean: set.meta.mean, std: set.meta.std },
    maxPerClass: 10,
    scale: h <= 32 ? 2 : 1,
  });
  await writeFileAtomic(pngPath, png);
}

export interface EvalStepInput {
  set: DistilledSet;
  data: PreparedData;
  model: string;
  protocol: ProtocolConfig;
  seed: number;
  testLimit?: number;
  evaluate: EvaluateFn;
  progress?: ProgressReporter;
  signal?: AbortSignal;
}

export function evalStep(i: EvalStepInput): Promise<EvalResult> {
  return i.evaluate({
    set: i.set,
    dataset: i.data.dataset,
    holdout: i.data.holdout,
    model: i.model,
    protocol: i.protocol,
    seed: i.seed,
    ...(i.testLimit !== undefined ? { testLimit: i.testLimit } : {}),
    ...(i.progress ? { progress: i.progress } : {}),
    ...(i.signal ? { signal: i.signal } : {}),
  });
}
