/** The compute engine: tensors on WebGPU (or the CPU reference), higher-order autodiff, ops. */
export { backend, noGrad, setBackend, type Tensor, tensor, tidy } from "./tensor.ts";
export { grad, type GradOptions } from "./autograd.ts";
export * as T from "./ops/mod.ts";
export type { AdapterInfo, Backend } from "./backend.ts";
export { WebGpuBackend, webgpuBackend } from "./webgpu/backend.ts";
export { CpuBackend } from "./cpu/backend.ts";
