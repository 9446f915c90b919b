/**
 * In-place writes into existing device tensors: loading weights, restoring snapshots and training state.
 * The destination keeps its storage (optimizers and modules hold it), and no graph is recorded.
 */
import { inp } from "./expr.ts";
import type { Storage } from "./backend.ts";
import { backend, Tensor } from "./tensor.ts";

/** Overwrites `dst` with the values of `src` (a tensor or raw storage of the same element count). */
export function assign(dst: Tensor, src: Tensor | Storage): void {
  if (src instanceof Tensor && src.size !== dst.size) {
    throw new Error(`assign: ${src.size} values for a tensor of ${dst.size}`);
  }
  if (dst.size === 0) return;
  const s = src instanceof Tensor ? src.storage : src;
  backend().map([inp(0)], [{ s, shape: dst.shape }], dst.shape, { into: [dst.storage] });
}

/** Overwrites `dst` with host values (row-major, `dst.size` of them). */
export function assignHost(dst: Tensor, data: Float32Array): void {
  if (data.length !== dst.size) {
    throw new Error(`assignHost: ${data.length} values for a tensor of ${dst.size}`);
  }
  if (dst.size === 0) return;
  const staged = backend().upload(data);
  try {
    assign(dst, staged);
  } finally {
    backend().free(staged);
  }
}
