/**
 * Multi-formulation (IDC's "partition and expand", IDM's factor-2 quadrants; docs/protocols.md
 * §6.1, §6.2): one stored image holds f×f downsized images in a grid; decoding splits the grid and
 * upsamples every cell bilinearly back to the full size, so a budget of N stored images trains on
 * f²·N images. Built only from engine ops (pad, slice, concat, resize), so decoding is differentiable
 * and methods optimise the stored images through it.
 *
 * Layout (NHWC, like every device image here): decoded images are cell-major — cell k = i·f + j
 * (row i, column j of the grid) of all N stored images, then cell k + 1 — as IDC's `decode_zoom`.
 */
import type { Tensor } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";

export interface DecodeOptions {
  /**
   * Value of the bottom/right padding when the side is not a multiple of f (IDC pads its [0, 1]
   * images with 0.5; methods working in normalised space pass the normalised value they want).
   */
  padValue?: number;
}

/** Side of one grid cell: ⌈H / f⌉ (after padding H up to a multiple of f). */
export function cellSide(side: number, factor: number): number {
  return Math.ceil(side / factor);
}

function checkFactor(factor: number): void {
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`multi-formulation: bad factor ${factor}`);
}

/** Pads bottom/right of NHWC x to multiples of f with `value` (differentiable: pad(x − v) + v). */
function padTo(x: Tensor, factor: number, value: number): Tensor {
  const [, h, w] = x.shape;
  const ph = cellSide(h, factor) * factor - h, pw = cellSide(w, factor) * factor - w;
  if (ph === 0 && pw === 0) return x;
  const pads = [[0, 0], [0, ph], [0, pw], [0, 0]] as const;
  if (value === 0) return T.pad(x, pads);
  return T.add(T.pad(T.sub(x, value), pads), value);
}

/**
 * Stored NHWC images [N, H, W, C] → decoded [f²·N, H, W, C]: cells of side ⌈H/f⌉ upsampled bilinearly
 * (align_corners false, as PyTorch's nn.Upsample/F.interpolate) to H×W. f = 1 returns the input.
 */
export function decode(images: Tensor, factor: number, opts: DecodeOptions = {}): Tensor {
  checkFactor(factor);
  if (factor === 1) return images;
  const [n, h, w, c] = images.shape;
  const x = padTo(images, factor, opts.padValue ?? 0);
  const sh = cellSide(h, factor), sw = cellSide(w, factor);
  const cells: Tensor[] = [];
  for (let i = 0; i < factor; i++) {
    for (let j = 0; j < factor; j++) cells.push(T.slice(x, [0, i * sh, j * sw, 0], [n, sh, sw, c]));
  }
  return T.resize(T.concat(cells, 0), h, w, "bilinear", false);
}

/** Labels of decoded images: the stored labels repeated f² times (cell-major, as `decode`). */
export function decodeLabels(labels: Int32Array, factor: number): Int32Array {
  checkFactor(factor);
  const out = new Int32Array(labels.length * factor * factor);
  for (let k = 0; k < factor * factor; k++) out.set(labels, k * labels.length);
  return out;
}

/**
 * The inverse direction for initialisation: full-size images [f²·N, H, W, C], cell-major as `decode`
 * returns them, are downsized to the cell side and tiled into N stored images. `mode` "bilinear" is
 * IDM's downscale (F.interpolate bilinear, ×½: each cell pixel is the mean of a 2×2 block); IDC's
 * `mix` init uses "nearest". Cells cut by the padding are cropped back to H×W.
 */
export function encode(
  cells: Tensor,
  factor: number,
  mode: "bilinear" | "nearest" = "bilinear",
): Tensor {
  checkFactor(factor);
  if (factor === 1) return cells;
  const [m, h, w, c] = cells.shape;
  const k = factor * factor;
  if (m % k !== 0) throw new Error(`multi-formulation encode: ${m} images is not a multiple of ${k}`);
  const n = m / k;
  const sh = cellSide(h, factor), sw = cellSide(w, factor);
  const small = T.resize(cells, sh, sw, mode, false);
  let grid: Tensor | null = null;
  for (let i = 0; i < factor; i++) {
    for (let j = 0; j < factor; j++) {
      const cell = T.slice(small, [(i * factor + j) * n, 0, 0, 0], [n, sh, sw, c]);
      // slicePad with a negative begin places the cell at (i·sh, j·sw) of a zero canvas.
      const placed = T.slicePad(cell, [0, -i * sh, -j * sw, 0], [n, sh * factor, sw * factor, c]);
      grid = grid ? T.add(grid, placed) : placed;
    }
  }
  return T.slice(grid!, [0, 0, 0, 0], [n, h, w, c]);
}
