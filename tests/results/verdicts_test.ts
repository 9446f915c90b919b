import { deepStrictEqual as eq, ok } from "node:assert";
import type { ClaimSpec } from "../../experiments/schema.ts";
import {
  comparePair,
  DEFAULT_VERDICT_OPTIONS,
  evaluateCell,
  evaluateClaim,
  evaluateTable,
  selectLatest,
} from "../../results/verdicts.ts";
import { demoTable, fakeResult, repeats } from "./_fixtures.ts";

const cell = demoTable().cells[1]; // dm-10, claimed 48.9 ± 0.6
const s = (id: string, values: number[]) => ({ id, values });

Deno.test("cell verdict: reproduced within max(tol, 2·sqrt(σc² + σr²))", () => {
  const v = evaluateCell(cell, [48.0, 48.4, 48.2], "paper");
  eq(v.status, "reproduced");
  // threshold = 2·sqrt(0.36 + 0.04) ≈ 1.265; Δ = −0.70
  ok(Math.abs((v.threshold ?? 0) - 2 * Math.sqrt(0.36 + 0.04)) < 1e-9);
  ok(
    v.explanation.includes("48.20") && v.explanation.includes("48.90") && v.explanation.includes("−0.70"),
  );
});

Deno.test("cell verdict: not reproduced reports the gap in points", () => {
  const v = evaluateCell(cell, [45.0, 45.2, 44.8], "paper");
  eq(v.status, "not reproduced");
  ok(Math.abs((v.delta ?? 0) + 3.9) < 1e-9);
  ok(v.explanation.includes("Δ −3.90") && v.explanation.includes("outside"), v.explanation);
});

Deno.test("cell verdict: other profiles are not comparable; missing numbers and runs are said so", () => {
  const quick = evaluateCell(cell, [30, 31], "quick");
  eq(quick.status, "not comparable");
  ok(quick.explanation.startsWith("profile ≠ paper: not comparable"));
  eq(evaluateCell(cell, [], "paper").status, "not run");
  const noClaim = evaluateCell(demoTable().cells[5], [60, 61], "paper");
  eq(noClaim.status, "no claim");
  ok(noClaim.explanation.includes("claimed: unavailable in source"));
  const single = evaluateCell(demoTable().cells[4], [52.3], "paper"); // paper std null, n = 1
  eq(single.status, "reproduced"); // |Δ| = 0.3 ≤ tolerance 0.5
  ok(single.explanation.includes("paper prints no std") && single.explanation.includes("single repeat"));
});

Deno.test("compare '>': reproduced / not reproduced / inconclusive / not run", () => {
  const yes = comparePair(s("a", [52.0, 52.3, 52.1]), s("b", [50.0, 50.4, 50.2]), ">");
  eq(yes.status, "reproduced");
  ok(yes.p !== null && yes.p < 0.05 && yes.explanation.includes("Welch"), yes.explanation);
  const no = comparePair(s("a", [50.0, 50.2, 50.1]), s("b", [52.0, 52.3, 52.1]), ">");
  eq(no.status, "not reproduced");
  const noisy = comparePair(s("a", [52.0, 49.0, 51.0]), s("b", [50.0, 51.5, 49.5]), ">");
  eq(noisy.status, "inconclusive");
  // b leads by more than the tolerance, but not significantly: still inconclusive, not "not reproduced".
  const bNoisy = comparePair(s("a", [50.0, 48.0, 52.0]), s("b", [51.0, 55.0, 47.5]), ">");
  eq(bNoisy.status, "inconclusive");
  eq(comparePair(s("a", [1, 2]), s("b", []), ">").status, "not run");
});

Deno.test("compare paired: matched by seed, decided by the paired t-test", () => {
  // A set and its own initialisation: the draw moves both by the same amount, the method adds ~2.
  const init = { id: "init", values: [91.8, 89.8, 88.7, 91.9], seeds: [0, 1, 2, 3] };
  const learned = { id: "dc", values: [91.2, 93.9, 92.1], seeds: [2, 0, 1] }; // stored out of order
  const welch = comparePair(learned, init, ">");
  eq(welch.status, "inconclusive"); // the draw's variance hides it
  const paired = comparePair(learned, init, ">", DEFAULT_VERDICT_OPTIONS, true);
  eq(paired.status, "reproduced", paired.explanation);
  ok(paired.explanation.includes("paired by seed (0, 1, 2)") && paired.explanation.includes("paired t="));
  ok(Math.abs((paired.diff ?? 0) - 2.3) < 1e-9, String(paired.diff)); // seed 3 has no partner
  // Pairing cannot turn a loss into a win.
  const worse = { id: "dc", values: [89.0, 87.5, 86.9], seeds: [0, 1, 2] };
  eq(comparePair(worse, init, ">", DEFAULT_VERDICT_OPTIONS, true).status, "not reproduced");
  // A small deficit: inconclusive, and the p it quotes is labelled as the test of init ahead.
  const flat = { id: "mtt", values: [91.5, 88.9, 88.7], seeds: [0, 1, 2] };
  const tie = comparePair(flat, init, ">", DEFAULT_VERDICT_OPTIONS, true);
  eq(tie.status, "inconclusive");
  ok(tie.explanation.includes("one-sided p (init ahead)="), tie.explanation);
  // No shared seed: nothing to pair.
  const apart = { id: "dc", values: [93, 94], seeds: [7, 8] };
  eq(comparePair(apart, init, ">", DEFAULT_VERDICT_OPTIONS, true).status, "inconclusive");
  let threw = false;
  try {
    comparePair(s("a", [1, 2]), s("b", [1, 2]), ">", DEFAULT_VERDICT_OPTIONS, true);
  } catch (e) {
    threw = String(e).includes("needs the seed");
  }
  ok(threw);
});

Deno.test("compare '>=': within tolerance is reproduced; a significant deficit is not", () => {
  eq(comparePair(s("a", [50.0, 50.1]), s("b", [50.3, 50.4]), ">=").status, "reproduced");
  eq(
    comparePair(s("a", [48.0, 48.1, 48.2]), s("b", [50.3, 50.4, 50.2]), ">=").status,
    "not reproduced",
  );
  eq(
    comparePair(s("a", [48.0, 51.0, 49.0]), s("b", [50.3, 48.0, 53.0]), ">=").status,
    "inconclusive",
  );
});

Deno.test("compare with a single repeat: no test, decided only beyond the stated margin", () => {
  const m = DEFAULT_VERDICT_OPTIONS.singleRepeatMargin;
  const small = comparePair(s("a", [51.0]), s("b", [50.0, 50.2]), ">");
  eq(small.status, "inconclusive");
  ok(
    small.explanation.includes("no significance test") && small.explanation.includes(`${m.toFixed(2)}-point`),
  );
  eq(comparePair(s("a", [55.0]), s("b", [50.0]), ">").status, "reproduced");
  eq(comparePair(s("a", [45.0]), s("b", [50.0]), ">").status, "not reproduced");
  eq(
    comparePair(s("a", [45.0]), s("b", [50.0]), ">", { ...DEFAULT_VERDICT_OPTIONS, singleRepeatMargin: 6 })
      .status,
    "inconclusive",
  );
});

const noKeys = () => undefined;

Deno.test("claim 'best': every pairwise comparison against the group; the worst part decides", () => {
  const claim: ClaimSpec = {
    kind: "best",
    id: "b",
    text: "ours is best",
    source: "§4",
    groups: [{ best: "o", among: ["o", "x", "y"] }],
  };
  const data: Record<string, number[]> = { o: [60, 60.2, 60.1], x: [55, 55.3, 55.1], y: [58, 58.1, 58.2] };
  const v = evaluateClaim(claim, (id) => s(id, data[id] ?? []), noKeys);
  eq(v.status, "reproduced");
  eq(v.parts.length, 2);
  data.y = [61, 61.2, 61.1];
  const v2 = evaluateClaim(claim, (id) => s(id, data[id] ?? []), noKeys);
  eq(v2.status, "not reproduced");
  ok(v2.explanation.includes("1 not reproduced") && v2.explanation.includes("o > y"), v2.explanation);
  delete data.x;
  eq(evaluateClaim(claim, (id) => s(id, data[id] ?? []), noKeys).status, "not reproduced");
  data.y = [58, 58.1, 58.2];
  eq(evaluateClaim(claim, (id) => s(id, data[id] ?? []), noKeys).status, "not run");
});

const trend: ClaimSpec = {
  kind: "trend",
  id: "t",
  text: "higher IPC prefers larger β",
  source: "Table 5",
  key: "beta",
  groups: [
    { order: 50, cells: ["b1-50", "b3-50"] },
    { order: 1, cells: ["b1-1", "b3-1"] },
  ],
};
const beta: Record<string, number> = { "b1-1": 0.1, "b3-1": 0.3, "b1-50": 0.1, "b3-50": 0.3 };
const keyOf = (id: string, key: string) => (key === "beta" ? beta[id] : undefined);

Deno.test("claim 'trend': reproduced / not reproduced / inconclusive / not run", () => {
  const run = (data: Record<string, number[]>) => evaluateClaim(trend, (id) => s(id, data[id] ?? []), keyOf);
  const up = run({
    "b1-1": [30, 30.2, 30.1],
    "b3-1": [28, 28.1, 28.2],
    "b1-50": [60, 60.1, 60.2],
    "b3-50": [62, 62.1, 62.2],
  });
  eq(up.status, "reproduced");
  ok(up.explanation.includes("0.1 → 0.3"), up.explanation); // sorted by order, not by listing
  const down = run({
    "b1-1": [28, 28.1, 28.2],
    "b3-1": [30, 30.2, 30.1],
    "b1-50": [62, 62.1, 62.2],
    "b3-50": [60, 60.1, 60.2],
  });
  eq(down.status, "not reproduced");
  // Ambiguity at order 1 alone cannot break the trend (order 50 clearly picks the largest β) …
  const early = run({
    "b1-1": [30, 29, 31],
    "b3-1": [29.8, 30.5, 29.5],
    "b1-50": [60, 60.1, 60.2],
    "b3-50": [62, 62.1, 62.2],
  });
  eq(early.status, "reproduced");
  // … but ties at both ends admit both a rising and a falling reading.
  const tie = run({
    "b1-1": [30, 29, 31],
    "b3-1": [29.8, 30.5, 29.5],
    "b1-50": [61.9, 62.3, 61.8],
    "b3-50": [62, 62.1, 62.2],
  });
  eq(tie.status, "inconclusive");
  eq(tie.parts.find((p) => p.label === "order 1")?.status, "inconclusive");
  const missing = run({ "b1-1": [30, 30.2], "b3-1": [28, 28.1] });
  eq(missing.status, "not run");
  const noKey = evaluateClaim(trend, (id) => s(id, [1, 2]), () => "big");
  eq(noKey.status, "inconclusive");
  ok(noKey.explanation.includes('no numeric config "beta"'), noKey.explanation);
});

Deno.test("evaluateTable: filters by table and profile, picks the metric from the selection rule", () => {
  const results = [
    ...repeats("ours-1", [33.0, 33.2, 33.1]),
    ...repeats("dm-1", [26.0, 26.3, 25.9]),
    ...repeats("ours-10", [50.0, 50.2]),
    ...repeats("dm-10", [50.1, 50.3], { profile: "quick" }), // other profile: invisible
    ...repeats("dm-1", [90, 91], { tableId: "other/table" }), // other table: invisible
  ];
  const v = evaluateTable(demoTable(), results, { profile: "paper" });
  eq(v.metric, "lastTestAcc");
  const byId = Object.fromEntries(v.cells.map((c) => [c.cellId, c]));
  eq(byId["dm-1"].reproduced?.n, 3);
  eq(byId["dm-10"].status, "not run");
  eq(byId["ours-1"].status, "not reproduced"); // 33.1 vs 30.0
  eq(v.claims[0].status, "not run"); // the IPC-10 pair lacks dm-10 under `paper`
  eq(v.claims[0].parts[0].status, "reproduced");

  const bestTest = demoTable({
    protocol: { evaluator: "x", selection: "best-test", repeats: 3, details: "" },
  });
  const r = fakeResult({ cellId: "dm-1", acc: 20, metrics: { bestTestAcc: 26.0 } });
  const vb = evaluateTable(bestTest, [r], { profile: "paper", tolerance: 0.1 });
  eq(vb.metric, "bestTestAcc");
  eq(vb.cells[0].reproduced?.mean, 26.0);
  eq(vb.options.tolerance, 0.1);
});

Deno.test("trend keys come from the cell spec's config, else from the runs' method config", () => {
  const table = demoTable({
    claims: [{
      kind: "trend",
      id: "t",
      text: "t",
      source: "s",
      key: "beta",
      groups: [{ order: 1, cells: ["dm-1", "ours-1"] }, { order: 10, cells: ["dm-10", "ours-10"] }],
    }],
  });
  const results = [
    ...repeats("dm-1", [30, 30.1], { methodConfig: { beta: 0.1 } }),
    ...repeats("ours-1", [20, 20.1], { methodConfig: { beta: 0.5 } }),
    ...repeats("dm-10", [40, 40.1], { methodConfig: { beta: 0.1 } }),
    ...repeats("ours-10", [50, 50.1], { methodConfig: { beta: 0.5 } }),
  ];
  eq(evaluateTable(table, results, { profile: "paper" }).claims[0].status, "reproduced");
});

Deno.test("claim 'decrease': paired by repeat on two distill metrics of each cell", () => {
  const table = demoTable({
    claims: [{
      kind: "decrease",
      id: "cmi-falls",
      text: "the regularizer lowers the set's CMI",
      source: "Table 10",
      from: "cmiStart",
      to: "cmiEnd",
      cells: ["ours-10", "ours-1"],
    }],
  });
  const cmi = (pairs: [number, number][], cellId = "ours-10") =>
    pairs.map(([cmiStart, cmiEnd], repeat) =>
      fakeResult({ cellId, acc: 50, repeat, distillMetrics: { cmiStart, cmiEnd } })
    );
  const verdict = (results: ReturnType<typeof cmi>) =>
    evaluateTable(table, [...results, ...cmi([[3, 2], [4, 2.9]], "ours-1")], { profile: "paper" }).claims[0];

  const falls = verdict(cmi([[0.0304, 0.0298], [0.0266, 0.0261], [0.0314, 0.0306]]));
  eq(falls.status, "reproduced");
  const part = falls.parts[0];
  ok(
    part.explanation.includes("lower at 3 of 3") && part.explanation.includes("paired t="),
    part.explanation,
  );
  ok(
    part.explanation.includes("0.02947 → 0.02883") && part.explanation.includes("−2.15 %"),
    part.explanation,
  );

  // Rising at every repeat refutes it; a mixed record is inconclusive.
  eq(verdict(cmi([[0.0304, 0.0316], [0.0266, 0.0281], [0.0256, 0.0270]])).status, "not reproduced");
  eq(verdict(cmi([[0.0304, 0.0298], [0.0266, 0.0281], [0.0314, 0.0306]])).status, "inconclusive");

  // Only repeats that recorded both metrics are paired; fewer than two cannot be tested.
  const partial = cmi([[0.0304, 0.0298], [0.0266, 0.0261]]);
  partial.push(fakeResult({ cellId: "ours-10", acc: 50, repeat: 2 }));
  ok(
    verdict(partial).parts[0].explanation.includes("seeds 1000, 1001;"),
    verdict(partial).parts[0].explanation,
  );
  const unmeasured = verdict(repeats("ours-10", [50, 51]));
  eq(unmeasured.status, "inconclusive");
  ok(
    unmeasured.parts[0].explanation.includes("0 repeat(s) recorded both"),
    unmeasured.parts[0].explanation,
  );
  eq(verdict([]).status, "not run");
  eq(verdict([]).parts[1].status, "reproduced");
  // Its cells are checked like every claim's.
  const bad = { ...table.claims[0], cells: ["ours-10", "nope"] };
  const err = String(demoTableError({ claims: [bad] }));
  ok(err.includes("unknown cell id") && err.includes("nope"), err);
});

function demoTableError(overrides: Parameters<typeof demoTable>[0]): unknown {
  try {
    demoTable(overrides);
  } catch (e) {
    return e;
  }
  return null;
}

Deno.test("selectLatest keeps only the newest configuration of each cell", () => {
  const old = repeats("dm-10", [40, 41, 42], { codeVersion: "m1", finishedAt: "2025-01-01T00:00:00.000Z" });
  const fresh = repeats("dm-10", [48, 49], { codeVersion: "m2", finishedAt: "2025-02-01T00:00:00.000Z" });
  const other = repeats("dm-1", [26], { codeVersion: "m1" });
  const kept = selectLatest([...old, ...fresh, ...other]);
  eq(kept.map((r) => r.key).sort(), [...fresh, ...other].map((r) => r.key).sort());
});
