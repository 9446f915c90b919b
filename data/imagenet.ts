/**
 * ImageNet and its class subsets as ImageFolder trees of JPEGs: <dataRoot>/<id>/{train,val}/<wnid>/*.JPEG.
 *
 * Where the classes come from:
 * - imagewoof, imagenette: pinned WNID lists (data/classlists/), label = position in the list;
 * - imageidc, imagenet-100: the user's folder defines them — <dataRoot>/<id>/classes.txt (one WNID per line,
 *   the first N lines are used, so IDC's misc/class100.txt can be dropped in as is), or else the sorted
 *   class folder names, which must number exactly N;
 * - imagenet-1k: the 1000 sorted class folders (the standard ILSVRC-2012 label order).
 * A subset whose own folder is missing but whose class list is known is drawn from <dataRoot>/imagenet-1k,
 * which is exactly what IDC and Minimax do (ImageNet train images for training, ImageNet val for test).
 */
import { DatasetError } from "./errors.ts";
import { cmp, isDir, isFile, join, listDir, readText } from "./fsutil.ts";
import { type ImageItem, loadImageDataset } from "./image_dataset.ts";
import { IMAGEWOOF_CLASSES } from "./classlists/imagewoof.ts";
import { IMAGENETTE_CLASSES } from "./classlists/imagenette.ts";
import type { DatasetDef, LoadContext } from "./def.ts";
import type { Availability, ClassInfo, Dataset, DatasetInfo } from "./types.ts";

const WNID = /^n\d{8}$/;
const isImageName = (n: string) => /\.(jpe?g)$/i.test(n);
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

interface FolderSpec {
  info: DatasetInfo;
  pinned: readonly ClassInfo[] | null;
  /** How the user gets the data (shown when it is missing). */
  howToGet: (dataRoot: string) => string;
}

type Source =
  | { kind: "own"; root: string; classesFile: string | null }
  | { kind: "imagenet-1k"; root: string; classesFile: string | null };

function hasSplits(dir: string): boolean {
  return isDir(join(dir, "train")) && isDir(join(dir, "val"));
}

function resolveSource(spec: FolderSpec, dataRoot: string): Source | null {
  const own = join(dataRoot, spec.info.id);
  const classesFile = isFile(join(own, "classes.txt")) ? join(own, "classes.txt") : null;
  if (hasSplits(own)) return { kind: "own", root: own, classesFile };
  const full = join(dataRoot, "imagenet-1k");
  if (spec.info.id !== "imagenet-1k" && (spec.pinned || classesFile) && hasSplits(full)) {
    return { kind: "imagenet-1k", root: full, classesFile };
  }
  return null;
}

function fastaiNote(root: string): string {
  const marker = ["noisy_imagewoof.csv", "noisy_imagenette.csv"].find((f) => isFile(join(root, f)));
  return marker
    ? ` Note: ${marker} marks a fastai release (imagewoof2/imagenette2): same WNIDs, but different images ` +
      `and train/val split from the ImageNet train/val images that IDC/Minimax use, so numbers are not ` +
      `directly comparable with the papers.`
    : "";
}

/** "n01440764 tench, Tinca tinca" lines (Kaggle's LOC_synset_mapping.txt) → WNID → name. */
async function synsetNames(dirs: string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const dir of dirs) {
    const path = join(dir, "LOC_synset_mapping.txt");
    if (!isFile(path)) continue;
    for (const l of (await readText(path, "WNID name lines")).split(/\r?\n/)) {
      const m = /^(n\d{8})\s+(.+)$/.exec(l.trim());
      if (m && !names.has(m[1])) names.set(m[1], m[2]);
    }
  }
  return names;
}

async function classList(spec: FolderSpec, src: Source, dataRoot: string): Promise<ClassInfo[]> {
  const n = spec.info.numClasses;
  if (spec.pinned) return [...spec.pinned];
  const names = await synsetNames([join(dataRoot, spec.info.id), join(dataRoot, "imagenet-1k")]);
  let entries: { id: string; name: string | null }[];
  if (src.classesFile) {
    const path = src.classesFile;
    const rows = (await readText(path, "one WNID per line")).split(/\r?\n/).map((l) => l.trim())
      .filter((l) => l.length > 0);
    entries = rows.map((l, i) => {
      const [id, ...rest] = l.split(/\s+/);
      if (!WNID.test(id)) {
        throw new DatasetError(`${path}:${i + 1}: "${id}" is not a WNID (expected n########)`, path);
      }
      return { id, name: rest.length ? rest.join(" ") : null };
    });
    if (entries.length < n) {
      throw new DatasetError(
        `${path}: ${entries.length} WNIDs, expected at least ${n} (the first ${n} are used)`,
        path,
      );
    }
    entries = entries.slice(0, n);
    const dup = entries.find((e, i) => entries.findIndex((f) => f.id === e.id) !== i);
    if (dup) throw new DatasetError(`${path}: WNID ${dup.id} is listed twice`, path);
  } else {
    const trainDir = join(src.root, "train");
    const dirs = listDir(trainDir).filter((e) => e.isDirectory).map((e) => e.name);
    if (dirs.length !== n) {
      throw new DatasetError(
        `${trainDir}: ${dirs.length} class folders, expected ${n} for ${spec.info.name}` +
          (spec.info.id === "imagenet-1k"
            ? ""
            : ` (or put a classes.txt with the WNIDs in ${join(dataRoot, spec.info.id)})`),
        trainDir,
      );
    }
    const bad = dirs.find((d) => !WNID.test(d));
    if (bad) {
      throw new DatasetError(
        `unknown class folder ${join(trainDir, bad)} (expected a WNID n########)`,
        trainDir,
      );
    }
    entries = dirs.map((id) => ({ id, name: null }));
  }
  return entries.map((e) => ({ id: e.id, name: e.name ?? names.get(e.id) ?? e.id }));
}

function splitItems(src: Source, split: "train" | "val", classes: ClassInfo[]): ImageItem[] {
  const dir = join(src.root, split);
  const index = new Map(classes.map((c, i) => [c.id, i]));
  const entries = listDir(dir);
  const loose = entries.find((e) => e.isFile && isImageName(e.name));
  if (loose) {
    throw new DatasetError(
      `${join(dir, loose.name)}: images must sit in class folders (${dir}/<wnid>/*.JPEG); arrange a flat ` +
        `ILSVRC val folder into class folders first (e.g. with the standard valprep.sh)`,
      dir,
    );
  }
  if (src.kind === "own") {
    // A subset folder holds exactly its classes; anything else is a mistake worth stopping for.
    const unknown = entries.find((e) => e.isDirectory && !index.has(e.name));
    if (unknown) {
      throw new DatasetError(
        `unknown class folder ${
          join(dir, unknown.name)
        } (expected only the ${classes.length} classes of this ` +
          `dataset: ${classes.slice(0, 3).map((c) => c.id).join(", ")}, …)`,
        join(dir, unknown.name),
      );
    }
  }
  const items: ImageItem[] = [];
  classes.forEach((c, label) => {
    const cdir = join(dir, c.id);
    if (!isDir(cdir)) throw new DatasetError(`missing class folder ${cdir} (class ${c.id} ${c.name})`, cdir);
    const files = listDir(cdir).filter((e) => e.isFile && isImageName(e.name)).map((e) => e.name).sort(cmp);
    if (files.length === 0) throw new DatasetError(`no JPEG images in ${cdir} (class ${c.id})`, cdir);
    for (const f of files) items.push({ abs: join(cdir, f), rel: `${split}/${c.id}/${f}`, label });
  });
  return items;
}

function folderDataset(spec: FolderSpec): DatasetDef {
  const { info } = spec;
  const availability = (dataRoot: string): Availability => {
    const src = resolveSource(spec, dataRoot);
    if (!src) {
      return { available: false, location: null, reason: `${info.name}: ${spec.howToGet(dataRoot)}` };
    }
    const what = src.kind === "own"
      ? `ImageFolder tree in ${src.root}`
      : `the ${info.numClasses} classes drawn from the ImageNet-1k tree in ${src.root}`;
    const classes = spec.pinned
      ? "pinned WNID list"
      : src.classesFile
      ? `classes from ${src.classesFile}`
      : "classes = the sorted class folders";
    return {
      available: true,
      location: src.root,
      reason: `${info.name}: ${what} (${classes}).${fastaiNote(src.root)}`,
    };
  };

  const load = async (ctx: LoadContext): Promise<Dataset> => {
    const src = resolveSource(spec, ctx.dataRoot);
    if (!src) throw new DatasetError(availability(ctx.dataRoot).reason, join(ctx.dataRoot, info.id));
    const classes = await classList(spec, src, ctx.dataRoot);
    const extra = src.classesFile ? [{ abs: src.classesFile, rel: "classes.txt" }] : [];
    return await loadImageDataset({
      info,
      root: src.root,
      classes,
      train: splitItems(src, "train", classes),
      test: splitItems(src, "val", classes),
      extraFiles: extra,
      resolution: ctx.resolution ?? info.shape.height,
      cacheDir: ctx.cacheDir,
      onProgress: ctx.onProgress,
    });
  };
  return { info, availability, load };
}

function info(
  id: string,
  name: string,
  numClasses: number,
  resolution: number,
  classes: readonly ClassInfo[] = [],
) {
  return {
    id,
    name,
    classes: [...classes],
    numClasses,
    shape: { channels: 3, height: resolution, width: resolution },
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    digits: false,
    source: "user" as const,
    resizable: true,
  };
}

const treeHelp = (dataRoot: string, id: string) =>
  `put an ImageFolder tree at ${join(dataRoot, id)}/{train,val}/<wnid>/*.JPEG`;
const fromFull = (dataRoot: string) =>
  `or an ImageNet-1k (ILSVRC-2012) tree at ${join(dataRoot, "imagenet-1k")}/{train,val}/<wnid>/*.JPEG ` +
  `(val arranged into class folders)`;

export const imagewoof = folderDataset({
  info: info("imagewoof", "ImageWoof", 10, 128, IMAGEWOOF_CLASSES),
  pinned: IMAGEWOOF_CLASSES,
  howToGet: (r) =>
    `not found. Fix: ${treeHelp(r, "imagewoof")} with the 10 WNIDs of data/classlists/imagewoof.ts, ` +
    `${fromFull(r)} from which the 10 classes are drawn (the papers' protocol). fastai's imagewoof2 ` +
    `also loads (same WNIDs) but has different images and splits.`,
});

export const imagenette = folderDataset({
  info: info("imagenette", "ImageNette", 10, 128, IMAGENETTE_CLASSES),
  pinned: IMAGENETTE_CLASSES,
  howToGet: (r) =>
    `not found. Fix: ${treeHelp(r, "imagenette")} with the 10 WNIDs of data/classlists/imagenette.ts, ` +
    `${fromFull(r)} from which the 10 classes are drawn (the papers' protocol). fastai's imagenette2 ` +
    `also loads (same WNIDs) but has different images and splits.`,
});

export const imageidc = folderDataset({
  info: info("imageidc", "ImageIDC", 10, 128),
  pinned: null,
  howToGet: (r) =>
    `not found, and ddrepro ships no ImageIDC class list (IDC's misc/class100.txt could not be verified, so ` +
    `it is not written down here). Fix: ${treeHelp(r, "imageidc")} holding exactly IDC's 10 classes, or ` +
    `copy IDC's misc/class100.txt to ${
      join(r, "imageidc", "classes.txt")
    } (its first 10 WNIDs are ImageIDC) ` +
    `and provide ${fromFull(r)}.`,
});

export const imagenet100 = folderDataset({
  info: info("imagenet-100", "ImageNet-100", 100, 128),
  pinned: null,
  howToGet: (r) =>
    `not found, and ddrepro ships no ImageNet-100 class list (IDC's misc/class100.txt could not be verified, ` +
    `so it is not written down here). Fix: ${
      treeHelp(r, "imagenet-100")
    } holding exactly the 100 classes, or ` +
    `copy IDC's misc/class100.txt to ${join(r, "imagenet-100", "classes.txt")} and provide ${fromFull(r)}.`,
});

export const imagenet1k = folderDataset({
  info: info("imagenet-1k", "ImageNet-1k", 1000, 224),
  pinned: null,
  howToGet: (r) =>
    `not found. Fix: put the ILSVRC-2012 train and val images at ${join(r, "imagenet-1k")}/{train,val}/` +
    `<wnid>/*.JPEG (1000 class folders each; arrange val into class folders, e.g. with valprep.sh). ` +
    `Decoding 1.28M JPEGs in pure JS takes hours the first time; the result is cached.`,
});
