/** Shared pieces of the `dd` commands: errors, output, default paths, table look-up. */
import { dirname, extname, resolve } from "node:path";
import type { TableSpec } from "../experiments/schema.ts";
import { SPEC_EXTENSIONS, TableCatalog } from "../experiments/user_specs.ts";
import { Profile } from "../results/types.ts";
import type { MethodDef } from "../methods/types.ts";
import { cellMethod } from "../experiments/methods.ts";
import { openStore, type ResultsStore, StoreError } from "../results/store.ts";
import { escapeTerminal } from "../reports/escape.ts";

/** A user-facing failure: main prints its message (one line) and exits with `code`. */
export class CliError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
    this.name = "CliError";
  }
}

export const DEFAULT_STORE = Deno.env.get("DD_STORE") ?? "results/store/results.db";
export const DEFAULT_ARTIFACTS = Deno.env.get("DD_ARTIFACTS") ?? "results/store/artifacts";
export const DEFAULT_REPORTS = "reports/out";

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/**
 * Lines to stderr (progress, notes): stdout stays clean for --json consumers. Like `say`, control
 * characters from spec strings (captions, cell ids) are shown escaped, never interpreted by the terminal.
 */
export function note(line: string): void {
  console.error(escapeTerminal(line));
}

/** The one `error:` line a failed command prints (its message may quote spec strings). */
export function errorLine(message: string): string {
  return `error: ${escapeTerminal(message)}`;
}

/** A line of human-readable output on stdout (JSON goes through printJson, which escapes by itself). */
export function say(line: string): void {
  console.log(escapeTerminal(line));
}

export function parseProfile(text: string): Profile {
  const p = Profile.safeParse(text);
  if (!p.success) {
    throw new CliError(`unknown profile "${text}"; expected one of ${Profile.options.join(", ")}`);
  }
  return p.data;
}

export function parsePositiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${what} must be a positive integer (got "${text}")`);
  return n;
}

export function parseNonNegativeInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    throw new CliError(`${what} must be a non-negative integer (got "${text}")`);
  }
  return n;
}

export interface CatalogOptions {
  spec?: string[];
  include?: string[];
}

/** Built-in tables plus --spec files and every spec in --include folders. */
export async function catalog(opts: CatalogOptions): Promise<TableCatalog> {
  const c = new TableCatalog();
  for (const dir of opts.include ?? []) await c.addDir(dir);
  for (const file of opts.spec ?? []) await c.addFile(file);
  return c;
}

/** A table id, or a spec file path (a shortcut for --spec file + its id). */
export async function findTableOrFail(cat: TableCatalog, idOrFile: string): Promise<TableSpec> {
  if ((SPEC_EXTENSIONS as readonly string[]).includes(extname(idOrFile).toLowerCase())) {
    return await cat.addFile(idOrFile);
  }
  const t = cat.find(idOrFile);
  if (!t) {
    const ids = cat.all().map((x) => x.id);
    const near = ids.filter((x) => x.includes(idOrFile) || idOrFile.includes(x.split("/")[1] ?? "")).slice(
      0,
      5,
    );
    throw new CliError(
      `unknown table "${idOrFile}"` + (near.length ? `; did you mean ${near.join(", ")}?` : "") +
        ` (\`dd tables\` lists them; user specs need --spec <file> or --include <dir>)`,
    );
  }
  return t;
}

/** Opens a store; a missing file is an error unless `create` (reading commands never create one). */
export function openStoreChecked(path: string, create: boolean): ResultsStore {
  if (!create) {
    try {
      Deno.statSync(path);
    } catch {
      throw new CliError(`results store ${path}: no such file`);
    }
  }
  try {
    return openStore(path);
  } catch (e) {
    if (e instanceof StoreError) throw new CliError(e.message);
    throw e;
  }
}

/**
 * A path a command will write a file to: refused up front (before any work) when it names a folder or
 * lies under a file. Missing parent folders are fine: the writers create them.
 */
export function checkOutputFile(path: string, flag: string): void {
  const info = statOrNull(path);
  if (info?.isDirectory) throw new CliError(`${flag} ${path}: is a folder; expected a file path`);
  blockingAncestor(path, flag);
}

/** A folder a command will write into: refused up front when it is a file or lies under one. */
export function checkOutputDir(path: string, flag: string): void {
  const info = statOrNull(path);
  if (info && !info.isDirectory) throw new CliError(`${flag} ${path}: is a file; expected a folder`);
  blockingAncestor(path, flag);
}

/** The nearest existing ancestor of `path` must be a folder. */
function blockingAncestor(path: string, flag: string): void {
  for (let dir = dirname(resolve(path));; dir = dirname(dir)) {
    const info = statOrNull(dir);
    if (info) {
      if (!info.isDirectory) throw new CliError(`${flag} ${path}: ${dir} is a file, not a folder`);
      return;
    }
    if (dirname(dir) === dir) return;
  }
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** Commander's repeatable-option collector. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--set key=value` items as a config patch; values are JSON where they parse, else strings. */
export function parseAssignments(items: readonly string[], flag = "--set"): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq < 1) throw new CliError(`${flag} "${item}": expected key=value`);
    const key = item.slice(0, eq), raw = item.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch { /* a plain string */ }
    out[key] = value;
  }
  return out;
}

/**
 * `dd run --set method.key=value` items as per-method patches, each checked against its method's schema
 * so a typo fails before anything runs. Method ids contain no ".", so the first one splits.
 */
export function parseMethodAssignments(
  items: readonly string[],
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const item of items) {
    const dot = item.indexOf("."), eq = item.indexOf("=");
    if (dot < 1 || eq < dot + 2) {
      throw new CliError(`--set "${item}": expected method.key=value (e.g. dm.iterations=300)`);
    }
    const id = item.slice(0, dot);
    out[id] = { ...out[id], ...parseAssignments([item.slice(dot + 1)]) };
  }
  for (const [id, patch] of Object.entries(out)) {
    const method = cellMethod(id);
    if (!method) throw new CliError(`--set: unknown method "${id}" (see \`dd methods\`)`);
    checkOverrides(method, patch, "mnist", 10);
  }
  return out;
}

/** A config patch must fit the method's schema (checked on one dataset's defaults: keys do not vary). */
export function checkOverrides(
  method: MethodDef<Record<string, unknown>>,
  patch: Record<string, unknown>,
  dataset: string,
  ipc: number,
): void {
  const defaults = method.defaults(dataset, ipc);
  const parsed = method.schema.safeParse({ ...defaults, ...patch });
  if (parsed.success) return;
  const i = parsed.error.issues[0];
  throw new CliError(
    `--set: invalid config for ${method.id}: ${i.path.join(".") || "(config)"}: ${i.message}` +
      (i.code === "unrecognized_keys" ? ` (valid keys: ${Object.keys(defaults).join(", ") || "none"})` : ""),
  );
}
