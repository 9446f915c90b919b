/**
 * The one loader of table files, built-in (experiments/<paper>/*.yaml) and user-defined alike: text →
 * JSON/YAML (core schema, no custom tags) → the file schema → grids expanded into cells → the table
 * schema (unique ids, claims on existing cells) → optional cross-checks. Every error names the file, the
 * JSON path of the field as written in the file (and its line for YAML) and what was expected.
 */
import { extname } from "node:path";
import { isNode, LineCounter, parseDocument } from "yaml";
import { CellSpec, GridItem, TableFile, TableSpec } from "./schema.ts";
import { type CellOrigin, expandGrid, type Path, type Problem, sourceOf } from "./grid.ts";

export type { Problem } from "./grid.ts";

export const SPEC_EXTENSIONS = [".json", ".yaml", ".yml"] as const;

export class SpecError extends Error {
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(
      problems.length === 1
        ? `spec ${file}: ${problems[0]}`
        : `spec ${file}: ${problems.length} problems:\n` + problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "SpecError";
  }
}

/** "$.cells[3].ipc" from a zod/YAML path. */
export function jsonPath(path: readonly PropertyKey[]): string {
  return "$" +
    path.map((k) =>
      typeof k === "number"
        ? `[${k}]`
        : /^[A-Za-z_$][\w$]*$/.test(String(k))
        ? `.${String(k)}`
        : `[${JSON.stringify(String(k))}]`
    ).join("");
}

interface Parsed {
  value: unknown;
  /** Line number of a path, when the format has lines to point at. */
  lineOf(path: readonly PropertyKey[]): number | null;
}

function parseText(file: string, text: string): Parsed {
  const ext = extname(file).toLowerCase();
  if (ext === ".json") {
    try {
      return { value: JSON.parse(text), lineOf: () => null };
    } catch (e) {
      throw new SpecError(file, [`not valid JSON: ${e instanceof Error ? e.message : e}`]);
    }
  }
  if (ext === ".yaml" || ext === ".yml") {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { schema: "core", uniqueKeys: true, lineCounter, prettyErrors: true });
    if (doc.errors.length) {
      throw new SpecError(file, doc.errors.map((e) => `not valid YAML: ${e.message.split("\n")[0]}`));
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // The yaml package refuses aliases that expand without bound ("billion laughs") here.
      const why = e instanceof Error ? e.message : String(e);
      throw new SpecError(file, [
        /alias/i.test(why)
          ? `YAML aliases expand too much (${why}); write the values out instead of nesting aliases`
          : `not valid YAML: ${why}`,
      ]);
    }
    return {
      value,
      lineOf(path) {
        // Walk up to the nearest existing node (a missing field points at its parent).
        for (let n = path.length; n >= 0; n--) {
          const node = doc.getIn(path.slice(0, n) as unknown[], true);
          if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
        }
        return null;
      },
    };
  }
  throw new SpecError(file, [`unsupported extension "${ext}": spec files are ${SPEC_EXTENSIONS.join(", ")}`]);
}

/** zod's "expected string, received undefined" reads better as a missing field. */
export function issueText(message: string): string {
  const m = /^Invalid input: expected (.+), received undefined$/.exec(message);
  return m ? `missing (expected ${m[1]})` : message;
}

/**
 * One line per place and message: the cells of a grid that share a problem (a row's unknown method) are
 * named together instead of once per column.
 */
function merged(problems: readonly Problem[]): Problem[] {
  const out = new Map<string, Problem & { cells: string[] }>();
  for (const p of problems) {
    const k = JSON.stringify([p.path, p.message]);
    const prev = out.get(k);
    if (prev) prev.cells.push(...(p.cells ?? []));
    else out.set(k, { ...p, cells: [...(p.cells ?? [])] });
  }
  return [...out.values()].map((p) => {
    if (p.cells.length === 0) return p;
    const shown = p.cells.slice(0, 3).join(", ") +
      (p.cells.length > 3 ? ` and ${p.cells.length - 3} more` : "");
    return { path: p.path, message: `${p.cells.length === 1 ? "cell" : "cells"} ${shown}: ${p.message}` };
  });
}

/** Checks of an expanded table beyond its schema (registries, method configs); paths into the table. */
export type TableCheck = (spec: TableSpec) => Problem[];

/**
 * Parses, validates and expands one table file's text (`file` names it in messages and picks JSON or
 * YAML by its extension), then runs `check` on the expanded table.
 */
export function parseTableFile(file: string, text: string, check?: TableCheck): TableSpec {
  const parsed = parseText(file, text);
  const at = (path: readonly PropertyKey[]) => {
    const line = parsed.lineOf(path);
    return `${jsonPath(path)}${line !== null ? ` (line ${line})` : ""}`;
  };
  const fail: (problems: Problem[]) => never = (problems) => {
    throw new SpecError(file, merged(problems).map((p) => `${at(p.path)}: ${p.message}`));
  };
  const zodProblems = (issues: readonly { path: readonly PropertyKey[]; message: string }[], prefix: Path) =>
    issues.map((i) => ({
      path: [...prefix, ...i.path.map((k) => (typeof k === "number" ? k : String(k)))],
      message: issueText(i.message),
    }));

  const head = TableFile.safeParse(parsed.value);
  if (!head.success) fail(zodProblems(head.error.issues, []));
  const written = head.data;

  // Cells as written: explicit cells and grids (told apart by their `grid` key), expanded in order.
  const cells: Record<string, unknown>[] = [];
  const origins: CellOrigin[] = [];
  const problems: Problem[] = [];
  written.cells.forEach((item, i) => {
    const isGrid = item !== null && typeof item === "object" && !Array.isArray(item) && "grid" in item;
    if (isGrid) {
      const g = GridItem.safeParse(item);
      if (!g.success) return problems.push(...zodProblems(g.error.issues, ["cells", i]));
      const x = expandGrid(g.data.grid, ["cells", i, "grid"]);
      problems.push(...x.problems);
      cells.push(...x.cells);
      origins.push(...x.origins);
    } else {
      const c = CellSpec.safeParse(item);
      if (!c.success) return problems.push(...zodProblems(c.error.issues, ["cells", i]));
      cells.push(c.data);
      origins.push({
        at: ["cells", i],
        fields: new Map(Object.keys(c.data).map((k) => [k, ["cells", i, k]])),
      });
    }
  });
  if (problems.length) fail(problems);

  // Problems of the expanded table point back to where the file wrote the offending field.
  const toFile = (p: Problem): Problem => {
    if (p.path[0] !== "cells" || typeof p.path[1] !== "number") return p;
    const origin = origins[p.path[1]];
    const rest = p.path.slice(2);
    const src = sourceOf(origin, rest);
    const field = rest.join(".");
    const message = src.found || rest.length === 0
      ? p.message
      : rest.length === 1 && !(String(rest[0]) in cells[p.path[1]])
      ? `missing ${field}: set it on the grid, the column or the row (${
        p.message.replace(/^Invalid (option|input): /, "")
      })`
      : `${field}: ${p.message}`;
    return { path: src.path, message, ...(origin.label ? { cells: [origin.label] } : {}) };
  };
  const table = TableSpec.safeParse({ ...written, cells });
  if (!table.success) fail(zodProblems(table.error.issues, []).map(toFile));
  const spec = table.data;
  const checked = check?.(spec) ?? [];
  if (checked.length) fail(checked.map(toFile));
  return spec;
}
