/**
 * Image grids of distilled sets: N×C×H×W float images → one PNG, one row per class. Reports embed
 * them, so a reader can see what a method actually synthesised.
 */
import { encode } from "fast-png";

/** Per-channel normalisation the images are stored in; undone as x·std + mean before display. */
export interface Normalization {
  mean: readonly number[];
  std: readonly number[];
}

export interface ImageGridOptions {
  /**
   * Class of each image (length N). Rows are the classes in increasing order, images in input order.
   * Without labels, images are taken as class-major with `classes` rows of N / classes images.
   */
  labels?: ArrayLike<number>;
  classes?: number;
  /** Without it, values are taken to be in [0, 1] already. Out-of-range values are clamped. */
  normalization?: Normalization;
  /** Pixels between images and around the grid (default 2). */
  padding?: number;
  /** Gray level of the padding in [0, 1] (default 1, white). */
  background?: number;
  /** Integer nearest-neighbour upscale, for 28×28 or 32×32 images (default 1). */
  scale?: number;
  /** Keep at most this many images per class row (default: all). */
  maxPerClass?: number;
}

export interface RasterImage {
  width: number;
  height: number;
  /** 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  data: Uint8Array;
}

/** Lays the images out as a raster (exposed for tests and for callers that want other encodings). */
export function imageGridRaster(
  data: ArrayLike<number>,
  shape: readonly [n: number, c: number, h: number, w: number],
  options: ImageGridOptions = {},
): RasterImage {
  const [n, c, h, w] = shape;
  if (![n, c, h, w].every((d) => Number.isInteger(d) && d > 0)) throw new RangeError(`bad shape [${shape}]`);
  if (c !== 1 && c !== 3) throw new RangeError(`images must have 1 or 3 channels (got ${c})`);
  if (data.length !== n * c * h * w) {
    throw new RangeError(`data has ${data.length} values, shape [${shape}] needs ${n * c * h * w}`);
  }
  const norm = options.normalization;
  if (norm && (norm.mean.length !== c || norm.std.length !== c)) {
    throw new RangeError(`normalization needs ${c} means and stds`);
  }
  const pad = options.padding ?? 2;
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`scale must be a positive integer`);
  const rows = classRows(n, options);
  const cols = Math.max(...rows.map((r) => r.length));
  const cellW = w * scale;
  const cellH = h * scale;
  const width = pad + cols * (cellW + pad);
  const height = pad + rows.length * (cellH + pad);
  const bg = Math.round(clamp01(options.background ?? 1) * 255);
  const out = new Uint8Array(width * height * c).fill(bg);

  rows.forEach((images, row) => {
    images.forEach((img, col) => {
      const x0 = pad + col * (cellW + pad);
      const y0 = pad + row * (cellH + pad);
      for (let y = 0; y < cellH; y++) {
        for (let x = 0; x < cellW; x++) {
          const sy = Math.floor(y / scale);
          const sx = Math.floor(x / scale);
          for (let ch = 0; ch < c; ch++) {
            let v = data[((img * c + ch) * h + sy) * w + sx];
            if (norm) v = v * norm.std[ch] + norm.mean[ch];
            out[((y0 + y) * width + (x0 + x)) * c + ch] = Math.round(clamp01(v) * 255);
          }
        }
      }
    });
  });
  return { width, height, channels: c, data: out };
}

/** The grid as PNG bytes (8-bit gray or RGB). */
export function imageGridPng(
  data: ArrayLike<number>,
  shape: readonly [n: number, c: number, h: number, w: number],
  options: ImageGridOptions = {},
): Uint8Array {
  const raster = imageGridRaster(data, shape, options);
  return encode({
    width: raster.width,
    height: raster.height,
    data: raster.data,
    channels: raster.channels,
    depth: 8,
  });
}

/** Image indices per grid row. */
function classRows(n: number, options: ImageGridOptions): number[][] {
  const cap = options.maxPerClass ?? Infinity;
  if (options.labels !== undefined) {
    const labels = options.labels;
    if (labels.length !== n) throw new RangeError(`${labels.length} labels for ${n} images`);
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const list = byClass.get(labels[i]) ?? [];
      if (list.length < cap) list.push(i);
      byClass.set(labels[i], list);
    }
    return [...byClass.keys()].sort((a, b) => a - b).map((k) => byClass.get(k)!);
  }
  const classes = options.classes ?? 1;
  if (!Number.isInteger(classes) || classes < 1 || n % classes !== 0) {
    throw new RangeError(`${n} images cannot be split into ${classes} equal class rows; pass labels`);
  }
  const per = n / classes;
  return Array.from(
    { length: classes },
    (_, k) => Array.from({ length: Math.min(per, cap) }, (_, j) => k * per + j),
  );
}

function clamp01(v: number): number {
  return Number.isNaN(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
}
