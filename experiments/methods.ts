/**
 * Methods as the tables see them: the registry's (methods/registry.ts), plus a not-implemented entry for
 * every id a built-in table names that ddrepro does not implement (a paper-only row), so a cell naming it
 * resolves as "not implemented" rather than "unknown".
 */
import type { AnyMethod } from "../methods/types.ts";
import { findMethod, listMethods, notImplemented } from "../methods/registry.ts";
import { builtinTables } from "./registry.ts";

const paperOnly: ReadonlyMap<string, AnyMethod> = new Map(
  [...new Set(builtinTables.flatMap((t) => t.cells.map((c) => c.method)))]
    .filter((id) => findMethod(id) === undefined)
    .map((id) => [id, notImplemented(id)]),
);

/** The method a cell names: the registry's, a paper-only row's entry, or undefined for an unknown id. */
export function cellMethod(id: string): AnyMethod | undefined {
  return findMethod(id) ?? paperOnly.get(id);
}

/** Every method the registry or a built-in table knows, by id. */
export function allMethods(): AnyMethod[] {
  return [...listMethods(), ...paperOnly.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** Ids of built-in tables whose cells use the method. */
export function tablesUsing(id: string): string[] {
  return builtinTables.filter((t) => t.cells.some((c) => c.method === id)).map((t) => t.id);
}
