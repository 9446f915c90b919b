/**
 * User-defined tables: a JSON or YAML file with the same shape as a built-in spec (TableSpec). Spec
 * files are data, never code: they are parsed (YAML core schema, no custom tags), validated with the
 * zod schema, then cross-checked against the registries. Every error names the file, the JSON path
 * of the field (and its line for YAML) and what was expected.
 */
import { extname, join } from "node:path";
import { isNode, LineCounter, parseDocument } from "yaml";
import { type CellSpec, TableSpec } from "./schema.ts";
import { builtinTables } from "./registry.ts";
import { datasetInfo } from "../data/registry.ts";
import { findModel, models } from "../models/registry.ts";
import { PROTOCOLS } from "../evaluator/protocols.ts";
import { findMethod } from "../methods/registry.ts";
import type { MethodDef } from "../methods/types.ts";

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

/**
 * Smallest number of training images in any class of the official train split, where fixed by the
 * dataset (ImageFolder datasets depend on the user's copy). A cell's IPC cannot exceed it.
 */
export const MIN_CLASS_SIZE: Readonly<Record<string, number>> = {
  mnist: 5421,
  "fashion-mnist": 6000,
  cifar10: 5000,
  cifar100: 500,
  svhn: 4659,
  "tiny-imagenet": 500,
  "imagenet-1k": 732,
};

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

/** Parses and validates one spec file's text (exposed for tests; `file` is only used in messages). */
export function parseSpec(file: string, text: string): TableSpec {
  const parsed = parseText(file, text);
  const at = (path: readonly PropertyKey[]) => {
    const line = parsed.lineOf(path);
    return `${jsonPath(path)}${line !== null ? ` (line ${line})` : ""}`;
  };
  const result = TableSpec.safeParse(parsed.value);
  if (!result.success) {
    throw new SpecError(file, result.error.issues.map((i) => `${at(i.path)}: ${issueText(i.message)}`));
  }
  const spec = result.data;
  const problems = crossCheck(spec).map((p) => `${at(p.path)}: ${p.message}`);
  if (problems.length) throw new SpecError(file, problems);
  return spec;
}

/** zod's "expected string, received undefined" reads better as a missing field. */
function issueText(message: string): string {
  const m = /^Invalid input: expected (.+), received undefined$/.exec(message);
  return m ? `missing (expected ${m[1]})` : message;
}

interface Problem {
  path: (string | number)[];
  message: string;
}

/** Ids must exist in the registries; IPC must fit in a class. */
export function crossCheck(spec: TableSpec): Problem[] {
  const problems: Problem[] = [];
  spec.cells.forEach((c, i) => {
    const p = (field: string, message: string) => problems.push({ path: ["cells", i, field], message });
    const method = findMethod(c.method);
    if (!method) p("method", `unknown method "${c.method}" (see \`dd methods\`)`);
    let datasetKnown = true;
    try {
      datasetInfo(c.dataset);
    } catch {
      datasetKnown = false;
      p("dataset", `unknown dataset "${c.dataset}" (see \`dd datasets\`)`);
    }
    if (!findModel(c.model)) {
      p(
        "model",
        `unknown model "${c.model}"; expected one of ${models.map((m) => m.id).join(", ")} ` +
          `(ConvNets also as <id>-w<width>)`,
      );
    }
    if (c.teacher !== undefined && !findModel(c.teacher)) {
      p("teacher", `unknown model "${c.teacher}"; expected one of ${models.map((m) => m.id).join(", ")}`);
    }
    if (PROTOCOLS[c.protocol] === undefined) {
      p(
        "protocol",
        `unknown evaluator protocol "${c.protocol}"; expected one of ${Object.keys(PROTOCOLS).join(", ")}`,
      );
    }
    if (c.ipc === null && c.method !== "full-dataset") {
      p("ipc", `expected a positive integer (null only for method "full-dataset")`);
    }
    const max = MIN_CLASS_SIZE[c.dataset];
    if (datasetKnown && c.ipc !== null && max !== undefined && c.ipc > max) {
      p("ipc", `IPC ${c.ipc} is larger than the smallest ${c.dataset} class (${max} training images)`);
    }
    if (method?.implemented && datasetKnown) {
      for (const q of configProblems(method, c)) {
        problems.push({ path: ["cells", i, ...q.path], message: q.message });
      }
    }
  });
  return problems;
}

/**
 * A cell's `config` and `set` checked with its method's schema, on the method's defaults for the cell's
 * dataset and IPC (as resolution will apply them), so a misspelt key or a wrong type fails when the spec
 * loads instead of making the cell silently "not runnable". Paths point into `set` or `config`.
 */
function configProblems(method: MethodDef<Record<string, unknown>>, c: CellSpec): Problem[] {
  const config = c.config ?? {}, set = c.set ?? {};
  if (Object.keys(config).length === 0 && Object.keys(set).length === 0) return [];
  const defaults = method.defaults(c.dataset, c.ipc ?? 0);
  const parsed = method.schema.safeParse({ ...defaults, ...config, ...set });
  if (parsed.success) return [];
  const where = (key: PropertyKey): string => (Object.hasOwn(set, key) ? "set" : "config");
  const valid = Object.keys(defaults).join(", ") || "none";
  return parsed.error.issues.flatMap((i): Problem[] => {
    if (i.code === "unrecognized_keys") {
      return i.keys.map((k) => ({
        path: [where(k), k],
        message: `unknown ${method.id} config key "${k}" (valid keys: ${valid})`,
      }));
    }
    const [key, ...rest] = i.path;
    if (key === undefined) return [{ path: ["set"], message: `invalid ${method.id} config: ${i.message}` }];
    return [{
      path: [where(key), String(key), ...rest.map((k) => (typeof k === "number" ? k : String(k)))],
      message: `invalid value for ${method.id}: ${issueText(i.message)}`,
    }];
  });
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

/** Built-in tables plus user specs; a user id may not shadow a built-in one. */
export class TableCatalog {
  private readonly user = new Map<string, { spec: TableSpec; file: string }>();

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

  async addFile(file: string): Promise<TableSpec> {
    const spec = await loadSpecFile(file);
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
