/** Tensor creation on the device without host round trips. */
import * as E from "../expr.ts";
import type { Shape } from "../shape.ts";
import { sizeOf } from "../shape.ts";
import { backend, fromStorage, type Tensor } from "../tensor.ts";

const iotaCache = new WeakMap<object, Map<number, Tensor>>();

/** A tensor of `shape` filled with `value` (one small upload broadcast on the device). */
export function fill(shape: Shape, value: number): Tensor {
  const b = backend();
  const one = b.upload(new Float32Array([0]));
  const [s] = b.map([E.cst(value)], [{ s: one, shape: [1] }], shape);
  b.free(one);
  return fromStorage(s, shape);
}

export const zeros = (shape: Shape) => fill(shape, 0);
export const ones = (shape: Shape) => fill(shape, 1);

/** 0, 1, …, n-1 as f32 (used for one-hot encodings); cached per length for the process. */
export function iota(n: number): Tensor {
  const b = backend();
  const cache = iotaCache.get(b) ?? new Map<number, Tensor>();
  iotaCache.set(b, cache);
  let t = cache.get(n);
  if (!t || t.disposed) {
    t = fromStorage(b.upload(new Float32Array(n).map((_, i) => i)), [n]).keep();
    cache.set(n, t);
  }
  return t;
}

export function sizeCheck(shape: Shape, n: number, what: string): void {
  if (sizeOf(shape) !== n) throw new Error(`${what}: ${n} values do not fill shape [${shape}]`);
}
