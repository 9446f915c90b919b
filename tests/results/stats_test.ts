import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./_assert.ts";
import {
  lnGamma,
  mean,
  pairedTTest,
  regularizedIncompleteBeta,
  sampleStd,
  studentTCdf,
  summarize,
  welchTTest,
} from "../../results/stats.ts";

Deno.test("stats: mean, sample std, summary", () => {
  assertEquals(mean([1, 2, 3, 4]), 2.5);
  assertAlmostEquals(sampleStd([2, 4, 4, 4, 5, 5, 7, 9]), 2.138089935299395, 1e-12);
  assertEquals(summarize([3]), { n: 1, mean: 3, std: null });
  assert(Number.isNaN(sampleStd([3])));
  assertThrows(() => mean([]), RangeError);
});

Deno.test("stats: lnGamma and the regularized incomplete beta against closed forms", () => {
  assertAlmostEquals(lnGamma(5), Math.log(24), 1e-12);
  assertAlmostEquals(lnGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-12);
  assertAlmostEquals(regularizedIncompleteBeta(0.5, 2, 3), 0.6875, 1e-12); // 11/16
  assertAlmostEquals(regularizedIncompleteBeta(0.3, 1, 1), 0.3, 1e-12); // uniform
  assertAlmostEquals(regularizedIncompleteBeta(0.2, 2.5, 1), 0.2 ** 2.5, 1e-12); // I_x(a,1) = x^a
  assertAlmostEquals(
    regularizedIncompleteBeta(0.9, 0.5, 0.5),
    (2 / Math.PI) * Math.asin(Math.sqrt(0.9)),
    1e-12,
  );
  assertEquals(regularizedIncompleteBeta(0, 2, 3), 0);
  assertEquals(regularizedIncompleteBeta(1, 2, 3), 1);
});

Deno.test("stats: Student-t CDF at known values", () => {
  assertAlmostEquals(2 * (1 - studentTCdf(2.0, 10)), 0.0734, 1e-4); // the textbook two-sided p
  assertAlmostEquals(studentTCdf(1, 1), 0.75, 1e-12); // Cauchy
  assertAlmostEquals(studentTCdf(0, 7), 0.5, 1e-15);
  assertAlmostEquals(studentTCdf(2.228138851986, 10), 0.975, 1e-9); // t_{0.975,10}
  assertAlmostEquals(studentTCdf(-1.5, 3.7), 0.10679908460100675, 1e-12); // scipy.stats.t.cdf
  assertAlmostEquals(studentTCdf(1.959963984540054, 1e7), 0.975, 1e-6); // → normal
});

Deno.test("stats: Welch's t-test matches scipy.stats.ttest_ind(equal_var=False)", () => {
  const w = welchTTest([1, 2, 3, 4], [2, 3, 5, 6, 7]);
  assertAlmostEquals(w.t, -1.8585769002101518, 1e-12);
  assertAlmostEquals(w.df, 6.713660218465858, 1e-9);
  assertAlmostEquals(w.pTwoSided, 0.10722982623706426, 1e-10);
  assertAlmostEquals(w.pLess, 0.10722982623706426 / 2, 1e-10);
  assertAlmostEquals(w.pGreater + w.pLess, 1, 1e-12);
});

Deno.test("stats: Welch's t-test edge cases", () => {
  assertEquals(welchTTest([1, 1], [1, 1]).pTwoSided, 1);
  assertEquals(welchTTest([2, 2], [1, 1]).pGreater, 0);
  assertEquals(welchTTest([1, 1], [2, 2]).pLess, 0);
  assertThrows(() => welchTTest([1], [1, 2]), RangeError, "n ≥ 2");
});

Deno.test("stats: paired t-test matches scipy.stats.ttest_rel", () => {
  const r = pairedTTest([1, 2, 3, 4, 6], [0.5, 2.2, 2.1, 3.0, 4.4]);
  assertAlmostEquals(r.t, 2.553269934596904, 1e-12);
  assertEquals(r.df, 4);
  assertAlmostEquals(r.pTwoSided, 0.06308631035983578, 1e-10);
  assertAlmostEquals(r.pGreater, 0.03154315517991789, 1e-10);
  assertAlmostEquals(r.meanDiff, 0.76, 1e-12);
  // The same numbers unpaired: Welch cannot see the shared offsets.
  assert(welchTTest([1, 2, 3, 4, 6], [0.5, 2.2, 2.1, 3.0, 4.4]).pGreater > 0.2);
  assertEquals(pairedTTest([3, 5], [1, 3]).pGreater, 0); // constant difference: exact
  assertEquals(pairedTTest([1, 2], [1, 2]).pTwoSided, 1);
  assertThrows(() => pairedTTest([1, 2], [1]), RangeError, "equal lengths");
  assertThrows(() => pairedTTest([1], [1]), RangeError, "n ≥ 2");
});
