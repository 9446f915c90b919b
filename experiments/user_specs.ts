/**
 * User-defined tables: JSON or YAML files in the same format as the built-in tables, loaded by the same
 * loader (experiments/spec_file.ts) and cross-checked against the registries (experiments/cross_check.ts);
 * `TableCatalog` puts them next to the built-in tables.
 */
import { extname, join } from "node:path";
import type { TableSpec } from "./schema.ts";
import { parseTableFile, SPEC_EXTENSIONS, SpecError } from "./spec_file.ts";
import { crossCheck } from "./cross_check.ts";
import { assertBuiltinTablesLoaded, builtinTableFiles, builtinTables } from "./registry.ts";

export { jsonPath, SPEC_EXTENSIONS, SpecError } from "./spec_file.ts";
export { crossCheck, MIN_CLASS_SIZE } from "./cross_check.ts";

/** Parses, validates, expands and cross-checks one spec file's text (`file` is only used in messages). */
export function parseSpec(file: string, text: string): TableSpec {
  return parseTableFile(file, text, crossCheck);
}

/** Reads, parses and validates a spec file. */
export async function loadSpecFile(file: string): Promise<TableSpec> {
  let text: string;
  try {
    if ((await Deno.stat(file)).isDirectory) {
      throw new SpecError(file, [
        "is a folder; name a .json/.yaml file, or pass the folder with --include to load every spec in it",
      ]);
    }
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof SpecError) throw e;
    throw new SpecError(file, [
      e instanceof Deno.errors.NotFound
        ? "no such file"
        : `cannot read: ${e instanceof Error ? e.message : e}`,
    ]);
  }
  return parseSpec(file, text);
}

/** Every spec file (.json/.yaml/.yml) directly in `dir`, sorted by name; ids must be unique. */
export async function loadSpecDir(dir: string): Promise<{ spec: TableSpec; file: string }[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && (SPEC_EXTENSIONS as readonly string[]).includes(extname(e.name).toLowerCase())) {
        names.push(e.name);
      }
    }
  } catch (e) {
    throw new SpecError(dir, [
      e instanceof Deno.errors.NotFound
        ? "no such folder"
        : e instanceof Deno.errors.NotADirectory
        ? "is a file, not a folder (pass a spec file with --spec)"
        : `cannot read folder: ${e instanceof Error ? e.message : e}`,
    ]);
  }
  const specs: { spec: TableSpec; file: string }[] = [];
  const seen = new Map<string, string>();
  for (const name of names.sort()) {
    const file = join(dir, name);
    const spec = await loadSpecFile(file);
    const prev = seen.get(spec.id);
    if (prev) throw new SpecError(file, [`$.id: "${spec.id}" is already defined by ${prev}`]);
    seen.set(spec.id, file);
    specs.push({ spec, file });
  }
  return specs;
}

async function samePath(a: string, b: string): Promise<boolean> {
  try {
    return (await Deno.realPath(a)) === (await Deno.realPath(b));
  } catch {
    return false;
  }
}

let builtinsChecked = false;

/**
 * The built-in tables cross-checked like user specs (once per process), so a built-in cell whose method
 * rejects its config fails at load instead of being silently not runnable. The registry loads them
 * without this check because the method registry reads the built-in tables while it is being built.
 */
export function checkBuiltinTables(): void {
  if (builtinsChecked) return;
  assertBuiltinTablesLoaded();
  for (const t of builtinTableFiles) {
    // Loaded again only to point at the file's lines.
    if (crossCheck(t.spec).length) parseTableFile(t.name, Deno.readTextFileSync(t.path), crossCheck);
  }
  builtinsChecked = true;
}

/** Built-in tables plus user specs; a user id may not shadow a built-in one. */
export class TableCatalog {
  private readonly user = new Map<string, { spec: TableSpec; file: string }>();

  constructor() {
    checkBuiltinTables();
  }

  add(spec: TableSpec, file: string): void {
    if (builtinTables.some((t) => t.id === spec.id)) {
      throw new SpecError(file, [`$.id: "${spec.id}" is a built-in table id; choose another`]);
    }
    const prev = this.user.get(spec.id);
    if (prev && prev.file !== file) {
      throw new SpecError(file, [`$.id: "${spec.id}" is already defined by ${prev.file}`]);
    }
    this.user.set(spec.id, { spec, file });
  }

  /** Adds a spec file; a built-in table's own file (e.g. `dd show experiments/igds/table4.yaml`) is that table. */
  async addFile(file: string): Promise<TableSpec> {
    const spec = await loadSpecFile(file);
    const builtin = builtinTableFiles.find((t) => t.spec.id === spec.id);
    if (builtin && await samePath(builtin.path, file)) return builtin.spec;
    this.add(spec, file);
    return spec;
  }

  async addDir(dir: string): Promise<TableSpec[]> {
    const specs = await loadSpecDir(dir);
    for (const s of specs) this.add(s.spec, s.file);
    return specs.map((s) => s.spec);
  }

  find(id: string): TableSpec | undefined {
    return builtinTables.find((t) => t.id === id) ?? this.user.get(id)?.spec;
  }

  all(): TableSpec[] {
    return [...builtinTables, ...[...this.user.values()].map((u) => u.spec)];
  }

  isUser(id: string): boolean {
    return this.user.has(id);
  }
}
