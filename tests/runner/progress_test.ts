/** The run's ETA: reused repeats (rows sharing a substituted evaluation) are not counted as work left. */
import { deepStrictEqual as eq, ok } from "node:assert";
import { Eta, throttledLines } from "../../runner/progress.ts";
import { fmtDuration } from "../../data/progress.ts";

Deno.test("eta: NaN before any timed repeat, then mean time × distinct work left", () => {
  // 6 repeats, 3 table rows per computation: 2 distinct computations.
  const eta = new Eta(6, 2);
  ok(Number.isNaN(eta.remaining()));
  eta.done(30);
  eq(eta.remaining(), 30, "one computation left, not five repeats");
  eta.done(0, false);
  eta.done(0, false);
  eq(eta.remaining(), 30, "reused rows change nothing");
  eq(eta.label(), "3/6 ETA 30s");
  eta.done(10);
  eq(eta.remaining(), 0);
});

Deno.test("eta: without shared work every repeat is work", () => {
  const eta = new Eta(4);
  eta.done(60);
  eq(eta.remaining(), 180);
  eq(fmtDuration(3725), "1h02m");
});

Deno.test("status in a log: at most one line a minute, none in the first, clears dropped", () => {
  let t = 0;
  const out: string[] = [];
  const status = throttledLines((l) => out.push(l), 60_000, () => t);
  status("a"); // a short run prints nothing
  t = 59_999;
  status("b");
  eq(out, []);
  t = 60_000;
  status("c");
  status("d");
  status("");
  t = 119_999;
  status("e");
  t = 120_000;
  status("");
  status("f");
  eq(out, ["c", "f"]);
});
