/**
 * Convolution, pooling, resampling and RNG primitives on WebGPU (kernels in kernels/conv.ts,
 * kernels/pool.ts, kernels/sample.ts, kernels/random.ts).
 */
import type { ConvParams, GridSampleParams, PoolParams, ResizeParams, Storage } from "../backend.ts";
import type { WebGpuBackend } from "./backend.ts";

function todo(op: string): never {
  throw new Error(`webgpu: ${op} is not implemented yet`);
}

export function conv2d(_b: WebGpuBackend, _x: Storage, _w: Storage, _p: ConvParams): Storage {
  return todo("conv2d");
}
export function conv2dInputGrad(_b: WebGpuBackend, _gy: Storage, _w: Storage, _p: ConvParams): Storage {
  return todo("conv2dInputGrad");
}
export function conv2dWeightGrad(_b: WebGpuBackend, _x: Storage, _gy: Storage, _p: ConvParams): Storage {
  return todo("conv2dWeightGrad");
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
