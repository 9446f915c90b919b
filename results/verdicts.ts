/**
 * Verdicts: does a reproduced table support the paper's numbers (per cell) and its claims?
 * The decision rules are documented in results/README.md; every verdict carries a one-line
 * explanation with the numbers it was decided on, so a reader never has to trust a bare label.
 */
import type { CellSpec, ClaimSpec, Selection, TableSpec } from "../experiments/schema.ts";
import { canonicalJson, keyedCell } from "./key.ts";
import { pairedTTest, summarize, type Summary, welchTTest } from "./stats.ts";
import type { CellRepeatResult, MetricName, Profile } from "./types.ts";
import { comparableWithPaper } from "../experiments/profiles.ts";
import { fmtP, fmtPts, fmtSigned, fmtSummary } from "./format.ts";

export type ClaimStatus = "reproduced" | "not reproduced" | "inconclusive" | "not run";
/** "not comparable": the run used a reduced profile; "no claim": the paper prints no number. */
export type CellStatus = "reproduced" | "not reproduced" | "not run" | "not comparable" | "no claim";

export interface VerdictOptions {
  /** Points of accuracy treated as practically equal (default 0.5). */
  tolerance: number;
  /** Significance level of the Welch tests (default 0.05). */
  alpha: number;
  /**
   * With a single repeat on either side no test can run; a comparison is then decided only when the
   * gap exceeds this many points (default 2.0), otherwise it is inconclusive.
   */
  singleRepeatMargin: number;
  /** The accuracy compared with the paper; default from the table's selection rule (headlineMetric). */
  metric?: MetricName;
}

export const DEFAULT_VERDICT_OPTIONS: Readonly<VerdictOptions> = {
  tolerance: 0.5,
  alpha: 0.05,
  singleRepeatMargin: 2.0,
};

/**
 * The metric that matches how the paper selected its number: the max over epochs only for papers
 * that report it; the last epoch otherwise (the standard DD evaluation, and the conservative
 * reading when the paper does not say).
 */
export function headlineMetric(selection: Selection): MetricName {
  return selection === "best-test" ? "bestTestAcc" : "lastTestAcc";
}

export interface CellVerdict {
  cellId: string;
  status: CellStatus;
  claimed: CellSpec["claimed"];
  reproduced: Summary | null;
  /** reproduced mean − claimed mean, in points (null when either is missing). */
  delta: number | null;
  /** The |delta| allowed: max(tolerance, 2·sqrt(claimed_std² + reproduced_std²)). */
  threshold: number | null;
  explanation: string;
}

export interface ClaimPart {
  /** e.g. "a > b" or "order 10". */
  label: string;
  status: ClaimStatus;
  explanation: string;
}

export interface ClaimVerdict {
  claimId: string;
  kind: ClaimSpec["kind"];
  text: string;
  source: string;
  status: ClaimStatus;
  explanation: string;
  parts: ClaimPart[];
}

export interface TableVerdict {
  tableId: string;
  profile: Profile;
  metric: MetricName;
  options: VerdictOptions;
  cells: CellVerdict[];
  claims: ClaimVerdict[];
}

/** A cell's reproduced values under the chosen metric (empty when it was not run). */
export interface CellSample {
  id: string;
  values: readonly number[];
  /** The seed of each value (same order); paired comparisons match repeats by it. */
  seeds?: readonly number[];
}

function describe(sample: CellSample): string {
  return `${sample.id} ${fmtSummary(summarize(sample.values))}`;
}

// ---------------------------------------------------------------------------------------------
// Per cell: claimed vs reproduced.

export function evaluateCell(
  cell: CellSpec,
  values: readonly number[],
  profile: Profile,
  options: VerdictOptions = DEFAULT_VERDICT_OPTIONS,
): CellVerdict {
  const base = { cellId: cell.id, claimed: cell.claimed };
  if (values.length === 0) {
    return {
      ...base,
      status: "not run",
      reproduced: null,
      delta: null,
      threshold: null,
      explanation: "not run",
    };
  }
  const rep = summarize(values);
  if (cell.claimed === null) {
    const why = cell.claimedNote ?? "unavailable in source";
    return {
      ...base,
      status: "no claim",
      reproduced: rep,
      delta: null,
      threshold: null,
      explanation: `claimed: ${why}; reproduced ${fmtSummary(rep)}`,
    };
  }
  const claimed = cell.claimed;
  const delta = rep.mean - claimed.mean;
  const threshold = Math.max(options.tolerance, 2 * Math.sqrt((claimed.std ?? 0) ** 2 + (rep.std ?? 0) ** 2));
  const numbers = `reproduced ${fmtSummary(rep)} vs claimed ${fmtPts(claimed.mean)}` +
    (claimed.std === null ? "" : ` ± ${fmtPts(claimed.std)}`) + `: Δ ${fmtSigned(delta)}`;
  if (!comparableWithPaper(profile)) {
    return {
      ...base,
      status: "not comparable",
      reproduced: rep,
      delta,
      threshold: null,
      explanation: `profile ≠ paper: not comparable (${profile} ${numbers})`,
    };
  }
  const caveats = [
    ...(claimed.std === null ? ["paper prints no std, taken as 0"] : []),
    ...(rep.std === null ? ["single repeat: reproduced std unknown, taken as 0"] : []),
  ];
  const note = caveats.length ? `; ${caveats.join("; ")}` : "";
  const ok = Math.abs(delta) <= threshold;
  return {
    ...base,
    status: ok ? "reproduced" : "not reproduced",
    reproduced: rep,
    delta,
    threshold,
    explanation: `${numbers} ${ok ? "within" : "outside"} ±${fmtPts(threshold)}${note}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Pairwise comparison: "a > b" or "a >= b".

export interface PairVerdict extends ClaimPart {
  /** mean_a − mean_b (paired: the mean difference over shared seeds); null when a cell is missing. */
  diff: number | null;
  /** The one-sided p-value (Welch's, or the paired test's) that decided it, when a test ran. */
  p: number | null;
}

/** The repeats of a and b that share a seed, in seed order (a paired comparison's sample). */
function matchBySeed(a: CellSample, b: CellSample): { a: number[]; b: number[]; seeds: number[] } {
  if (a.seeds === undefined || b.seeds === undefined) {
    throw new Error(`paired comparison of ${a.id} and ${b.id} needs the seed of every repeat`);
  }
  const bBySeed = new Map(b.seeds.map((seed, i) => [seed, b.values[i]]));
  const pairs = a.seeds
    .map((seed, i) => ({ seed, x: a.values[i], y: bBySeed.get(seed) }))
    .filter((q): q is { seed: number; x: number; y: number } => q.y !== undefined)
    .sort((p, q) => p.seed - q.seed);
  return { a: pairs.map((q) => q.x), b: pairs.map((q) => q.y), seeds: pairs.map((q) => q.seed) };
}

/**
 * "a > b" or "a ≥ b" on the two cells' repeats: Welch's t-test, or with `paired` a paired t-test on
 * the repeats that share a seed — for cells whose seed-s repeats share their randomness (a learned set
 * and its own real-image initialisation, both evaluated with seed s), where it removes the variance of
 * the draw that Welch's test has to carry.
 */
export function comparePair(
  a: CellSample,
  b: CellSample,
  relation: ">" | ">=",
  options: VerdictOptions = DEFAULT_VERDICT_OPTIONS,
  paired = false,
): PairVerdict {
  const label = `${a.id} ${relation === ">" ? ">" : "≥"} ${b.id}`;
  const missing = [a, b].filter((s) => s.values.length === 0).map((s) => s.id);
  if (missing.length > 0) {
    return {
      label,
      status: "not run",
      diff: null,
      p: null,
      explanation: `${label}: not run (${missing.join(", ")})`,
    };
  }
  const m = paired ? matchBySeed(a, b) : null;
  const [va, vb] = m ? [m.a, m.b] : [a.values, b.values];
  const { tolerance: tol, alpha } = options;
  const summaries = va.length === 0
    ? `no seed in common (${a.id}: ${a.values.length}, ${b.id}: ${b.values.length} repeats)`
    : `${fmtSummary(summarize(va))} vs ${fmtSummary(summarize(vb))}`;
  const diff = va.length === 0 ? NaN : summarize(va).mean - summarize(vb).mean;
  const head = `${m ? `paired by seed (${m.seeds.join(", ")}): ` : ""}${summaries}${
    Number.isNaN(diff) ? "" : `: ${fmtSigned(diff)} points`
  }`;
  const result = (status: ClaimStatus, p: number | null, why: string): PairVerdict => ({
    label,
    status,
    diff: Number.isNaN(diff) ? null : diff,
    p,
    explanation: `${label}: ${head}; ${why} → ${status}`,
  });
  if (va.length === 0) return result("inconclusive", null, "a paired comparison needs shared seeds");

  if (va.length < 2 || vb.length < 2) {
    const margin = Math.max(options.singleRepeatMargin, tol);
    const single = `n < 2: no significance test possible, decided by the ${fmtPts(margin)}-point margin`;
    if (relation === ">=" && diff >= -tol) {
      return result("reproduced", null, `mean_a ≥ mean_b − tolerance ${fmtPts(tol)}`);
    }
    if (relation === ">" && diff > margin) return result("reproduced", null, `${single}; gap exceeds it`);
    if (-diff > margin) return result("not reproduced", null, `${single}; ${b.id} leads by more`);
    return result("inconclusive", null, `${single}; gap within it`);
  }

  const w = m ? pairedTTest(va, vb) : welchTTest(va, vb);
  // pLess tests the opposite direction (b ahead of a); say so, or a small p would read as support for a.
  const test = (p: number, bAhead = false) =>
    `${m ? "paired" : "Welch"} t=${w.t.toFixed(2)}, df=${w.df.toFixed(1)}, one-sided p` +
    `${bAhead ? ` (${b.id} ahead)` : ""}=${fmtP(p)}`;
  if (relation === ">") {
    if (diff > 0 && w.pGreater < alpha) {
      return result("reproduced", w.pGreater, `${test(w.pGreater)} < ${alpha}`);
    }
  } else if (diff >= -tol) {
    return result("reproduced", null, `mean_a ≥ mean_b − tolerance ${fmtPts(tol)}`);
  }
  if (-diff > tol && w.pLess < alpha) {
    return result(
      "not reproduced",
      w.pLess,
      `${b.id} leads by more than tolerance ${fmtPts(tol)}, ${test(w.pLess, true)} < ${alpha}`,
    );
  }
  const p = diff > 0 ? w.pGreater : w.pLess;
  const why = -diff > tol
    ? `${b.id} leads by more than tolerance but ${test(p, true)} ≥ ${alpha}`
    : diff > 0
    ? `${test(p)} ≥ ${alpha}`
    : `gap within tolerance ${fmtPts(tol)} (${test(p, true)})`;
  return result("inconclusive", p, why);
}

// ---------------------------------------------------------------------------------------------
// Claims.

/** The worst status wins: one contradiction refutes a claim; missing cells leave it unjudged. */
const SEVERITY: Record<ClaimStatus, number> = {
  "not reproduced": 3,
  "not run": 2,
  "inconclusive": 1,
  "reproduced": 0,
};

function aggregate(parts: ClaimPart[], noun: string): { status: ClaimStatus; explanation: string } {
  const status = parts.reduce<ClaimStatus>(
    (worst, p) => (SEVERITY[p.status] > SEVERITY[worst] ? p.status : worst),
    "reproduced",
  );
  const counts = (Object.keys(SEVERITY) as ClaimStatus[])
    .map((s) => [s, parts.filter((p) => p.status === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
  const decisive = parts.find((p) => p.status === status);
  const detail = status === "reproduced" || decisive === undefined ? "" : ` — ${decisive.explanation}`;
  return {
    status,
    explanation: `${parts.length} ${noun}${parts.length === 1 ? "" : "s"}: ${counts}${detail}`,
  };
}

/** A cell's config value for a trend key (number expected; anything else makes the claim inconclusive). */
export type KeyLookup = (cellId: string, key: string) => unknown;

/**
 * A cell's repeats under the headline accuracy, or, given `distillMetric`, under that distill metric
 * (only the repeats that recorded it).
 */
export type SampleLookup = (cellId: string, distillMetric?: string) => CellSample;

export function evaluateClaim(
  claim: ClaimSpec,
  sampleOf: SampleLookup,
  keyOf: KeyLookup,
  options: VerdictOptions = DEFAULT_VERDICT_OPTIONS,
): ClaimVerdict {
  const head = { claimId: claim.id, kind: claim.kind, text: claim.text, source: claim.source };
  switch (claim.kind) {
    case "compare": {
      const parts = claim.pairs.map((p) =>
        comparePair(sampleOf(p.a), sampleOf(p.b), p.relation, options, p.paired ?? false)
      );
      return { ...head, ...aggregate(parts, "comparison"), parts };
    }
    case "best": {
      const parts = claim.groups.flatMap((g) =>
        g.among.filter((id) => id !== g.best).map((id) =>
          comparePair(sampleOf(g.best), sampleOf(id), ">", options)
        )
      );
      return { ...head, ...aggregate(parts, "comparison"), parts };
    }
    case "trend":
      return { ...head, ...evaluateTrend(claim, sampleOf, keyOf, options) };
    case "decrease": {
      const parts = claim.cells.map((id) => decreasePart(id, claim.from, claim.to, sampleOf, options));
      return { ...head, ...aggregate(parts, "cell"), parts };
    }
  }
}

/** Distill metrics (CMI, matching losses) span many scales: 4 significant digits. */
const sig = (x: number) => x.toPrecision(4);

/**
 * `decrease`, one cell: the paired t-test on from − to over the repeats that recorded both. Reproduced
 * when the mean falls with p(from > to) < α, not reproduced when it rises with p(to > from) < α; a
 * cell run without the metrics, or with fewer than two such repeats, is inconclusive.
 */
function decreasePart(
  id: string,
  from: string,
  to: string,
  sampleOf: SampleLookup,
  options: VerdictOptions,
): ClaimPart {
  const label = `${id}: ${from} → ${to}`;
  const part = (status: ClaimStatus, why: string): ClaimPart => ({
    label,
    status,
    explanation: `${label}: ${why} → ${status}`,
  });
  if (sampleOf(id).values.length === 0) return { label, status: "not run", explanation: `${label}: not run` };
  const m = matchBySeed(sampleOf(id, from), sampleOf(id, to));
  if (m.a.length < 2) {
    return part(
      "inconclusive",
      `${m.a.length} repeat(s) recorded both metrics; a paired test needs 2`,
    );
  }
  const [a, b] = [summarize(m.a).mean, summarize(m.b).mean];
  const lower = m.a.filter((x, i) => m.b[i] < x).length;
  const rel = a !== 0 ? ` (${fmtSigned(((b - a) / Math.abs(a)) * 100)} %)` : "";
  const head = `${sig(a)} → ${sig(b)}${rel}, means over seeds ${m.seeds.join(", ")}; lower at ${lower} of ` +
    `${m.a.length}`;
  const w = pairedTTest(m.a, m.b);
  const test = (p: number, up = false) =>
    `paired t=${w.t.toFixed(2)}, df=${w.df}, one-sided p${up ? " (rise)" : ""}=${fmtP(p)}`;
  if (b < a && w.pGreater < options.alpha) {
    return part("reproduced", `${head}; ${test(w.pGreater)} < ${options.alpha}`);
  }
  if (b > a && w.pLess < options.alpha) {
    return part("not reproduced", `${head}; ${test(w.pLess, true)} < ${options.alpha}`);
  }
  return part(
    "inconclusive",
    `${head}; ${b < a ? test(w.pGreater) : test(w.pLess, true)} ≥ ${options.alpha}`,
  );
}

type TrendClaim = Extract<ClaimSpec, { kind: "trend" }>;

/**
 * Trend: in each group (ordered by `order`) find the best cell by mean; its `key` value must be
 * non-decreasing along the order. Noise is respected: cells not significantly below the group's
 * best (or within tolerance; within the single-repeat margin when n < 2) are also "candidates".
 * Reproduced when every choice of candidates is non-decreasing, not reproduced when none is.
 */
function evaluateTrend(
  claim: TrendClaim,
  sampleOf: SampleLookup,
  keyOf: KeyLookup,
  options: VerdictOptions,
): Pick<ClaimVerdict, "status" | "explanation" | "parts"> {
  const groups = [...claim.groups].sort((x, y) => x.order - y.order);
  const k = claim.key;
  const parts: ClaimPart[] = [];
  const candidateValues: number[][] = [];
  const argmaxValues: number[] = [];
  // Parts that make the trend unjudgeable: a group not run, or a cell without a numeric key.
  const blockers: ClaimPart[] = [];

  for (const g of groups) {
    const label = `order ${g.order}`;
    const samples = g.cells.map((id) => sampleOf(id));
    const missing = samples.filter((s) => s.values.length === 0).map((s) => s.id);
    if (missing.length > 0) {
      const part: ClaimPart = {
        label,
        status: "not run",
        explanation: `${label}: not run (${missing.join(", ")})`,
      };
      parts.push(part);
      blockers.push(part);
      continue;
    }
    const badKey = g.cells.find((id) => typeof keyOf(id, k) !== "number");
    if (badKey !== undefined) {
      const got = JSON.stringify(keyOf(badKey, k)) ?? "undefined";
      const part: ClaimPart = {
        label,
        status: "inconclusive",
        explanation: `${label}: cell ${badKey} has no numeric config "${k}" (got ${got})`,
      };
      parts.push(part);
      blockers.push(part);
      continue;
    }
    const means = samples.map((s) => summarize(s.values).mean);
    const best = means.indexOf(Math.max(...means));
    const candidates = samples.filter((s, i) => i === best || withinNoise(samples[best], s, options));
    const values = [...new Set(candidates.map((s) => keyOf(s.id, k) as number))].sort((x, y) => x - y);
    const bestValue = keyOf(samples[best].id, k) as number;
    candidateValues.push(values);
    argmaxValues.push(bestValue);
    const others = candidates.filter((s) => s.id !== samples[best].id);
    parts.push({
      label,
      status: values.length === 1 ? "reproduced" : "inconclusive",
      explanation: `${label}: best ${describe(samples[best])} with ${k}=${bestValue}` +
        (others.length
          ? `; within noise: ${others.map((s) => `${s.id} (${k}=${keyOf(s.id, k)})`).join(", ")}`
          : ""),
    });
  }

  const unjudged = blockers.find((p) => p.status === "not run") ?? blockers[0];
  if (unjudged !== undefined) {
    return { status: unjudged.status, explanation: `cannot judge the trend: ${unjudged.explanation}`, parts };
  }

  const sequence = `best ${k} along order ${groups.map((g) => g.order).join(", ")}: ${
    argmaxValues.join(" → ")
  }`;
  const always = candidateValues.every((vs, i) =>
    i === 0 || Math.min(...vs) >= Math.max(...candidateValues[i - 1])
  );
  if (always) return { status: "reproduced", explanation: `${sequence}, non-decreasing → reproduced`, parts };
  // Greedy: the smallest admissible value in each group leaves the most room for the next ones.
  let floor = -Infinity;
  let possible = true;
  for (const vs of candidateValues) {
    const next = vs.find((v) => v >= floor);
    if (next === undefined) {
      possible = false;
      break;
    }
    floor = next;
  }
  const onMeans = argmaxValues.every((v, i) => i === 0 || v >= argmaxValues[i - 1]);
  if (!possible) {
    return {
      status: "not reproduced",
      explanation: `${sequence}, decreasing even allowing for noise → not reproduced`,
      parts,
    };
  }
  return {
    status: "inconclusive",
    explanation: `${sequence}, ${onMeans ? "non-decreasing" : "not monotone"} on means, but the best cell ` +
      `is within noise of others in some group → inconclusive`,
    parts,
  };
}

/** Is `other` statistically indistinguishable from (or practically equal to) `best`? */
function withinNoise(best: CellSample, other: CellSample, options: VerdictOptions): boolean {
  const gap = summarize(best.values).mean - summarize(other.values).mean;
  if (gap <= options.tolerance) return true;
  if (best.values.length < 2 || other.values.length < 2) return gap <= options.singleRepeatMargin;
  return welchTTest(best.values, other.values).pGreater >= options.alpha;
}

// ---------------------------------------------------------------------------------------------
// A whole table.

export interface EvaluateTableOptions extends Partial<VerdictOptions> {
  /** Only results of this profile are used (mixing profiles would be meaningless). */
  profile: Profile;
}

/**
 * Evaluates every cell and claim of `spec` on the results of `profile` for this table. Pass the
 * output of selectLatest() when the store holds runs of several code versions.
 */
export function evaluateTable(
  spec: TableSpec,
  results: readonly CellRepeatResult[],
  opts: EvaluateTableOptions,
): TableVerdict {
  const options: VerdictOptions = {
    tolerance: opts.tolerance ?? DEFAULT_VERDICT_OPTIONS.tolerance,
    alpha: opts.alpha ?? DEFAULT_VERDICT_OPTIONS.alpha,
    singleRepeatMargin: opts.singleRepeatMargin ?? DEFAULT_VERDICT_OPTIONS.singleRepeatMargin,
  };
  const metric = opts.metric ?? headlineMetric(spec.protocol.selection);
  const mine = results.filter((r) => r.resolved.tableId === spec.id && r.resolved.profile === opts.profile);
  const byCell = groupBy(mine, (r) => r.resolved.cellId);
  const sampleOf: SampleLookup = (id, distillMetric) => {
    const rows = (byCell.get(id) ?? []).filter((r) =>
      distillMetric === undefined
        ? r.metrics[metric] !== undefined
        : Number.isFinite(r.distillMetrics[distillMetric])
    );
    return {
      id,
      values: rows.map((r) =>
        distillMetric === undefined ? r.metrics[metric]! : r.distillMetrics[distillMetric]
      ),
      seeds: rows.map((r) => r.seed),
    };
  };
  const cellById = new Map(spec.cells.map((c) => [c.id, c]));
  const keyOf: KeyLookup = (id, key) =>
    cellById.get(id)?.config?.[key] ?? byCell.get(id)?.[0]?.resolved.methodConfig[key];

  return {
    tableId: spec.id,
    profile: opts.profile,
    metric,
    options: { ...options, metric },
    cells: spec.cells.map((c) => {
      const v = evaluateCell(c, sampleOf(c.id).values, opts.profile, options);
      // Results exist but none measured this metric: bestTestAcc needs the protocol's testCurve.
      return v.status === "not run" && (byCell.get(c.id)?.length ?? 0) > 0
        ? {
          ...v,
          explanation: `no result measured ${metric} (its protocol did not test every evaluation point)`,
        }
        : v;
    }),
    claims: spec.claims.map((cl) => evaluateClaim(cl, sampleOf, keyOf, options)),
  };
}

/**
 * Keeps, per (table, cell, profile), only the repeats of the most recent configuration — same
 * resolved cell, code version and dataset — judged by the latest finish time. Older code versions
 * stay in the store for comparisons but must not be averaged with the current one.
 */
export function selectLatest(results: readonly CellRepeatResult[]): CellRepeatResult[] {
  const byCell = groupBy(
    results,
    (r) => `${r.resolved.tableId}\u0000${r.resolved.cellId}\u0000${r.resolved.profile}`,
  );
  const out: CellRepeatResult[] = [];
  for (const rows of byCell.values()) {
    const byConfig = groupBy(
      rows,
      (r) =>
        canonicalJson({ resolved: keyedCell(r.resolved), code: r.codeVersion, data: r.datasetManifestHash }),
    );
    let latest: CellRepeatResult[] = [];
    let latestTime = -Infinity;
    for (const group of byConfig.values()) {
      const t = Math.max(...group.map((r) => Date.parse(r.provenance.finishedAt)));
      if (t > latestTime) [latest, latestTime] = [group, t];
    }
    out.push(...latest);
  }
  return out;
}

export function groupBy<T>(xs: readonly T[], keyOf: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = keyOf(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}
