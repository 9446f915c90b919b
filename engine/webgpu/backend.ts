/** The WebGPU backend: each primitive is one (or two) generated WGSL kernels run by the Runtime. */
import type {
  Backend,
  ConvParams,
  DType,
  GridSampleParams,
  MapGroup,
  MapInput,
  MatmulParams,
  PoolParams,
  ReduceOp,
  ResizeParams,
  Storage,
} from "../backend.ts";
import { type Expr, inp, maxParam } from "../expr.ts";
import { sameShape, type Shape, sizeOf } from "../shape.ts";
import { mapKernel, multiMapKernel } from "../../kernels/map.ts";
import { argmaxKernel, REDUCE_CHUNK, reduceKernel } from "../../kernels/reduce.ts";
import { matmulKernel, matmulNTKernel, type MatmulTile } from "../../kernels/matmul.ts";
import {
  gatherRowsKernel,
  permuteKernel,
  scatterAddRowsKernel,
  slicePadKernel,
} from "../../kernels/movement.ts";
import { type GpuContext, type LimitsChoice, openDevice } from "./device.ts";
import { gpu, type GpuStorage, Runtime } from "./runtime.ts";
import * as ext from "./extended.ts";

/** Kernel variants chosen per adapter class (software rasterisers want big register tiles). */
export interface Tuning {
  readonly matmul: MatmulTile;
  /**
   * Tile for the "NT" layout (B stored [n,k]: vec4 loads along K for both operands), and whether NN
   * products transpose B first to use it: one pass over B buys a faster K loop when M, N, K are large.
   */
  readonly matmulNT: MatmulTile;
  /**
   * NT tile for products of at least `largeMacs` multiply-adds with K a multiple of 4: faster on
   * llvmpipe (512³: 13 vs 9.5 GFLOPS) but ~6 s to compile per shape, so small products keep the small one.
   */
  readonly matmulNTLarge: MatmulTile;
  readonly largeMacs: number;
  readonly packB: boolean;
}

export const SOFTWARE_TUNING: Tuning = {
  matmul: { tm: 16, tn: 16, wg: 8 },
  matmulNT: { tm: 16, tn: 16, wg: 8 },
  matmulNTLarge: { tm: 32, tn: 32, wg: 8 },
  largeMacs: 1 << 26,
  packB: true,
};
export const GPU_TUNING: Tuning = {
  matmul: { tm: 4, tn: 4, wg: 64 },
  matmulNT: { tm: 4, tn: 4, wg: 64 },
  matmulNTLarge: { tm: 4, tn: 4, wg: 64 },
  largeMacs: Infinity,
  packB: false,
};

/** Groups per `mapGroups` kernel at most: bounds its source size (one branch per group). */
const MAX_GROUPS = 16;
/** Below this size in M, N or K packing B does not pay for its extra pass. */
const PACK_MIN = 64;

export class WebGpuBackend implements Backend {
  readonly name = "webgpu" as const;
  get maxTensorElements(): number {
    return this.rt.maxElements;
  }
  get maxKernelBuffers(): number {
    // The device's (openDevice requests the adapter's); 8 is WebGPU's guaranteed minimum.
    return this.rt.ctx.limits.maxStorageBuffersPerShaderStage ?? 8;
  }
  readonly rt: Runtime;
  tuning: Tuning;

  constructor(ctx: GpuContext) {
    this.rt = new Runtime(ctx);
    this.tuning = ctx.info.software ? SOFTWARE_TUNING : GPU_TUNING;
  }

  get info() {
    return this.rt.ctx.info;
  }

  upload(data: Float32Array | Int32Array): Storage {
    return this.rt.upload(data);
  }
  read(s: Storage): Promise<Float32Array | Int32Array> {
    return this.rt.read(gpu(s));
  }
  free(s: Storage): void {
    this.rt.release(gpu(s));
  }
  flush(): void {
    this.rt.flush();
  }
  alloc(size: number, dtype: DType = "f32"): GpuStorage {
    return this.rt.alloc(size, dtype);
  }

  map(
    exprs: readonly Expr[],
    inputs: readonly MapInput[],
    shape: Shape,
    opts: { params?: readonly number[]; into?: readonly Storage[]; dtype?: DType } = {},
  ): Storage[] {
    const n = sizeOf(shape);
    const alias = exprs.map((_, j) => {
      const t = opts.into?.[j];
      if (!t) return -1;
      const i = inputs.findIndex((x) => x.s === t);
      if (i >= 0 && !sameShape(inputs[i].shape, shape)) {
        throw new Error("in-place map needs same-shape operands");
      }
      return i;
    });
    const outDtype = opts.dtype ?? "f32";
    const k = mapKernel({
      exprs,
      inputs: inputs.map((x) => ({ shape: x.shape, dtype: x.s.dtype })),
      shape,
      outDtype,
      alias,
    });
    const outs = exprs.map((_, j) => (opts.into?.[j] ? gpu(opts.into[j]) : this.rt.alloc(n, outDtype)));
    const bufs: GpuStorage[] = [];
    inputs.forEach((x, i) => {
      if (k.bindingOf.inputs[i] >= 0) bufs[k.bindingOf.inputs[i]] = gpu(x.s);
    });
    outs.forEach((o, j) => (bufs[k.bindingOf.outputs[j]] = o));
    let ps: GpuStorage | null = null;
    if (k.bindingOf.params >= 0) {
      ps = this.rt.upload(Float32Array.from(opts.params ?? []));
      bufs[k.bindingOf.params] = ps;
    }
    this.rt.dispatch(k, bufs);
    if (ps) this.rt.release(ps);
    return outs;
  }

  mapGroups(exprs: readonly Expr[], groups: readonly MapGroup[], params: readonly number[] = []): void {
    groups = groups.filter((g) => g.size > 0);
    if (groups.length === 0) return;
    const nIn = groups[0].operands.length;
    const alias = exprs.map((_, j) => groups[0].operands.indexOf(groups[0].into[j]));
    for (const g of groups) {
      const same = g.operands.length === nIn && g.into.length === exprs.length &&
        exprs.every((_, j) => g.operands.indexOf(g.into[j]) === alias[j]);
      if (!same) throw new Error("mapGroups: every group needs the same operands and aliasing");
    }
    const hasParams = exprs.some((e) => maxParam(e) >= 0);
    const per = nIn - alias.filter((a) => a >= 0).length + exprs.length;
    const fit = Math.min(MAX_GROUPS, Math.floor((this.maxKernelBuffers - (hasParams ? 1 : 0)) / per));
    if (fit < 1) {
      for (const g of groups) {
        this.map(exprs, g.operands.map((s) => ({ s, shape: [g.size] })), [g.size], { params, into: g.into });
      }
      return;
    }
    // One upload of the shared scalars for every dispatch (each upload can split the pass).
    const ps = hasParams ? this.rt.upload(Float32Array.from(params)) : null;
    for (let at = 0; at < groups.length; at += fit) {
      const part = groups.slice(at, at + fit);
      const k = multiMapKernel({ exprs, inputs: nIn, alias, sizes: part.map((g) => g.size) });
      const bufs: GpuStorage[] = [];
      for (const g of part) {
        g.operands.forEach((s, i) => {
          if (!alias.includes(i)) bufs.push(gpu(s));
        });
        g.into.forEach((s) => bufs.push(gpu(s)));
      }
      if (ps) bufs.push(ps);
      this.rt.dispatch(k, bufs);
    }
    if (ps) this.rt.release(ps);
  }

  reduce(
    op: ReduceOp,
    exprs: readonly Expr[],
    inputs: readonly MapInput[],
    shape: Shape,
    axes: readonly number[],
    params: readonly number[] = [],
  ): Storage[] {
    const O = sizeOf(shape.filter((_, d) => !axes.includes(d)));
    const R = sizeOf(axes.map((d) => shape[d]));
    const chunks = R > 2 * REDUCE_CHUNK ? Math.ceil(R / REDUCE_CHUNK) : 1;
    // Size-1 dimensions change no offset; dropping them lets a trailing kept dimension be the last one
    // (e.g. instance-norm sums over [n, hw, c, 1]), which the vec4 kernel needs.
    const keep = shape.map((_, d) => d).filter((d) => shape[d] !== 1);
    const full = (s: Shape) => [...Array(shape.length - s.length).fill(1), ...s];
    const dt = inputs.map((x) => ({ shape: keep.map((d) => full(x.shape)[d]), dtype: x.s.dtype }));
    axes = axes.filter((d) => shape[d] !== 1).map((d) => keep.indexOf(d));
    shape = keep.map((d) => shape[d]);
    const bufs = inputs.map((x) => gpu(x.s));
    const outs = exprs.map(() => this.rt.alloc(O * chunks, "f32"));
    let ps: GpuStorage | null = null;
    if (params.length) ps = this.rt.upload(Float32Array.from(params));
    this.rt.dispatch(
      reduceKernel({ op, exprs, inputs: dt, shape, axes, chunks }),
      ps ? [...bufs, ...outs, ps] : [...bufs, ...outs],
    );
    if (ps) this.rt.release(ps);
    if (chunks === 1) return outs;
    // The chunks' partial results, reduced by one more kernel for as many outputs as its bindings allow.
    const fins = exprs.map(() => this.rt.alloc(O, "f32"));
    const per = Math.max(1, Math.floor(this.maxKernelBuffers / 2));
    for (let at = 0; at < outs.length; at += per) {
      const part = outs.slice(at, at + per);
      this.rt.dispatch(
        reduceKernel({
          op,
          exprs: part.map((_, j) => inp(j)),
          inputs: part.map(() => ({ shape: [O, chunks], dtype: "f32" as const })),
          shape: [O, chunks],
          axes: [1],
          chunks: 1,
        }),
        [...part, ...fins.slice(at, at + per)],
      );
    }
    for (const o of outs) this.rt.release(o);
    return fins;
  }

  argmax(x: Storage, shape: Shape, axis: number): Storage {
    const out = this.rt.alloc(sizeOf(shape) / shape[axis], "i32");
    this.rt.dispatch(argmaxKernel(shape, axis), [gpu(x), out]);
    return out;
  }

  matmul(a: Storage, b: Storage, p: MatmulParams): Storage {
    const out = this.rt.alloc(p.batch * p.m * p.n, "f32");
    const big = p.m >= PACK_MIN && p.n >= PACK_MIN && p.k >= PACK_MIN && p.k % 4 === 0;
    let bs = gpu(b), q = p, packed: GpuStorage | null = null;
    if (this.tuning.packB && !p.transB && big) {
      const batches = p.strideB === 0 ? 1 : p.batch;
      packed = gpu(this.permute(b, [batches, p.k, p.n], [0, 2, 1]));
      bs = packed;
      q = { ...p, transB: true };
    }
    const nt = q.transB && !q.transA;
    const ntVec = nt && q.k % 4 === 0 && q.strideA % 4 === 0 && q.strideB % 4 === 0;
    const large = ntVec && q.m * q.n * q.k >= this.tuning.largeMacs;
    const t = large ? this.tuning.matmulNTLarge : nt ? this.tuning.matmulNT : this.tuning.matmul;
    // Shrink the tile for thin outputs (e.g. 10 logits) so no invocation computes mostly waste.
    const tile = { tm: Math.min(t.tm, roundUp4(q.m)), tn: Math.min(t.tn, roundUp4(q.n)), wg: t.wg };
    this.rt.dispatch(
      ntVec ? matmulNTKernel(q, tile) : matmulKernel(q, tile),
      [gpu(a), bs, out],
    );
    // Safe at once: commands run in order, so a later reuse of the buffer comes after this matmul.
    if (packed) this.rt.release(packed);
    return out;
  }

  slicePad(x: Storage, shape: Shape, begin: readonly number[], outShape: Shape): Storage {
    const out = this.rt.alloc(sizeOf(outShape), x.dtype);
    this.rt.dispatch(slicePadKernel(shape, begin, outShape, x.dtype), [gpu(x), out]);
    return out;
  }

  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage {
    const out = this.rt.alloc(sizeOf(shape), x.dtype);
    this.rt.dispatch(permuteKernel(shape, perm, x.dtype), [gpu(x), out]);
    return out;
  }

  gatherRows(x: Storage, v: number, d: number, idx: Storage, m: number): Storage {
    const out = this.rt.alloc(m * d, "f32");
    this.rt.dispatch(gatherRowsKernel(v, d, m), [gpu(x), gpu(idx), out]);
    return out;
  }

  scatterAddRows(g: Storage, m: number, d: number, idx: Storage, v: number): Storage {
    const out = this.rt.alloc(v * d, "f32");
    this.rt.dispatch(scatterAddRowsKernel(m, d, v), [gpu(g), gpu(idx), out]);
    return out;
  }

  conv2d(x: Storage, w: Storage, p: ConvParams): Storage {
    return ext.conv2d(this, x, w, p);
  }
  conv2dInputGrad(gy: Storage, w: Storage, p: ConvParams): Storage {
    return ext.conv2dInputGrad(this, gy, w, p);
  }
  conv2dWeightGrad(x: Storage, gy: Storage, p: ConvParams): Storage {
    return ext.conv2dWeightGrad(this, x, gy, p);
  }
  avgPool2d(x: Storage, p: PoolParams): Storage {
    return ext.avgPool2d(this, x, p);
  }
  avgPool2dGrad(gy: Storage, p: PoolParams): Storage {
    return ext.avgPool2dGrad(this, gy, p);
  }
  maxPool2d(x: Storage, p: PoolParams): { y: Storage; idx: Storage } {
    return ext.maxPool2d(this, x, p);
  }
  maxPool2dGrad(gy: Storage, idx: Storage, p: PoolParams): Storage {
    return ext.maxPool2dGrad(this, gy, idx, p);
  }
  maxPool2dGather(x: Storage, idx: Storage, p: PoolParams): Storage {
    return ext.maxPool2dGather(this, x, idx, p);
  }
  resize(x: Storage, p: ResizeParams): Storage {
    return ext.resize(this, x, p);
  }
  resizeGrad(gy: Storage, p: ResizeParams): Storage {
    return ext.resizeGrad(this, gy, p);
  }
  gridSample(x: Storage, theta: Storage, p: GridSampleParams): Storage {
    return ext.gridSample(this, x, theta, p);
  }
  gridSampleGrad(gy: Storage, theta: Storage, p: GridSampleParams): Storage {
    return ext.gridSampleGrad(this, gy, theta, p);
  }
  random(kind: "uniform" | "normal", size: number, seed: number, offset: number): Storage {
    return ext.random(this, kind, size, seed, offset);
  }
}

function roundUp4(x: number): number {
  return Math.ceil(x / 4) * 4;
}

let shared: Promise<WebGpuBackend> | null = null;

/** A backend on a device of its own (e.g. with WebGPU's minimum limits, for tests). */
export async function openWebGpuBackend(limits: LimitsChoice): Promise<WebGpuBackend> {
  return new WebGpuBackend(await openDevice(limits));
}

/** The process-wide WebGPU backend (one device per process). */
export function webgpuBackend(): Promise<WebGpuBackend> {
  shared ??= openDevice().then((ctx) => new WebGpuBackend(ctx));
  return shared;
}
