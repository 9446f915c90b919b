/** Shared test utilities: backends, seeded random data, closeness, finite-difference gradient checks. */
import { CpuBackend } from "../../engine/cpu/backend.ts";
import { webgpuBackend } from "../../engine/webgpu/backend.ts";
import type { Backend } from "../../engine/backend.ts";
import { setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import * as T from "../../engine/ops/mod.ts";
import * as E from "../../engine/expr.ts";

export const cpu = new CpuBackend();
export const gpu: Backend = await webgpuBackend();

/** `b` with a smaller binding budget per kernel, as on a device with fewer storage buffers per stage. */
export function withBindings(b: Backend, maxKernelBuffers: number): Backend {
  return Object.create(b, { maxKernelBuffers: { value: maxKernelBuffers } });
}

/** Small deterministic PRNG for test data (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - b[i]);
    const d = tol === 0 ? (err === 0 ? 0 : Infinity) : err / (tol + tol * Math.abs(b[i]));
    if (!(d <= worst)) {
      worst = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
  }
  if (a.length !== b.length || worst > 1) {
    throw new Error(
      `${what}: mismatch at ${at}: ${a[at]} vs ${b[at]} (tol ${tol}, lengths ${a.length}/${b.length})`,
    );
  }
}

/** Runs `fn` on a backend and returns the host data of its result. */
export async function on(b: Backend, fn: () => Tensor): Promise<Float32Array> {
  setBackend(b);
  const t = tidy(fn);
  const d = await t.f32();
  t.dispose();
  return d;
}

/** Same computation on the CPU reference and on WebGPU: results must agree. */
export async function assertBackendsAgree(fn: () => Tensor, tol: number, what: string): Promise<void> {
  const r = await on(cpu, fn);
  const g = await on(gpu, fn);
  assertClose(g, r, tol, what);
}

/**
 * Checks d f / d inputs against central finite differences, on the given backend. `f` maps leaf
 * tensors to a scalar. Checks up to `samples` coordinates per input.
 */
export async function gradCheck(
  b: Backend,
  f: (xs: Tensor[]) => Tensor,
  inputs: { data: Float32Array; shape: number[] }[],
  opts: { eps?: number; tol?: number; samples?: number; what?: string } = {},
): Promise<void> {
  const eps = opts.eps ?? 1e-2, tol = opts.tol ?? 2e-2, samples = opts.samples ?? 12;
  setBackend(b);
  const evalF = async (datas: Float32Array[]) => {
    const t = tidy(() => f(datas.map((d, i) => tensor(d, inputs[i].shape))));
    const v = await t.item();
    t.dispose();
    return v;
  };
  const analytic = tidy(() => {
    const xs = inputs.map((x) => tensor(x.data, x.shape).requireGrad());
    return grad(f(xs), xs);
  });
  const an = await Promise.all(analytic.map((t) => t.f32()));
  analytic.forEach((t) => t.dispose());
  for (let i = 0; i < inputs.length; i++) {
    const n = inputs[i].data.length;
    const step = Math.max(1, Math.floor(n / samples));
    for (let j = 0; j < n; j += step) {
      const plus = inputs.map((x) => x.data.slice()), minus = inputs.map((x) => x.data.slice());
      plus[i][j] += eps;
      minus[i][j] -= eps;
      const num = ((await evalF(plus)) - (await evalF(minus))) / (2 * eps);
      const a = an[i][j];
      // Written so that NaN or ±Inf on either side fails (a NaN comparison is false).
      if (!Number.isFinite(a) || !Number.isFinite(num) || !(Math.abs(a - num) <= tol * (1 + Math.abs(num)))) {
        throw new Error(`${opts.what ?? "gradCheck"}: input ${i}[${j}] analytic ${a} vs numeric ${num}`);
      }
    }
  }
}

/**
 * Second-order check: the gradient of ⟨∂f/∂x0, v⟩ (computed with createGraph) w.r.t. all inputs
 * must match finite differences of the first-order gradient.
 */
export async function gradGradCheck(
  b: Backend,
  f: (xs: Tensor[]) => Tensor,
  inputs: { data: Float32Array; shape: number[] }[],
  opts: { eps?: number; tol?: number; samples?: number; what?: string } = {},
): Promise<void> {
  const v = randn(inputs[0].data.length, 999);
  const h = (xs: Tensor[]) => {
    const [g0] = grad(f(xs), [xs[0]], { createGraph: true });
    return T.sumOf(E.mul(E.inp(0), E.inp(1)), [g0, tensor(v, inputs[0].shape)]);
  };
  // h needs its inputs to require grad so the first-order graph exists during finite differences too.
  await gradCheck(b, (xs) => h(xs.map((x) => x.requireGrad())), inputs, {
    ...opts,
    what: `${opts.what ?? "gradGrad"} (2nd order)`,
  });
}
