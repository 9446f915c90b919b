/**
 * The code-version string stored with every result and hashed into its key:
 * `<method>@<v> engine@<v> data@<v> models@<v> evaluator@<v> runner@<v>`, one version per layer of the
 * code that produced the numbers (runner/version.ts derives them from the sources). Comparing a stored
 * string with the checkout's names the layers that changed since the row was computed.
 */

/** The layers every result depends on, besides its method's own modules. */
export const SHARED_LAYERS = ["engine", "data", "models", "evaluator", "runner"] as const;
export type SharedLayer = typeof SHARED_LAYERS[number];

/** Every layer a version names, in order: the method's own modules first. */
export const CODE_LAYERS: readonly string[] = ["method", ...SHARED_LAYERS];

export interface CodeVersion {
  method: string;
  /** The method's own modules (its file and what it imports among the methods' files). */
  methodVersion: string;
  layers: Record<SharedLayer, string>;
}

export function formatCodeVersion(v: CodeVersion): string {
  return [`${v.method}@${v.methodVersion}`, ...SHARED_LAYERS.map((l) => `${l}@${v.layers[l]}`)].join(" ");
}

/** Each `name@version` part of a stored string (first: the method); null if it has no such parts. */
export function parseCodeVersion(
  s: string,
): { method: string; methodVersion: string; layers: Map<string, string> } | null {
  const parts = s.trim().split(/\s+/).map((p) => {
    const at = p.lastIndexOf("@");
    return at > 0 ? [p.slice(0, at), p.slice(at + 1)] as const : null;
  });
  if (parts.length === 0 || parts.some((p) => p === null)) return null;
  const [[method, methodVersion], ...rest] = parts as (readonly [string, string])[];
  return { method, methodVersion, layers: new Map(rest) };
}

/**
 * The layers in which `stored` differs from `current` ("method" for the method's own modules), in
 * layer order; every layer when `stored` is not in this format (e.g. written by hand-numbered versions,
 * which had no data or models layer).
 */
export function changedLayers(stored: string, current: string): string[] {
  if (stored === current) return [];
  const s = parseCodeVersion(stored), c = parseCodeVersion(current);
  const all = [...CODE_LAYERS];
  if (s === null || c === null) return all;
  const out: string[] = [];
  if (s.method !== c.method || s.methodVersion !== c.methodVersion) out.push("method");
  for (const l of SHARED_LAYERS) if (s.layers.get(l) !== c.layers.get(l)) out.push(l);
  return out.length ? out : all;
}
