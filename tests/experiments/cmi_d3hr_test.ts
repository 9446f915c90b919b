/**
 * The CMI and D³HR table specs against their seed papers: every spec parses, every claim parses and holds
 * on the paper's own numbers, and every claimed number is found, as printed, in the text of its table.
 * The last check is what catches transcription typos, so it covers every cell, not a sample.
 */
import { deepStrictEqual as eq, match, ok } from "node:assert";
import {
  type CellSpec,
  claimCells,
  ClaimSpec,
  type TableSpec,
  TableSpec as TableSchema,
} from "../../experiments/schema.ts";
import { builtinTables } from "../../experiments/registry.ts";
import { needsSeeds, seedText } from "./_seeds.ts";

interface Paper {
  name: string;
  seed: string;
  tables: TableSpec[];
  /** CMI prints captions above its tables, D³HR's extraction puts them below. */
  captionFirst: boolean;
  /** Expected cell count per table id: guards against rows silently dropped or duplicated. */
  cellCounts: Record<string, number>;
}

const papers: Paper[] = [
  {
    name: "cmi",
    seed: "002_e76cef5110d21682.txt",
    tables: builtinTables.filter((t) => t.paper === "cmi"),
    captionFirst: true,
    cellCounts: {
      "cmi/table1": 117,
      "cmi/table2": 17,
      "cmi/table3": 17,
      "cmi/table4": 6,
      "cmi/table5": 18,
      "cmi/table6": 27,
      "cmi/table7": 8,
      "cmi/table8": 8,
      "cmi/table9": 16,
      "cmi/table10": 20,
      "cmi/table11": 20,
    },
  },
  {
    name: "d3hr",
    seed: "004_65fa85c4cad8ee68.txt",
    tables: builtinTables.filter((t) => t.paper === "d3hr"),
    captionFirst: false,
    cellCounts: {
      "d3hr/table1": 96,
      "d3hr/table2": 24,
      "d3hr/table3": 9,
      "d3hr/table4": 8,
      "d3hr/table5": 12,
      "d3hr/tablea1": 0,
      "d3hr/tablea2": 5,
      "d3hr/tablea3": 5,
      "d3hr/tablea4": 5,
      "d3hr/tablea5": 7,
      "d3hr/tablea6": 24,
      "d3hr/tablea7": 20,
      "d3hr/tablea8": 72,
      "d3hr/tablea9": 7,
      "d3hr/tablea10": 7,
      "d3hr/tablea11": 4,
    },
  },
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A number as the paper may print it: 62.5 matches "62.5" or "62.50", 0 matches "0" or "0.0". */
function numberPattern(n: number): string {
  const [int, frac] = String(n).split(".");
  return frac === undefined ? `${escape(int)}(?:\\.0+)?` : `${escape(int)}\\.${frac}0*`;
}

/** "mean±std" (any spacing) where std is printed, else a bare mean not followed by "±". */
function claimedPattern(c: NonNullable<CellSpec["claimed"]>): RegExp {
  const mean = `(?<![\\d.])${numberPattern(c.mean)}`;
  return c.std === null
    ? new RegExp(`${mean}(?![.\\d])(?!\\s*±)`)
    : new RegExp(`${mean}\\s*±\\s*${numberPattern(c.std)}(?![.\\d])`);
}

/** The text between a table's caption and its neighbouring caption, where the table's numbers live. */
function tableWindow(text: string, label: string, captionFirst: boolean): string {
  const captions = [...text.matchAll(/^\s*Table [A-Z]?\d+[.:]/gm)].map((m) => m.index);
  const own = text.search(new RegExp(`^\\s*${escape(label)}[.:]`, "m"));
  ok(own >= 0, `caption of ${label} not found in the seed`);
  const i = captions.indexOf(own);
  ok(i >= 0, `caption of ${label} not located`);
  return captionFirst
    ? text.slice(own, captions[i + 1] ?? text.length)
    : text.slice(i > 0 ? captions[i - 1] : 0, own + label.length + 1);
}

for (const paper of papers) {
  Deno.test(`${paper.name}: every table is present, in order, and parses`, () => {
    // The paper's encoded tables, in paper order (a table added later may follow them).
    const ids = paper.tables.map((t) => t.id);
    eq(ids.filter((id) => id in paper.cellCounts), Object.keys(paper.cellCounts));
    for (const t of paper.tables.filter((t) => t.id in paper.cellCounts)) {
      TableSchema.parse(t);
      eq(t.paper, paper.name);
      eq(t.cells.length, paper.cellCounts[t.id], `${t.id}: cell count`);
      for (const c of t.cells) {
        if (c.claimed === null) ok(c.claimedNote, `${t.id}/${c.id}: null claim without claimedNote`);
      }
    }
  });

  Deno.test(`${paper.name}: every claimed number is printed in its table`, needsSeeds, () => {
    const text = seedText(paper.seed);
    for (const t of paper.tables) {
      const window = tableWindow(text, t.table, paper.captionFirst);
      for (const c of t.cells) {
        if (c.claimed === null) continue;
        const shown = `${c.claimed.mean}${c.claimed.std === null ? "" : `±${c.claimed.std}`}`;
        match(window, claimedPattern(c.claimed), `${t.id}/${c.id}: ${shown} not found in ${t.table}`);
      }
    }
  });

  Deno.test(`${paper.name}: every claim parses and holds on the paper's own numbers`, () => {
    for (const t of paper.tables) {
      if (t.cells.every((c) => c.claimed === null)) {
        // A figure (values plotted only): its claims come from the text; they must name its cells.
        const ids = new Set(t.cells.map((c) => c.id));
        for (const raw of t.claims) {
          for (const id of claimCells(ClaimSpec.parse(raw))) ok(ids.has(id), `${t.id}: no cell ${id}`);
        }
        continue;
      }
      const mean = new Map(t.cells.map((c) => [c.id, c.claimed?.mean]));
      const std = new Map(t.cells.map((c) => [c.id, c.claimed?.std ?? 0]));
      const noise = (id: string) => std.get(id) ?? 0;
      const of = (id: string) => {
        const m = mean.get(id);
        ok(m !== undefined, `${t.id}: claim cell ${id} has no number`);
        return m;
      };
      for (const raw of t.claims) {
        const claim = ClaimSpec.parse(raw);
        const where = `${t.id}/${claim.id}`;
        if (claim.kind === "compare") {
          for (const p of claim.pairs) {
            // ">=" means "not worse within noise": allow the printed stds of both cells.
            const holds = p.relation === ">"
              ? of(p.a) > of(p.b)
              : of(p.a) + noise(p.a) + noise(p.b) >= of(p.b);
            ok(holds, `${where}: ${p.a} ${p.relation} ${p.b} fails on printed numbers`);
          }
        } else if (claim.kind === "best") {
          for (const g of claim.groups) {
            ok(g.among.includes(g.best), `${where}: best cell ${g.best} not in its group`);
            for (const o of g.among) ok(of(g.best) >= of(o), `${where}: ${o} beats ${g.best}`);
          }
        } else {
          for (const id of claimCells(claim)) of(id);
        }
      }
    }
  });
}
