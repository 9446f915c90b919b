/**
 * The built-in tables as data files: each experiments/<paper>/<table>.yaml, loaded and expanded by the
 * spec loader, equals the TypeScript spec it was generated from — every field of every cell, the claims
 * and the notes — and passes the same cross-checks as a user spec.
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { parseSpec } from "../../experiments/user_specs.ts";
import { builtinTables } from "../../experiments/registry.ts";

Deno.test("tables as data: every data file expands to its TypeScript spec", async () => {
  for (const t of builtinTables) {
    const [paper, name] = t.id.split("/");
    const file = new URL(`../../experiments/${paper}/${name}.yaml`, import.meta.url).pathname;
    const spec = parseSpec(file, await Deno.readTextFile(file));
    // A data file cannot hold an `undefined` member: compare with the spec as JSON.
    deepStrictEqual(spec, JSON.parse(JSON.stringify(t)), t.id);
  }
  equal(builtinTables.length, 39);
});
