/**
 * The built-in tables are data files; what each expands to is pinned here, as the sha256 of its canonical
 * JSON (tables.sha256.json), so an edit that changes a table — a cell, an id, a config, a claim, a note —
 * fails until the pin is updated on purpose:
 *
 *   DD_UPDATE_TABLE_PINS=1 deno test -A tests/experiments/tables_pin_test.ts
 *
 * The pins were taken from the TypeScript specs the data files replace (and a test checked each file's
 * expansion equal to its spec before those went), so they also prove the expansion unchanged since.
 * A new table needs no pin to load; it is listed as unpinned until one is added.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { builtinTableFiles, builtinTables } from "../../experiments/registry.ts";
import { checkBuiltinTables } from "../../experiments/user_specs.ts";
import { canonicalJson, sha256Hex } from "../../results/key.ts";

const PINS = new URL("./tables.sha256.json", import.meta.url);

const hashOf = (t: unknown) => sha256Hex(canonicalJson(t));

Deno.test("built-in tables: each expands exactly as pinned", async () => {
  const actual = Object.fromEntries(builtinTables.map((t) => [t.id, hashOf(t)]));
  if (Deno.env.get("DD_UPDATE_TABLE_PINS")) {
    await Deno.writeTextFile(PINS, JSON.stringify(actual, null, 2) + "\n");
  }
  const pinned: Record<string, string> = JSON.parse(await Deno.readTextFile(PINS));
  const changed = Object.keys(pinned).filter((id) => actual[id] !== pinned[id]);
  eq(
    changed.map((id) => `${id}: ${actual[id] === undefined ? "missing" : "changed"}`),
    [],
    "tables that no longer expand as pinned (DD_UPDATE_TABLE_PINS=1 updates the pins of intended changes)",
  );
  const unpinned = Object.keys(actual).filter((id) => !(id in pinned));
  if (unpinned.length) console.log(`not pinned yet: ${unpinned.join(", ")}`);
});

Deno.test("built-in tables: one data file per table, found in experiments/<paper>/, cross-checked", () => {
  ok(builtinTables.length >= 39, `${builtinTables.length} tables`);
  for (const t of builtinTableFiles) ok(t.name === `experiments/${t.spec.id}.yaml`, t.name);
  // The same registry checks as a user spec: every cell's method config is one its method accepts.
  checkBuiltinTables();
});
