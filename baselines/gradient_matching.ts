/**
 * Gradient-matching machinery shared by DC, DSA and IDC (docs/protocols.md §3, §4, §6.2):
 * the layer-wise gradient distances, the per-class matching loss whose gradient reaches the synthetic
 * images through second-order terms, the real-data pool per class, and network construction.
 */
import { type Tensor, tensor } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import type { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import type { Dataset } from "../data/types.ts";
import type { Classifier } from "../models/module.ts";
import { ConvNet } from "../models/convnet.ts";
import { createModel, type InputSpec } from "../models/registry.ts";
import { splitToDevice } from "../evaluator/device_data.ts";
import { datasetShape, drawPositions, indicesByClass } from "./real_images.ts";

export type MatchDistance = "ours" | "mse" | "cos" | "l1";

/**
 * √(Σx² + tiny): torch.norm's backward is 0 at a zero row (a dead unit's gradient), plain √'s is
 * ∞·0 = NaN; the 1e-20 shift keeps the value and gives the same zero gradient there.
 */
function norm(sumSq: Tensor): Tensor {
  return T.sqrt(T.add(sumSq, 1e-20));
}

/** `ours` for one gradient pair: rows = output units; 1-D tensors (biases, norm affine) give 0. */
function oursLayer(gr: Tensor, gs: Tensor): Tensor | null {
  if (gr.rank < 2) return null;
  const rows = gr.shape[0];
  const a = T.reshape(gr, [rows, -1]), b = T.reshape(gs, [rows, -1]);
  const dot = T.sum(T.mul(a, b), 1);
  const na = norm(T.sum(T.square(a), 1)), nb = norm(T.sum(T.square(b), 1));
  return T.sum(T.sub(1, T.div(dot, T.add(T.mul(na, nb), 1e-6))));
}

/**
 * DC's `match_loss` between real and synthetic gradients (same order as the parameters). `ours`: per
 * tensor, Σ over output rows of 1 − cos (conv OHWI weights flatten to (out, kh·kw·in); cosine is
 * invariant to the order within a row, so this equals PyTorch's (out, in·kh·kw)); `mse`/`l1`: summed
 * squared/absolute differences over all given tensors; `cos`: 1 − cosine of the concatenated vectors.
 */
export function gradientDistance(
  gr: readonly Tensor[],
  gs: readonly Tensor[],
  metric: MatchDistance,
): Tensor {
  if (gr.length !== gs.length) throw new Error(`gradientDistance: ${gr.length} vs ${gs.length} tensors`);
  let total: Tensor = T.fill([], 0);
  if (metric === "cos") {
    let dot: Tensor = T.fill([], 0), na: Tensor = T.fill([], 0), nb: Tensor = T.fill([], 0);
    gr.forEach((r, i) => {
      dot = T.add(dot, T.sum(T.mul(r, gs[i])));
      na = T.add(na, T.sum(T.square(r)));
      nb = T.add(nb, T.sum(T.square(gs[i])));
    });
    return T.sub(1, T.div(dot, T.add(T.mul(norm(na), norm(nb)), 1e-6)));
  }
  gr.forEach((r, i) => {
    const s = gs[i];
    let d: Tensor | null;
    if (metric === "ours") d = oursLayer(r, s);
    else if (metric === "mse") d = T.sum(T.square(T.sub(r, s)));
    else d = T.sum(T.abs(T.sub(r, s)));
    if (d) total = T.add(total, d);
  });
  return total;
}

/** Hard-label CE gradients w.r.t. `params`; `createGraph` keeps them differentiable (second order). */
export function ceGradients(
  model: Classifier,
  params: readonly Tensor[],
  x: Tensor,
  y: Int32Array,
  createGraph: boolean,
): Tensor[] {
  const loss = T.crossEntropy(model.forward(x), tensor(y, [y.length], "i32"));
  return grad(loss, params, { createGraph });
}

/**
 * One class's matching loss: the real batch's gradient (detached — only the synthetic side carries a
 * graph) against the synthetic batch's gradient built with createGraph, so d(loss)/d(xSyn) flows
 * through the backward pass of the network (the second-order terms DC relies on).
 */
export function classMatchLoss(
  model: Classifier,
  params: readonly Tensor[],
  real: { x: Tensor; y: Int32Array },
  syn: { x: Tensor; y: Int32Array },
  metric: MatchDistance,
): Tensor {
  // Without createGraph the real gradients carry no graph: constants for the distance.
  const gr = ceGradients(model, params, real.x, real.y, false);
  const gs = ceGradients(model, params, syn.x, syn.y, true);
  return gradientDistance(gr, gs, metric);
}

/**
 * Real training images on the device with per-class index lists (DC's `indices_class`). Each class is
 * its own device tensor: a whole split can exceed the adapter's binding limit (MNIST's 60k images are
 * 179 MiB against llvmpipe's 128 MiB), one class does not.
 */
export class RealPool {
  readonly y: Int32Array;
  readonly byClass: Int32Array[];
  private readonly xs: Tensor[];
  /** `load`: a class's images on the device (default: normalised; MTT passes ZCA-whitened ones). */
  constructor(
    dataset: Dataset,
    load: (idx: Int32Array) => Tensor = (idx) => splitToDevice(dataset, dataset.train, idx).x,
  ) {
    this.y = dataset.train.labels;
    this.byClass = indicesByClass(this.y, dataset.info.numClasses);
    this.xs = this.byClass.map((idx) => load(idx).keep());
  }
  /** `n` random images of class `c` (without replacement, capped at the class size), as DC's get_images. */
  indices(c: number, n: number, rng: Rng): Int32Array {
    const pool = this.byClass[c];
    return Int32Array.from(drawPositions(pool.length, n, rng), (j) => pool[j]);
  }
  batch(c: number, n: number, rng: Rng): { x: Tensor; y: Int32Array } {
    const pos = drawPositions(this.byClass[c].length, n, rng);
    return {
      x: T.gather(this.xs[c], tensor(pos, [pos.length], "i32")),
      y: new Int32Array(pos.length).fill(c),
    };
  }
  /** The images of `realDraw(byClass, perClass, rng)`, class-major: a real-initialised set's start. */
  realInit(perClass: number, rng: Rng): Tensor {
    return T.concat(this.byClass.map((_, c) => this.batch(c, perClass, rng.fork(c)).x), 0);
  }
  /**
   * `n` random images of the whole split (without replacement; DC's get_images with c=None), grouped
   * by class in the returned batch (order within a batch does not matter to a mean loss).
   */
  mixed(n: number, rng: Rng): { x: Tensor; y: Int32Array } {
    const starts: number[] = [];
    let total = 0;
    for (const l of this.byClass) {
      starts.push(total);
      total += l.length;
    }
    // Partial Fisher–Yates: n draws instead of sorting the whole split every batch.
    const m = Math.min(n, total);
    const u = rng.hostUniform(m);
    const ids = Int32Array.from({ length: total }, (_, i) => i);
    for (let i = 0; i < m; i++) {
      const j = i + Math.min(total - i - 1, Math.floor(u[i] * (total - i)));
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    const pick = ids.subarray(0, m);
    const parts: number[][] = this.byClass.map(() => []);
    for (const g of pick) {
      let c = this.byClass.length - 1;
      while (starts[c] > g) c--;
      parts[c].push(g - starts[c]);
    }
    const xs: Tensor[] = [], ys: number[] = [];
    parts.forEach((p, c) => {
      if (p.length === 0) return;
      xs.push(T.gather(this.xs[c], tensor(Int32Array.from(p), [p.length], "i32")));
      for (let k = 0; k < p.length; k++) ys.push(c);
    });
    return { x: xs.length === 1 ? xs[0] : T.concat(xs, 0), y: Int32Array.from(ys) };
  }
  dispose(): void {
    for (const x of this.xs) x.dispose();
  }
}

export function inputSpec(dataset: Dataset): InputSpec {
  const s = datasetShape(dataset);
  return { channels: s.channels, classes: dataset.info.numClasses, imageSize: s.height };
}

/**
 * A fresh network: `convnetD` ids honour `width` (tests use narrow nets to stay fast), anything else
 * comes from the model registry unchanged.
 */
export function buildNet(model: string, width: number, rng: Rng, input: InputSpec): Classifier {
  const m = /^convnet(\d)$/.exec(model);
  if (m && width !== 128) {
    return new ConvNet(rng, {
      ...input,
      width,
      depth: Number(m[1]),
      norm: "instancenorm",
      act: "relu",
      pool: "avgpooling",
    });
  }
  return createModel(model, rng, input);
}

/** Class-major labels: `perClass` of each class in order. */
export function classMajorLabels(classes: number, perClass: number): Int32Array {
  return Int32Array.from({ length: classes * perClass }, (_, i) => Math.floor(i / perClass));
}
