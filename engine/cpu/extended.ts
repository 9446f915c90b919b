/**
 * Reference convolution, pooling, resampling and RNG: plain loops in f64, written for obviousness
 * (adjoints scatter, where the kernels gather). The WGSL kernels are tested against these.
 */
import type { ConvParams, GridSampleParams, PoolParams, ResizeParams, Storage } from "../backend.ts";
import { CpuStorage, f32, i32 } from "./storage.ts";
import { philoxStream } from "./philox.ts";

const out32 = (d: Float64Array | number[]): Storage => new CpuStorage(Float32Array.from(d));

// ------------------------------------------------------------------ convolution

/** Calls fn(xOffset, wOffset, yOffset) for every multiply-add term of the convolution. */
function convTerms(p: ConvParams, fn: (xi: number, wi: number, yi: number) => void): void {
  const cg = p.cin / p.groups, og = p.cout / p.groups;
  for (let b = 0; b < p.n; b++) {
    for (let oy = 0; oy < p.oh; oy++) {
      for (let ox = 0; ox < p.ow; ox++) {
        for (let co = 0; co < p.cout; co++) {
          const g = Math.floor(co / og);
          const yi = ((b * p.oh + oy) * p.ow + ox) * p.cout + co;
          for (let ky = 0; ky < p.kh; ky++) {
            const iy = oy * p.sh - p.ph + ky * p.dh;
            if (iy < 0 || iy >= p.h) continue;
            for (let kx = 0; kx < p.kw; kx++) {
              const ix = ox * p.sw - p.pw + kx * p.dw;
              if (ix < 0 || ix >= p.w) continue;
              for (let c = 0; c < cg; c++) {
                fn(
                  ((b * p.h + iy) * p.w + ix) * p.cin + g * cg + c,
                  ((co * p.kh + ky) * p.kw + kx) * cg + c,
                  yi,
                );
              }
            }
          }
        }
      }
    }
  }
}

export function conv2d(x: Storage, w: Storage, p: ConvParams): Storage {
  const X = f32(x), W = f32(w);
  const y = new Float64Array(p.n * p.oh * p.ow * p.cout);
  convTerms(p, (xi, wi, yi) => (y[yi] += X[xi] * W[wi]));
  return out32(y);
}

export function conv2dInputGrad(gy: Storage, w: Storage, p: ConvParams): Storage {
  const G = f32(gy), W = f32(w);
  const gx = new Float64Array(p.n * p.h * p.w * p.cin);
  convTerms(p, (xi, wi, yi) => (gx[xi] += G[yi] * W[wi]));
  return out32(gx);
}

export function conv2dWeightGrad(x: Storage, gy: Storage, p: ConvParams): Storage {
  const X = f32(x), G = f32(gy);
  const gw = new Float64Array(p.cout * p.kh * p.kw * (p.cin / p.groups));
  convTerms(p, (xi, wi, yi) => (gw[wi] += G[yi] * X[xi]));
  return out32(gw);
}

// ------------------------------------------------------------------ pooling

/** Calls fn(outIndex, inIndex | -1 for padding, flat index within the image) over every window tap. */
function poolTerms(p: PoolParams, fn: (yi: number, xi: number, pos: number) => void): void {
  for (let b = 0; b < p.n; b++) {
    for (let oy = 0; oy < p.oh; oy++) {
      for (let ox = 0; ox < p.ow; ox++) {
        for (let c = 0; c < p.c; c++) {
          const yi = ((b * p.oh + oy) * p.ow + ox) * p.c + c;
          for (let ky = 0; ky < p.kh; ky++) {
            for (let kx = 0; kx < p.kw; kx++) {
              const iy = oy * p.sh - p.ph + ky, ix = ox * p.sw - p.pw + kx;
              const inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
              const pos = (iy * p.w + ix) * p.c + c;
              fn(yi, inside ? b * p.h * p.w * p.c + pos : -1, pos);
            }
          }
        }
      }
    }
  }
}

/** Divisor kh·kw: with count_include_pad and floor mode every window lies inside the padded input. */
export function avgPool2d(x: Storage, p: PoolParams): Storage {
  const X = f32(x);
  const y = new Float64Array(p.n * p.oh * p.ow * p.c);
  poolTerms(p, (yi, xi) => {
    if (xi >= 0) y[yi] += X[xi] / (p.kh * p.kw);
  });
  return out32(y);
}

export function avgPool2dGrad(gy: Storage, p: PoolParams): Storage {
  const G = f32(gy);
  const gx = new Float64Array(p.n * p.h * p.w * p.c);
  poolTerms(p, (yi, xi) => {
    if (xi >= 0) gx[xi] += G[yi] / (p.kh * p.kw);
  });
  return out32(gx);
}

/**
 * Max over the in-bounds taps of each window in row-major window order, first maximum on ties
 * (strict >), padding never taken. A window with no in-bounds tap (only when padding ≥ kernel,
 * which PyTorch rejects) yields 0 with idx −1.
 */
export function maxPool2d(x: Storage, p: PoolParams): { y: Storage; idx: Storage } {
  const X = f32(x);
  const size = p.n * p.oh * p.ow * p.c;
  const y = new Float32Array(size), idx = new Int32Array(size).fill(-1);
  poolTerms(p, (yi, xi, pos) => {
    if (xi >= 0 && (idx[yi] < 0 || X[xi] > y[yi])) {
      y[yi] = X[xi];
      idx[yi] = pos;
    }
  });
  return { y: new CpuStorage(y), idx: new CpuStorage(idx) };
}

export function maxPool2dGrad(gy: Storage, idx: Storage, p: PoolParams): Storage {
  const G = f32(gy), I = i32(idx);
  const img = p.h * p.w * p.c, per = p.oh * p.ow * p.c;
  const gx = new Float64Array(p.n * img);
  for (let j = 0; j < G.length; j++) if (I[j] >= 0) gx[Math.floor(j / per) * img + I[j]] += G[j];
  return out32(gx);
}

export function maxPool2dGather(x: Storage, idx: Storage, p: PoolParams): Storage {
  const X = f32(x), I = i32(idx);
  const img = p.h * p.w * p.c, per = p.oh * p.ow * p.c;
  const y = new Float32Array(I.length);
  for (let j = 0; j < I.length; j++) y[j] = I[j] >= 0 ? X[Math.floor(j / per) * img + I[j]] : 0;
  return new CpuStorage(y);
}

// ------------------------------------------------------------------ resize

/** One output coordinate's source taps: value = l0·x[i0] + l1·x[i1]. */
export interface Taps {
  i0: number;
  i1: number;
  l0: number;
  l1: number;
}

const fr = Math.fround;

/**
 * PyTorch's source index along one axis, in f32 as PyTorch computes it for float tensors
 * (UpSample.h: nearest_idx, area_pixel_compute_source_index, guard_index_and_lambda).
 */
export function resizeTaps(
  o: number,
  inSize: number,
  outSize: number,
  mode: ResizeParams["mode"],
  ac: boolean,
): Taps {
  if (mode === "nearest") {
    const i = Math.min(Math.floor(fr(o * fr(inSize / outSize))), inSize - 1);
    return { i0: i, i1: i, l0: 1, l1: 0 };
  }
  let src: number;
  if (ac) src = fr(o * (outSize > 1 ? fr((inSize - 1) / (outSize - 1)) : 0));
  else src = Math.max(fr(fr(fr(inSize / outSize) * (o + 0.5)) - 0.5), 0);
  const i0 = Math.min(Math.floor(src), inSize - 1);
  const l1 = Math.min(Math.max(fr(src - i0), 0), 1);
  return { i0, i1: i0 + (i0 < inSize - 1 ? 1 : 0), l0: fr(1 - l1), l1 };
}

/** Calls fn(outIndex, inIndex, weight) for the 4 taps of every output element. */
function resizeTerms(p: ResizeParams, fn: (yi: number, xi: number, wt: number) => void): void {
  for (let oy = 0; oy < p.oh; oy++) {
    const ty = resizeTaps(oy, p.h, p.oh, p.mode, p.alignCorners);
    for (let ox = 0; ox < p.ow; ox++) {
      const tx = resizeTaps(ox, p.w, p.ow, p.mode, p.alignCorners);
      for (let b = 0; b < p.n; b++) {
        for (let c = 0; c < p.c; c++) {
          const yi = ((b * p.oh + oy) * p.ow + ox) * p.c + c;
          for (const [iy, wy] of [[ty.i0, ty.l0], [ty.i1, ty.l1]]) {
            for (const [ix, wx] of [[tx.i0, tx.l0], [tx.i1, tx.l1]]) {
              fn(yi, ((b * p.h + iy) * p.w + ix) * p.c + c, wy * wx);
            }
          }
        }
      }
    }
  }
}

export function resize(x: Storage, p: ResizeParams): Storage {
  const X = f32(x);
  const y = new Float64Array(p.n * p.oh * p.ow * p.c);
  resizeTerms(p, (yi, xi, wt) => (y[yi] += wt * X[xi]));
  return out32(y);
}

export function resizeGrad(gy: Storage, p: ResizeParams): Storage {
  const G = f32(gy);
  const gx = new Float64Array(p.n * p.h * p.w * p.c);
  resizeTerms(p, (yi, xi, wt) => (gx[xi] += wt * G[yi]));
  return out32(gx);
}

// ------------------------------------------------------------------ affine grid sample

/**
 * Calls fn(outIndex, inIndex, weight) for the in-bounds bilinear corners of every output element,
 * with PyTorch's conventions written out literally: affine_grid (align_corners=False) puts output
 * pixel (i, j) at normalised (xn, yn) = ((2j+1)/ow − 1, (2i+1)/oh − 1), maps it through theta, and
 * grid_sample unnormalises with ix = ((gx + 1)·w − 1)/2; corners outside the image read zero.
 */
function gridTerms(
  T: Float32Array,
  p: GridSampleParams,
  fn: (yi: number, xi: number, wt: number) => void,
): void {
  for (let b = 0; b < p.n; b++) {
    const t = T.subarray(b * 6, b * 6 + 6);
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const xn = (2 * j + 1) / p.ow - 1, yn = (2 * i + 1) / p.oh - 1;
        const gx = t[0] * xn + t[1] * yn + t[2], gyy = t[3] * xn + t[4] * yn + t[5];
        const ix = ((gx + 1) * p.w - 1) / 2, iy = ((gyy + 1) * p.h - 1) / 2;
        const x0 = Math.floor(ix), y0 = Math.floor(iy);
        const fx = ix - x0, fy = iy - y0;
        for (const [yy, wy] of [[y0, 1 - fy], [y0 + 1, fy]]) {
          for (const [xx, wx] of [[x0, 1 - fx], [x0 + 1, fx]]) {
            if (yy < 0 || yy >= p.h || xx < 0 || xx >= p.w) continue;
            for (let c = 0; c < p.c; c++) {
              fn(((b * p.oh + i) * p.ow + j) * p.c + c, ((b * p.h + yy) * p.w + xx) * p.c + c, wy * wx);
            }
          }
        }
      }
    }
  }
}

export function gridSample(x: Storage, theta: Storage, p: GridSampleParams): Storage {
  const X = f32(x);
  const y = new Float64Array(p.n * p.oh * p.ow * p.c);
  gridTerms(f32(theta), p, (yi, xi, wt) => (y[yi] += wt * X[xi]));
  return out32(y);
}

export function gridSampleGrad(gy: Storage, theta: Storage, p: GridSampleParams): Storage {
  const G = f32(gy);
  const gx = new Float64Array(p.n * p.h * p.w * p.c);
  gridTerms(f32(theta), p, (yi, xi, wt) => (gx[xi] += wt * G[yi]));
  return out32(gx);
}

// ------------------------------------------------------------------ random

/** Philox-4x32-10 streams; the exact mapping is documented in philox.ts. */
export function random(kind: "uniform" | "normal", n: number, seed: number, offset: number): Storage {
  return new CpuStorage(philoxStream(kind, n, seed, offset));
}
