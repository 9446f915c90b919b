/**
 * Tiny-ImageNet (tiny-imagenet-200): wnids.txt (200 WNIDs), words.txt (WNID → names),
 * train/<wnid>/images/*.JPEG (500 per class), val/images/*.JPEG labelled by val/val_annotations.txt
 * (50 per class; used as the test split, as in the seed papers — the official test set is unlabelled).
 * Labels follow sorted WNIDs, i.e. torchvision ImageFolder order. 64×64 JPEGs; resolution is an option.
 */
import { DatasetError } from "./errors.ts";
import { cmp, firstExisting, isDir, isFile, join, listDir, readText } from "./fsutil.ts";
import { type ImageItem, loadImageDataset } from "./image_dataset.ts";
import type { DatasetDef, LoadContext } from "./def.ts";
import type { Availability, ClassInfo, Dataset, DatasetInfo } from "./types.ts";

const isImageName = (n: string) => /\.(jpe?g)$/i.test(n);
const WNID = /^n\d{8}$/;

export const tinyImagenetInfo: DatasetInfo = {
  id: "tiny-imagenet",
  name: "Tiny-ImageNet",
  classes: [],
  numClasses: 200,
  shape: { channels: 3, height: 64, width: 64 },
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  digits: false,
  source: "user",
  resizable: true,
};

function candidates(dataRoot: string): string[] {
  return [
    join(dataRoot, "tiny-imagenet", "tiny-imagenet-200"),
    join(dataRoot, "tiny-imagenet"),
    join(dataRoot, "tiny-imagenet-200"),
  ];
}

function locate(dataRoot: string): string | null {
  return firstExisting(candidates(dataRoot), (d) => isFile(join(d, "wnids.txt")));
}

function availability(dataRoot: string): Availability {
  const root = locate(dataRoot);
  const fix = `Fix: download tiny-imagenet-200.zip (Stanford CS231n) and unzip it into ` +
    `${join(dataRoot, "tiny-imagenet")} (so that ${join(dataRoot, "tiny-imagenet", "tiny-imagenet-200")}` +
    `/wnids.txt exists).`;
  if (!root) {
    return {
      available: false,
      location: null,
      reason: `Tiny-ImageNet: no wnids.txt in ${candidates(dataRoot).join(", ")}. ${fix}`,
    };
  }
  const missing = ["train", "val/images", "val/val_annotations.txt"].filter((p) =>
    !(p.endsWith(".txt") ? isFile(join(root, p)) : isDir(join(root, p)))
  );
  if (missing.length > 0) {
    return {
      available: false,
      location: root,
      reason: `Tiny-ImageNet in ${root} is incomplete: missing ${missing.join(", ")}. ${fix}`,
    };
  }
  return { available: true, location: root, reason: `tiny-imagenet-200 layout in ${root}` };
}

const lines = (text: string) => text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);

async function readClasses(root: string, numClasses: number): Promise<ClassInfo[]> {
  const wnidsPath = join(root, "wnids.txt");
  const wnids = lines(await readText(wnidsPath, "one WNID per line"));
  const seen = new Set<string>();
  for (const w of wnids) {
    if (!WNID.test(w)) {
      throw new DatasetError(`${wnidsPath}: "${w}" is not a WNID (expected n########)`, wnidsPath);
    }
    if (seen.has(w)) throw new DatasetError(`${wnidsPath}: WNID ${w} is listed twice`, wnidsPath);
    seen.add(w);
  }
  if (wnids.length !== numClasses) {
    throw new DatasetError(`${wnidsPath}: ${wnids.length} WNIDs, expected ${numClasses}`, wnidsPath);
  }
  const names = new Map<string, string>();
  const wordsPath = join(root, "words.txt");
  if (isFile(wordsPath)) {
    for (const l of (await readText(wordsPath, "WNID<TAB>names")).split(/\r?\n/)) {
      const tab = l.indexOf("\t");
      if (tab > 0 && seen.has(l.slice(0, tab))) names.set(l.slice(0, tab), l.slice(tab + 1).trim());
    }
  }
  return [...wnids].sort(cmp).map((id) => ({ id, name: names.get(id) ?? id }));
}

function trainItems(root: string, classes: ClassInfo[]): ImageItem[] {
  const trainDir = join(root, "train");
  const index = new Map(classes.map((c, i) => [c.id, i]));
  for (const e of listDir(trainDir)) {
    if (e.isDirectory && !index.has(e.name)) {
      throw new DatasetError(
        `unknown class folder ${join(trainDir, e.name)} (not in ${join(root, "wnids.txt")})`,
        join(trainDir, e.name),
      );
    }
  }
  const items: ImageItem[] = [];
  classes.forEach((c, label) => {
    const dir = join(trainDir, c.id, "images");
    if (!isDir(dir)) throw new DatasetError(`missing folder ${dir} for class ${c.id} (expected *.JPEG)`, dir);
    const files = listDir(dir).filter((e) => e.isFile && isImageName(e.name));
    if (files.length === 0) throw new DatasetError(`no JPEG images in ${dir} (class ${c.id})`, dir);
    for (const f of files) {
      items.push({ abs: join(dir, f.name), rel: `train/${c.id}/images/${f.name}`, label });
    }
  });
  return items;
}

async function valItems(root: string, classes: ClassInfo[]): Promise<ImageItem[]> {
  const annPath = join(root, "val", "val_annotations.txt");
  const imgDir = join(root, "val", "images");
  const index = new Map(classes.map((c, i) => [c.id, i]));
  const labelOf = new Map<string, number>();
  (await readText(annPath, "file<TAB>wnid<TAB>box lines")).split(/\r?\n/).forEach((l, i) => {
    if (l.trim().length === 0) return;
    const [file, wnid] = l.split("\t");
    if (!file || !wnid) {
      throw new DatasetError(`${annPath}:${i + 1}: expected "file<TAB>wnid<TAB>x y w h"`, annPath);
    }
    const label = index.get(wnid);
    if (label === undefined) {
      throw new DatasetError(
        `${annPath}:${i + 1}: unknown class ${wnid} for ${file} (not in wnids.txt)`,
        annPath,
      );
    }
    if (labelOf.has(file)) throw new DatasetError(`${annPath}:${i + 1}: ${file} is annotated twice`, annPath);
    labelOf.set(file, label);
  });
  const files = listDir(imgDir).filter((e) => e.isFile && isImageName(e.name)).map((e) => e.name);
  const unlabelled = files.filter((f) => !labelOf.has(f));
  const absent = [...labelOf.keys()].filter((f) => !isFile(join(imgDir, f)));
  if (unlabelled.length > 0 || absent.length > 0) {
    throw new DatasetError(
      `count mismatch between ${imgDir} (${files.length} images) and ${annPath} (${labelOf.size} labels)` +
        (unlabelled.length ? `; unannotated: ${unlabelled.slice(0, 3).join(", ")}` : "") +
        (absent.length ? `; annotated but missing: ${absent.slice(0, 3).join(", ")}` : ""),
      annPath,
    );
  }
  // Class-major, then file name: the order an ImageFolder re-arrangement of val/ would give.
  return files.map((f) => ({ abs: join(imgDir, f), rel: `val/images/${f}`, label: labelOf.get(f)! }))
    .sort((a, b) => a.label - b.label || cmp(a.rel, b.rel));
}

async function load(ctx: LoadContext): Promise<Dataset> {
  const root = locate(ctx.dataRoot);
  const avail = availability(ctx.dataRoot);
  if (!root || !avail.available) {
    throw new DatasetError(avail.reason, root ?? join(ctx.dataRoot, "tiny-imagenet"));
  }
  const classes = await readClasses(root, tinyImagenetInfo.numClasses);
  const extra = ["wnids.txt", "words.txt", "val/val_annotations.txt"].filter((p) => isFile(join(root, p)))
    .map((p) => ({ abs: join(root, p), rel: p }));
  return await loadImageDataset({
    info: tinyImagenetInfo,
    root,
    classes,
    train: trainItems(root, classes),
    test: await valItems(root, classes),
    extraFiles: extra,
    resolution: ctx.resolution ?? tinyImagenetInfo.shape.height,
    cacheDir: ctx.cacheDir,
    onProgress: ctx.onProgress,
  });
}

export const tinyImagenet: DatasetDef = { info: tinyImagenetInfo, availability, load };
