/** Differentiable (batched) matrix multiplication; its gradients are matmuls again. */
import { fmtShape } from "../shape.ts";
import { backend, fromStorage, needsGrad, record, type Tensor } from "../tensor.ts";
import { sum } from "./elementwise.ts";

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * op(a) · op(b) for a, b of rank 2 or 3 ([batch, ·, ·]); a rank-2 operand is shared across the
 * other's batch. With transB, b is stored [n, k]: `x · Wᵀ` for weights [out, in].
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const ta = opts.transA ?? false, tb = opts.transB ?? false;
  const am = a.shape.slice(-2), bm = b.shape.slice(-2);
  const [m, k] = ta ? [am[1], am[0]] : am;
  const [k2, n] = tb ? [bm[1], bm[0]] : bm;
  if (a.rank < 2 || b.rank < 2 || a.rank > 3 || b.rank > 3 || k !== k2) {
    throw new Error(
      `matmul: incompatible shapes ${fmtShape(a.shape)}${ta ? "ᵀ" : ""} · ${fmtShape(b.shape)}${
        tb ? "ᵀ" : ""
      }`,
    );
  }
  const ba = a.rank === 3 ? a.shape[0] : 1, bb = b.rank === 3 ? b.shape[0] : 1;
  if (ba !== bb && ba !== 1 && bb !== 1) throw new Error(`matmul: batch sizes ${ba} and ${bb} differ`);
  const batch = Math.max(ba, bb);
  const s = backend().matmul(a.storage, b.storage, {
    batch,
    m,
    n,
    k,
    transA: ta,
    transB: tb,
    strideA: ba === 1 ? 0 : m * k,
    strideB: bb === 1 ? 0 : k * n,
  });
  const out = fromStorage(s, a.rank === 3 || b.rank === 3 ? [batch, m, n] : [m, n]);
  return record(out, "matmul", [a, b], (g) => {
    // Gradients in the operands' stored layouts; a shared (rank-2) operand sums over the batch.
    const fit = (t: Tensor, like: Tensor) => (t.rank === 3 && like.rank === 2 ? sum(t, 0) : t);
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (needsGrad(a)) {
      ga = !ta
        ? matmul(g, b, { transB: !tb })
        : tb
        ? matmul(b, g, { transA: true, transB: true })
        : matmul(b, g, { transB: true });
      ga = fit(ga, a);
    }
    if (needsGrad(b)) {
      gb = !tb
        ? (ta ? matmul(a, g) : matmul(a, g, { transA: true }))
        : ta
        ? matmul(g, a, { transA: true, transB: true })
        : matmul(g, a, { transA: true });
      gb = fit(gb, b);
    }
    return [ga, gb];
  });
}
