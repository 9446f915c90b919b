/**
 * Image decoding and the ImageNet-style geometric protocol: decode (JPEG via jpeg-js; the odd PNG that
 * ImageNet stores under a .JPEG name via fast-png), convert to RGB (greyscale and CMYK included), resize the
 * shorter side to `size` and centre-crop size×size — torchvision's Resize(size) + CenterCrop(size) on a PIL
 * image, which is what IDC, Minimax and the seed papers use.
 */
import { decode as decodeJpeg } from "jpeg-js";
import { convertIndexedToRgb, decode as decodePng } from "fast-png";
import { DatasetError, errorText } from "./errors.ts";

export interface RgbImage {
  width: number;
  height: number;
  /** width×height×3, row-major. */
  data: Uint8Array;
}

const isJpeg = (b: Uint8Array) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const isPng = (b: Uint8Array) =>
  b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d &&
  b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a;

/** Decode one image file's bytes to RGB; any failure is a DatasetError naming `file`. */
export function decodeImage(bytes: Uint8Array, file: string): RgbImage {
  let img: RgbImage;
  if (isJpeg(bytes)) {
    try {
      const d = decodeJpeg(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        // Large ImageNet photos exceed jpeg-js's 512 MB default working-memory cap.
        maxMemoryUsageInMB: 2048,
        maxResolutionInMP: 200,
      });
      img = { width: d.width, height: d.height, data: d.data };
    } catch (e) {
      throw new DatasetError(`${file}: undecodable JPEG (${errorText(e)})`, file, { cause: e });
    }
  } else if (isPng(bytes)) {
    img = pngToRgb(bytes, file);
  } else {
    throw new DatasetError(
      `${file}: not a JPEG image (expected the JPEG SOI marker FF D8 FF at the start of the file)`,
      file,
    );
  }
  if (!(img.width > 0 && img.height > 0) || img.data.length !== img.width * img.height * 3) {
    throw new DatasetError(`${file}: decoder returned an invalid ${img.width}×${img.height} image`, file);
  }
  return img;
}

function pngToRgb(bytes: Uint8Array, file: string): RgbImage {
  try {
    const png = decodePng(bytes);
    const { width, height } = png;
    let src: ArrayLike<number> = png.data;
    let channels = png.channels;
    let depth: number = png.depth;
    if (png.palette) {
      src = convertIndexedToRgb(png);
      channels = png.palette[0]?.length ?? 3;
      depth = 8;
    }
    const shift = depth === 16 ? 8 : 0;
    const out = new Uint8Array(width * height * 3);
    for (let p = 0; p < width * height; p++) {
      const s = p * channels;
      // 1/2 channels: grey (+alpha); 3/4: RGB (+alpha). Alpha is dropped, as PIL's convert("RGB") does.
      for (let c = 0; c < 3; c++) out[p * 3 + c] = src[s + (channels >= 3 ? c : 0)] >> shift;
    }
    return { width, height, data: out };
  } catch (e) {
    throw new DatasetError(`${file}: undecodable PNG (${errorText(e)})`, file, { cause: e });
  }
}

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop uses it). */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

interface Coeffs {
  start: Int32Array;
  count: Int32Array;
  /** Fixed-point weights (PRECISION_BITS fractional bits), `taps` per output sample. */
  weights: Int32Array;
  taps: number;
}

/** Pillow's 8-bit resampling precision (Resample.c): 32 - 8 - 2 fractional bits. */
const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

/**
 * Pillow's antialiased bilinear coefficients (precompute_coeffs + normalize_coeffs_8bpc): a triangle filter
 * widened by the downscale factor, normalised, then rounded to fixed point — so results match PIL exactly.
 */
function bilinearCoeffs(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const k = new Float64Array(taps);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) / filterscale);
      k[x] = t < 1 ? 1 - t : 0;
      total += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? k[x] / total : k[x];
      weights[xx * taps + x] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, taps };
}

/** Fixed-point accumulator → uint8, as Pillow's clip8. */
const clip8 = (ss: number) => {
  const v = Math.floor(ss / ONE);
  return v <= 0 ? 0 : v >= 255 ? 255 : v;
};

/**
 * Resize the shorter side to `size` (longer side truncated as torchvision does), then centre-crop
 * size×size; writes into `out` at `offset` (size×size×3 bytes). Only the cropped window is computed.
 */
export function resizeShorterCenterCrop(img: RgbImage, size: number, out: Uint8Array, offset: number): void {
  const { width: w, height: h, data } = img;
  if (w === size && h === size) {
    out.set(data, offset);
    return;
  }
  const [ow, oh] = w <= h ? [size, Math.trunc((size * h) / w)] : [Math.trunc((size * w) / h), size];
  const left = pyRound((ow - size) / 2);
  const top = pyRound((oh - size) / 2);
  const cx = bilinearCoeffs(w, ow);
  const cy = bilinearCoeffs(h, oh);
  // Horizontal pass over every source row for the cropped columns, rounded to uint8 like PIL's
  // intermediate image; then the vertical pass for the cropped rows. Accumulators stay below 2^53, so
  // plain doubles hold the fixed-point sums exactly.
  const tmp = new Uint8Array(h * size * 3);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < size; x++) {
      const xx = x + left;
      const s = cx.start[xx];
      const n = cx.count[xx];
      const wb = xx * cx.taps;
      let r = HALF, g = HALF, b = HALF;
      for (let k = 0; k < n; k++) {
        const wt = cx.weights[wb + k];
        const p = row + (s + k) * 3;
        r += data[p] * wt;
        g += data[p + 1] * wt;
        b += data[p + 2] * wt;
      }
      const t = (y * size + x) * 3;
      tmp[t] = clip8(r);
      tmp[t + 1] = clip8(g);
      tmp[t + 2] = clip8(b);
    }
  }
  for (let y = 0; y < size; y++) {
    const yy = y + top;
    const s = cy.start[yy];
    const n = cy.count[yy];
    const wb = yy * cy.taps;
    for (let x = 0; x < size; x++) {
      let r = HALF, g = HALF, b = HALF;
      for (let k = 0; k < n; k++) {
        const wt = cy.weights[wb + k];
        const p = ((s + k) * size + x) * 3;
        r += tmp[p] * wt;
        g += tmp[p + 1] * wt;
        b += tmp[p + 2] * wt;
      }
      const o = offset + (y * size + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
}
