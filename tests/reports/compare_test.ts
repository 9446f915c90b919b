import { deepStrictEqual as eq, ok } from "node:assert";
import { compareResults, filterByGitSha, renderComparisonMarkdown } from "../../reports/compare.ts";
import { repeats } from "../results/_fixtures.ts";

Deno.test("compare: flags regressions beyond noise, not noise itself", () => {
  const base = [
    ...repeats("dm-1", [26.0, 26.2, 26.1]),
    ...repeats("dm-10", [48.0, 50.0, 49.0]),
    ...repeats("dm-50", [63.0, 63.1, 63.2]),
    ...repeats("ours-1", [30.0]),
    ...repeats("gone", [10, 11]),
  ];
  const head = [
    ...repeats("dm-1", [24.0, 24.2, 24.1], { codeVersion: "m2" }), // clear drop
    ...repeats("dm-10", [47.5, 49.5, 48.0], { codeVersion: "m2" }), // −0.67 within noise
    ...repeats("dm-50", [63.1, 63.0, 63.3], { codeVersion: "m2" }), // unchanged
    ...repeats("ours-1", [27.5], { codeVersion: "m2" }), // n = 1, beyond the 2-point margin
    ...repeats("new", [40, 41], { codeVersion: "m2" }),
  ];
  const c = compareResults(base, head);
  const by = Object.fromEntries(c.rows.map((r) => [r.cellId, r]));
  eq(by["dm-1"].status, "regression");
  ok((by["dm-1"].p ?? 1) < 0.05 && Math.abs((by["dm-1"].delta ?? 0) + 2) < 1e-9);
  eq(by["dm-10"].status, "uncertain");
  eq(by["dm-50"].status, "unchanged");
  eq(by["ours-1"].status, "regression");
  eq(by["new"].status, "new");
  eq(by["gone"].status, "removed");
  eq(c.counts.regression, 2);
  const md = renderComparisonMarkdown(c, { base: "abc", head: "def" });
  ok(
    md.includes("**regression**") && md.indexOf("dm-1") < md.indexOf("dm-50"),
    "regressions listed first",
  );
  ok(JSON.parse(JSON.stringify(c)).rows.length === 6, "JSON-able");
});

Deno.test("compare: results can be split by git sha", () => {
  const a = repeats("dm-1", [26], { gitSha: "aaaa" + "0".repeat(36) });
  const b = repeats("dm-1", [20], { gitSha: "bbbb" + "0".repeat(36), seed: 7 });
  eq(filterByGitSha([...a, ...b], "bbbb").map((r) => r.key), b.map((r) => r.key));
});
