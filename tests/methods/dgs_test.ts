/**
 * DGS's sampling (methods/difficulty_sampling.ts): the selected set's difficulty histogram matches its
 * target; the logarithmic transformation and Eq. 9's thresholds on hand-computed examples; the config the
 * tables use. Host arithmetic only (no device).
 */
import { deepStrictEqual as eq, ok, throws } from "node:assert";
import { Rng } from "../../engine/random.ts";
import {
  chooseThresholds,
  HARDNESS_RANK,
  histogram,
  klDivergence,
  logRange,
  logTransform,
  normalise,
  quotas,
  sampleClass,
  type SamplingOptions,
  selectToTarget,
  shapeWeights,
  thresholdObjective,
} from "../../methods/difficulty_sampling.ts";
import { DgsConfig, dgsDefaults, dgsMethod } from "../../methods/dgs.ts";
import { scaleConfig } from "../../experiments/budget.ts";

const near = (a: number, b: number, tol: number, what: string) =>
  ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

/** `n` values from a seeded stream mapped through `inv` (an inverse CDF on [0, 1]). */
function draw(n: number, seed: number, inv: (u: number) => number): Float64Array {
  return Float64Array.from(new Rng(seed).hostUniform(n), inv);
}

/**
 * Rounding bound: when the pool fills every interval's quota, the selected histogram p is the quotas / IPC
 * and |quota_k − IPC·q_k| < 1 (largest remainder), so KL(p ‖ q) ≤ χ²(p ‖ q) = Σ (p_k − q_k)² / q_k
 * < Σ_{q_k > 0} 1 / (IPC² q_k). KL_FLOOR's smoothing of q adds at most ~1e-5 on ten intervals.
 */
function roundingBound(target: readonly number[], ipc: number): number {
  const q = normalise(target);
  return q.reduce((a, x) => a + (x > 0 ? 1 / (ipc * ipc * x) : 0), 0) + 1e-4;
}

const OPTS: SamplingOptions = {
  ipc: 20,
  bins: 10,
  shape: "scale",
  logTransform: true,
  thresholdsFrom: "pool",
  lambda: 0.5,
  eps: 1e-6,
  maxClip: 0.25,
};

Deno.test("dgs: the selected set's difficulty histogram matches its target (pool covering the target)", () => {
  // Real difficulties of one class and a 5×IPC pool from the same spread: every interval the target
  // asks for has enough pool images, so sampling must reproduce the quotas.
  const spread = (u: number) => u ** 2; // most images easy, a tail of hard ones
  const ipc = 50;
  const original = draw(600, 1, spread), pool = draw(5 * ipc, 2, (u) => u ** 3.5); // easier than the real data
  for (const logT of [true, false]) {
    const s = sampleClass(original, pool, { ...OPTS, ipc, logTransform: logT }, new Rng(3));
    eq(s.picked.length, ipc);
    eq(new Set(s.picked).size, ipc, "no pool image twice");
    eq(s.shortfall, 0, "the pool fills every quota");
    eq(s.selected, quotas(s.target, ipc), "selected counts are the target's quotas");
    const kl = klDivergence(s.selected, s.target), bound = roundingBound(s.target, ipc);
    ok(kl <= bound, `log ${logT}: KL(selected ‖ target) ${kl} above the rounding bound ${bound}`);
    ok(bound < 0.1, `log ${logT}: the bound ${bound} is loose`);
    // Negative control: IPC images of the pool in random order miss the same bound.
    const randomPick = Array.from(new Rng(4).permutation(pool.length).slice(0, ipc));
    const randomHist = histogram(
      randomPick.map((i) => logT ? logTransform(pool[i], s.thresholds!.range) : pool[i]),
      OPTS.bins,
    );
    ok(klDivergence(randomHist, s.target) > bound, `log ${logT}: a random draw also meets the bound`);
  }
});

Deno.test("dgs: an easy-biased pool (the paper's Fig. 2) is sampled closer to the target than at random", () => {
  const original = draw(600, 5, (u) => u ** 1.5); // real data: spread over all difficulties
  const pool = draw(5 * OPTS.ipc, 6, (u) => 0.2 * u ** 4); // generated: piled up near zero
  const s = sampleClass(original, pool, OPTS, new Rng(7));
  const transformed = Array.from(pool, (d) => logTransform(d, s.thresholds!.range));
  // The transformation spreads the pool: with raw values every image sits in the first two intervals.
  ok(histogram(pool, OPTS.bins).slice(2).every((n) => n === 0));
  ok(histogram(transformed, OPTS.bins).filter((n) => n > 0).length >= 6, "log transform spreads the pool");
  const kl = klDivergence(s.selected, s.target);
  let worse = 0;
  for (let r = 0; r < 20; r++) {
    const pick = new Rng(100 + r).permutation(pool.length).slice(0, OPTS.ipc);
    if (klDivergence(histogram(Array.from(pick, (i) => transformed[i]), OPTS.bins), s.target) > kl) worse++;
  }
  eq(worse, 20, `every random draw is farther from the target than the selection (KL ${kl})`);
});

Deno.test("dgs: the logarithmic transformation on hand-computed values", () => {
  // Thresholds: the b lowest and t highest values are clipped, lo/hi are the remaining extremes.
  eq(logRange([0.5, 0.001, 0.2, 0.9, 0.05], 1, 1, 1e-9), { lo: 0.05, hi: 0.5, eps: 1e-9 });
  throws(() => logRange([0.1, 0.2], 1, 1, 1e-9), /leaving a value/);
  const r = { lo: 0.01, hi: 1, eps: 1e-12 };
  near(logTransform(0.1, r), Math.log(10) / Math.log(100), 1e-9, "ln(0.1/0.01)/ln(1/0.01) = 1/2");
  near(logTransform(0.1, r), 0.5, 1e-9, "0.1");
  near(logTransform(0.01 * 10 ** 1.5, r), 0.75, 1e-9, "10^-0.5");
  eq(logTransform(0.001, r), 0, "below lo: clamped to 0");
  eq(logTransform(1, r), 1);
  eq(logTransform(3, r), 1, "above hi: clamped to 1");
  // ε keeps a zero difficulty finite: ln((0 + ε)/(0 + ε)) = 0, and the range stays [0, 1].
  const z = { lo: 0, hi: 0.5, eps: 1e-6 };
  eq(logTransform(0, z), 0);
  near(logTransform(0.5e-3, z), Math.log(501) / Math.log(500_001), 1e-12, "with ε");
  eq(logTransform(0.3, { lo: 0.3, hi: 0.3, eps: 1e-6 }), 0, "a one-value range maps to 0");
  // The transformation flattens a pile of easy values (the reason for it).
  eq(histogram([0.001, 0.002, 0.004, 0.008, 0.016, 0.032], 2), [6, 0]);
  const flat = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032].map((d) =>
    logTransform(d, { lo: 0.001, hi: 0.032, eps: 1e-12 })
  );
  eq(histogram(flat, 2), [3, 3]);
});

Deno.test("dgs: Eq. 9 chooses the thresholds on a hand-computed example", () => {
  // N = 5 values, 2 intervals, λ = 0 (uniformity only), b, t ∈ {0, 1} (maxClip 0.2 → ⌊0.2·5⌋ = 1).
  const v = [1e-8, 0.01, 0.03, 0.04, 0.08];
  const o = { bins: 2, lambda: 0, eps: 1e-12, maxClip: 0.2 };
  // b=0,t=0: lo 1e-8 → only 1e-8 maps below 1/2 ([1, 4]); KL([.2,.8] ‖ U) = .2 ln .4 + .8 ln 1.6.
  const skewed = 0.2 * Math.log(0.4) + 0.8 * Math.log(1.6);
  // b=1,t=0: lo .01, hi .08: f = 0, 0, ln3/ln8 = .53, 2/3, 1 → [2, 3]; KL = .4 ln .8 + .6 ln 1.2.
  const even = 0.4 * Math.log(0.8) + 0.6 * Math.log(1.2);
  near(thresholdObjective(v, 0, 0, o), skewed, 1e-5, "b=0,t=0");
  near(thresholdObjective(v, 1, 0, o), even, 1e-5, "b=1,t=0");
  near(thresholdObjective(v, 0, 1, o), skewed, 1e-5, "b=0,t=1: hi .04, 0.01 still maps above 1/2");
  near(thresholdObjective(v, 1, 1, o), even, 1e-5, "b=1,t=1: f = 0, 0, ln3/ln4, 1, 1");
  const best = chooseThresholds(v, o);
  eq([best.b, best.t], [1, 0], "the least clipping among the minimisers");
  near(best.objective, even, 1e-5, "objective");
  eq(best.range, { lo: 0.01, hi: 0.08, eps: 1e-12 });
  // λ = 1 (similarity only): the raw histogram is [5, 0], and moving least mass to the upper interval
  // wins — every transform moves some, [2, 3] the least of the options here besides [1, 4]'s 4.
  const sim = chooseThresholds(v, { ...o, lambda: 1 });
  eq(histogram(v.map((d) => logTransform(d, sim.range)), 2), [2, 3]);
  throws(() => chooseThresholds(v, { ...o, lambda: 1.5 }), /λ must be in \[0, 1\]/);
});

Deno.test("dgs: histograms, KL, quotas and the shortfall rule", () => {
  eq(histogram([0, 0.05, 0.1, 0.99, 1, 1.2, -0.1], 10), [3, 1, 0, 0, 0, 0, 0, 0, 0, 3]);
  throws(() => histogram([NaN], 10), /not finite/);
  near(klDivergence([1, 1], [3, 1]), 0.5 * Math.log(0.5 / 0.75) + 0.5 * Math.log(2), 1e-5, "KL");
  near(klDivergence([2, 3], [4, 6]), 0, 1e-9, "same shape");
  ok(klDivergence([1, 1], [1, 0]) > 6, "mass where the reference has none costs ~ln(1/floor)/2");
  eq(quotas([0.5, 0.3, 0.2], 7), [4, 2, 1]); // 3.5, 2.1, 1.4: the largest remainder gets the spare one
  eq(quotas([0, 0, 1], 3), [0, 0, 3]);
  // Interval 1 has one image for a quota of 2: the shortfall goes to the nearest interval with images left,
  // the harder one first.
  const s = selectToTarget([0, 0, 0, 1, 2, 2], [1, 2, 1], [0, 1, 2, 3, 4, 5]);
  eq(s.shortfall, 1);
  eq(s.picked, [0, 3, 4, 5]);
  throws(() => selectToTarget([0, 1], [2, 1], [0, 1]), /3 images wanted from a pool of 2/);
});

Deno.test("dgs: pre-defined shapes rise in easy share from hill to cliff (the tables' hardnessRank)", () => {
  const easyShare = (w: number[]) => w.slice(0, 3).reduce((a, b) => a + b, 0);
  const shapes = (["hill", "ground", "slope", "cliff"] as const).map((s) => shapeWeights(s, 10));
  for (const w of shapes) near(w.reduce((a, b) => a + b, 0), 1, 1e-12, "sums to 1");
  const shares = shapes.map(easyShare);
  ok(shares.every((x, i) => i === 0 || x > shares[i - 1]), `easy shares ${shares}`);
  eq(Object.keys(HARDNESS_RANK).sort((a, b) => HARDNESS_RANK[b as "hill"] - HARDNESS_RANK[a as "hill"]), [
    "hill",
    "ground",
    "slope",
    "cliff",
  ]);
  // A pre-defined target ignores the real histogram.
  const s = sampleClass(
    draw(300, 8, (u) => u),
    draw(200, 9, (u) => u),
    { ...OPTS, shape: "cliff" },
    new Rng(1),
  );
  eq(s.target.map((x) => x / OPTS.ipc), shapeWeights("cliff", 10));
});

Deno.test("dgs: config — the paper's defaults, the tables' keys, the profiles' scorer", () => {
  const d = dgsDefaults();
  eq([d.poolFactor, d.distribution, d.logTransform, d.scorer, d.bins], [5, "scale", true, "onnx", 10]);
  ok(DgsConfig.safeParse({ ...d, distribution: "hill", hardnessRank: 3 }).success);
  const bad = DgsConfig.safeParse({ ...d, distribution: "hill", hardnessRank: 0 });
  ok(!bad.success && /hardnessRank 0 does not match distribution "hill"/.test(bad.error.issues[0].message));
  ok(!DgsConfig.safeParse({ ...d, distribution: "tower" }).success);
  // Below `paper` the difficulty comes from ddrepro's teacher, the pool from Minimax's budget.
  const quick = scaleConfig(dgsMethod, d, "quick", 10);
  eq(quick.scorer, "teacher");
  eq(quick.maxSteps, 120, "Minimax's quick fine-tuning steps");
  eq(quick.sampler, "ddim");
  eq(scaleConfig(dgsMethod, d, "paper", 10).scorer, "onnx");
  const pinned = scaleConfig(dgsMethod, d, "quick", 10, { scorer: "onnx" });
  eq(pinned.scorer, "onnx", "a pinned scorer stays");
});
