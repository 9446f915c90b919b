/** Planning: filters, shard parsing and the shard partition. */
import { deepStrictEqual as eq, ok, throws } from "node:assert";
import { parseFilter, parseShard, planTable } from "../../runner/plan.ts";
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
  eq(ids("ipc=1|full"), ["r1", "r1-resnet", "full", "d4m1"]);
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
