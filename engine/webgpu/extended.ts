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
import { convThinKernel, convThinWeightGradKernel, isThinConv } from "../../kernels/conv_thin.ts";
import { permuteKernel } from "../../kernels/movement.ts";
import {
  avgPoolGradKernel,
  avgPoolKernel,
  maxPoolGatherKernel,
  maxPoolGradKernel,
  maxPoolKernel,
} from "../../kernels/pool.ts";
import {
  gridSampleGradKernel,
  gridSampleKernel,
  resizeGradKernel,
  resizeKernel,
} from "../../kernels/sample.ts";
import { randomKernel } from "../../kernels/random.ts";

/** Kernel shapes for the convolution family. */
export interface ConvTuning {
  /** Implicit-GEMM tiles for the forward and input-gradient passes. */
  readonly gemm: ConvTile;
  /**
   * Tiles for passes of at least `largeMacs` multiply-adds. Bigger tiles run faster on llvmpipe but
   * compile much slower (uncached: 16×16 ≈ 1 s, 32×32 ≈ 6 s, 64×32 ≈ 18 s; Mesa caches shaders on
   * disk across runs), so small problems (and tests) keep the small tile.
   */
  readonly gemmLarge: ConvTile;
  readonly largeMacs: number;
  /** Weight-gradient tiles (tm output channels × tn input channels). */
  readonly wgrad: ConvTile;
  /** Few input channels (kernels/conv_thin.ts): forward tile, and weight-gradient output channels. */
  readonly thin: ConvTile;
  readonly thinWgrad: { readonly tm: number; readonly wg: number };
  /** Depthwise: pixels per invocation and workgroup size. */
  readonly dwRows: number;
  readonly dwWg: number;
}

/** Software rasterisers: big register tiles, 8-lane workgroups (one SIMD row; see webgpu-on-cpu.md). */
export const CONV_SOFTWARE: ConvTuning = {
  gemm: { tm: 16, tn: 16, wg: 8 },
  gemmLarge: { tm: 32, tn: 32, wg: 8 },
  largeMacs: 1 << 28,
  wgrad: { tm: 16, tn: 16, wg: 8 },
  thin: { tm: 16, tn: 32, wg: 8 },
  thinWgrad: { tm: 16, wg: 8 },
  dwRows: 8,
  dwWg: 8,
};
/** Real GPUs: small tiles, wide workgroups. */
export const CONV_GPU: ConvTuning = {
  gemm: { tm: 4, tn: 4, wg: 64 },
  gemmLarge: { tm: 4, tn: 4, wg: 64 },
  largeMacs: Infinity,
  wgrad: { tm: 4, tn: 4, wg: 64 },
  thin: { tm: 4, tn: 4, wg: 64 },
  thinWgrad: { tm: 4, wg: 64 },
  dwRows: 2,
  dwWg: 64,
};

let override: ConvTuning | null = null;

/** Forces one tuning (tests run the GPU variants on llvmpipe too; benchmarks sweep); null = by adapter. */
export function setConvTuning(t: ConvTuning | null): void {
  override = t;
}

function tuning(b: WebGpuBackend): ConvTuning {
  return override ?? (b.info.software ? CONV_SOFTWARE : CONV_GPU);
}

/** The GEMM tile for a pass of n·oh·ow·cout·kh·kw·cin/groups multiply-adds. */
function gemmTile(b: WebGpuBackend, p: ConvParams): ConvTile {
  const t = tuning(b);
  const macs = p.n * p.oh * p.ow * p.cout * p.kh * p.kw * (p.cin / p.groups);
  return macs >= t.largeMacs ? t.gemmLarge : t.gemm;
}

/** Weight-gradient partial sums: ~2048 products per chunk, at most 4 Mi partial floats. */
const WGRAD_TARGET_M = 2048;
const WGRAD_MAX_PARTIAL = 4 << 20;

const isDepthwise = (p: ConvParams) => p.groups === p.cin && p.groups === p.cout;

export function conv2d(b: WebGpuBackend, x: Storage, w: Storage, p: ConvParams): Storage {
  const g: GemmConv = {
    ...p,
    ih: p.h,
    iw: p.w,
    ic: p.cin,
    oc: p.cout,
    transposed: false,
  };
  if (isThinConv(p)) {
    const out = b.rt.alloc(p.n * p.oh * p.ow * p.cout, "f32");
    b.rt.dispatch(convThinKernel(g, tuning(b).thin), [gpu(x), gpu(w), out]);
    return out;
  }
  if (p.groups === 1 && p.cin % 4 !== 0 && !isDepthwise(p)) return conv2dPadded(b, x, w, p);
  const out = b.rt.alloc(p.n * p.oh * p.ow * p.cout, "f32");
  if (isDepthwise(p)) {
    b.rt.dispatch(depthwiseKernel(g, tuning(b).dwRows, tuning(b).dwWg), [gpu(x), gpu(w), out]);
    return out;
  }
  b.rt.dispatch(convGemmKernel(g, gemmTile(b, p)), [gpu(x), gpu(w), out]);
  return out;
}

/**
 * Input channels not a multiple of 4 and too many taps for the thin kernels (e.g. 6 channels, or RGB
 * under a 7×7 stem): zero-pad channels to a multiple of 4 so the GEMM takes the vec4 path. One vec4
 * load costs far less than four scalar ones on llvmpipe, which outweighs the wasted multiply-adds and
 * the two small copies.
 */
function conv2dPadded(b: WebGpuBackend, x: Storage, w: Storage, p: ConvParams): Storage {
  const c4 = Math.ceil(p.cin / 4) * 4;
  const xp = b.slicePad(x, [p.n, p.h, p.w, p.cin], [0, 0, 0, 0], [p.n, p.h, p.w, c4]);
  const wp = b.slicePad(w, [p.cout, p.kh, p.kw, p.cin], [0, 0, 0, 0], [p.cout, p.kh, p.kw, c4]);
  const out = conv2d(b, xp, wp, { ...p, cin: c4 });
  b.free(xp);
  b.free(wp);
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
    b.rt.dispatch(depthwiseKernel(g, tuning(b).dwRows, tuning(b).dwWg), [
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
  b.rt.dispatch(convGemmKernel(g, gemmTile(b, p)), [gpu(gy), wt, out]);
  b.rt.release(wt);
  return out;
}

export function conv2dWeightGrad(b: WebGpuBackend, x: Storage, gy: Storage, p: ConvParams): Storage {
  const size = p.cout * p.kh * p.kw * (p.cin / p.groups);
  const { chunks, rowsPerChunk } = weightGradChunks(p, WGRAD_TARGET_M, WGRAD_MAX_PARTIAL);
  const part = b.rt.alloc(size * chunks, "f32");
  const k = isThinConv(p)
    ? convThinWeightGradKernel(p, tuning(b).thinWgrad, rowsPerChunk)
    : isDepthwise(p)
    ? depthwiseWeightGradKernel(p, tuning(b).dwWg, rowsPerChunk)
    : convWeightGradKernel(p, tuning(b).wgrad, rowsPerChunk);
  b.rt.dispatch(k, [gpu(x), gpu(gy), part]);
  if (chunks === 1) return part;
  const out = b.rt.alloc(size, "f32");
  b.rt.dispatch(chunkSumKernel(size, chunks), [part, out]);
  b.rt.release(part);
  return out;
}
export function avgPool2d(b: WebGpuBackend, x: Storage, p: PoolParams): Storage {
  const out = b.rt.alloc(p.n * p.oh * p.ow * p.c, "f32");
  b.rt.dispatch(avgPoolKernel(p), [gpu(x), out]);
  return out;
}
export function avgPool2dGrad(b: WebGpuBackend, gy: Storage, p: PoolParams): Storage {
  const out = b.rt.alloc(p.n * p.h * p.w * p.c, "f32");
  b.rt.dispatch(avgPoolGradKernel(p), [gpu(gy), out]);
  return out;
}
export function maxPool2d(b: WebGpuBackend, x: Storage, p: PoolParams): { y: Storage; idx: Storage } {
  const size = p.n * p.oh * p.ow * p.c;
  const y = b.rt.alloc(size, "f32"), idx = b.rt.alloc(size, "i32");
  b.rt.dispatch(maxPoolKernel(p), [gpu(x), y, idx]);
  return { y, idx };
}
export function maxPool2dGrad(b: WebGpuBackend, gy: Storage, idx: Storage, p: PoolParams): Storage {
  const out = b.rt.alloc(p.n * p.h * p.w * p.c, "f32");
  b.rt.dispatch(maxPoolGradKernel(p), [gpu(gy), gpu(idx), out]);
  return out;
}
export function maxPool2dGather(b: WebGpuBackend, x: Storage, idx: Storage, p: PoolParams): Storage {
  const out = b.rt.alloc(p.n * p.oh * p.ow * p.c, "f32");
  b.rt.dispatch(maxPoolGatherKernel(p), [gpu(x), gpu(idx), out]);
  return out;
}
export function resize(b: WebGpuBackend, x: Storage, p: ResizeParams): Storage {
  const out = b.rt.alloc(p.n * p.oh * p.ow * p.c, "f32");
  b.rt.dispatch(resizeKernel(p), [gpu(x), out]);
  return out;
}
export function resizeGrad(b: WebGpuBackend, gy: Storage, p: ResizeParams): Storage {
  const out = b.rt.alloc(p.n * p.h * p.w * p.c, "f32");
  b.rt.dispatch(resizeGradKernel(p), [gpu(gy), out]);
  return out;
}
export function gridSample(b: WebGpuBackend, x: Storage, t: Storage, p: GridSampleParams): Storage {
  const out = b.rt.alloc(p.n * p.oh * p.ow * p.c, "f32");
  b.rt.dispatch(gridSampleKernel(p), [gpu(x), gpu(t), out]);
  return out;
}
export function gridSampleGrad(b: WebGpuBackend, gy: Storage, t: Storage, p: GridSampleParams): Storage {
  const out = b.rt.alloc(p.n * p.h * p.w * p.c, "f32");
  b.rt.dispatch(gridSampleGradKernel(p), [gpu(gy), gpu(t), out]);
  return out;
}

const TWO32 = 4294967296;

/** Philox streams (mapping in engine/cpu/philox.ts); seed/offset travel in a small parameter buffer. */
export function random(
  b: WebGpuBackend,
  kind: "uniform" | "normal",
  n: number,
  seed: number,
  offset: number,
): Storage {
  if (!Number.isSafeInteger(seed) || seed < 0 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new Error(`random: seed and offset must be non-negative safe integers (${seed}, ${offset})`);
  }
  const out = b.rt.alloc(n, "f32");
  if (n === 0) return out;
  const block = Math.floor(offset / 4), first = offset % 4;
  const blocks = Math.ceil((first + n) / 4);
  const prm = new Uint32Array([
    block % TWO32,
    Math.floor(block / TWO32),
    seed % TWO32,
    Math.floor(seed / TWO32),
    first,
    n,
    blocks,
  ]);
  const ps = b.rt.upload(new Int32Array(prm.buffer));
  b.rt.dispatch(randomKernel(kind, blocks), [ps, out]);
  b.rt.release(ps);
  return out;
}
