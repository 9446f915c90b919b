/**
 * The code version every result is keyed by: the method's own modules and each shared layer, hashed
 * from the sources (results/source_versions.ts). Which module defines a registered method is found
 * here, by identity, among the modules methods/implemented.ts lists.
 */
import type { MethodDef } from "../methods/types.ts";
import { type CodeVersion, formatCodeVersion } from "../results/code_version.ts";
import {
  checkoutSources,
  METHOD_PATHS,
  overridden,
  REPO_ROOT,
  SourceTree,
} from "../results/source_versions.ts";

/**
 * Which module defines each registered method (by identity): the modules methods/implemented.ts lists
 * from the methods' folders, in its import order. Resolved once, at load.
 */
const METHOD_MODULES: ReadonlyMap<unknown, string> = await (async () => {
  const out = new Map<unknown, string>();
  // Sources not on disk (a remote import): nothing to hash; codeVersionFor says so when asked.
  if (REPO_ROOT.protocol !== "file:") return out;
  const tree = new SourceTree(REPO_ROOT);
  const list = "methods/implemented.ts";
  for (const spec of tree.imports(list)) {
    const rel = tree.resolve(list, spec);
    if (rel === null || !METHOD_PATHS.some((p) => rel.startsWith(p))) continue;
    const ns: Record<string, unknown> = await import(new URL(rel, REPO_ROOT).href);
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
  const { tree, layers } = checkoutSources();
  const own = (method as { version?: unknown }).version;
  const module = methodModule(method);
  const methodVersion = typeof own === "string" || typeof own === "number"
    ? String(own)
    : module !== undefined
    ? overridden(method.id, tree.methodVersion(module))
    : "unversioned";
  return { method: method.id, methodVersion, layers };
}
