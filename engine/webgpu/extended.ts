/**
 * Convolution, pooling, resampling and RNG primitives on WebGPU (kernels in kernels/conv.ts,
 * kernels/pool.ts, kernels/sample.ts, kernels/random.ts).
 */
import type { ConvParams, GridSampleParams, PoolParams, ResizeParams, Storage } from "../backend.ts";
import type { WebGpuBackend } from "./backend.ts";
import { gpu } from "./runtime.ts";
import {
  chunkSumKernel,
  convGemmKernel,
  type ConvTile,
  convWeightGradKernel,
  depthwiseKernel,
  depthwiseWeightGradKernel,
  type GemmConv,
  weightGradChunks,
} from "../../kernels/conv.ts";
import { permuteKernel } from "../../kernels/movement.ts";

function todo(op: string): never {
  throw new Error(`webgpu: ${op} is not implemented yet`);
}

/** Register tiles: big per-invocation tiles for software rasterisers, small ones with wide workgroups on GPUs. */
function convTile(b: WebGpuBackend): ConvTile {
  return b.info.software ? { tm: 16, tn: 16, wg: 8 } : { tm: 4, tn: 4, wg: 64 };
}

/** Weight-gradient partial sums: ~2048 products per chunk, at most 4 Mi partial floats. */
const WGRAD_TARGET_M = 2048;
const WGRAD_MAX_PARTIAL = 4 << 20;

const isDepthwise = (p: ConvParams) => p.groups === p.cin && p.groups === p.cout;

export function conv2d(b: WebGpuBackend, x: Storage, w: Storage, p: ConvParams): Storage {
  const out = b.rt.alloc(p.n * p.oh * p.ow * p.cout, "f32");
  const g: GemmConv = {
    ...p,
    ih: p.h,
    iw: p.w,
    ic: p.cin,
    oc: p.cout,
    transposed: false,
  };
  const k = isDepthwise(p)
    ? depthwiseKernel(g, b.info.software ? 8 : 2, b.info.software ? 8 : 64)
    : convGemmKernel(g, convTile(b));
  b.rt.dispatch(k, [gpu(x), gpu(w), out]);
  return out;
}

export function conv2dInputGrad(b: WebGpuBackend, gy: Storage, w: Storage, p: ConvParams): Storage {
  const out = b.rt.alloc(p.n * p.h * p.w * p.cin, "f32");
  const g: GemmConv = {
    ...p,
    ih: p.oh,
    iw: p.ow,
    ic: p.cout,
    oh: p.h,
    ow: p.w,
    oc: p.cin,
    transposed: true,
  };
  if (isDepthwise(p)) {
    // Depthwise weights [c, kh, kw, 1] are their own per-group transpose.
    b.rt.dispatch(depthwiseKernel(g, b.info.software ? 8 : 2, b.info.software ? 8 : 64), [
      gpu(gy),
      gpu(w),
      out,
    ]);
    return out;
  }
  // Per group, [cout/g, kh·kw, cin/g] → [cin/g, kh·kw, cout/g]: B rows contiguous in the reduction.
  const G = p.groups, OCG = p.cout / G, ICG = p.cin / G, taps = p.kh * p.kw;
  const wt = b.rt.alloc(p.cout * taps * ICG, "f32");
  b.rt.dispatch(permuteKernel([G, OCG, taps, ICG], [0, 3, 2, 1], "f32"), [gpu(w), wt]);
  b.rt.dispatch(convGemmKernel(g, convTile(b)), [gpu(gy), wt, out]);
  b.rt.release(wt);
  return out;
}

export function conv2dWeightGrad(b: WebGpuBackend, x: Storage, gy: Storage, p: ConvParams): Storage {
  const size = p.cout * p.kh * p.kw * (p.cin / p.groups);
  const { chunks, rowsPerChunk } = weightGradChunks(p, WGRAD_TARGET_M, WGRAD_MAX_PARTIAL);
  const part = b.rt.alloc(size * chunks, "f32");
  const k = isDepthwise(p)
    ? depthwiseWeightGradKernel(p, b.info.software ? 8 : 64, rowsPerChunk)
    : convWeightGradKernel(p, convTile(b), rowsPerChunk);
  b.rt.dispatch(k, [gpu(x), gpu(gy), part]);
  if (chunks === 1) return part;
  const out = b.rt.alloc(size, "f32");
  b.rt.dispatch(chunkSumKernel(size, chunks), [part, out]);
  b.rt.release(part);
  return out;
}
export function avgPool2d(_b: WebGpuBackend, _x: Storage, _p: PoolParams): Storage {
  return todo("avgPool2d");
}
export function avgPool2dGrad(_b: WebGpuBackend, _gy: Storage, _p: PoolParams): Storage {
  return todo("avgPool2dGrad");
}
export function maxPool2d(_b: WebGpuBackend, _x: Storage, _p: PoolParams): { y: Storage; idx: Storage } {
  return todo("maxPool2d");
}
export function maxPool2dGrad(_b: WebGpuBackend, _gy: Storage, _idx: Storage, _p: PoolParams): Storage {
  return todo("maxPool2dGrad");
}
export function maxPool2dGather(_b: WebGpuBackend, _x: Storage, _idx: Storage, _p: PoolParams): Storage {
  return todo("maxPool2dGather");
}
export function resize(_b: WebGpuBackend, _x: Storage, _p: ResizeParams): Storage {
  return todo("resize");
}
export function resizeGrad(_b: WebGpuBackend, _gy: Storage, _p: ResizeParams): Storage {
  return todo("resizeGrad");
}
export function gridSample(_b: WebGpuBackend, _x: Storage, _t: Storage, _p: GridSampleParams): Storage {
  return todo("gridSample");
}
export function gridSampleGrad(_b: WebGpuBackend, _gy: Storage, _t: Storage, _p: GridSampleParams): Storage {
  return todo("gridSampleGrad");
}
export function random(
  _b: WebGpuBackend,
  _k: "uniform" | "normal",
  _n: number,
  _s: number,
  _o: number,
): Storage {
  return todo("random");
}
