/**
 * Convolution, pooling and resampling. Each forward op and its adjoints form a closed set
 * (conv2d ↔ conv2dInputGrad ↔ conv2dWeightGrad, avgPool ↔ its adjoint, …), so gradients of any order
 * are available, as DC/DSA/IDC gradient matching require.
 */
import type { ConvParams, GridSampleParams, PoolParams, ResizeParams } from "../backend.ts";
import { fmtShape } from "../shape.ts";
import { backend, fromStorage, needsGrad, record, type Tensor } from "../tensor.ts";

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

const pair = (v: number | [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === "number" ? [v, v] : v;

/** x [n,h,w,cin] (NHWC), w [cout,kh,kw,cin/groups] (OHWI). */
export function convParams(
  xShape: readonly number[],
  wShape: readonly number[],
  o: Conv2dOptions = {},
): ConvParams {
  const [n, h, w, cin] = xShape;
  const [cout, kh, kw, cg] = wShape;
  const groups = o.groups ?? 1;
  const [sh, sw] = pair(o.stride, 1), [ph, pw] = pair(o.padding, 0), [dh, dw] = pair(o.dilation, 1);
  if (xShape.length !== 4 || wShape.length !== 4 || cin !== cg * groups || cout % groups !== 0) {
    throw new Error(
      `conv2d: x ${fmtShape(xShape)} (NHWC) and w ${
        fmtShape(wShape)
      } (OHWI) with ${groups} groups do not fit`,
    );
  }
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  if (oh < 1 || ow < 1) throw new Error(`conv2d: empty output for input ${fmtShape(xShape)}`);
  return { n, h, w, cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups, oh, ow };
}

export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  const p = convParams(x.shape, w.shape, opts);
  return convFwd(x, w, p);
}

function convFwd(x: Tensor, w: Tensor, p: ConvParams): Tensor {
  const out = fromStorage(backend().conv2d(x.storage, w.storage, p), [p.n, p.oh, p.ow, p.cout]);
  return record(out, "conv2d", [x, w], (g) => [
    needsGrad(x) ? convInputGrad(g, w, p) : null,
    needsGrad(w) ? convWeightGrad(x, g, p) : null,
  ]);
}

function convInputGrad(gy: Tensor, w: Tensor, p: ConvParams): Tensor {
  const out = fromStorage(backend().conv2dInputGrad(gy.storage, w.storage, p), [p.n, p.h, p.w, p.cin]);
  return record(out, "conv2dInputGrad", [gy, w], (g) => [
    needsGrad(gy) ? convFwd(g, w, p) : null,
    needsGrad(w) ? convWeightGrad(g, gy, p) : null,
  ]);
}

function convWeightGrad(x: Tensor, gy: Tensor, p: ConvParams): Tensor {
  const out = fromStorage(backend().conv2dWeightGrad(x.storage, gy.storage, p), [
    p.cout,
    p.kh,
    p.kw,
    p.cin / p.groups,
  ]);
  return record(out, "conv2dWeightGrad", [x, gy], (g) => [
    needsGrad(x) ? convInputGrad(gy, g, p) : null,
    needsGrad(gy) ? convFwd(x, g, p) : null,
  ]);
}

export interface Pool2dOptions {
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
}

function poolParams(shape: readonly number[], o: Pool2dOptions): PoolParams {
  const [n, h, w, c] = shape;
  const [kh, kw] = pair(o.kernel, 1);
  const [sh, sw] = pair(o.stride ?? o.kernel, 1), [ph, pw] = pair(o.padding, 0);
  const oh = Math.floor((h + 2 * ph - kh) / sh) + 1, ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
  if (shape.length !== 4 || oh < 1 || ow < 1) {
    throw new Error(`pool2d: bad input ${fmtShape(shape)} (NHWC expected)`);
  }
  return { n, h, w, c, kh, kw, sh, sw, ph, pw, oh, ow };
}

export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return avgFwd(x, poolParams(x.shape, opts));
}

function avgFwd(x: Tensor, p: PoolParams): Tensor {
  const out = fromStorage(backend().avgPool2d(x.storage, p), [p.n, p.oh, p.ow, p.c]);
  return record(out, "avgPool2d", [x], (g) => [avgAdj(g, p)]);
}

function avgAdj(gy: Tensor, p: PoolParams): Tensor {
  const out = fromStorage(backend().avgPool2dGrad(gy.storage, p), [p.n, p.h, p.w, p.c]);
  return record(out, "avgPool2dGrad", [gy], (g) => [avgFwd(g, p)]);
}

export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const p = poolParams(x.shape, opts);
  const { y, idx } = backend().maxPool2d(x.storage, p);
  const index = fromStorage(idx, [p.n, p.oh, p.ow, p.c]).keep();
  const out = fromStorage(y, [p.n, p.oh, p.ow, p.c]);
  // The argmax map lives as long as the graph that needs it; freed with the result otherwise.
  const res = record(out, "maxPool2d", [x], (g) => [maxAdj(g, index, p)]);
  if (!res.node) index.dispose();
  return res;
}

function maxAdj(gy: Tensor, idx: Tensor, p: PoolParams): Tensor {
  const out = fromStorage(backend().maxPool2dGrad(gy.storage, idx.storage, p), [p.n, p.h, p.w, p.c]);
  return record(out, "maxPool2dGrad", [gy], (g) => [maxGather(g, idx, p)]);
}

function maxGather(x: Tensor, idx: Tensor, p: PoolParams): Tensor {
  const out = fromStorage(backend().maxPool2dGather(x.storage, idx.storage, p), [p.n, p.oh, p.ow, p.c]);
  return record(out, "maxPool2dGather", [x], (g) => [maxAdj(g, idx, p)]);
}

export function resize(
  x: Tensor,
  oh: number,
  ow: number,
  mode: "nearest" | "bilinear",
  alignCorners = false,
): Tensor {
  const [n, h, w, c] = x.shape;
  return resizeFwd(x, { n, h, w, c, oh, ow, mode, alignCorners });
}

function resizeFwd(x: Tensor, p: ResizeParams): Tensor {
  const out = fromStorage(backend().resize(x.storage, p), [p.n, p.oh, p.ow, p.c]);
  return record(out, "resize", [x], (g) => [resizeAdj(g, p)]);
}

function resizeAdj(gy: Tensor, p: ResizeParams): Tensor {
  const out = fromStorage(backend().resizeGrad(gy.storage, p), [p.n, p.h, p.w, p.c]);
  return record(out, "resizeGrad", [gy], (g) => [resizeFwd(g, p)]);
}

/** Bilinear sampling on affine grids theta [n,2,3] (PyTorch affine_grid + grid_sample, zeros, align_corners=false). */
export function affineGridSample(x: Tensor, theta: Tensor, oh?: number, ow?: number): Tensor {
  const [n, h, w, c] = x.shape;
  if (theta.rank !== 3 || theta.shape[0] !== n || theta.shape[1] !== 2 || theta.shape[2] !== 3) {
    throw new Error(`affineGridSample: theta must be [${n},2,3], got ${fmtShape(theta.shape)}`);
  }
  return gridFwd(x, theta, { n, h, w, c, oh: oh ?? h, ow: ow ?? w });
}

function gridFwd(x: Tensor, theta: Tensor, p: GridSampleParams): Tensor {
  const out = fromStorage(backend().gridSample(x.storage, theta.storage, p), [p.n, p.oh, p.ow, p.c]);
  return record(out, "gridSample", [x], (g) => [gridAdj(g, theta, p)]);
}

function gridAdj(gy: Tensor, theta: Tensor, p: GridSampleParams): Tensor {
  const out = fromStorage(backend().gridSampleGrad(gy.storage, theta.storage, p), [p.n, p.h, p.w, p.c]);
  return record(out, "gridSampleGrad", [gy], (g) => [gridFwd(g, theta, p)]);
}
