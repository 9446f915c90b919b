/**
 * The loop every learned-image method shares (DC, DSA, DM, IDC, IDM, MTT): the learned images and their
 * SGD, a snapshot at initialisation, an abort check and progress per iteration, the first and last loss
 * with a divergence check, and the result: the set, its loss metrics, and how far the images moved. A
 * method supplies its setup (real data, images, its own state) and one iteration.
 */
import type { Tensor } from "../engine/tensor.ts";
import { SGD } from "../engine/optim.ts";
import { deviceToNchw } from "../evaluator/device_data.ts";
import type { DistillContext, DistillResult } from "./types.ts";
import type { DistilledSet } from "../data/distilled.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";

/** What a method's setup hands the loop. */
export interface Learned {
  /** The learned images (a kept leaf requiring grad, NHWC): optimised by the loop's SGD, then freed. */
  images: Tensor;
  /** Their labels, class-major. */
  labels: Int32Array;
  /** Frees what else the setup allocated (real-data pools, networks, other optimizers). */
  dispose(): void;
}

/** The loss each iteration reports: its name in messages and in the metrics. */
const LOSSES = {
  /** A matching loss (gradients, embeddings): metrics firstMatchLoss/finalMatchLoss. */
  match: { noun: "matching", label: "match loss", metric: "MatchLoss" },
  /** A trajectory (parameter) loss: metrics firstParamLoss/finalParamLoss. */
  param: { noun: "trajectory", label: "param loss", metric: "ParamLoss" },
} as const;

/** What a set records besides the learned images (e.g. decoded images, a learned lr). */
export interface SynthesisOutput {
  /** The set's images (NHWC, normalised space); default the learned ones. */
  images?: Tensor;
  /** Default the learned images' labels. */
  labels?: Int32Array;
  /** Set metadata (meta.extra). */
  extra?: Record<string, string>;
  /** Metrics besides iterations, first/final loss, imageShift and seconds. */
  metrics?: Record<string, number>;
}

export interface SynthesisLoop<S extends Learned> {
  loss: keyof typeof LOSSES;
  iterations: number;
  /** The SGD of the learned images. */
  optimizer: { lr: number; momentum: number };
  setup(): Promise<S> | S;
  /** One iteration (images updated through `opt`); returns its loss. */
  iterate(state: S, opt: SGD, it: number): Promise<number>;
  /** Progress label of an iteration (default: the loss). */
  describe?(state: S, loss: number): string;
  /** What the set holds and records besides the learned images; may free what it returns after use. */
  finish?(state: S): Promise<SynthesisOutput & { dispose?(): void }>;
}

/**
 * Runs a learned-image method: setup, `iterations` of `iterate`, and the set. `method` (with the
 * context's regularizer, e.g. "dm+cmi") names the set and its errors.
 */
export async function synthesize<C, S extends Learned>(
  ctx: DistillContext<C>,
  methodId: string,
  loop: SynthesisLoop<S>,
): Promise<DistillResult> {
  const t0 = performance.now();
  const method = ctx.regularizer ? `${methodId}+${ctx.regularizer.name}` : methodId;
  const loss = LOSSES[loop.loss];
  const state = await loop.setup();
  let opt: SGD | null = null;
  try {
    opt = new SGD([state.images], loop.optimizer);
    const initial = await snapshotImages(state.images);
    let firstLoss = NaN, lastLoss = NaN;
    for (let it = 0; it < loop.iterations; it++) {
      ctx.signal?.throwIfAborted();
      lastLoss = await loop.iterate(state, opt, it);
      if (it === 0) firstLoss = lastLoss;
      if (!Number.isFinite(lastLoss)) {
        throw new Error(`${method}: ${loss.noun} loss diverged at iteration ${it}`);
      }
      ctx.progress.update(
        it + 1,
        loop.iterations,
        loop.describe?.(state, lastLoss) ?? `iteration (${loss.label} ${lastLoss.toFixed(3)})`,
      );
    }
    const out = await loop.finish?.(state) ?? {};
    try {
      const set = await toDistilledSet(
        ctx,
        method,
        out.images ?? state.images,
        out.labels ?? state.labels,
        out.extra,
      );
      return {
        set,
        metrics: {
          iterations: loop.iterations,
          [`first${loss.metric}`]: firstLoss,
          [`final${loss.metric}`]: lastLoss,
          imageShift: await imageShift(initial, state.images),
          ...out.metrics,
          seconds: (performance.now() - t0) / 1000,
        },
      };
    } finally {
      out.dispose?.();
    }
  } finally {
    opt?.dispose();
    state.images.dispose();
    state.dispose();
  }
}

/** Device NHWC images (normalised space) → a DistilledSet with the method's meta. */
export async function toDistilledSet<C>(
  ctx: DistillContext<C>,
  method: string,
  images: Tensor,
  labels: Int32Array,
  extra: Record<string, string> = {},
): Promise<DistilledSet> {
  const [n, h, w, c] = images.shape;
  const data = await deviceToNchw(images);
  for (const v of data) {
    if (!Number.isFinite(v)) throw new Error(`${method}: distilled images are not finite`);
  }
  return {
    images: data,
    shape: [n, c, h, w],
    labels,
    meta: {
      method,
      dataset: ctx.dataset.info.id,
      ipc: ctx.ipc,
      seed: ctx.seed,
      configHash: sha256Hex(canonicalJson(ctx.config)),
      profile: ctx.profile,
      mean: ctx.dataset.info.mean,
      std: ctx.dataset.info.std,
      createdAt: new Date().toISOString(),
      extra: { config: canonicalJson(ctx.config), ...extra },
    },
  };
}

/**
 * How far distillation moved the learned images from their initialisation: ‖x_T − x_0‖ / ‖x_0‖ over every
 * pixel (normalised space). A real-initialised set that barely moves trains a network like the random
 * real images it started from, so this separates "the objective did not help" from "the budget did not
 * move the set" when a method ties with `random`.
 */
export function relativeShift(initial: ArrayLike<number>, final: ArrayLike<number>): number {
  if (initial.length !== final.length) {
    throw new RangeError(`relativeShift: ${initial.length} initial values against ${final.length} final`);
  }
  let diff = 0, base = 0;
  for (let i = 0; i < initial.length; i++) {
    const d = final[i] - initial[i];
    diff += d * d;
    base += initial[i] * initial[i];
  }
  return base > 0 ? Math.sqrt(diff / base) : Math.sqrt(diff);
}

/** Snapshot of the learned images at initialisation, for `imageShift` at the end. */
export async function snapshotImages(images: Tensor): Promise<Float32Array> {
  return Float32Array.from(await images.f32());
}

/** `imageShift` of the learned images against their snapshot at initialisation. */
export async function imageShift(initial: Float32Array, images: Tensor): Promise<number> {
  return relativeShift(initial, await images.f32());
}
