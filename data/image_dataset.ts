/**
 * The shared back half of every JPEG dataset: given the class list and the train/test file lists, build the
 * manifest, return the cached decode if a valid one exists, otherwise decode + resize every image into one
 * NHWC buffer per split and write the cache atomically.
 */
import { DatasetError, errorText } from "./errors.ts";
import { cachePath, readCache, writeCache } from "./cache.ts";
import { buildManifest, type ManifestInput, memoPathFor } from "./manifest.ts";
import { decodeImage, resizeShorterCenterCrop } from "./image.ts";
import type { ClassInfo, Dataset, DatasetInfo, ProgressFn, Split } from "./types.ts";
import type { DecodeJob, DecodeReply } from "./decode_protocol.ts";

export interface ImageItem {
  /** Path to read. */
  abs: string;
  /** Path relative to the dataset root (for the manifest). */
  rel: string;
  label: number;
}

export interface ImageDatasetPlan {
  info: DatasetInfo;
  /** Root the relative paths are relative to (keys the digest memo). */
  root: string;
  classes: ClassInfo[];
  train: ImageItem[];
  test: ImageItem[];
  /** Non-image inputs that define the dataset (class lists, annotations). */
  extraFiles: ManifestInput[];
  resolution: number;
  cacheDir: string;
  onProgress?: ProgressFn;
}

/** Images per worker message: large enough to amortise messaging, small enough to balance the load. */
const BATCH = 32;
/** Below this many images, starting workers costs more than it saves. */
const MIN_PARALLEL = 512;

export interface DecodeOptions {
  /** Worker count; default: one per core for large splits, none (in-thread) for small ones. */
  workers?: number;
  what?: string;
  onProgress?: ProgressFn;
}

/** Decode and resize `items` into one NHWC split, in parallel Web Workers when it pays off. */
export async function decodeItems(
  items: ImageItem[],
  size: number,
  opts: DecodeOptions = {},
): Promise<Split> {
  const px = size * size * 3;
  const images = new Uint8Array(items.length * px);
  const labels = Int32Array.from(items, (it) => it.label);
  const what = opts.what ?? "images";
  const cores = Math.max(1, Math.min(navigator.hardwareConcurrency ?? 1, 8));
  const workers = opts.workers ?? (items.length >= MIN_PARALLEL ? cores : 0);
  if (workers > 0) {
    await decodeInWorkers(items, size, images, workers, what, opts.onProgress);
  } else {
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(it.abs);
      } catch (e) {
        throw new DatasetError(`cannot read image ${it.abs}: ${errorText(e)}`, it.abs, { cause: e });
      }
      resizeShorterCenterCrop(decodeImage(bytes, it.abs), size, images, i * px);
      if (opts.onProgress && (i % 500 === 499 || i === items.length - 1)) {
        opts.onProgress(i + 1, items.length, what);
      }
    }
  }
  return { images, labels, count: items.length };
}

async function decodeInWorkers(
  items: ImageItem[],
  size: number,
  images: Uint8Array,
  count: number,
  what: string,
  onProgress: ProgressFn | undefined,
): Promise<void> {
  const px = size * size * 3;
  const batches: number[] = [];
  for (let s = 0; s < items.length; s += BATCH) batches.push(s);
  const pool = Array.from(
    { length: Math.min(count, batches.length) },
    () => new Worker(new URL("./decode_worker.ts", import.meta.url).href, { type: "module" }),
  );
  let next = 0;
  let done = 0;
  let failed = false;
  const run = (w: Worker) =>
    new Promise<void>((resolve, reject) => {
      const send = () => {
        if (failed || next >= batches.length) return resolve();
        const start = batches[next++];
        const job: DecodeJob = {
          id: start,
          paths: items.slice(start, start + BATCH).map((it) => it.abs),
          size,
        };
        w.postMessage(job);
      };
      w.onmessage = (ev: MessageEvent<DecodeReply>) => {
        const r = ev.data;
        if (!r.ok) {
          failed = true;
          return reject(new DatasetError(r.message, r.file));
        }
        images.set(new Uint8Array(r.pixels), r.id * px);
        done += r.pixels.byteLength / px;
        onProgress?.(done, items.length, what);
        send();
      };
      w.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        failed = true;
        reject(new DatasetError(`image decode worker failed: ${ev.message}`));
      };
      send();
    });
  try {
    await Promise.all(pool.map(run));
  } finally {
    for (const w of pool) w.terminate();
  }
}

function systemMemory(): number {
  try {
    return Deno.systemMemoryInfo().total;
  } catch {
    return Infinity; // Unknown memory size: let the allocation decide.
  }
}

/** Fail with advice instead of dying out of memory (e.g. ImageNet-1k at 224 px needs ~193 GB). */
export function checkMemory(id: string, images: number, resolution: number, total = systemMemory()): void {
  const need = images * resolution * resolution * 3;
  if (need > 0.8 * total) {
    const gb = (b: number) => (b / 2 ** 30).toFixed(1);
    throw new DatasetError(
      `${id}: ${images} images at ${resolution}×${resolution} need ${
        gb(need)
      } GiB as uint8, more than this ` +
        `machine's ${gb(total)} GiB allows; use a lower resolution or a class subset`,
    );
  }
}

export async function loadImageDataset(plan: ImageDatasetPlan): Promise<Dataset> {
  const { info, resolution } = plan;
  const manifest = await buildManifest(
    [...plan.train, ...plan.test, ...plan.extraFiles].map(({ abs, rel }) => ({ abs, rel })),
    { memoPath: await memoPathFor(plan.cacheDir, info.id, plan.root) },
  );
  const shape = { channels: 3, height: resolution, width: resolution };
  const outInfo: DatasetInfo = { ...info, classes: plan.classes, numClasses: plan.classes.length, shape };
  const key = { datasetId: info.id, resolution, manifestHash: manifest.hash, classes: plan.classes, shape };
  const path = cachePath(plan.cacheDir, key);
  const cached = await readCache(path, key);
  if (cached.ok) {
    return {
      info: outInfo,
      train: cached.train,
      test: cached.test,
      manifest,
      cache: { path, hit: true, reason: "valid" },
    };
  }

  checkMemory(info.id, plan.train.length + plan.test.length, resolution);
  const train = await decodeItems(plan.train, resolution, {
    what: `${info.id} train`,
    onProgress: plan.onProgress,
  });
  const test = await decodeItems(plan.test, resolution, {
    what: `${info.id} test`,
    onProgress: plan.onProgress,
  });
  let reason = `rebuilt: ${cached.reason}`;
  try {
    await writeCache(path, key, train, test);
  } catch (e) {
    // An unwritable cache dir costs time on the next load, not correctness.
    reason += `; cache not written (${errorText(e)})`;
  }
  return { info: outInfo, train, test, manifest, cache: { path, hit: false, reason } };
}
