/**
 * The distilled-set file: safetensors with `images` [N, C, H, W] f32 (PyTorch layout, in the dataset's
 * normalised space), `labels` [N] i32, optional `soft_labels` [N, K] f32, and the DistilledMeta as
 * string metadata. Files may come from other tools (PyTorch writes int64 labels, f16 images), so the
 * loader accepts those dtypes, and checks every shape before anything is used; errors name the file.
 */
import {
  encodeSafetensors,
  readSafetensors,
  type SafeTensor,
  type SafeTensorInput,
} from "../engine/safetensors.ts";
import { type AtomicWriteOptions, writeFileAtomic } from "../data/atomic.ts";
import { resizeTaps } from "../engine/cpu/extended.ts";
import type { DistilledMeta, DistilledSet } from "../data/distilled.ts";
import { Profile, type Substitution } from "../results/types.ts";
import { datasetInfo } from "../data/registry.ts";
import type { DatasetLoad } from "../experiments/resolve.ts";

/** Marks our files; a file without it is still readable when the caller supplies the missing meta. */
export const FORMAT = "ddrepro-distilled-set";
export const FORMAT_VERSION = "1";

export class DistilledSetError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`distilled set ${file}: ${problem}`);
    this.name = "DistilledSetError";
  }
}

/** DistilledMeta → flat string metadata (`extra` keys become `extra.<key>`). */
export function metaToStrings(meta: DistilledMeta): Record<string, string> {
  const out: Record<string, string> = {
    format: FORMAT,
    format_version: FORMAT_VERSION,
    method: meta.method,
    dataset: meta.dataset,
    ipc: String(meta.ipc),
    seed: String(meta.seed),
    config_hash: meta.configHash,
    profile: meta.profile,
    mean: JSON.stringify(meta.mean),
    std: JSON.stringify(meta.std),
    created_at: meta.createdAt,
  };
  for (const [k, v] of Object.entries(meta.extra)) out[`extra.${k}`] = v;
  return out;
}

/**
 * Writes the set atomically (temporary file + rename). With `replace: false` an existing file is kept
 * (returns false): sets named by their content key are never swapped for another file under that name.
 */
export async function saveDistilledSet(
  path: string,
  set: DistilledSet,
  opts: AtomicWriteOptions = {},
): Promise<boolean> {
  checkSet(set, path);
  const [n] = set.shape;
  const tensors: Record<string, SafeTensorInput> = {
    images: { dtype: "F32", shape: set.shape, data: set.images },
    labels: { dtype: "I32", shape: [n], data: set.labels },
  };
  if (set.softLabels) {
    tensors.soft_labels = { dtype: "F32", shape: [n, set.softLabels.length / n], data: set.softLabels };
  }
  return await writeFileAtomic(path, encodeSafetensors(tensors, metaToStrings(set.meta), path), opts);
}

/**
 * Reads and validates a distilled-set file. `fallback` supplies meta fields a foreign file lacks
 * (e.g. the dataset's mean/std when evaluating a set written by PyTorch code).
 */
export async function loadDistilledSet(
  path: string,
  fallback: Partial<DistilledMeta> = {},
): Promise<DistilledSet> {
  let file;
  try {
    file = await readSafetensors(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DistilledSetError(path, "no such file");
    throw new DistilledSetError(path, e instanceof Error ? e.message : String(e));
  }
  const { tensors, metadata } = file;
  const fail = (problem: string): never => {
    throw new DistilledSetError(path, problem);
  };
  const known = new Set(["images", "labels", "soft_labels"]);
  const unknown = Object.keys(tensors).filter((k) => !known.has(k));
  if (unknown.length) {
    fail(`unexpected tensor(s) ${unknown.join(", ")} (expected images, labels, soft_labels)`);
  }

  const img = tensors.images ?? fail("missing tensor 'images' (expected [N, C, H, W] f32)");
  if (img.dtype !== "F32" && img.dtype !== "F16" && img.dtype !== "BF16") {
    fail(`'images' has dtype ${img.dtype}; expected F32 (or F16/BF16)`);
  }
  if (img.shape.length !== 4 || img.shape.some((d) => d < 1)) {
    fail(`'images' has shape [${img.shape}]; expected [N, C, H, W] with every dimension ≥ 1`);
  }
  const [n, c, h, w] = img.shape;
  if (c !== 1 && c !== 3) {
    fail(`'images' has ${c} channels; expected 1 or 3 (is the layout NHWC instead of NCHW?)`);
  }

  const lab = tensors.labels ?? fail("missing tensor 'labels' (expected [N] i32)");
  const labels = intLabels(lab, fail);
  if (lab.shape.length !== 1 || lab.shape[0] !== n) {
    fail(`'labels' has shape [${lab.shape}]; expected [${n}]`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < 0) fail(`'labels'[${i}] = ${labels[i]} is negative`);
  }

  let softLabels: Float32Array | undefined;
  const soft = tensors.soft_labels;
  if (soft) {
    if (soft.dtype !== "F32" && soft.dtype !== "F16" && soft.dtype !== "BF16") {
      fail(`'soft_labels' has dtype ${soft.dtype}; expected F32`);
    }
    if (soft.shape.length !== 2 || soft.shape[0] !== n || soft.shape[1] < 2) {
      fail(`'soft_labels' has shape [${soft.shape}]; expected [${n}, classes]`);
    }
    const k = soft.shape[1];
    const max = labels.reduce((a, b) => Math.max(a, b), 0);
    if (max >= k) fail(`'labels' has class ${max} but 'soft_labels' only ${k} classes`);
    softLabels = soft.data as Float32Array;
  }
  const meta = parseMeta(metadata, fallback, c, fail);
  return {
    images: img.data as Float32Array,
    shape: [n, c, h, w],
    labels,
    ...(softLabels ? { softLabels } : {}),
    meta,
  };
}

function intLabels(t: SafeTensor, fail: (p: string) => never): Int32Array {
  switch (t.dtype) {
    case "I32":
      return t.data;
    case "U8":
      return Int32Array.from(t.data);
    case "I64": {
      const out = new Int32Array(t.data.length);
      for (let i = 0; i < out.length; i++) {
        const v = t.data[i];
        if (v < 0n || v > 2147483647n) fail(`'labels'[${i}] = ${v} is out of range`);
        out[i] = Number(v);
      }
      return out;
    }
    default:
      return fail(`'labels' has dtype ${t.dtype}; expected I32 (or I64/U8)`);
  }
}

function parseMeta(
  m: Record<string, string>,
  fb: Partial<DistilledMeta>,
  channels: number,
  fail: (p: string) => never,
): DistilledMeta {
  if (m.format !== undefined && m.format !== FORMAT) fail(`metadata format "${m.format}" is not ${FORMAT}`);
  if (m.format_version !== undefined && m.format_version !== FORMAT_VERSION) {
    fail(`format version ${m.format_version} is not supported (this code reads ${FORMAT_VERSION})`);
  }
  const str = (key: string, fallback: string | undefined): string =>
    m[key] ?? fallback ?? fail(`metadata '${key}' is missing`);
  const int = (key: string, fallback: number | undefined): number => {
    if (m[key] === undefined) return fallback ?? fail(`metadata '${key}' is missing`);
    const v = Number(m[key]);
    if (!Number.isInteger(v)) fail(`metadata '${key}' = ${JSON.stringify(m[key])} is not an integer`);
    return v;
  };
  const vec = (key: "mean" | "std", fallback: number[] | undefined): number[] => {
    let v: unknown = fallback;
    if (m[key] !== undefined) {
      try {
        v = JSON.parse(m[key]);
      } catch {
        fail(`metadata '${key}' is not JSON`);
      }
    }
    if (v === undefined) fail(`metadata '${key}' is missing (the dataset's per-channel normalisation)`);
    if (!Array.isArray(v) || v.length !== channels || !v.every((x) => typeof x === "number" && isFinite(x))) {
      fail(`metadata '${key}' = ${JSON.stringify(v)} is not ${channels} number(s), one per channel`);
    }
    return v as number[];
  };
  const profileText = str("profile", fb.profile ?? "none");
  const profile = profileText === "none" ? "none" : Profile.safeParse(profileText).data ??
    fail(
      `metadata 'profile' = ${JSON.stringify(profileText)} is not one of ${Profile.options.join(", ")}, none`,
    );
  const extra: Record<string, string> = { ...(fb.extra ?? {}) };
  for (const [k, v] of Object.entries(m)) if (k.startsWith("extra.")) extra[k.slice(6)] = v;
  const mean = vec("mean", fb.mean);
  const std = vec("std", fb.std);
  if (std.some((s) => s <= 0)) fail(`metadata 'std' = ${JSON.stringify(std)} must be positive`);
  return {
    method: str("method", fb.method ?? "unknown"),
    dataset: str("dataset", fb.dataset),
    ipc: int("ipc", fb.ipc),
    seed: int("seed", fb.seed ?? 0),
    configHash: str("config_hash", fb.configHash ?? ""),
    profile,
    mean,
    std,
    createdAt: str("created_at", fb.createdAt ?? ""),
    extra,
  };
}

/** Shape/length consistency of an in-memory set (methods are code too: check before writing). */
export function checkSet(set: DistilledSet, where: string): void {
  const [n, c, h, w] = set.shape;
  const bad = (p: string): never => {
    throw new DistilledSetError(where, p);
  };
  if (![n, c, h, w].every((d) => Number.isInteger(d) && d >= 1)) {
    bad(`shape [${set.shape}] is not [N, C, H, W]`);
  }
  if (set.images.length !== n * c * h * w) bad(`${set.images.length} image values for shape [${set.shape}]`);
  if (set.labels.length !== n) bad(`${set.labels.length} labels for ${n} images`);
  if (set.softLabels && set.softLabels.length % n !== 0) bad(`soft labels do not divide into ${n} rows`);
  if (set.meta.mean.length !== c || set.meta.std.length !== c) bad(`mean/std need ${c} values`);
}

/** What a set must look like to be evaluated on a dataset (after the profile's resolution). */
export interface SetExpectation {
  dataset: string;
  classes: number;
  channels: number;
  height: number;
  width: number;
}

/**
 * Whether a set can belong to a dataset: labels in [0, classes), images of the dataset's channels and
 * size, every pixel and soft label finite. Throws DistilledSetError naming the file and what was expected;
 * `allowResize` skips only the height/width check (the caller resamples and records it).
 */
export function checkSetFits(
  set: DistilledSet,
  file: string,
  want: SetExpectation,
  opts: { allowResize?: boolean } = {},
): void {
  const bad = (p: string): never => {
    throw new DistilledSetError(file, p);
  };
  const [n, c, h, w] = set.shape;
  if (c !== want.channels) {
    bad(`images have ${c} channel(s); ${want.dataset} has ${want.channels}`);
  }
  if (!opts.allowResize && (h !== want.height || w !== want.width)) {
    bad(
      `images are ${h}×${w}; ${want.dataset} is evaluated at ${want.height}×${want.width} ` +
        `(pass --resize to resample the set, recorded as a substitution)`,
    );
  }
  for (let i = 0; i < n; i++) {
    const y = set.labels[i];
    if (y < 0 || y >= want.classes) {
      bad(`'labels'[${i}] = ${y} is not a ${want.dataset} class (expected 0..${want.classes - 1})`);
    }
  }
  const firstNonFinite = (a: Float32Array): number => a.findIndex((v) => !Number.isFinite(v));
  const px = firstNonFinite(set.images);
  if (px >= 0) {
    const per = c * h * w;
    bad(
      `'images' value ${set.images[px]} at image ${Math.floor(px / per)} (flat index ${px}); ` +
        `expected finite pixel values`,
    );
  }
  if (set.softLabels) {
    const k = set.softLabels.length / n;
    if (k !== want.classes) bad(`'soft_labels' has ${k} classes; ${want.dataset} has ${want.classes}`);
    const sl = firstNonFinite(set.softLabels);
    if (sl >= 0) {
      bad(`'soft_labels' value ${set.softLabels[sl]} at row ${Math.floor(sl / k)}; expected finite`);
    }
  }
}

/**
 * The set's images resampled to height × width: bilinear with align_corners=False and no antialiasing,
 * i.e. PyTorch's `F.interpolate(x, size, mode="bilinear")` (the source taps are the engine's resize op's).
 * Labels and meta are kept; the caller records the resize as a substitution.
 */
export function resizeSet(set: DistilledSet, height: number, width: number): DistilledSet {
  const [n, c, h, w] = set.shape;
  const ty = Array.from({ length: height }, (_, o) => resizeTaps(o, h, height, "bilinear", false));
  const tx = Array.from({ length: width }, (_, o) => resizeTaps(o, w, width, "bilinear", false));
  const out = new Float32Array(n * c * height * width);
  for (let p = 0; p < n * c; p++) {
    const src = p * h * w, dst = p * height * width;
    for (let oy = 0; oy < height; oy++) {
      const { i0: y0, i1: y1, l0: a0, l1: a1 } = ty[oy];
      for (let ox = 0; ox < width; ox++) {
        const { i0: x0, i1: x1, l0: b0, l1: b1 } = tx[ox];
        const im = set.images;
        out[dst + oy * width + ox] = a0 * (b0 * im[src + y0 * w + x0] + b1 * im[src + y0 * w + x1]) +
          a1 * (b0 * im[src + y1 * w + x0] + b1 * im[src + y1 * w + x1]);
      }
    }
  }
  return { ...set, images: out, shape: [n, c, height, width] };
}

/**
 * A set read from a file, made ready for evaluation on a dataset as a plan loads it (`load`): it must be
 * able to belong to it (checkSetFits). A set of another image size is refused unless `resize`, which
 * resamples it (resizeSet) and returns the substitution to record.
 */
export function fitSetToDataset(
  set: DistilledSet,
  file: string,
  load: DatasetLoad,
  opts: { resize?: boolean } = {},
): { set: DistilledSet; substitution: Substitution | null } {
  const info = datasetInfo(load.id);
  const want = {
    dataset: info.id,
    classes: info.numClasses,
    channels: info.shape.channels,
    height: load.resolution ?? info.shape.height,
    width: load.resolution ?? info.shape.width,
  };
  checkSetFits(set, file, want, { allowResize: opts.resize });
  const [, , h, w] = set.shape;
  if (h === want.height && w === want.width) return { set, substitution: null };
  return {
    set: resizeSet(set, want.height, want.width),
    substitution: {
      field: "set.imageSize",
      from: `${h}×${w}`,
      to: `${want.height}×${want.width}`,
      reason: `--resize: the set's images resampled bilinearly (F.interpolate, align_corners=False) to ` +
        `the size ${info.name} is evaluated at`,
    },
  };
}
