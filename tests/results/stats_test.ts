import { deepStrictEqual as eq, ok, throws } from "node:assert";
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
  eq(mean([1, 2, 3, 4]), 2.5);
  ok(Math.abs(sampleStd([2, 4, 4, 4, 5, 5, 7, 9]) - (2.138089935299395)) <= 1e-12);
  eq(summarize([3]), { n: 1, mean: 3, std: null });
  ok(Number.isNaN(sampleStd([3])));
  throws(() => mean([]), RangeError);
});

Deno.test("stats: lnGamma and the regularized incomplete beta against closed forms", () => {
  ok(Math.abs(lnGamma(5) - (Math.log(24))) <= 1e-12);
  ok(Math.abs(lnGamma(0.5) - (Math.log(Math.sqrt(Math.PI)))) <= 1e-12);
  ok(Math.abs(regularizedIncompleteBeta(0.5, 2, 3) - (0.6875)) <= 1e-12); // 11/16
  ok(Math.abs(regularizedIncompleteBeta(0.3, 1, 1) - (0.3)) <= 1e-12); // uniform
  ok(Math.abs(regularizedIncompleteBeta(0.2, 2.5, 1) - (0.2 ** 2.5)) <= 1e-12); // I_x(a,1) = x^a
  ok(
    Math.abs(regularizedIncompleteBeta(0.9, 0.5, 0.5) - ((2 / Math.PI) * Math.asin(Math.sqrt(0.9)))) <= 1e-12,
  );
  eq(regularizedIncompleteBeta(0, 2, 3), 0);
  eq(regularizedIncompleteBeta(1, 2, 3), 1);
});

Deno.test("stats: Student-t CDF at known values", () => {
  ok(Math.abs(2 * (1 - studentTCdf(2.0, 10)) - (0.0734)) <= 1e-4); // the textbook two-sided p
  ok(Math.abs(studentTCdf(1, 1) - (0.75)) <= 1e-12); // Cauchy
  ok(Math.abs(studentTCdf(0, 7) - (0.5)) <= 1e-15);
  ok(Math.abs(studentTCdf(2.228138851986, 10) - (0.975)) <= 1e-9); // t_{0.975,10}
  ok(Math.abs(studentTCdf(-1.5, 3.7) - (0.10679908460100675)) <= 1e-12); // scipy.stats.t.cdf
  ok(Math.abs(studentTCdf(1.959963984540054, 1e7) - (0.975)) <= 1e-6); // → normal
});

Deno.test("stats: Welch's t-test matches scipy.stats.ttest_ind(equal_var=False)", () => {
  const w = welchTTest([1, 2, 3, 4], [2, 3, 5, 6, 7]);
  ok(Math.abs(w.t - (-1.8585769002101518)) <= 1e-12);
  ok(Math.abs(w.df - (6.713660218465858)) <= 1e-9);
  ok(Math.abs(w.pTwoSided - (0.10722982623706426)) <= 1e-10);
  ok(Math.abs(w.pLess - (0.10722982623706426 / 2)) <= 1e-10);
  ok(Math.abs(w.pGreater + w.pLess - (1)) <= 1e-12);
});

Deno.test("stats: Welch's t-test edge cases", () => {
  eq(welchTTest([1, 1], [1, 1]).pTwoSided, 1);
  eq(welchTTest([2, 2], [1, 1]).pGreater, 0);
  eq(welchTTest([1, 1], [2, 2]).pLess, 0);
  throws(() => welchTTest([1], [1, 2]), (e) => e instanceof RangeError && e.message.includes("n ≥ 2"));
});

Deno.test("stats: paired t-test matches scipy.stats.ttest_rel", () => {
  const r = pairedTTest([1, 2, 3, 4, 6], [0.5, 2.2, 2.1, 3.0, 4.4]);
  ok(Math.abs(r.t - (2.553269934596904)) <= 1e-12);
  eq(r.df, 4);
  ok(Math.abs(r.pTwoSided - (0.06308631035983578)) <= 1e-10);
  ok(Math.abs(r.pGreater - (0.03154315517991789)) <= 1e-10);
  ok(Math.abs(r.meanDiff - (0.76)) <= 1e-12);
  // The same numbers unpaired: Welch cannot see the shared offsets.
  ok(welchTTest([1, 2, 3, 4, 6], [0.5, 2.2, 2.1, 3.0, 4.4]).pGreater > 0.2);
  eq(pairedTTest([3, 5], [1, 3]).pGreater, 0); // constant difference: exact
  eq(pairedTTest([1, 2], [1, 2]).pTwoSided, 1);
  throws(
    () => pairedTTest([1, 2], [1]),
    (e) => e instanceof RangeError && e.message.includes("equal lengths"),
  );
  throws(() => pairedTTest([1], [1]), (e) => e instanceof RangeError && e.message.includes("n ≥ 2"));
});
