import type { TableSpec } from "../schema.ts";
import { table as table1 } from "./table1.ts";
import { table as table2 } from "./table2.ts";
import { table as table3 } from "./table3.ts";
import { table as table4 } from "./table4.ts";
import { table as table5 } from "./table5.ts";
import { table as tablea1 } from "./tablea1.ts";
import { table as tablea2 } from "./tablea2.ts";
import { table as tablea3 } from "./tablea3.ts";
import { table as tablea4 } from "./tablea4.ts";
import { table as tablea5 } from "./tablea5.ts";
import { table as tablea6 } from "./tablea6.ts";
import { table as tablea7 } from "./tablea7.ts";
import { table as tablea8 } from "./tablea8.ts";
import { table as tablea9 } from "./tablea9.ts";
import { table as tablea10 } from "./tablea10.ts";
import { table as tablea11 } from "./tablea11.ts";

/** Every result table of the paper, in paper order (main text, then appendix). */
export const tables: TableSpec[] = [
  table1,
  table2,
  table3,
  table4,
  table5,
  tablea1,
  tablea2,
  tablea3,
  tablea4,
  tablea5,
  tablea6,
  tablea7,
  tablea8,
  tablea9,
  tablea10,
  tablea11,
];
