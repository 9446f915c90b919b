import type { TableSpec } from "../schema.ts";
import { table as table1 } from "./table1.ts";
import { table as table2 } from "./table2.ts";
import { table as table3 } from "./table3.ts";
import { table as table4 } from "./table4.ts";
import { table as table5 } from "./table5.ts";
import { table as table6 } from "./table6.ts";
import { table as table7 } from "./table7.ts";
import { table as table8 } from "./table8.ts";

/** Every result table of the paper, in paper order. */
export const tables: TableSpec[] = [table1, table2, table3, table4, table5, table6, table7, table8];
