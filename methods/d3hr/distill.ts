/**
 * A D³HR run: stage 1's class statistics (cached on disk, keyed by the models, the mapped images and the
 * mapping settings: they do not depend on the repeat's seed, the IPC or the selection settings), then
 * group sampling, DDIM sampling back and decoding. `regenerate` rebuilds a set from stored statistics
 * alone (Sec. 6.7).
 */
import type { Dataset } from "../../data/types.ts";
import { canonicalJson, sha256Hex } from "../../results/key.ts";
import { cacheRoot } from "../../data/fsutil.ts";
import type { ProgressReporter } from "../../data/progress.ts";
import { checkResolution, unitImagesToSet } from "../../baselines/latent_foundation.ts";
import type { DistillContext, DistillResult } from "../types.ts";
import type { D3hrConfig } from "./config.ts";
import {
  type D3hrModels,
  decodeToImages,
  mapDomain,
  mappedImages,
  sampleBack,
  selectLatents,
} from "./pipeline.ts";
import { type ClassStats, loadClassStats, saveClassStats, storageComparison } from "./stats.ts";

/** Bump when stage 1 computes different statistics from the same inputs. */
const STATS_VERSION = "1";

/** The stage-1 settings the statistics depend on. */
function mappingSettings(c: D3hrConfig) {
  const { domainMapping, sampleSteps, inversionStep, inversionEps, cfgScale, encode, inversionImages } = c;
  return { domainMapping, sampleSteps, inversionStep, inversionEps, cfgScale, encode, inversionImages };
}

/** Content key of a run's statistics: the models, the exact images mapped (bytes and labels), the settings. */
export function statsKey(models: Pick<D3hrModels, "tag">, dataset: Dataset, c: D3hrConfig): string {
  const per = dataset.train.images.length / Math.max(1, dataset.train.count);
  const h = sha256Hex(
    canonicalJson({
      v: STATS_VERSION,
      models: models.tag,
      settings: mappingSettings(c),
      dataset: dataset.info.id,
    }),
  );
  const parts: string[] = [h];
  for (const idx of mappedImages(dataset, c)) {
    const bytes = new Uint8Array(idx.length * per);
    idx.forEach((i, k) => bytes.set(dataset.train.images.subarray(i * per, (i + 1) * per), k * per));
    parts.push(sha256Hex(Int32Array.from(idx, (i) => dataset.train.labels[i]).join(",")));
    parts.push(sha256Hex(bytes));
  }
  return sha256Hex(parts.join(" "));
}

function statsPath(models: Pick<D3hrModels, "tag">, dataset: Dataset, c: D3hrConfig) {
  const key = statsKey(models, dataset, c);
  return { key, path: `${cacheRoot()}/d3hr/stats-${dataset.info.id}-${key.slice(0, 24)}.safetensors` };
}

/** The cached statistics at `path` when they are this key's; null when absent (or unusable, said why). */
async function cachedStats(
  path: string,
  key: string,
  progress: ProgressReporter,
): Promise<ClassStats | null> {
  try {
    const { stats, metadata } = await loadClassStats(path);
    if (metadata.key === key) return stats;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) progress.log(`d3hr: ${path} unusable (${e}); recomputing`);
  }
  return null;
}

/**
 * Mapped latents a DDIM inversion may hold for the statistics of the steps on its path (one float32 array per
 * step): the earlier steps' statistics cost no DiT evaluation, only memory.
 */
const ALONG_BYTES = 1 << 30;

/**
 * Stage 1, from the cache when this exact computation was done before. A DDIM inversion also caches the
 * statistics of every earlier step on its path that is not cached yet (within ALONG_BYTES), so a sweep over
 * the inversion step (Figure 5) inverts once, to its largest step.
 */
export async function classStatistics(
  models: D3hrModels,
  dataset: Dataset,
  c: D3hrConfig,
  progress: ProgressReporter,
  signal?: AbortSignal,
): Promise<{ stats: ClassStats; cached: boolean; path: string; seconds: number }> {
  const { key, path } = statsPath(models, dataset, c);
  const t0 = performance.now();
  const hit = await cachedStats(path, key, progress);
  if (hit !== null) return { stats: hit, cached: true, path, seconds: 0 };
  const along: { step: number; key: string; path: string }[] = [];
  if (c.domainMapping === "ddim-inversion") {
    const images = mappedImages(dataset, c).reduce((s, p) => s + p.length, 0);
    const { inputSize: side, inChannels } = models.dit.cfg;
    const perStep = images * side * side * inChannels * 4;
    for (let step = 1; step < c.inversionStep && (along.length + 2) * perStep <= ALONG_BYTES; step++) {
      const at = statsPath(models, dataset, { ...c, inversionStep: step });
      if (await cachedStats(at.path, at.key, progress) === null) along.push({ step, ...at });
    }
  }
  const all = await mapDomain(models, dataset, c, progress, signal, along.map((a) => a.step));
  await Deno.mkdir(`${cacheRoot()}/d3hr`, { recursive: true });
  for (const a of [...along, { step: c.inversionStep, key, path }]) {
    const settings = canonicalJson(mappingSettings({ ...c, inversionStep: a.step }));
    await saveClassStats(a.path, all.get(a.step)!, { key: a.key, settings, models: models.tag });
  }
  return { stats: all.get(c.inversionStep)!, cached: false, path, seconds: (performance.now() - t0) / 1000 };
}

/** Statistics from a file (`statistics` config key), checked against the models' latent shape. */
async function storedStatistics(
  path: string,
  models: D3hrModels,
): Promise<{ stats: ClassStats; path: string }> {
  const { stats } = await loadClassStats(path);
  const { inputSize: s, inChannels: ch } = models.dit.cfg;
  if (stats.latentShape.join("×") !== [s, s, ch].join("×")) {
    throw new Error(
      `${path}: statistics of ${stats.latentShape.join("×")} latents; the DiT's latents are ${s}×${s}×${ch}`,
    );
  }
  return { stats, path };
}

/** Stages 2 and 3 from statistics: the distilled set of `ctx.ipc` images per class at `ctx.seed`. */
export async function regenerate(
  ctx: DistillContext<D3hrConfig>,
  models: D3hrModels,
  stats: ClassStats,
): Promise<DistillResult> {
  const { dataset, ipc, seed, config: c } = ctx;
  if (stats.classes !== dataset.info.numClasses) {
    throw new Error(
      `d3hr: statistics of ${stats.classes} classes for a ${dataset.info.numClasses}-class dataset`,
    );
  }
  const t0 = performance.now();
  const sel = await selectLatents(stats, c, ipc, seed, ctx.progress, ctx.signal);
  const t1 = performance.now();
  const z0 = await sampleBack(models, sel.latents, sel.labels, c, ctx.progress, ctx.signal);
  const images = await decodeToImages(models, z0, ctx.signal);
  {
    const set = unitImagesToSet(ctx, "d3hr", images, sel.labels, { models: models.source });
    const [, ch, h, w] = set.shape;
    const storage = storageComparison(stats, models.weightsBytes, ipc, [ch, h, w]);
    const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    return {
      set,
      metrics: {
        groupSamplingSeconds: sel.seconds,
        samplingSeconds: (performance.now() - t1) / 1000,
        generationSeconds: (performance.now() - t0) / 1000,
        candidates: c.groupSampling ? c.m : 1,
        chosenScore: mean(sel.chosenScore),
        randomScore: mean(sel.firstScore),
        meanCandidateScore: mean(sel.meanScore),
        statisticsBytes: storage.statistics,
        weightsBytes: storage.weights,
        setBytesUint8: storage.setUint8,
        setBytesFloat32: storage.setFloat32,
        breakEvenIpc: storage.breakEvenIpc,
      },
    };
  }
}

/** A whole D³HR run on the given models. */
export async function distillD3hr(
  ctx: DistillContext<D3hrConfig>,
  models: D3hrModels,
): Promise<DistillResult> {
  const c = ctx.config;
  checkResolution(models, c.resolution, "d3hr");
  const t0 = performance.now();
  const st = c.statistics === null
    ? await classStatistics(models, ctx.dataset, c, ctx.progress, ctx.signal)
    : { ...(await storedStatistics(c.statistics, models)), cached: true, seconds: 0 };
  const r = await regenerate(ctx, models, st.stats);
  r.set.meta.extra.statistics = st.path;
  return {
    set: r.set,
    metrics: {
      ...r.metrics,
      mappingSeconds: st.seconds,
      statisticsCached: st.cached ? 1 : 0,
      mappedImages: st.stats.counts.reduce((s, v) => s + v, 0),
      seconds: (performance.now() - t0) / 1000,
    },
  };
}
