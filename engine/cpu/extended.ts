/** Reference convolution, pooling, resampling and RNG (plain loops; the kernels are tested against these). */
import type { ConvParams, GridSampleParams, PoolParams, ResizeParams, Storage } from "../backend.ts";

function todo(op: string): never {
  throw new Error(`cpu: ${op} is not implemented yet`);
}

export function conv2d(_x: Storage, _w: Storage, _p: ConvParams): Storage {
  return todo("conv2d");
}
export function conv2dInputGrad(_gy: Storage, _w: Storage, _p: ConvParams): Storage {
  return todo("conv2dInputGrad");
}
export function conv2dWeightGrad(_x: Storage, _gy: Storage, _p: ConvParams): Storage {
  return todo("conv2dWeightGrad");
}
export function avgPool2d(_x: Storage, _p: PoolParams): Storage {
  return todo("avgPool2d");
}
export function avgPool2dGrad(_gy: Storage, _p: PoolParams): Storage {
  return todo("avgPool2dGrad");
}
export function maxPool2d(_x: Storage, _p: PoolParams): { y: Storage; idx: Storage } {
  return todo("maxPool2d");
}
export function maxPool2dGrad(_gy: Storage, _idx: Storage, _p: PoolParams): Storage {
  return todo("maxPool2dGrad");
}
export function maxPool2dGather(_x: Storage, _idx: Storage, _p: PoolParams): Storage {
  return todo("maxPool2dGather");
}
export function resize(_x: Storage, _p: ResizeParams): Storage {
  return todo("resize");
}
export function resizeGrad(_gy: Storage, _p: ResizeParams): Storage {
  return todo("resizeGrad");
}
export function gridSample(_x: Storage, _t: Storage, _p: GridSampleParams): Storage {
  return todo("gridSample");
}
export function gridSampleGrad(_gy: Storage, _t: Storage, _p: GridSampleParams): Storage {
  return todo("gridSampleGrad");
}
export function random(_k: "uniform" | "normal", _n: number, _s: number, _o: number): Storage {
  return todo("random");
}
