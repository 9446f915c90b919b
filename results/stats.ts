/**
 * The small amount of statistics the verdicts need: summaries, Welch's unequal-variance t-test and the
 * paired t-test, with the Student-t CDF computed from the regularized incomplete beta function.
 */

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); null when n < 2, where it is undefined. */
  std: number | null;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("mean of an empty sample");
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample variance (n − 1 denominator); NaN when n < 2. */
export function sampleVariance(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return s / (xs.length - 1);
}

/** Sample standard deviation (n − 1 denominator); NaN when n < 2. */
export function sampleStd(xs: readonly number[]): number {
  return Math.sqrt(sampleVariance(xs));
}

export function summarize(xs: readonly number[]): Summary {
  return { n: xs.length, mean: mean(xs), std: xs.length < 2 ? null : sampleStd(xs) };
}

export interface WelchResult {
  /** (mean_a − mean_b) / sqrt(s_a²/n_a + s_b²/n_b). */
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** H1: mean_a ≠ mean_b. */
  pTwoSided: number;
  /** H1: mean_a > mean_b. */
  pGreater: number;
  /** H1: mean_a < mean_b. */
  pLess: number;
}

/** Welch's t-test of sample a against sample b. Needs at least two observations in each. */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult {
  if (a.length < 2 || b.length < 2) {
    throw new RangeError(`Welch's t-test needs n ≥ 2 per sample (got ${a.length} and ${b.length})`);
  }
  const va = sampleVariance(a) / a.length;
  const vb = sampleVariance(b) / b.length;
  const diff = mean(a) - mean(b);
  const se2 = va + vb;
  if (se2 === 0) {
    // Both samples constant: the difference is exact, either certainly nonzero or exactly zero.
    const df = a.length + b.length - 2;
    if (diff === 0) return { t: 0, df, pTwoSided: 1, pGreater: 0.5, pLess: 0.5 };
    return diff > 0
      ? { t: Infinity, df, pTwoSided: 0, pGreater: 0, pLess: 1 }
      : { t: -Infinity, df, pTwoSided: 0, pGreater: 1, pLess: 0 };
  }
  const t = diff / Math.sqrt(se2);
  const df = (se2 * se2) / ((va * va) / (a.length - 1) + (vb * vb) / (b.length - 1));
  const pGreater = 1 - studentTCdf(t, df);
  const pLess = studentTCdf(t, df);
  return { t, df, pTwoSided: Math.min(1, 2 * Math.min(pGreater, pLess)), pGreater, pLess };
}

/** One-sample result on paired differences a_i − b_i (same fields as Welch's, df = n − 1). */
export interface PairedResult extends WelchResult {
  n: number;
  /** Mean of the differences a_i − b_i. */
  meanDiff: number;
  /** Sample std of the differences; 0 when they are all equal. */
  sdDiff: number;
}

/**
 * Paired t-test of a against b (a[i] and b[i] share everything random but the treatment, e.g. a
 * distilled set and its own initialisation evaluated with the same seed). Needs n ≥ 2 pairs.
 */
export function pairedTTest(a: readonly number[], b: readonly number[]): PairedResult {
  if (a.length !== b.length) {
    throw new RangeError(`paired t-test needs equal lengths (got ${a.length} and ${b.length})`);
  }
  if (a.length < 2) throw new RangeError(`paired t-test needs n ≥ 2 pairs (got ${a.length})`);
  const d = a.map((x, i) => x - b[i]);
  const n = d.length;
  const meanDiff = mean(d);
  const sdDiff = sampleStd(d);
  const df = n - 1;
  if (sdDiff === 0) {
    // Every pair differs by the same amount: exact, as in Welch's constant case.
    if (meanDiff === 0) return { t: 0, df, pTwoSided: 1, pGreater: 0.5, pLess: 0.5, n, meanDiff, sdDiff };
    const up = meanDiff > 0;
    return {
      t: up ? Infinity : -Infinity,
      df,
      pTwoSided: 0,
      pGreater: up ? 0 : 1,
      pLess: up ? 1 : 0,
      n,
      meanDiff,
      sdDiff,
    };
  }
  const t = meanDiff / (sdDiff / Math.sqrt(n));
  const pGreater = 1 - studentTCdf(t, df);
  const pLess = studentTCdf(t, df);
  return {
    t,
    df,
    pTwoSided: Math.min(1, 2 * Math.min(pGreater, pLess)),
    pGreater,
    pLess,
    n,
    meanDiff,
    sdDiff,
  };
}

/** P(T ≤ t) for Student's t with `df` (> 0, not necessarily integer) degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be > 0 (got ${df})`);
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2)
  const tail = regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5) / 2;
  return t > 0 ? 1 - tail : tail;
}

/**
 * I_x(a, b), the regularized incomplete beta function, by the continued fraction of
 * Numerical Recipes §6.4 (modified Lentz), using the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) to stay
 * in the region where the fraction converges fast.
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`incomplete beta needs a, b > 0 (got ${a}, ${b})`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`incomplete beta needs 0 ≤ x ≤ 1 (got ${x})`);
  if (x === 0) return 0;
  if (x === 1) return 1;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const EPS = 1e-15;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  throw new Error(`incomplete beta continued fraction did not converge (x=${x}, a=${a}, b=${b})`);
}

/** ln Γ(z) for z > 0 (Lanczos, g = 7, n = 9; ~15 significant digits). */
export function lnGamma(z: number): number {
  if (z < 0.5) {
    // Reflection keeps the approximation in its accurate range.
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - lnGamma(1 - z);
  }
  const g = 7;
  const coef = [
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  const zz = z - 1;
  let x = coef[0];
  for (let i = 1; i < g + 2; i++) x += coef[i] / (zz + i);
  const t = zz + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (zz + 0.5) * Math.log(t) - t + Math.log(x);
}
