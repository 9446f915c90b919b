/** All built-in table specs, addressable as "<paper>/<table>". */
import { TableSpec } from "./schema.ts";
import { tables as igds } from "./igds/mod.ts";
import { tables as cmi } from "./cmi/mod.ts";
import { tables as dgs } from "./dgs/mod.ts";
import { tables as d3hr } from "./d3hr/mod.ts";

export const builtinTables: readonly TableSpec[] = [...igds, ...cmi, ...dgs, ...d3hr].map((t) =>
  TableSpec.parse(t)
);

export function findTable(id: string): TableSpec | undefined {
  return builtinTables.find((t) => t.id === id);
}
