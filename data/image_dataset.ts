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

async function decodeSplit(
  items: ImageItem[],
  size: number,
  what: string,
  onProgress: ProgressFn | undefined,
): Promise<Split> {
  const px = size * size * 3;
  const images = new Uint8Array(items.length * px);
  const labels = new Int32Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(it.abs);
    } catch (e) {
      throw new DatasetError(`cannot read image ${it.abs}: ${errorText(e)}`, it.abs, { cause: e });
    }
    resizeShorterCenterCrop(decodeImage(bytes, it.abs), size, images, i * px);
    labels[i] = it.label;
    if (onProgress && (i % 500 === 499 || i === items.length - 1)) onProgress(i + 1, items.length, what);
  }
  return { images, labels, count: items.length };
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
  const train = await decodeSplit(plan.train, resolution, `${info.id} train`, plan.onProgress);
  const test = await decodeSplit(plan.test, resolution, `${info.id} test`, plan.onProgress);
  let reason = `rebuilt: ${cached.reason}`;
  try {
    await writeCache(path, key, train, test);
  } catch (e) {
    // An unwritable cache dir costs time on the next load, not correctness.
    reason += `; cache not written (${errorText(e)})`;
  }
  return { info: outInfo, train, test, manifest, cache: { path, hit: false, reason } };
}
