/**
 * Code versions that go into every result's content key, derived from the code itself (as asv versions
 * a benchmark by its source): per layer, a hash of the layer's source files. Any change that can move a
 * number — a kernel's arithmetic, an augmentation, a loader's decoding, a method's update rule —
 * changes its layer's version, so the affected rows get new keys: `dd run` recomputes them, `--dry-run`
 * lists them and reports mark the stored ones as predating the checkout's code.
 *
 * A file's hash is over its normalised token stream (runner/source_tokens.ts), so comments and
 * formatting (`deno fmt`) never re-key. The hashes read the files themselves, never git: a checkout and
 * an installed copy of the same code get the same versions.
 *
 * Layers (results/code_version.ts): engine (engine/ + kernels/), data, models, evaluator, runner (the
 * runner files that decide what a repeat computes, and the profiles' scaling rules), and the method:
 * its module plus every module it imports among baselines/ and methods/. Bare imports count by the
 * version deno.json pins them to.
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { MethodDef } from "../methods/types.ts";
import { sha256Hex } from "../results/key.ts";
import {
  type CodeVersion,
  formatCodeVersion,
  SHARED_LAYERS,
  type SharedLayer,
} from "../results/code_version.ts";
import { importSpecifiers, sourceTokens } from "./source_tokens.ts";

/** What each shared layer hashes: every .ts file under these paths (relative to the repository). */
export const LAYER_PATHS: Readonly<Record<SharedLayer, readonly string[]>> = {
  engine: ["engine/", "kernels/"],
  data: ["data/"],
  models: ["models/"],
  evaluator: ["evaluator/"],
  runner: ["runner/", "experiments/profiles.ts"],
};

/** Where a method's own modules live; its version follows its imports within these. */
export const METHOD_PATHS: readonly string[] = ["baselines/", "methods/"];

/**
 * Files inside the layers that cannot move a number, with the reason: editing them keeps every key.
 * Only for files whose whole job is outside the arithmetic.
 */
export const NOT_NUMERIC: Readonly<Record<string, string>> = {
  "engine/webgpu/device.ts":
    "opens the adapter; which one (backend, limits) is provenance, as a GPU model is",
  "runner/run.ts": "orders the work, shares evaluations, logs; the numbers come from pipeline/plan/datasets",
  "runner/progress.ts": "status lines and ETA",
  "runner/provenance.ts": "records the environment",
  "runner/version.ts": "this recipe",
  "runner/source_tokens.ts": "this recipe",
};

/**
 * Explicit overrides, only for a change known not to move any number (e.g. a refactor shown to give
 * bit-identical results on the affected cells): `"<layer or method id>@<new version>": "<old version>"`
 * keeps the old version, and with it every stored key. Say in a comment what was checked.
 */
export const SAME_NUMBERS: Readonly<Record<string, string>> = {};

/** The repository (or installed copy) this module belongs to. */
const ROOT = new URL("../", import.meta.url);

/** Source files and their hashes under one root; cached per root. */
export class SourceTree {
  readonly #dir: string;
  readonly #digests = new Map<string, string>();
  readonly #imports = new Map<string, string[]>();
  #pins: Record<string, string> | null = null;

  constructor(root: URL | string) {
    const url = typeof root === "string" ? new URL(`file://${root.endsWith("/") ? root : root + "/"}`) : root;
    if (url.protocol !== "file:") {
      throw new Error(`code versions need the sources on disk; ${url.href} is not a file URL`);
    }
    this.#dir = fileURLToPath(url);
  }

  /** Every .ts file under `path` (a folder ending in "/" or one file), relative, sorted. */
  list(path: string): string[] {
    const abs = join(this.#dir, path);
    if (!path.endsWith("/")) return exists(abs) ? [path] : [];
    const out: string[] = [];
    const walk = (dir: string) => {
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(dir)];
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        throw e;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory) walk(p);
        else if (e.isFile && e.name.endsWith(".ts")) out.push(relative(this.#dir, p).split("\\").join("/"));
      }
    };
    walk(abs);
    return out.sort();
  }

  #read(rel: string): void {
    const src = Deno.readTextFileSync(join(this.#dir, rel));
    const tokens = sourceTokens(src, rel);
    this.#digests.set(rel, sha256Hex(tokens.join("\u0000")));
    this.#imports.set(rel, importSpecifiers(tokens));
  }

  /** sha256 of the file's normalised token stream. */
  digest(rel: string): string {
    if (!this.#digests.has(rel)) this.#read(rel);
    return this.#digests.get(rel)!;
  }

  /** The file's import specifiers. */
  imports(rel: string): string[] {
    if (!this.#imports.has(rel)) this.#read(rel);
    return this.#imports.get(rel)!;
  }

  /** Relative import → repository-relative path; null for bare (`zod`, `node:…`) or escaping specifiers. */
  resolve(from: string, spec: string): string | null {
    if (!spec.startsWith("./") && !spec.startsWith("../")) return null;
    const rel = join(dirname(from), spec).split("\\").join("/");
    return rel.startsWith("..") ? null : rel;
  }

  /** deno.json's import map (bare name → pinned specifier); empty without one. */
  pins(): Record<string, string> {
    if (this.#pins === null) {
      try {
        const j = JSON.parse(Deno.readTextFileSync(join(this.#dir, "deno.json")));
        this.#pins = j && typeof j.imports === "object" && j.imports !== null ? j.imports : {};
      } catch {
        this.#pins = {};
      }
    }
    return this.#pins!;
  }

  /** Version of a set of files: their digests and the pinned versions of their bare imports. */
  versionOf(files: readonly string[]): string {
    const lines = new Set<string>();
    for (const f of files) {
      lines.add(`${f} ${this.digest(f)}`);
      for (const s of this.imports(f)) {
        if (s.startsWith(".") || s.startsWith("/") || s.startsWith("node:")) continue;
        lines.add(`import ${s} ${this.pins()[s] ?? s}`);
      }
    }
    return sha256Hex([...lines].sort().join("\n")).slice(0, 12);
  }

  /** The version of a shared layer (before SAME_NUMBERS). */
  layerVersion(layer: SharedLayer): string {
    const files = LAYER_PATHS[layer].flatMap((p) => this.list(p)).filter((f) => !(f in NOT_NUMERIC));
    if (files.length === 0) throw new Error(`code version: no sources for layer ${layer} under ${this.#dir}`);
    return this.versionOf(files);
  }

  /** `module` and the modules it imports, transitively, among METHOD_PATHS. */
  methodModules(module: string): string[] {
    const seen = new Set<string>();
    const visit = (f: string) => {
      if (seen.has(f) || !METHOD_PATHS.some((p) => f.startsWith(p)) || !exists(join(this.#dir, f))) return;
      seen.add(f);
      for (const s of this.imports(f)) {
        const r = this.resolve(f, s);
        if (r !== null) visit(r);
      }
    };
    visit(module);
    return [...seen].sort();
  }

  /** The version of a method whose definition lives in `module` (before SAME_NUMBERS). */
  methodVersion(module: string): string {
    const files = this.methodModules(module);
    if (files.length === 0) throw new Error(`code version: no method module ${module} under ${this.#dir}`);
    return this.versionOf(files);
  }
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** `version`, or the older version SAME_NUMBERS says computes the same numbers. */
export function overridden(
  name: string,
  version: string,
  table: Readonly<Record<string, string>> = SAME_NUMBERS,
): string {
  let v = version;
  for (let hops = 0; hops < 16 && table[`${name}@${v}`] !== undefined; hops++) v = table[`${name}@${v}`];
  return v;
}

/** Every shared layer's version for the sources under `tree`. */
export function layerVersions(tree: SourceTree): Record<SharedLayer, string> {
  return Object.fromEntries(
    SHARED_LAYERS.map((l) => [l, overridden(l, tree.layerVersion(l))]),
  ) as Record<SharedLayer, string>;
}

let checkout: { tree: SourceTree; layers: Record<SharedLayer, string> } | null = null;
function here() {
  if (checkout === null) {
    const tree = new SourceTree(ROOT);
    checkout = { tree, layers: layerVersions(tree) };
  }
  return checkout;
}

/**
 * Which module defines each registered method (by identity): the modules methods/registry.ts imports
 * from the methods' folders, in its import order. Resolved once, at load.
 */
const METHOD_MODULES: ReadonlyMap<unknown, string> = await (async () => {
  const tree = new SourceTree(ROOT);
  const registry = "methods/registry.ts";
  const out = new Map<unknown, string>();
  for (const spec of tree.imports(registry)) {
    const rel = tree.resolve(registry, spec);
    if (rel === null || !METHOD_PATHS.some((p) => rel.startsWith(p))) continue;
    const ns: Record<string, unknown> = await import(new URL(rel, ROOT).href);
    for (const v of Object.values(ns)) {
      const looksLikeMethod = typeof v === "object" && v !== null &&
        typeof (v as MethodDef).id === "string" &&
        typeof (v as MethodDef).distill === "function";
      if (looksLikeMethod && !out.has(v)) out.set(v, rel);
    }
  }
  return out;
})();

/** The module that defines a registered method; undefined for others (e.g. a test's fake). */
export function methodModule(method: object): string | undefined {
  return METHOD_MODULES.get(method);
}

/**
 * The code version a method's results are keyed by, e.g. "dc@1f0c… engine@… data@… models@… evaluator@…
 * runner@…". A method's own `version` field (for methods defined outside this repository) replaces the
 * hash of its modules.
 */
export function codeVersionFor(method: Pick<MethodDef, "id">): string {
  return formatCodeVersion(codeVersionParts(method));
}

export function codeVersionParts(method: Pick<MethodDef, "id">): CodeVersion {
  const { tree, layers } = here();
  const own = (method as { version?: unknown }).version;
  const module = methodModule(method);
  const methodVersion = typeof own === "string" || typeof own === "number"
    ? String(own)
    : module !== undefined
    ? overridden(method.id, tree.methodVersion(module))
    : "unversioned";
  return { method: method.id, methodVersion, layers };
}
