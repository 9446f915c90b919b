/**
 * Difficulty-guided sampling (DGS, Li et al.): choose IPC images of a class from a larger generated pool so
 * that their difficulty histogram follows a target — the class's real-data difficulty histogram scaled to
 * IPC ("scale"), or a pre-defined shape of the paper's Fig. 4. Pure host arithmetic on difficulty values
 * (1 − p(y|x)); methods/dgs.ts produces the values.
 *
 * The logarithmic transformation (Eqs. 7–8) is read as a transformation of the difficulty values: with the
 * b lowest and t highest pool values clipped away (Eq. 7's thresholds), every difficulty d maps to
 *   f(d) = ln((d′ + ε) / (lo + ε)) / ln((hi + ε) / (lo + ε)) ∈ [0, 1],   d′ = clamp(d, lo, hi),
 * lo and hi the smallest and largest value kept. This spreads the generated pool's pile of near-zero
 * difficulties over the intervals (the paper's Fig. 2, lower row; "the logarithmic transformation flattens
 * the difficulty distribution of the image pool"), and the same range applied to the real data changes its
 * histogram too (§3.2). Eq. 7 sets the clipped values to ε rather than clamping them, which would send the
 * hardest values to difficulty 0; clamping keeps them at the ends. (b, t) minimise Eq. 9,
 *   λ·KL(hist f(P) ‖ hist P) + (1 − λ)·KL(hist f(P) ‖ U),
 * over b, t ≤ maxClip·N. §3.4 says the thresholds depend on the pool size and are "also applied to the
 * original dataset", so P is by default the pool's values (`thresholdsFrom`).
 *
 * Sampling is stratified: the target's counts per interval (largest remainder, summing to IPC) are drawn
 * at random from the pool's images in that interval; an interval the pool cannot fill passes its shortfall
 * to the nearest intervals with images left (the harder side first at equal distance: the pool is biased
 * toward easy images). A pre-defined shape is laid over the same intervals as "scale" (of the transformed
 * difficulty when the transformation is on; the paper does not say whether it applies there).
 */
import type { Rng } from "../engine/random.ts";

/** Target shapes: the real data's histogram scaled to IPC, and the pre-defined ones of Table 3 / Fig. 4. */
export const TARGET_SHAPES = ["scale", "hill", "ground", "slope", "cliff"] as const;
export type TargetShape = (typeof TARGET_SHAPES)[number];

/**
 * The pre-defined shapes ordered by their share of difficult images: Fig. 4 lists hill, ground, slope,
 * cliff "with increasing proportions of easy samples" (the tables' `hardnessRank`).
 */
export const HARDNESS_RANK: Readonly<Record<Exclude<TargetShape, "scale">, number>> = {
  hill: 3,
  ground: 2,
  slope: 1,
  cliff: 0,
};

/** Added to the reference distribution of a KL divergence so an empty interval costs much, not ∞. */
export const KL_FLOOR = 1e-6;

/** Counts of `values` in `bins` equal intervals of [0, 1] (the last one closed; values outside are clamped). */
export function histogram(values: ArrayLike<number>, bins: number): number[] {
  if (!(Number.isInteger(bins) && bins >= 1)) {
    throw new Error(`histogram: bins must be an integer ≥ 1, got ${bins}`);
  }
  const h = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) throw new Error(`histogram: value ${i} is not finite (${v})`);
    h[Math.min(bins - 1, Math.max(0, Math.floor(v * bins)))]++;
  }
  return h;
}

/** `w` scaled to sum 1 (uniform when it sums to 0). */
export function normalise(w: readonly number[]): number[] {
  const s = w.reduce((a, b) => a + b, 0);
  return s > 0 ? w.map((x) => x / s) : w.map(() => 1 / w.length);
}

/**
 * KL(p ‖ q) in nats of two histograms (each normalised here); q is floored at KL_FLOOR and renormalised,
 * so mass where q has none costs ln(1/KL_FLOOR) ≈ 13.8 per unit instead of infinity.
 */
export function klDivergence(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new Error(`klDivergence: ${p.length} vs ${q.length} intervals`);
  const pn = normalise(p), qn = normalise(normalise(q).map((x) => x + KL_FLOOR));
  let kl = 0;
  for (let i = 0; i < pn.length; i++) if (pn[i] > 0) kl += pn[i] * Math.log(pn[i] / qn[i]);
  return Math.max(0, kl);
}

/** The range of the logarithmic transformation: the values kept between the thresholds, and ε. */
export interface LogRange {
  lo: number;
  hi: number;
  eps: number;
}

/** lo and hi of `values` after dropping the b lowest and t highest (Eq. 7's thresholds). */
export function logRange(values: ArrayLike<number>, b: number, t: number, eps: number): LogRange {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (!(Number.isInteger(b) && Number.isInteger(t) && b >= 0 && t >= 0 && b + t < n)) {
    throw new Error(`logRange: thresholds b=${b}, t=${t} must be integers ≥ 0 leaving a value of ${n}`);
  }
  return { lo: sorted[b], hi: sorted[n - 1 - t], eps };
}

/** Eq. 8 on one difficulty value: in [0, 1]; 0 when the range is a single value. */
export function logTransform(d: number, r: LogRange): number {
  const den = Math.log((r.hi + r.eps) / (r.lo + r.eps));
  if (!(den > 0)) return 0;
  const c = Math.min(r.hi, Math.max(r.lo, d));
  return Math.min(1, Math.max(0, Math.log((c + r.eps) / (r.lo + r.eps)) / den));
}

export function transformAll(values: ArrayLike<number>, r: LogRange): Float64Array {
  return Float64Array.from(values as ArrayLike<number>, (d) => logTransform(d, r));
}

/** Eq. 9's objective for thresholds (b, t) on `values`, over `bins` intervals. */
export function thresholdObjective(
  values: ArrayLike<number>,
  b: number,
  t: number,
  o: { bins: number; lambda: number; eps: number },
): number {
  return objectiveOf(values, histogram(values, o.bins), logRange(values, b, t, o.eps), o);
}

function objectiveOf(
  values: ArrayLike<number>,
  raw: readonly number[],
  range: LogRange,
  o: { bins: number; lambda: number },
): number {
  const transformed = histogram(transformAll(values, range), o.bins);
  const uniform = new Array<number>(o.bins).fill(1);
  return o.lambda * klDivergence(transformed, raw) + (1 - o.lambda) * klDivergence(transformed, uniform);
}

export interface Thresholds {
  b: number;
  t: number;
  range: LogRange;
  objective: number;
}

/** At most this many candidate values per threshold (evenly spaced counts) in Eq. 9's search. */
export const MAX_THRESHOLD_CANDIDATES = 64;

/**
 * Eq. 9: the thresholds b, t ∈ {0, …, ⌊maxClip·N⌋} (b + t < N) minimising the objective; ties go to the
 * smallest b, then t (the least clipping). Beyond MAX_THRESHOLD_CANDIDATES values per threshold (large
 * real-data classes) the search takes that many evenly spaced counts.
 */
export function chooseThresholds(
  values: ArrayLike<number>,
  o: { bins: number; lambda: number; eps: number; maxClip: number },
): Thresholds {
  const n = values.length;
  if (n === 0) throw new Error("chooseThresholds: no difficulty values");
  if (!(o.lambda >= 0 && o.lambda <= 1)) {
    throw new Error(`chooseThresholds: λ must be in [0, 1], got ${o.lambda}`);
  }
  const most = Math.max(0, Math.floor(o.maxClip * n));
  const k = Math.min(most + 1, MAX_THRESHOLD_CANDIDATES);
  const candidates = [
    ...new Set(Array.from({ length: k }, (_, i) => k === 1 ? 0 : Math.round((i * most) / (k - 1)))),
  ];
  const sorted = Float64Array.from(values).sort();
  const raw = histogram(values, o.bins);
  let best: Thresholds | null = null;
  for (const b of candidates) {
    for (const t of candidates) {
      if (b + t >= n) continue;
      const range = { lo: sorted[b], hi: sorted[n - 1 - t], eps: o.eps };
      const objective = objectiveOf(values, raw, range, o);
      if (best === null || objective < best.objective - 1e-12) best = { b, t, range, objective };
    }
  }
  return best!;
}

/**
 * Weights of a pre-defined shape over `bins` intervals (bin centres x ∈ (0, 1), x = difficulty). Fig. 4
 * gives the shapes only as pictures; these follow their names and order (easy share rising hill → cliff):
 * hill sin(πx) (a bump at middle difficulty), ground flat, slope 1 − x + 1/(2·bins) (linear toward easy),
 * cliff e^(−x/0.15) (almost only easy images).
 */
export function shapeWeights(shape: Exclude<TargetShape, "scale">, bins: number): number[] {
  const xs = Array.from({ length: bins }, (_, i) => (i + 0.5) / bins);
  switch (shape) {
    case "hill":
      return normalise(xs.map((x) => Math.sin(Math.PI * x)));
    case "ground":
      return normalise(xs.map(() => 1));
    case "slope":
      return normalise(xs.map((x) => 1 - x + 0.5 / bins));
    case "cliff":
      return normalise(xs.map((x) => Math.exp(-x / 0.15)));
  }
}

/** Integer counts summing to `total`, proportional to `weights` (largest remainder; ties to the lower index). */
export function quotas(weights: readonly number[], total: number): number[] {
  const w = normalise(weights);
  const exact = w.map((x) => x * total);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    out[i]++;
    left--;
  }
  return out;
}

export interface Selection {
  /** Pool positions chosen, in the order drawn. */
  picked: number[];
  /** Images the target wanted in intervals the pool could not fill (moved to neighbouring intervals). */
  shortfall: number;
}

/**
 * Draws quota[k] pool images from each interval k (in `order`, a random permutation of the pool), moving a
 * shortfall to the nearest intervals with images left. `bins[i]` is pool image i's interval.
 */
export function selectToTarget(
  bins: ArrayLike<number>,
  quota: readonly number[],
  order: ArrayLike<number>,
): Selection {
  const total = quota.reduce((a, b) => a + b, 0);
  if (total > bins.length) {
    throw new Error(`selectToTarget: ${total} images wanted from a pool of ${bins.length}`);
  }
  const members: number[][] = quota.map(() => []);
  for (let k = 0; k < order.length; k++) members[bins[order[k]]].push(order[k]);
  const take = quota.map((q, k) => Math.min(q, members[k].length));
  const needs = quota.map((q, k) => q - take[k]);
  const shortfall = needs.reduce((a, b) => a + b, 0);
  for (let k = 0; k < quota.length; k++) {
    let need = needs[k];
    for (let d = 1; need > 0 && d < quota.length; d++) {
      for (const m of [k + d, k - d]) {
        if (m < 0 || m >= quota.length) continue;
        const more = Math.min(need, members[m].length - take[m]);
        take[m] += more;
        need -= more;
      }
    }
  }
  const picked: number[] = [];
  take.forEach((n, k) => picked.push(...members[k].slice(0, n)));
  return { picked, shortfall };
}

export interface ClassSampling {
  /** Pool positions chosen (IPC of them). */
  picked: number[];
  thresholds: Thresholds | null;
  /** Histograms over the sampling intervals (transformed difficulty when the log transform is on). */
  original: number[];
  pool: number[];
  target: number[];
  selected: number[];
  shortfall: number;
}

export interface SamplingOptions {
  ipc: number;
  bins: number;
  shape: TargetShape;
  logTransform: boolean;
  thresholdsFrom: "pool" | "original";
  lambda: number;
  eps: number;
  maxClip: number;
}

/** DGS for one class: the target from its real difficulties, IPC pool images drawn to match it. */
export function sampleClass(
  original: ArrayLike<number>,
  pool: ArrayLike<number>,
  o: SamplingOptions,
  rng: Rng,
): ClassSampling {
  if (pool.length < o.ipc) throw new Error(`dgs: a pool of ${pool.length} images cannot give ${o.ipc}`);
  let thresholds: Thresholds | null = null;
  let orig: ArrayLike<number> = original, gen: ArrayLike<number> = pool;
  if (o.logTransform) {
    thresholds = chooseThresholds(o.thresholdsFrom === "pool" ? pool : original, o);
    orig = transformAll(original, thresholds.range);
    gen = transformAll(pool, thresholds.range);
  }
  const origHist = histogram(orig, o.bins), poolHist = histogram(gen, o.bins);
  const weights = o.shape === "scale" ? normalise(origHist) : shapeWeights(o.shape, o.bins);
  const target = weights.map((w) => w * o.ipc);
  const binOf = Array.from(gen, (v) => Math.min(o.bins - 1, Math.max(0, Math.floor(v * o.bins))));
  const { picked, shortfall } = selectToTarget(binOf, quotas(weights, o.ipc), rng.permutation(pool.length));
  const selected = histogram(picked.map((i) => gen[i]), o.bins);
  return { picked, thresholds, original: origHist, pool: poolHist, target, selected, shortfall };
}
