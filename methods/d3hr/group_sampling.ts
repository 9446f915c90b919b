/**
 * D³HR's group sampling (Sec. 4.4, Eqs. 5–9): draw m candidate subsets of n latents from a class's
 * Gaussian N(μ, s²) and keep the subset whose statistics are closest to it,
 *   L = λ_μ·L_μ + λ_σ·L_σ + λ_γ1·L_γ1,
 *   L_μ  = (1/n Σ_i ẑ_i − μ)²                                  (Eq. 6)
 *   L_σ  = (√(1/n Σ_i (ẑ_i − μ)²) − s)²                        (Eq. 7)
 *   L_γ1 = (n/((n−1)(n−2)) Σ_i ((ẑ_i − μ)/s)³ − 0)²            (Eq. 8; a Gaussian's skewness is 0)
 * per latent dimension, averaged over the d dimensions (a sum would only rescale every term alike, so the
 * argmin, Eq. 9, is the same). Writing ẑ = μ + s·ε with ε ~ N(0, I), every term is a function of the
 * per-dimension sums Σε, Σε², Σε³ of the candidate:
 *   L_μ = s²(Σε/n)²,  L_σ = s²(√(Σε²/n) − 1)²,  L_γ1 = (k·Σε³)²,  k = n/((n−1)(n−2)),
 * so a chunk of candidates costs one normal draw, one fused reduction over the n rows and one over d, on
 * the device; only the chunk's scores come back to the host. Below n = 3 the unbiased factor k is
 * undefined and the population skewness (k = 1/n) is used.
 *
 * `score: "reference"` is the released code's score instead (generation/group_sampling.py,
 * evaluate_distribution_batch): ‖m − μ‖₂ + ‖sd − s‖₂ + w·‖γ‖₂ with the subset's sample mean m and unbiased
 * sample std sd per dimension, and γ_i the skewness of latent i *over its d features* standardised by m and
 * sd (torch's skewness_batch), the weights 1, 1, 0.1 in the code. In ε: m − μ = s·ε̄, sd = s·sd_ε, and the
 * standardised values are (ε − ε̄)/sd_ε, so it is a second pass over the draws.
 *
 * Candidate j takes the normal draws at positions [j·n·d, (j+1)·n·d) of one stream, so the chosen subset
 * depends on (seed, m, n, d) only, never on the chunking; m = 1 is plain random sampling (Base-RS), and
 * the first candidate of every m is that same random subset.
 */
import * as E from "../../engine/expr.ts";
import { inp } from "../../engine/expr.ts";
import * as T from "../../engine/ops/mod.ts";
import type { Rng } from "../../engine/random.ts";
import { noGrad, type Tensor, tensor, tidy } from "../../engine/tensor.ts";

/** The weights of Eq. 5 (paper default 1 : 1 : 0.5, App. B). */
export interface ScoreWeights {
  mu: number;
  sigma: number;
  skew: number;
}

export const PAPER_WEIGHTS: Readonly<ScoreWeights> = { mu: 1, sigma: 1, skew: 0.5 };

/** The paper's Eqs. 5–8 or the released code's score (see above). */
export type ScoreKind = "paper" | "reference";

export interface GroupSampleOptions {
  /** Latents per subset (the IPC). */
  n: number;
  /** Default "paper". */
  score?: ScoreKind;
  /** Candidate subsets (m of Algorithm 1). */
  m: number;
  weights: ScoreWeights;
  /** Candidates per device pass (default: as many as fit in about 2^24 draws). */
  chunk?: number;
  signal?: AbortSignal;
}

export interface GroupSampleResult {
  /** The chosen subset's standard draws ε [n, d] (the latents are μ + s·ε). */
  eps: Float32Array;
  /** Its index among the m candidates and its score L. */
  index: number;
  score: number;
  /** The score of candidate 0 (what random sampling would have kept) and the mean score of all m. */
  firstScore: number;
  meanScore: number;
}

/** Coefficient of Σε³ in the skewness estimate of n samples (Eq. 8). */
export function skewFactor(n: number): number {
  return n >= 3 ? n / ((n - 1) * (n - 2)) : 1 / n;
}

function checkOptions(o: GroupSampleOptions, d: number): void {
  if (!Number.isInteger(o.n) || o.n < 1) {
    throw new Error(`group sampling: n must be a positive integer, got ${o.n}`);
  }
  if (!Number.isInteger(o.m) || o.m < 1) {
    throw new Error(`group sampling: m must be a positive integer, got ${o.m}`);
  }
  if (!Number.isInteger(d) || d < 1) throw new Error(`group sampling: the latent has ${d} dimensions`);
  if ((o.score ?? "paper") === "reference" && o.n < 2) {
    throw new Error(
      "group sampling: the reference score needs n ≥ 2 (a sample std of one latent is undefined)",
    );
  }
  for (const [k, v] of Object.entries(o.weights)) {
    if (!Number.isFinite(v) || v < 0) throw new Error(`group sampling: weight ${k} must be ≥ 0, got ${v}`);
  }
}

/**
 * Scores of candidates whose standard draws are eps [c, n, d] against the scales² s2 [d] (device).
 * Returns [c] scores.
 */
export function scoreCandidates(eps: Tensor, s2: Tensor, weights: ScoreWeights): Tensor {
  const [c, n, d] = eps.shape;
  const x = inp(0);
  const [s1, sq, cu] = T.reduceMany(
    "sum",
    [x, E.mul(x, x), E.mul(E.mul(x, x), x)],
    [eps],
    [c, n, d],
    [1],
  );
  const mean = E.mul(inp(0), E.cst(1 / n));
  const rms = E.un("sqrt", E.mul(inp(1), E.cst(1 / n)));
  const dev = E.sub(rms, E.cst(1));
  const skew = E.mul(inp(2), E.cst(skewFactor(n)));
  const term = E.add(
    E.add(
      E.mul(E.cst(weights.mu), E.mul(inp(3), E.mul(mean, mean))),
      E.mul(E.cst(weights.sigma), E.mul(inp(3), E.mul(dev, dev))),
    ),
    E.mul(E.cst(weights.skew), E.mul(skew, skew)),
  );
  const scaled = E.mul(term, E.cst(1 / d));
  // The sums keep the reduced axis ([c, 1, d]); the score reduces over d to [c, 1, 1].
  const score = T.reduceExpr("sum", scaled, [s1, sq, cu, T.reshape(s2, [1, 1, d])], [c, 1, d], [2]);
  return T.reshape(score, [c]);
}

/**
 * The released code's score of candidates eps [c, n, d] (see the module comment); [c] scores. Needs n ≥ 2.
 */
export function scoreCandidatesReference(eps: Tensor, s2: Tensor, weights: ScoreWeights): Tensor {
  const [c, n, d] = eps.shape;
  const x = inp(0);
  const [s1, sq] = T.reduceMany("sum", [x, E.mul(x, x)], [eps], [c, n, d], [1]);
  // ε̄ and the unbiased sample std of ε per (candidate, dimension), [c, 1, d].
  const mean = T.map(E.mul(inp(0), E.cst(1 / n)), [s1]);
  const sd = T.map(
    E.un("sqrt", E.mul(E.sub(inp(1), E.mul(E.cst(n), E.mul(inp(0), inp(0)))), E.cst(1 / (n - 1)))),
    [mean, sq],
  );
  const s2r = T.reshape(s2, [1, 1, d]);
  const dev = E.sub(inp(1), E.cst(1));
  const [mu2, sig2] = T.reduceMany(
    "sum",
    [E.mul(inp(2), E.mul(inp(0), inp(0))), E.mul(inp(2), E.mul(dev, dev))],
    [mean, sd, s2r],
    [c, 1, d],
    [2],
  );
  // Per latent: its d standardised features cubed and summed ([c, n, 1]), times d/((d−1)(d−2)).
  const u = E.div(E.sub(inp(0), inp(1)), inp(2));
  const cubes = T.reduceExpr("sum", E.mul(E.mul(u, u), u), [eps, mean, sd], [c, n, d], [2]);
  const k = skewFactor(d);
  const skew2 = T.reduceExpr("sum", E.mul(E.cst(k * k), E.mul(inp(0), inp(0))), [cubes], [c, n, 1], [1]);
  const score = T.map(
    E.add(
      E.add(
        E.mul(E.cst(weights.mu), E.un("sqrt", inp(0))),
        E.mul(E.cst(weights.sigma), E.un("sqrt", inp(1))),
      ),
      E.mul(E.cst(weights.skew), E.un("sqrt", inp(2))),
    ),
    [mu2, sig2, skew2],
  );
  return T.reshape(score, [c]);
}

/** The released code's score on the host (float64, torch's semantics) for one subset z [n, d]. */
export function referenceSubsetScore(
  z: ArrayLike<number>,
  n: number,
  mean: ArrayLike<number>,
  scale2: ArrayLike<number>,
  weights: ScoreWeights,
): number {
  const d = mean.length;
  const m = new Float64Array(d), sd = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let a = 0;
    for (let i = 0; i < n; i++) a += z[i * d + j];
    m[j] = a / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (z[i * d + j] - m[j]) ** 2;
    sd[j] = Math.sqrt(v / (n - 1));
  }
  let dm = 0, ds = 0, dk = 0;
  for (let j = 0; j < d; j++) {
    dm += (m[j] - mean[j]) ** 2;
    ds += (sd[j] - Math.sqrt(scale2[j])) ** 2;
  }
  for (let i = 0; i < n; i++) {
    let c3 = 0;
    for (let j = 0; j < d; j++) c3 += ((z[i * d + j] - m[j]) / sd[j]) ** 3;
    dk += (skewFactor(d) * c3) ** 2;
  }
  return weights.mu * Math.sqrt(dm) + weights.sigma * Math.sqrt(ds) + weights.skew * Math.sqrt(dk);
}

/** The same score on the host, in float64, for one subset of latents z [n, d] (the reference the tests use). */
export function subsetScore(
  z: ArrayLike<number>,
  n: number,
  mean: ArrayLike<number>,
  scale2: ArrayLike<number>,
  weights: ScoreWeights,
): { score: number; mu: number; sigma: number; skew: number } {
  const d = mean.length, k = skewFactor(n);
  let lm = 0, ls = 0, lg = 0;
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(scale2[j]);
    let s1 = 0, s2 = 0, s3 = 0;
    for (let i = 0; i < n; i++) {
      const u = (z[i * d + j] - mean[j]) / s;
      s1 += u;
      s2 += u * u;
      s3 += u * u * u;
    }
    lm += (s * s1 / n) ** 2;
    ls += (Math.sqrt(s2 / n) * s - s) ** 2;
    lg += (k * s3) ** 2;
  }
  const mu = lm / d, sigma = ls / d, skew = lg / d;
  return { score: weights.mu * mu + weights.sigma * sigma + weights.skew * skew, mu, sigma, skew };
}

/**
 * Algorithm 1's group sampling for one class: m candidates of n draws from N(μ, s²) (given by its scales²
 * s2 [d]), scored in chunks on the device; returns the best candidate's standard draws.
 */
export async function groupSample(
  scale2: Float32Array,
  rng: Rng,
  o: GroupSampleOptions,
): Promise<GroupSampleResult> {
  const d = scale2.length, { n, m } = o;
  checkOptions(o, d);
  const chunk = Math.max(1, Math.min(m, o.chunk ?? Math.floor(2 ** 24 / (n * d))));
  const s2 = tensor(scale2, [d]);
  let best = Infinity, bestIndex = -1, bestEps: Float32Array | null = null, first = NaN, total = 0;
  try {
    for (let j0 = 0; j0 < m; j0 += chunk) {
      o.signal?.throwIfAborted();
      const c = Math.min(chunk, m - j0);
      // Drawn in order from one stream: candidate j always gets the same draws, whatever the chunking.
      const eps = noGrad(() => rng.normal([c, n, d]));
      try {
        const score = (o.score ?? "paper") === "paper" ? scoreCandidates : scoreCandidatesReference;
        const scoresT = noGrad(() => tidy(() => score(eps, s2, o.weights)));
        const scores = await scoresT.f32();
        scoresT.dispose();
        let arg = -1, low = Infinity;
        for (let i = 0; i < c; i++) {
          const v = scores[i];
          if (!Number.isFinite(v)) throw new Error(`group sampling: candidate ${j0 + i} scored ${v}`);
          total += v;
          if (v < low) [low, arg] = [v, i];
        }
        if (j0 === 0) first = scores[0];
        if (low < best) {
          best = low;
          bestIndex = j0 + arg;
          const row = noGrad(() => T.slice(eps, [arg, 0, 0], [1, n, d]));
          bestEps = await row.f32();
          row.dispose();
        }
      } finally {
        eps.dispose();
      }
    }
  } finally {
    s2.dispose();
  }
  return { eps: bestEps!, index: bestIndex, score: best, firstScore: first, meanScore: total / m };
}
