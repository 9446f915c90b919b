/**
 * The built-in tables: every data file experiments/<paper>/<table>.yaml (or .yml/.json), addressable as
 * "<paper>/<table>". Adding a table is adding a file: the registry finds it, and the file's `id` must
 * be its folder and name. Files are read, validated and expanded by the one spec loader when this module
 * loads; the registry cross-checks (methods, datasets, models, configs) run in cross_check.ts, because the
 * methods as the tables see them (methods.ts: paper-only rows) are read from these tables.
 */
import { basename, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TableSpec } from "./schema.ts";
import { parseTableFile, SPEC_EXTENSIONS, SpecError } from "./spec_file.ts";

/** Folders of experiments/ that hold no paper's tables. */
const NOT_PAPERS = new Set(["examples"]);

export interface BuiltinTable {
  spec: TableSpec;
  /** Where the file is, and how messages name it (relative to the repository). */
  path: string;
  name: string;
}

const byName = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });

function isSpecFile(name: string): boolean {
  return (SPEC_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

/**
 * Every table file in the paper folders of `dir` (every subfolder but examples/): papers in name order,
 * each paper's tables in natural order (table2 before table10). `dir` is experiments/ for the built-ins.
 */
export function loadTableFolders(dir: string): BuiltinTable[] {
  const papers = [...Deno.readDirSync(dir)]
    .filter((e) => e.isDirectory && !NOT_PAPERS.has(e.name))
    .map((e) => e.name)
    .sort(byName);
  const out: BuiltinTable[] = [];
  const seen = new Map<string, string>();
  for (const paper of papers) {
    const files = [...Deno.readDirSync(join(dir, paper))]
      .filter((e) => e.isFile && isSpecFile(e.name))
      .map((e) => e.name)
      .sort(byName);
    for (const file of files) {
      const path = join(dir, paper, file);
      const name = `${basename(dir)}/${paper}/${file}`;
      const id = `${paper}/${basename(file, extname(file))}`;
      const spec = parseTableFile(name, Deno.readTextFileSync(path), (t) => [
        ...(t.id === id
          ? []
          : [{ path: ["id"], message: `"${t.id}" must be "${id}" (the file's folder and name)` }]),
        ...(t.paper === paper
          ? []
          : [{ path: ["paper"], message: `"${t.paper}" must be "${paper}" (the file's folder)` }]),
      ]);
      const prev = seen.get(id);
      if (prev) throw new SpecError(name, [`$.id: "${id}" is already defined by ${prev}`]);
      seen.set(id, name);
      out.push({ spec, path, name });
    }
  }
  return out;
}

/** A broken built-in file, kept so that callers report it as a spec error rather than a crash at import. */
let loadError: SpecError | undefined;

function discoverOrKeepError(): BuiltinTable[] {
  const root = new URL("./", import.meta.url);
  // A remote import of ddrepro has no folder to list: it has no built-in tables (spec files still load).
  if (root.protocol !== "file:") return [];
  try {
    return loadTableFolders(fileURLToPath(root));
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    loadError = e;
    return [];
  }
}

export const builtinTableFiles: readonly BuiltinTable[] = discoverOrKeepError();

export const builtinTables: readonly TableSpec[] = builtinTableFiles.map((t) => t.spec);

/** Throws the SpecError of a built-in table file that failed to load (file, JSON path, line). */
export function assertBuiltinTablesLoaded(): void {
  if (loadError) throw loadError;
}

export function findTable(id: string): TableSpec | undefined {
  assertBuiltinTablesLoaded();
  return builtinTables.find((t) => t.id === id);
}
