/** Reference elementwise, reduction and data-movement primitives (plain loops, no cleverness). */
import type { DType, MapInput, MatmulParams, ReduceOp, Storage } from "../backend.ts";
import { compileExpr, type Expr } from "../expr.ts";
import { broadcastStrides, type Shape, sizeOf, stridesOf } from "../shape.ts";
import { cpu, CpuStorage, f32, i32 } from "./storage.ts";

/** Flat offsets of each input for output element `idx` (shared by map and reduce). */
function offsetsFn(inputs: readonly MapInput[], shape: Shape): (idx: number, out: number[]) => void {
  const st = inputs.map((x) => broadcastStrides(x.shape, shape));
  const rank = shape.length;
  return (idx, out) => {
    for (let j = 0; j < inputs.length; j++) out[j] = 0;
    let rem = idx;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rem % shape[d];
      rem = (rem - c) / shape[d];
      for (let j = 0; j < inputs.length; j++) out[j] += c * st[j][d];
    }
  };
}

export function map(
  exprs: readonly Expr[],
  inputs: readonly MapInput[],
  shape: Shape,
  opts: { params?: readonly number[]; into?: readonly Storage[]; dtype?: DType } = {},
): Storage[] {
  const n = sizeOf(shape);
  const fns = exprs.map((e) => compileExpr(e, opts.params ?? []));
  const datas = inputs.map((x) => cpu(x.s));
  const res = exprs.map((_, j) => {
    const d = opts.dtype ?? "f32";
    return opts.into?.[j] ? cpu(opts.into[j]).slice() : d === "f32" ? new Float32Array(n) : new Int32Array(n);
  });
  const offs = offsetsFn(inputs, shape);
  const o: number[] = new Array(inputs.length).fill(0);
  const vals = new Float64Array(inputs.length);
  for (let i = 0; i < n; i++) {
    offs(i, o);
    for (let j = 0; j < inputs.length; j++) vals[j] = datas[j][o[j]];
    for (let j = 0; j < fns.length; j++) res[j][i] = fns[j](vals);
  }
  if (opts.into) {
    // Write back only after computing every output, as the in-place kernel reads before writing.
    return opts.into.map((s, j) => {
      cpu(s).set(res[j]);
      return s;
    });
  }
  return res.map((r) => new CpuStorage(r));
}

export function reduce(
  op: ReduceOp,
  exprs: readonly Expr[],
  inputs: readonly MapInput[],
  shape: Shape,
  axes: readonly number[],
  params: readonly number[] = [],
): Storage[] {
  const fns = exprs.map((e) => compileExpr(e, params));
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const init = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
  const outs = exprs.map(() => new Float64Array(sizeOf(outShape)).fill(init));
  const datas = inputs.map((x) => cpu(x.s));
  // The output is addressed like one more (broadcast) input: its offset is where element i accumulates.
  const offs = offsetsFn([...inputs, { s: new CpuStorage(new Float32Array(0)), shape: outShape }], shape);
  const o: number[] = new Array(inputs.length + 1).fill(0);
  const vals = new Float64Array(inputs.length);
  const n = sizeOf(shape);
  for (let i = 0; i < n; i++) {
    offs(i, o);
    for (let j = 0; j < inputs.length; j++) vals[j] = datas[j][o[j]];
    const t = o[inputs.length];
    for (let j = 0; j < fns.length; j++) {
      const v = fns[j](vals), out = outs[j];
      out[t] = op === "sum" ? out[t] + v : op === "max" ? Math.max(out[t], v) : Math.min(out[t], v);
    }
  }
  return outs.map((out) => new CpuStorage(Float32Array.from(out)));
}

export function argmax(x: Storage, shape: Shape, axis: number): Storage {
  const d = f32(x);
  const outer = sizeOf(shape.slice(0, axis)), len = shape[axis], inner = sizeOf(shape.slice(axis + 1));
  const out = new Int32Array(outer * inner);
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      let best = -Infinity, bi = 0;
      for (let k = 0; k < len; k++) {
        const v = d[(a * len + k) * inner + b];
        if (v > best) {
          best = v;
          bi = k;
        }
      }
      out[a * inner + b] = bi;
    }
  }
  return new CpuStorage(out);
}

export function matmul(a: Storage, b: Storage, p: MatmulParams): Storage {
  const A = f32(a), B = f32(b);
  const { batch, m, n, k } = p;
  const C = new Float32Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    const oa = t * p.strideA, ob = t * p.strideB;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let q = 0; q < k; q++) {
          const av = p.transA ? A[oa + q * m + i] : A[oa + i * k + q];
          const bv = p.transB ? B[ob + j * k + q] : B[ob + q * n + j];
          acc += av * bv;
        }
        C[(t * m + i) * n + j] = acc;
      }
    }
  }
  return new CpuStorage(C);
}

export function slicePad(x: Storage, shape: Shape, begin: readonly number[], outShape: Shape): Storage {
  const X = cpu(x);
  const out = X instanceof Float32Array
    ? new Float32Array(sizeOf(outShape))
    : new Int32Array(sizeOf(outShape));
  const xs = stridesOf(shape);
  const rank = shape.length;
  for (let i = 0; i < out.length; i++) {
    let rem = i, off = 0, ok = true;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rem % outShape[d];
      rem = (rem - c) / outShape[d];
      const s = c + begin[d];
      if (s < 0 || s >= shape[d]) ok = false;
      off += s * xs[d];
    }
    out[i] = ok ? X[off] : 0;
  }
  return new CpuStorage(out);
}

export function permute(x: Storage, shape: Shape, perm: readonly number[]): Storage {
  const X = cpu(x);
  const outShape = perm.map((p) => shape[p]);
  const xs = stridesOf(shape);
  const out = X instanceof Float32Array ? new Float32Array(X.length) : new Int32Array(X.length);
  for (let i = 0; i < out.length; i++) {
    let rem = i, off = 0;
    for (let d = outShape.length - 1; d >= 0; d--) {
      const c = rem % outShape[d];
      rem = (rem - c) / outShape[d];
      off += c * xs[perm[d]];
    }
    out[i] = X[off];
  }
  return new CpuStorage(out);
}

export function gatherRows(x: Storage, v: number, d: number, idx: Storage, m: number): Storage {
  const X = f32(x), I = i32(idx);
  const out = new Float32Array(m * d);
  for (let j = 0; j < m; j++) {
    const r = I[j];
    if (r < 0 || r >= v) throw new Error(`gatherRows: index ${r} out of range [0, ${v})`);
    out.set(X.subarray(r * d, r * d + d), j * d);
  }
  return new CpuStorage(out);
}

export function scatterAddRows(g: Storage, m: number, d: number, idx: Storage, v: number): Storage {
  const G = f32(g), I = i32(idx);
  const out = new Float32Array(v * d);
  for (let j = 0; j < m; j++) {
    const r = I[j];
    for (let q = 0; q < d; q++) out[r * d + q] += G[j * d + q];
  }
  return new CpuStorage(out);
}
