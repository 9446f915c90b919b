/**
 * The primitive operations every backend implements. Autodiff (engine/ops) is written once on top
 * of these; the WebGPU backend runs them as WGSL kernels and the CPU backend is the plain TypeScript
 * reference the kernels are tested against. Image tensors are NHWC and conv weights OHWI
 * ([out, kh, kw, in/groups]): the layout that is fastest for implicit-GEMM convolution on llvmpipe
 * (see docs/webgpu-on-cpu.md); files on disk keep PyTorch's NCHW and convert at the edge.
 */
import type { Expr } from "./expr.ts";
import type { Shape } from "./shape.ts";

export type DType = "f32" | "i32";
export type TypedArrayOf<D extends DType> = D extends "f32" ? Float32Array : Int32Array;

/** Opaque device memory owned by one backend. */
export interface Storage {
  readonly size: number;
  readonly dtype: DType;
}

export interface MapInput {
  readonly s: Storage;
  readonly shape: Shape;
}

export type ReduceOp = "sum" | "max" | "min";

/** One group of `Backend.mapGroups`: `size` elements in every operand and output. */
export interface MapGroup {
  readonly operands: readonly Storage[];
  readonly into: readonly Storage[];
  readonly size: number;
}

export interface MatmulParams {
  /** Batch count; a batch stride of 0 broadcasts that operand over the batch. */
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A is [m,k] (false) or stored [k,m] (true); B is [k,n] (false) or stored [n,k] (true). */
  readonly transA: boolean;
  readonly transB: boolean;
  readonly strideA: number;
  readonly strideB: number;
}

/** x: [n,h,w,cin] NHWC; w: [cout, kh, kw, cin/groups] OHWI; y: [n,oh,ow,cout]. */
export interface ConvParams {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly cin: number;
  readonly cout: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly dh: number;
  readonly dw: number;
  readonly groups: number;
  readonly oh: number;
  readonly ow: number;
}

/** x: [n,h,w,c] → y: [n,oh,ow,c]. Average pooling counts padded zeros (PyTorch's default). */
export interface PoolParams {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly oh: number;
  readonly ow: number;
}

/** x: [n,h,w,c] → [n,oh,ow,c]; bilinear follows PyTorch `interpolate(..., align_corners)`. */
export interface ResizeParams {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly oh: number;
  readonly ow: number;
  readonly mode: "nearest" | "bilinear";
  readonly alignCorners: boolean;
}

/**
 * Bilinear sampling of x [n,h,w,c] on an affine grid: theta [n,2,3] maps normalised output
 * coordinates to input coordinates exactly as PyTorch `affine_grid` + `grid_sample`
 * (zeros padding, align_corners = false).
 */
export interface GridSampleParams {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly oh: number;
  readonly ow: number;
}

export interface AdapterInfo {
  readonly backend: string;
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  readonly software: boolean;
  /** WebGPU devices: opened with the adapter's own limits or WebGPU's minimums (`DD_WEBGPU_LIMITS`). */
  readonly limits?: "adapter" | "spec";
}

/** A tensor larger than the adapter lets one kernel bind: callers should lower their batch size. */
export class BindingLimitError extends Error {
  constructor(readonly elements: number, readonly maxElements: number) {
    super(
      `a tensor of ${elements} elements (${(elements / 2 ** 18).toFixed(0)} MiB) exceeds the adapter's ` +
        `maxStorageBufferBindingSize (${(maxElements / 2 ** 18).toFixed(0)} MiB); use a smaller batch`,
    );
    this.name = "BindingLimitError";
  }
}

export interface Backend {
  readonly name: "webgpu" | "cpu";
  readonly info: AdapterInfo;
  /**
   * The largest tensor (elements) one kernel may bind: WebGPU's maxStorageBufferBindingSize / 4
   * (128 MiB on llvmpipe). Callers that batch over data (evaluation, training) size batches by it.
   */
  readonly maxTensorElements: number;
  /**
   * Storage buffers one kernel may bind (inputs + outputs + params): the adapter's
   * maxStorageBuffersPerShaderStage. Fusing ops into multi-output kernels stays within it.
   */
  readonly maxKernelBuffers: number;

  upload(data: Float32Array | Int32Array): Storage;
  read(s: Storage): Promise<Float32Array | Int32Array>;
  free(s: Storage): void;
  /** Submit pending work (no wait). */
  flush(): void;

  /**
   * Elementwise: output j = exprs[j] over inputs broadcast to `shape`. `params` feed `prm(i)`
   * nodes. With `into`, results are written to existing storages (which may alias inputs: the
   * in-place optimizer update), else fresh ones are returned.
   */
  map(
    exprs: readonly Expr[],
    inputs: readonly MapInput[],
    shape: Shape,
    opts?: { params?: readonly number[]; into?: readonly Storage[]; dtype?: DType },
  ): Storage[];
  /**
   * In-place `map` over several groups of same-sized operands at once (an optimizer step over every
   * parameter tensor): for each group, output j = exprs[j] over `operands` is written into `into[j]`,
   * which may be one of the group's operands (read before written). Groups share no storage. As few
   * kernels as the binding budget allows.
   */
  mapGroups(exprs: readonly Expr[], groups: readonly MapGroup[], params?: readonly number[]): void;
  /**
   * Output j = exprs[j] (over inputs broadcast to the full shape `shape`) reduced along `axes`,
   * keepdims layout; one pass over the inputs for all outputs.
   */
  reduce(
    op: ReduceOp,
    exprs: readonly Expr[],
    inputs: readonly MapInput[],
    shape: Shape,
    axes: readonly number[],
    params?: readonly number[],
  ): Storage[];
  /** Index of the maximum along `axis` (first on ties), as i32 with that axis removed. */
  argmax(x: Storage, shape: Shape, axis: number): Storage;

  matmul(a: Storage, b: Storage, p: MatmulParams): Storage;

  conv2d(x: Storage, w: Storage, p: ConvParams): Storage;
  /** dL/dx from dL/dy (a transposed convolution). */
  conv2dInputGrad(gy: Storage, w: Storage, p: ConvParams): Storage;
  /** dL/dw from x and dL/dy. */
  conv2dWeightGrad(x: Storage, gy: Storage, p: ConvParams): Storage;

  avgPool2d(x: Storage, p: PoolParams): Storage;
  /** The adjoint of avgPool2d: spreads gy back over each window. */
  avgPool2dGrad(gy: Storage, p: PoolParams): Storage;
  /** Max pooling; also returns the flat index (within one image's h·w·c) of each maximum, as i32. */
  maxPool2d(x: Storage, p: PoolParams): { y: Storage; idx: Storage };
  /** Adjoint of max pooling: routes gy to the argmax positions (summing overlaps). */
  maxPool2dGrad(gy: Storage, idx: Storage, p: PoolParams): Storage;
  /** Gathers x at the argmax positions (the adjoint of maxPool2dGrad w.r.t. gy). */
  maxPool2dGather(x: Storage, idx: Storage, p: PoolParams): Storage;

  resize(x: Storage, p: ResizeParams): Storage;
  resizeGrad(gy: Storage, p: ResizeParams): Storage;
  gridSample(x: Storage, theta: Storage, p: GridSampleParams): Storage;
  gridSampleGrad(gy: Storage, theta: Storage, p: GridSampleParams): Storage;

  /** out[i] = x[i + begin] where in range, else 0 (slice for begin ≥ 0, zero-pad for begin < 0). */
  slicePad(x: Storage, shape: Shape, begin: readonly number[], outShape: Shape): Storage;
  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage;
  /** rows of x [v, d] at idx [m] (i32) → [m, d]; out-of-range indices are an error upstream. */
  gatherRows(x: Storage, v: number, d: number, idx: Storage, m: number): Storage;
  /** adjoint of gatherRows: out [v, d] = Σ_{j: idx[j] = r} g[j] (deterministic order). */
  scatterAddRows(g: Storage, m: number, d: number, idx: Storage, v: number): Storage;

  /**
   * Counter-based random numbers (Philox-4x32-10): element i of the result depends only on
   * (seed, offset + i), identically on every backend.
   */
  random(kind: "uniform" | "normal", size: number, seed: number, offset: number): Storage;
}
