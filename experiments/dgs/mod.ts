import type { TableSpec } from "../schema.ts";
import { table as table1 } from "./table1.ts";
import { table as table2 } from "./table2.ts";
import { table as table3 } from "./table3.ts";
import { table as table4 } from "./table4.ts";

/** Every result table of the paper, in paper order. */
export const tables: TableSpec[] = [table1, table2, table3, table4];
