/** Planning: filters, shard parsing and the shard partition. */
import { deepStrictEqual as eq, ok, throws } from "node:assert";
import { parseFilter, parseShard, planTable } from "../../runner/plan.ts";
import { closeMatches, editDistance } from "../../runner/suggest.ts";
import { findTable } from "../../experiments/registry.ts";
import { tinyTable } from "./_fixtures.ts";

Deno.test("plan: --shard k/n is validated", () => {
  eq(parseShard("2/3"), { k: 2, n: 3 });
  for (const bad of ["0/2", "3/2", "1", "a/b", "1/0", "-1/2"]) throws(() => parseShard(bad), /invalid shard/);
});

Deno.test("plan: filters match fields (with alternatives) and id substrings", () => {
  const t = tinyTable();
  const ids = (f: string) => t.cells.filter(parseFilter(f).matches).map((c) => c.id);
  eq(ids("method=random"), ["r1", "r1-resnet", "r2"]);
  eq(ids("ipc=1|full"), ["r1", "r1-resnet", "full", "dgs1"]);
  eq(ids("method=random,model=resnet18"), ["r1-resnet"]);
  eq(ids("resnet"), ["r1-resnet"]);
  throws(() => parseFilter("colour=red"), /unknown field "colour"/);
  throws(() => parseFilter(" , "), /empty filter/);
});

Deno.test("plan: shards partition the planned repeats round-robin, independent of the store", () => {
  const t = findTable("igds/table1")!;
  const whole = planTable(t, "quick");
  ok(whole.total > 0);
  const parts = [1, 2, 3].map((k) => planTable(t, "quick", { shard: { k, n: 3 } }));
  const idx = parts.flatMap((p) => p.repeats.map((r) => r.index)).sort((a, b) => a - b);
  eq(idx, whole.repeats.map((r) => r.index));
  for (const p of parts) ok(Math.abs(p.repeats.length - whole.total / 3) <= 1);
  eq(whole.skipped.length + new Set(whole.repeats.map((r) => r.plan.resolved.cellId)).size, t.cells.length);
});

Deno.test("plan: values no cell can have are refused; a filter matching no cell names it and close values", () => {
  throws(() => parseFilter("method="), /filter term "method=": empty value/);
  throws(() => parseFilter("ipc=1|"), /empty value/);
  throws(() => parseFilter("ipc=abc"), /"abc" is not an IPC/);
  throws(() => parseFilter("ipc=0"), /"0" is not an IPC/);
  throws(() => parseFilter("labels=medium"), /labels are "hard" or "soft"/);
  const t = tinyTable();
  throws(
    () => planTable(t, "smoke", { filter: parseFilter("garbage") }),
    /filter "garbage" matches no cell of test\/tiny: no cell id contains "garbage"/,
  );
  throws(() => planTable(t, "smoke", { filter: parseFilter("r1x") }), /no cell id contains "r1x"; close: r1/);
  throws(() => planTable(t, "smoke", { filter: parseFilter("method=randon") }), /close: random$/);
  throws(
    () => planTable(t, "smoke", { filter: parseFilter("model=vgg") }),
    /model values in this table: convnet3, resnet18$/,
  );
  throws(
    () => planTable(t, "smoke", { filter: parseFilter("method=dgs,ipc=2") }),
    /each of its terms matches some cell, but no cell matches all of them/,
  );
  eq(planTable(t, "smoke", { filter: parseFilter("r1") }).cells.length, 2);
});

Deno.test("closeMatches: near misses within a third of the length, closest first", () => {
  eq(closeMatches("dn", ["dm", "dc", "mtt", "idm"]), ["dc", "dm"]);
  eq(closeMatches("herdng", ["herding", "random", "k-center"]), ["herding"]);
  eq(closeMatches("ipc10-dm", ["mnist-ipc10-dm", "mnist-ipc1-dc"], { substring: true }), [
    "mnist-ipc10-dm",
    "mnist-ipc1-dc",
  ]);
  eq(closeMatches("zzz", ["dm"]), []);
  eq(editDistance("kitten", "sitting"), 3);
});
