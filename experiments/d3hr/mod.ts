import type { TableSpec } from "../schema.ts";

/** Every result table of the paper, in paper order. */
export const tables: TableSpec[] = [];
