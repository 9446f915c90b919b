/** Differentiable data movement: reshape, permute, slice/pad, concat, row gather. */
import { fmtShape, type Shape, sizeOf } from "../shape.ts";
import { backend, fromStorage, record, type Tensor, tensor } from "../tensor.ts";
import { add, reshapeView } from "./elementwise.ts";

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) s[neg] = x.size / sizeOf(s.filter((d) => d !== -1));
  if (sizeOf(s) !== x.size) {
    throw new Error(`reshape: ${fmtShape(x.shape)} → ${fmtShape(shape)} changes the size`);
  }
  return reshapeView(x, s);
}

export function flatten(x: Tensor, startAxis = 1): Tensor {
  return reshape(x, [...x.shape.slice(0, startAxis), -1]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i)) {
    throw new Error(`permute: [${perm}] is not a permutation of ${x.rank} axes`);
  }
  const out = fromStorage(backend().permute(x.storage, x.shape, perm), perm.map((p) => x.shape[p]));
  const inv = perm.map((_, i) => perm.indexOf(i));
  return record(out, "permute", [x], (g) => [permute(g, inv)]);
}

/** Swaps the last two axes. */
export function transpose(x: Tensor): Tensor {
  const p = [...x.shape.keys()];
  [p[x.rank - 2], p[x.rank - 1]] = [p[x.rank - 1], p[x.rank - 2]];
  return permute(x, p);
}

/**
 * out[i] = x[i + begin] where in range, else 0: `slice` for begin ≥ 0, zero padding for begin < 0.
 * Its adjoint is the same op with -begin, so gradients of any order stay in this one op.
 */
export function slicePad(x: Tensor, begin: readonly number[], outShape: Shape): Tensor {
  if (begin.length !== x.rank || outShape.length !== x.rank) throw new Error("slicePad: rank mismatch");
  const out = fromStorage(backend().slicePad(x.storage, x.shape, begin, outShape), outShape);
  return record(out, "slicePad", [x], (g) => [slicePad(g, begin.map((b) => -b), x.shape)]);
}

export function slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
  const sz = size.map((s, i) => (s < 0 ? x.shape[i] - begin[i] : s));
  sz.forEach((s, i) => {
    if (begin[i] < 0 || begin[i] + s > x.shape[i]) {
      throw new Error(`slice: [${begin}] + [${sz}] out of bounds for ${fmtShape(x.shape)}`);
    }
  });
  return slicePad(x, begin, sz);
}

/** Zero padding: `pads[i] = [before, after]` per axis. */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[]): Tensor {
  return slicePad(x, pads.map((p) => -p[0]), x.shape.map((d, i) => d + pads[i][0] + pads[i][1]));
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const a = axis < 0 ? axis + xs[0].rank : axis;
  const total = xs.reduce((s, t) => s + t.shape[a], 0);
  const outShape = xs[0].shape.map((d, i) => (i === a ? total : d));
  let off = 0;
  let acc: Tensor | null = null;
  for (const t of xs) {
    const begin = t.shape.map((_, i) => (i === a ? -off : 0));
    const placed = slicePad(t, begin, outShape);
    acc = acc ? add(acc, placed) : placed;
    off += t.shape[a];
  }
  return acc!;
}

/** Rows of x (first axis) at integer indices `idx` (i32 tensor of any shape). */
export function gather(x: Tensor, idx: Tensor): Tensor {
  if (idx.dtype !== "i32") throw new Error("gather: indices must be i32");
  const v = x.shape[0], d = x.size / v;
  const out = fromStorage(backend().gatherRows(x.storage, v, d, idx.storage, idx.size), [
    ...idx.shape,
    ...x.shape.slice(1),
  ]);
  return record(out, "gather", [x], (g) => [scatterAdd(g, idx, v, x.shape)]);
}

/** Adjoint of gather: sums rows of g into `v` rows by index. */
export function scatterAdd(g: Tensor, idx: Tensor, v: number, shape: Shape): Tensor {
  const d = g.size / idx.size;
  const out = fromStorage(backend().scatterAddRows(g.storage, idx.size, d, idx.storage, v), shape);
  return record(out, "scatterAdd", [g], (gg) => [gather(gg, idx)]);
}

export function indices(values: ArrayLike<number>): Tensor {
  return tensor(values, [values.length], "i32");
}
