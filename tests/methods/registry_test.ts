/** The method registry: one line per implemented method, planned methods say why, tables' ids resolve. */
import { deepStrictEqual as eq, ok, throws } from "node:assert";
import * as implemented from "../../methods/implemented.ts";
import { findMethod, listMethods, notImplemented, PLANNED } from "../../methods/registry.ts";
import { allMethods, cellMethod, tablesUsing } from "../../experiments/methods.ts";
import { builtinTables } from "../../experiments/registry.ts";
import { methodModule } from "../../runner/version.ts";
import { withRegularizer } from "../../methods/regularizer.ts";
import { CMI } from "../../methods/cmi.ts";
import { randomMethod } from "../../baselines/random.ts";
import { dmMethod } from "../../baselines/dm.ts";

Deno.test("registry: every line of implemented.ts is an implemented method with a module of its own", () => {
  const methods = Object.values(implemented);
  eq(new Set(methods.map((m) => m.id)).size, methods.length, "unique ids");
  for (const m of methods) {
    ok(m.implemented, m.id);
    eq(findMethod(m.id), m);
    ok(methodModule(m)?.endsWith(".ts"), `${m.id}: no module, so no code version`);
  }
});

Deno.test("registry: the planned list names no implemented method, and every unimplemented one says why", () => {
  for (const id of Object.keys(PLANNED)) {
    ok(!findMethod(id)?.implemented, `${id} is implemented but listed as planned`);
  }
  for (const m of allMethods().filter((m) => !m.implemented)) {
    ok((m.reason ?? "").length > 20, `${m.id}: ${m.reason}`);
  }
  ok(listMethods().every((m) => m.implemented || m.id in PLANNED), "the registry holds only real or planned");
});

Deno.test("registry: an id only the papers' tables name is a paper-only row; an unknown id is unknown", () => {
  const named = new Set(builtinTables.flatMap((t) => t.cells.map((c) => c.method)));
  for (const id of named) ok(cellMethod(id) !== undefined, id);
  const dream = cellMethod("dream");
  ok(dream && !dream.implemented && /paper-only/.test(dream.reason!), dream?.reason);
  ok(findMethod("dream") === undefined, "the registry itself does not know the tables");
  // Every seed method is implemented now (PLANNED is empty): a +cmi id on one says it adds no regularizer.
  ok(
    /dgs does not add a regularizer term/.test(notImplemented("dgs+cmi").reason ?? ""),
    "implemented base without a regularizer + cmi",
  );
  const sre2lCmi = cellMethod("sre2l+cmi");
  ok(
    !sre2lCmi?.implemented && /sre2l does not add a regularizer/.test(sre2lCmi?.reason ?? ""),
    "implemented base",
  );
  eq(cellMethod("no-such-method"), undefined);
  ok(tablesUsing("dm").length > 0 && tablesUsing("no-such-method").length === 0);
});

Deno.test("registry: a regularizer plug-in needs a base that adds it to its loss", () => {
  throws(() => withRegularizer(randomMethod, CMI), /does not add a regularizer/);
  const m = withRegularizer(dmMethod, CMI);
  eq(m.id, "dm+cmi");
  ok(m.schema.safeParse(m.defaults("mnist", 10)).success, "the base's and the plug-in's keys validate");
});
