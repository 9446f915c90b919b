/**
 * The typed interface of the dataset layer. Everything a loader returns has these shapes; anything read from
 * outside (cache headers, manifest memos, user options) is validated with zod before it is trusted.
 */
import { z } from "zod";

export { DatasetError } from "./errors.ts";

/** One class: WNID for ImageNet-derived sets, "0".."9" (etc.) otherwise; `name` is human-readable. */
export interface ClassInfo {
  id: string;
  name: string;
}

export interface Shape {
  channels: number;
  height: number;
  width: number;
}

/**
 * Static description of a dataset. `classes` is empty when the class list is defined by the user's folder
 * (Tiny-ImageNet, ImageNet-1k, ImageIDC, ImageNet-100) until the dataset is loaded; `numClasses` is always
 * known so models can be built without touching the data.
 */
export interface DatasetInfo {
  id: string;
  name: string;
  classes: ClassInfo[];
  numClasses: number;
  /** Native resolution, or the protocol's default resolution for ImageNet-style JPEG datasets. */
  shape: Shape;
  /** Per-channel normalisation constants (images are uint8; divide by 255 first). */
  mean: number[];
  std: number[];
  /** Digit datasets must not be horizontally flipped by augmentations. */
  digits: boolean;
  /** "embedded": ships with ddrepro's install (npm/Debian package); "user": the user downloads it. */
  source: "embedded" | "user";
  /** Whether `loadDataset(id, { resolution })` may change the resolution (resize + centre crop). */
  resizable: boolean;
}

/** N images as one contiguous N×H×W×C (NHWC) row-major uint8 buffer, with their labels. */
export interface Split {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
}

export interface ManifestFile {
  /** Path relative to the dataset's root, "/"-separated, so moving the data keeps the hash. */
  path: string;
  bytes: number;
  sha256: string;
}

/** Every input file with its digest; `hash` (hex sha256 over the sorted list) goes into provenance. */
export interface Manifest {
  files: ManifestFile[];
  hash: string;
}

export interface Dataset {
  info: DatasetInfo;
  train: Split;
  test: Split;
  manifest: Manifest;
  /** Decode cache used for JPEG datasets: whether it was a valid hit, and why not when rebuilt. */
  cache?: { path: string; hit: boolean; reason: string };
}

export interface Availability {
  available: boolean;
  /** The folder the data would be (or was) loaded from; null when nothing was found. */
  location: string | null;
  /** What was found, or what is missing and exactly how to get it. */
  reason: string;
}

export interface AvailabilityOptions {
  dataRoot?: string;
}

/** Called while decoding image datasets (which can take minutes the first time). */
export type ProgressFn = (done: number, total: number, what: string) => void;

export const LoadOptions = z.object({
  dataRoot: z.string().min(1).optional(),
  /** Output side length for resizable datasets (shorter side resize + centre crop). */
  resolution: z.number().int().min(8).max(1024).optional(),
  cacheDir: z.string().min(1).optional(),
}).strict();
export type LoadOptions = z.infer<typeof LoadOptions>;
